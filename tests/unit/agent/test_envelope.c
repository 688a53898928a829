/* Envelope seal/open: every rejection path has its own code, and rejected messages
 * leave the replay state untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "drover.pb-c.h"
#include "envelope.h"
#include "identity.h"

typedef struct fx {
    ag_identity a, b, stranger;
    ag_sealer sa;
    ag_peers peers;   /* receiver's table: knows a and b */
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
    mk_id(&f->a);
    mk_id(&f->b);
    mk_id(&f->stranger);
    randombytes_buf(f->cluster, sizeof f->cluster);
    f->sa = (ag_sealer){.id = &f->a, .epoch = 5};
    memcpy(f->sa.cluster_id, f->cluster, sizeof f->cluster);
    assert_int_equal(ag_peers_put(&f->peers, f->a.host_id, f->a.sign_pk), 0);
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

static int seal(fx *f, ag_sealer *s, const char *payload, uint8_t **out, size_t *len)
{
    (void)f;
    return ag_env_seal(s, 2, payload, strlen(payload), 1234, out, len);
}

static void good_roundtrip(void **state)
{
    fx *f = *state;
    uint8_t *buf;
    size_t len;
    assert_int_equal(seal(f, &f->sa, "hello", &buf, &len), AG_ENV_OK);
    ag_opened o;
    assert_int_equal(ag_env_open(&f->peers, f->cluster, NULL, buf, len, &o), AG_ENV_OK);
    assert_int_equal(o.type, 2);
    assert_int_equal(o.epoch, 5);
    assert_int_equal(o.seq, 1);
    assert_int_equal(o.sent_at_ms, 1234);
    assert_memory_equal(o.sender, f->a.host_id, AG_HOST_ID_LEN);
    assert_int_equal(o.payload_len, 5);
    assert_memory_equal(o.payload, "hello", 5);
    ag_env_release(&o);
    /* the same bytes again: a replay */
    assert_int_equal(ag_env_open(&f->peers, f->cluster, NULL, buf, len, &o), AG_ENV_E_REPLAY);
    free(buf);
}

/* Flip every byte of a sealed message in turn: nothing may be accepted, nothing crash. */
static void any_tamper_rejected(void **state)
{
    fx *f = *state;
    uint8_t *buf;
    size_t len;
    assert_int_equal(seal(f, &f->sa, "payload-bytes", &buf, &len), AG_ENV_OK);
    for (size_t i = 0; i < len; i++) {
        buf[i] ^= 0x41;
        ag_opened o;
        int rc = ag_env_open(&f->peers, f->cluster, NULL, buf, len, &o);
        assert_int_not_equal(rc, AG_ENV_OK);
        buf[i] ^= 0x41;
    }
    ag_opened o;   /* untouched message still opens: rejections recorded nothing */
    assert_int_equal(ag_env_open(&f->peers, f->cluster, NULL, buf, len, &o), AG_ENV_OK);
    ag_env_release(&o);
    free(buf);
}

static void bad_signature(void **state)
{
    fx *f = *state;
    uint8_t *buf;
    size_t len;
    assert_int_equal(seal(f, &f->sa, "x", &buf, &len), AG_ENV_OK);
    Drover__Envelope *e = drover__envelope__unpack(NULL, len, buf);
    e->signature.data[10] ^= 1;
    uint8_t out[512];
    size_t n = drover__envelope__pack(e, out);
    drover__envelope__free_unpacked(e, NULL);
    ag_opened o;
    assert_int_equal(ag_env_open(&f->peers, f->cluster, NULL, out, n, &o), AG_ENV_E_SIGNATURE);
    /* signed by b but claiming to be a */
    ag_sealer sb = {.id = &f->b, .epoch = 1};
    memcpy(sb.cluster_id, f->cluster, sizeof f->cluster);
    free(buf);
    assert_int_equal(seal(f, &sb, "x", &buf, &len), AG_ENV_OK);
    e = drover__envelope__unpack(NULL, len, buf);
    memcpy(e->sender_id.data, f->a.host_id, AG_HOST_ID_LEN);
    n = drover__envelope__pack(e, out);
    drover__envelope__free_unpacked(e, NULL);
    assert_int_equal(ag_env_open(&f->peers, f->cluster, NULL, out, n, &o), AG_ENV_E_SIGNATURE);
    free(buf);
}

