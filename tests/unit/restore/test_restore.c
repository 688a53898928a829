/* Restored state dirs (agent/restore.h): a peer shows a host the newest small envelope it
 * accepted from it; the host's verdict is "stale" exactly when that envelope carries an
 * (epoch, seq) its present state never sent, and no other member can forge one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "identity.h"
#include "restore.h"

typedef struct fx {
    ag_identity x, b;      /* x: the host whose state goes back; b: another member */
    ag_peers peers;        /* a peer's table: knows x and b */
    uint8_t cluster[AG_CLUSTER_ID_LEN];
} fx;

static void mk_id(ag_identity *id)
{
    uint8_t seed[32];
    randombytes_buf(seed, sizeof seed);
    crypto_sign_seed_keypair(id->sign_pk, id->sign_sk, seed);
    ag_host_id_of(id->sign_pk, id->host_id);
}

static int setup(void **state)
{
    assert_true(sodium_init() >= 0);
    fx *f = calloc(1, sizeof *f);
    mk_id(&f->x);
    mk_id(&f->b);
    randombytes_buf(f->cluster, sizeof f->cluster);
    assert_int_equal(ag_peers_put(&f->peers, f->x.host_id, f->x.sign_pk), 0);
    assert_int_equal(ag_peers_put(&f->peers, f->b.host_id, f->b.sign_pk), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    ag_peers_free(&f->peers);
    free(f);
    return 0;
}

static ag_sealer sealer(fx *f, const ag_identity *id, uint64_t epoch)
{
    ag_sealer s = {.id = id, .epoch = epoch};
    memcpy(s.cluster_id, f->cluster, sizeof f->cluster);
    return s;
}

/* Seal a message of len bytes with s and have the peer open it; returns its verdict. */
static int send_len(fx *f, ag_sealer *s, size_t len)
{
    static uint8_t body[4096];
    uint8_t *buf;
    size_t n;
    assert_int_equal(ag_env_seal(s, 1, body, len, 1000, &buf, &n), AG_ENV_OK);
    ag_opened o;
    int rc = ag_env_open(&f->peers, f->cluster, s->id->host_id, buf, n, &o);
    if (rc == AG_ENV_OK)
        ag_env_release(&o);
    free(buf);
    return rc;
}

static int send_one(fx *f, ag_sealer *s) { return send_len(f, s, 40); }

/* What x concludes from the proof the peer keeps about it. */
static ag_restore_verdict verdict(fx *f, const ag_sealer *s)
{
    ag_peer *p = ag_peers_find(&f->peers, f->x.host_id);
    uint64_t e, q;
    assert_int_equal(ag_env_verify_own(&f->x, f->cluster, p->proof, p->proof_len, &e, &q), AG_ENV_OK);
    assert_int_equal(e, p->proof_epoch);
    assert_int_equal(q, p->proof_seq);
    return ag_restore_judge(s->epoch, s->seq, e, q);
}

static void judge_table(void **state)
{
    (void)state;
    static const struct { uint64_t own_e, own_q, seen_e, seen_q; ag_restore_verdict v; } t[] = {
        {5, 10, 6, 1, AG_RESTORE_STALE},     /* the cluster saw a later start */
        {5, 10, 5, 11, AG_RESTORE_STALE},    /* same epoch, a seq we never sent */
        {5, 10, 5, 10, AG_RESTORE_BENIGN},   /* exactly our last message */
        {5, 10, 5, 3, AG_RESTORE_BENIGN},    /* an old one of ours (reordered, replayed) */
        {5, 10, 4, 900, AG_RESTORE_BENIGN},  /* our previous start */
        {5, 0, 5, 1, AG_RESTORE_STALE},      /* nothing sent yet in this start */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        assert_int_equal(ag_restore_judge(t[i].own_e, t[i].own_q, t[i].seen_e, t[i].seen_q), t[i].v);
}

/* Only epoch refusals, with a proof to show, at most once per AG_RESTORE_NOTICE_MS. */
static void notice_pacing(void **state)
{
    fx *f = *state;
    ag_peer *p = ag_peers_find(&f->peers, f->x.host_id);
    assert_int_equal(ag_restore_notice(AG_ENV_E_OLD_EPOCH, p, 5000), AG_NOTICE_NONE); /* no proof */
    ag_sealer s = sealer(f, &f->x, 5);
    assert_int_equal(send_one(f, &s), AG_ENV_OK);
    p = ag_peers_find(&f->peers, f->x.host_id);
    static const int other[] = {AG_ENV_E_SIGNATURE, AG_ENV_E_SENDER, AG_ENV_E_DECODE,
                                AG_ENV_E_MISMATCH, AG_ENV_E_FIELD, AG_ENV_E_CLUSTER};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        assert_int_equal(ag_restore_notice(other[i], p, 5000), AG_NOTICE_NONE);
    assert_int_equal(ag_restore_notice(AG_ENV_E_OLD_EPOCH, p, 5000), AG_NOTICE_SEND);
    assert_int_equal(ag_restore_notice(AG_ENV_E_REPLAY, p, 5999), AG_NOTICE_HELD);
    assert_int_equal(ag_restore_notice(AG_ENV_E_TOO_OLD, p, 6000), AG_NOTICE_SEND);
    assert_int_equal(ag_restore_notice(AG_ENV_E_OLD_EPOCH, NULL, 9000), AG_NOTICE_NONE);
}

/* Restored to an older epoch: everything dropped as old_epoch, and the proof says so. */
static void restored_older_epoch(void **state)
{
    fx *f = *state;
    ag_sealer later = sealer(f, &f->x, 7);
    for (int i = 0; i < 20; i++)
        assert_int_equal(send_one(f, &later), AG_ENV_OK);
    ag_sealer restored = sealer(f, &f->x, 6);
    assert_int_equal(send_one(f, &restored), AG_ENV_E_OLD_EPOCH);
    assert_int_equal(verdict(f, &restored), AG_RESTORE_STALE);
    assert_int_equal(verdict(f, &later), AG_RESTORE_BENIGN);   /* the real one is not fooled */
}

/* Restored from a copy taken just before the previous start: both starts bump the epoch
 * to the same value, so only the seq tells them apart. */
static void restored_same_epoch(void **state)
{
    fx *f = *state;
    ag_sealer before = sealer(f, &f->x, 5);
    for (int i = 0; i < 50; i++)
        assert_int_equal(send_one(f, &before), AG_ENV_OK);
    ag_sealer restored = sealer(f, &f->x, 5);
    assert_int_equal(send_one(f, &restored), AG_ENV_E_REPLAY);
    assert_int_equal(verdict(f, &restored), AG_RESTORE_STALE);
    /* far behind: too_old, same verdict */
    for (int i = 0; i < 1100; i++)
        assert_int_equal(send_one(f, &before), AG_ENV_OK);
    ag_sealer again = sealer(f, &f->x, 5);
    assert_int_equal(send_one(f, &again), AG_ENV_E_TOO_OLD);
    assert_int_equal(verdict(f, &again), AG_RESTORE_STALE);
}

/* Only small envelopes are kept, and an older one never replaces a newer. */
static void proof_keeping(void **state)
{
    fx *f = *state;
    ag_sealer s = sealer(f, &f->x, 3);
    assert_int_equal(send_one(f, &s), AG_ENV_OK);
    assert_int_equal(send_len(f, &s, AG_ENV_PROOF_MAX), AG_ENV_OK);   /* too big to keep */
    ag_peer *p = ag_peers_find(&f->peers, f->x.host_id);
    assert_int_equal(p->proof_seq, 1);
    assert_int_equal(send_one(f, &s), AG_ENV_OK);
    assert_int_equal(p->proof_seq, 3);
    assert_true(p->proof_len > 0 && p->proof_len <= AG_ENV_PROOF_MAX);
}

/* A member cannot forge a proof: its own signature, or a changed byte, is refused. */
static void forged_proofs(void **state)
{
    fx *f = *state;
    ag_sealer sb = sealer(f, &f->b, 99);
    uint8_t *buf;
    size_t n;
    uint64_t e, q;
    assert_int_equal(ag_env_seal(&sb, 1, "x", 1, 1, &buf, &n), AG_ENV_OK);
    assert_int_equal(ag_env_verify_own(&f->x, f->cluster, buf, n, &e, &q), AG_ENV_E_SENDER);
    free(buf);
    ag_sealer sx = sealer(f, &f->x, 99);
    assert_int_equal(ag_env_seal(&sx, 1, "hello", 5, 1, &buf, &n), AG_ENV_OK);
    assert_int_equal(ag_env_verify_own(&f->x, f->cluster, buf, n, &e, &q), AG_ENV_OK);
    buf[n - 70] ^= 1;   /* inside the payload or signature */
    assert_int_not_equal(ag_env_verify_own(&f->x, f->cluster, buf, n, &e, &q), AG_ENV_OK);
    assert_int_equal(ag_env_verify_own(&f->x, f->cluster, (const uint8_t *)"junk", 4, &e, &q),
                     AG_ENV_E_DECODE);
    free(buf);
}

/* A peer restarted with the proof it kept still refuses the older self, and only that. */
static void proof_survives_restart(void **state)
{
    fx *f = *state;
    ag_sealer s = sealer(f, &f->x, 5);
    for (int i = 0; i < 10; i++)
        assert_int_equal(send_one(f, &s), AG_ENV_OK);
    ag_peer *p = ag_peers_find(&f->peers, f->x.host_id);
    uint8_t kept[AG_ENV_PROOF_MAX];
    size_t klen = p->proof_len;
    memcpy(kept, p->proof, klen);

    ag_peers fresh = {0};
    assert_int_equal(ag_peers_put(&fresh, f->x.host_id, f->x.sign_pk), 0);
    assert_int_equal(ag_peers_put(&fresh, f->b.host_id, f->b.sign_pk), 0);
    ag_peer *bp = ag_peers_find(&fresh, f->b.host_id);
    assert_int_not_equal(ag_peer_load_proof(bp, f->cluster, kept, klen), AG_ENV_OK); /* not b's */
    assert_int_equal(bp->replay.epoch, 0);
    assert_int_equal(ag_peer_load_proof(ag_peers_find(&fresh, f->x.host_id), f->cluster, kept, klen),
                     AG_ENV_OK);
    ag_peers old = f->peers;
    f->peers = fresh;
    ag_sealer restored = sealer(f, &f->x, 5);
    assert_int_equal(send_one(f, &restored), AG_ENV_E_REPLAY);     /* seq 1 <= 10 */
    assert_int_equal(verdict(f, &restored), AG_RESTORE_STALE);
    ag_sealer older = sealer(f, &f->x, 4);
    assert_int_equal(send_one(f, &older), AG_ENV_E_OLD_EPOCH);
    assert_int_equal(send_one(f, &s), AG_ENV_OK);                  /* the real x goes on */
    ag_sealer next = sealer(f, &f->x, 6);
    assert_int_equal(send_one(f, &next), AG_ENV_OK);               /* and restarts */
    f->peers = old;
    ag_peers_free(&fresh);
}

static void message_says_what_to_do(void **state)
{
    (void)state;
    char m[1024];
    int n = ag_restore_message(m, sizeof m, "h3", "/var/lib/drover", 4, 9, 812, "h1");
    assert_true(n > 0 && (size_t)n < sizeof m);
    assert_non_null(strstr(m, "state dir /var/lib/drover (epoch 4)"));
    assert_non_null(strstr(m, "(epoch 9, message 812, shown by h1)"));
    assert_non_null(strstr(m, "restored from a backup or copied"));
    assert_non_null(strstr(m, "drover members remove h3"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(judge_table),
        cmocka_unit_test_setup_teardown(notice_pacing, setup, teardown),
        cmocka_unit_test_setup_teardown(restored_older_epoch, setup, teardown),
        cmocka_unit_test_setup_teardown(restored_same_epoch, setup, teardown),
        cmocka_unit_test_setup_teardown(proof_keeping, setup, teardown),
        cmocka_unit_test_setup_teardown(forged_proofs, setup, teardown),
        cmocka_unit_test_setup_teardown(proof_survives_restart, setup, teardown),
        cmocka_unit_test(message_says_what_to_do),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