static void unknown_sender(void **state)
{
    fx *f = *state;
    ag_sealer s = {.id = &f->stranger, .epoch = 1};
    memcpy(s.cluster_id, f->cluster, sizeof f->cluster);
    uint8_t *buf;
    size_t len;
    assert_int_equal(seal(f, &s, "x", &buf, &len), AG_ENV_OK);
    ag_opened o;
    assert_int_equal(ag_env_open(&f->peers, f->cluster, NULL, buf, len, &o), AG_ENV_E_SENDER);
    /* once removed, a former member is a stranger too */
    ag_peers_del(&f->peers, f->a.host_id);
    free(buf);
    assert_int_equal(seal(f, &f->sa, "x", &buf, &len), AG_ENV_OK);
    assert_int_equal(ag_env_open(&f->peers, f->cluster, NULL, buf, len, &o), AG_ENV_E_SENDER);
    free(buf);
    /* a key whose hash is not the claimed id is refused by the table */
    assert_int_equal(ag_peers_put(&f->peers, f->b.host_id, f->a.sign_pk), -EINVAL);
}

/* An envelope signed by a arriving over b's authenticated connection is refused before
 * a's window moves: b must not be able to push a's epoch forward and silence a. */
static void authenticated_peer_mismatch(void **state)
{
    fx *f = *state;
    ag_sealer future = f->sa;
    future.epoch = 1000;
    uint8_t *buf;
    size_t len;
    assert_int_equal(seal(f, &future, "x", &buf, &len), AG_ENV_OK);
    ag_opened o;
    assert_int_equal(ag_env_open(&f->peers, f->cluster, f->b.host_id, buf, len, &o), AG_ENV_E_MISMATCH);
    free(buf);
    assert_int_equal(seal(f, &f->sa, "x", &buf, &len), AG_ENV_OK);   /* a's real epoch 5 */
    assert_int_equal(ag_env_open(&f->peers, f->cluster, f->a.host_id, buf, len, &o), AG_ENV_OK);
    ag_env_release(&o);
    free(buf);
}

static void wrong_cluster(void **state)
{
    fx *f = *state;
    uint8_t *buf;
    size_t len;
    assert_int_equal(seal(f, &f->sa, "x", &buf, &len), AG_ENV_OK);
    uint8_t other[AG_CLUSTER_ID_LEN];
    memcpy(other, f->cluster, sizeof other);
    other[0] ^= 1;
    ag_opened o;
    assert_int_equal(ag_env_open(&f->peers, other, NULL, buf, len, &o), AG_ENV_E_CLUSTER);
    free(buf);
}

static void replay_and_epochs(void **state)
{
    fx *f = *state;
    uint8_t *m[5];
    size_t l[5];
    for (int i = 0; i < 5; i++)
        assert_int_equal(seal(f, &f->sa, "x", &m[i], &l[i]), AG_ENV_OK);
    ag_opened o;
    /* out of order inside the window is fine, each exactly once */
    int order[5] = {2, 0, 4, 1, 3};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ag_env_open(&f->peers, f->cluster, NULL, m[order[i]], l[order[i]], &o), AG_ENV_OK);
        ag_env_release(&o);
    }
    for (int i = 0; i < 5; i++)
        assert_int_equal(ag_env_open(&f->peers, f->cluster, NULL, m[i], l[i], &o), AG_ENV_E_REPLAY);
    /* the sender restarts: new epoch, seq from 1 again */
    ag_sealer s2 = f->sa;
    s2.epoch = 6;
    s2.seq = 0;
    uint8_t *n1;
    size_t nl;
    assert_int_equal(seal(f, &s2, "x", &n1, &nl), AG_ENV_OK);
    assert_int_equal(ag_env_open(&f->peers, f->cluster, NULL, n1, nl, &o), AG_ENV_OK);
    ag_env_release(&o);
    /* anything from the old epoch is now stale, even unseen seqs */
    uint8_t *late;
    size_t ll;
    assert_int_equal(seal(f, &f->sa, "x", &late, &ll), AG_ENV_OK);
    assert_int_equal(ag_env_open(&f->peers, f->cluster, NULL, late, ll, &o), AG_ENV_E_OLD_EPOCH);
    for (int i = 0; i < 5; i++)
        free(m[i]);
    free(n1);
    free(late);
}

static void window_edges(void **state)
{
    (void)state;
    ag_replay r = {0};
    assert_int_equal(ag_replay_check(&r, 1, 1, true), AG_ENV_OK);
    assert_int_equal(ag_replay_check(&r, 1, 1 + AG_ENV_WINDOW + 5, true), AG_ENV_OK);
    assert_int_equal(ag_replay_check(&r, 1, 2, true), AG_ENV_E_TOO_OLD);
    uint64_t top = 1 + AG_ENV_WINDOW + 5;
    assert_int_equal(ag_replay_check(&r, 1, top - (AG_ENV_WINDOW - 1), true), AG_ENV_OK);
    assert_int_equal(ag_replay_check(&r, 1, top - (AG_ENV_WINDOW - 1), true), AG_ENV_E_REPLAY);
    assert_int_equal(ag_replay_check(&r, 1, top - AG_ENV_WINDOW, true), AG_ENV_E_TOO_OLD);
    /* a shift by a non-multiple of 64 keeps earlier bits at the right offsets */
    assert_int_equal(ag_replay_check(&r, 1, top + 70, true), AG_ENV_OK);
    assert_int_equal(ag_replay_check(&r, 1, top, true), AG_ENV_E_REPLAY);
    assert_int_equal(ag_replay_check(&r, 1, top + 69, true), AG_ENV_OK);
    assert_int_equal(ag_replay_check(&r, 1, top + 1, false), AG_ENV_OK);
    /* check without record leaves no trace */
    assert_int_equal(ag_replay_check(&r, 1, top + 1, true), AG_ENV_OK);
    assert_int_equal(ag_replay_check(&r, 1, top + 1, true), AG_ENV_E_REPLAY);
}

static void truncated_garbage_oversize(void **state)
{
    fx *f = *state;
    uint8_t *buf;
    size_t len;
    assert_int_equal(seal(f, &f->sa, "some payload", &buf, &len), AG_ENV_OK);
    ag_opened o;
    for (size_t cut = 0; cut < len; cut++) {
        int rc = ag_env_open(&f->peers, f->cluster, NULL, buf, cut, &o);
        assert_true(rc == AG_ENV_E_DECODE || rc == AG_ENV_E_CLUSTER || rc == AG_ENV_E_MISMATCH || rc == AG_ENV_E_SENDER ||
                    rc == AG_ENV_E_VERSION || rc == AG_ENV_E_SIGNATURE || rc == AG_ENV_E_FIELD);
    }
    uint8_t junk[300];
    for (int i = 0; i < 200; i++) {
        randombytes_buf(junk, sizeof junk);
        assert_int_not_equal(ag_env_open(&f->peers, f->cluster, NULL, junk, sizeof junk, &o), AG_ENV_OK);
    }
    assert_int_equal(ag_env_open(&f->peers, f->cluster, NULL, buf, AG_ENV_MAX_BYTES + 1, &o),
                     AG_ENV_E_OVERSIZE);
    void *big = calloc(1, AG_ENV_MAX_BYTES);
    uint8_t *out;
    size_t ol;
    assert_int_equal(ag_env_seal(&f->sa, 1, big, AG_ENV_MAX_BYTES, 0, &out, &ol), AG_ENV_E_OVERSIZE);
    free(big);
    free(buf);
}

static void wrong_version_and_fields(void **state)
{
    fx *f = *state;
    uint8_t *buf;
    size_t len;
    assert_int_equal(seal(f, &f->sa, "x", &buf, &len), AG_ENV_OK);
    Drover__Envelope *e = drover__envelope__unpack(NULL, len, buf);
    e->version = 2;
    uint8_t out[512];
    size_t n = drover__envelope__pack(e, out);
    ag_opened o;
    assert_int_equal(ag_env_open(&f->peers, f->cluster, NULL, out, n, &o), AG_ENV_E_VERSION);
    e->version = 1;
    e->signature.len = 10;
    n = drover__envelope__pack(e, out);
    assert_int_equal(ag_env_open(&f->peers, f->cluster, NULL, out, n, &o), AG_ENV_E_SIGNATURE);
    drover__envelope__free_unpacked(e, NULL);
    free(buf);
    for (int c = 0; c > -AG_ENV_ERR_COUNT; c--) {
        assert_non_null(ag_env_strerror(c));
        assert_string_not_equal(ag_env_errname(c), "unknown");
    }
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test_setup_teardown(good_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(any_tamper_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_sender, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_cluster, setup, teardown),
        cmocka_unit_test_setup_teardown(authenticated_peer_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(replay_and_epochs, setup, teardown),
        cmocka_unit_test(window_edges),
        cmocka_unit_test_setup_teardown(truncated_garbage_oversize, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_version_and_fields, setup, teardown),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
