/* The operator credential (agent/operator.h): the key file, and the grant check that the
 * leader and every host run — a valid grant permits its own command only; a wrong key,
 * tampered arguments, another cluster, a grant for another command, a replayed or a
 * stale grant are refused with their reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hac.h"
#include "operator.h"
#include "state.pb-c.h"

static char dir[] = "/tmp/drover-optest-XXXXXX";
static const uint8_t cid[AG_CLUSTER_ID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint64_t now = 1700000000000ull;

/* A signed grant for cmd/args (args stolen), opened back into g. */
typedef struct signed_req {
    uint8_t *req, *sig, pk[32];
    size_t rlen, siglen;
} signed_req;

static void sign(const ag_opkey *k, const char *cmd, json_t *args, uint64_t issued, signed_req *s)
{
    uint8_t nonce[AG_OP_NONCE_LEN];
    randombytes_buf(nonce, sizeof nonce);
    json_t *auth = ag_op_sign(k, cid, cmd, args, issued, nonce);
    assert_non_null(auth);
    assert_int_equal(ag_op_auth_bytes(auth, &s->req, &s->rlen, &s->sig, &s->siglen, s->pk), 0);
    json_decref(auth);
    json_decref(args);
}

static ag_op_reason open_req(const signed_req *s, ag_grant *g)
{
    return ag_grant_open(s->req, s->rlen, s->sig, s->siglen, s->pk, 32, cid, g);
}

static void free_req(signed_req *s)
{
    free(s->req);
    free(s->sig);
}

static void key_file(void **state)
{
    (void)state;
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/sub/operator.key", dir);
    ag_opkey a, b;
    assert_int_equal(ag_op_load(path, &a, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "--operator-key"));
    assert_int_equal(ag_op_create(path, &a, err, sizeof err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(ag_op_create(path, &b, err, sizeof err), -EEXIST);
    assert_int_equal(ag_op_load(path, &b, err, sizeof err), 0);
    assert_memory_equal(a.pk, b.pk, 32);
    assert_memory_equal(a.sk, b.sk, 64);
    assert_string_equal(a.fpr, b.fpr);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(ag_op_load(path, &b, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "chmod 600"));
    setenv(AG_OP_ENV, "/x/y", 1);
    assert_string_equal(ag_op_path(NULL), "/x/y");
    assert_string_equal(ag_op_path("/a"), "/a");
    unsetenv(AG_OP_ENV);
    assert_string_equal(ag_op_path(NULL), AG_OP_DEFAULT_PATH);
}

static void new_key(ag_opkey *k)
{
    crypto_sign_keypair(k->pk, k->sk);
}

static ag_op_act put_act(const char *key, const char *val)
{
    return (ag_op_act){.op = DROVER__COMMAND_OP__CMD_PUT, .key = key, .val = (const uint8_t *)val,
                       .vlen = strlen(val)};
}

static void valid_grant_permits_its_command(void **state)
{
    (void)state;
    ag_opkey k;
    new_key(&k);
    signed_req s;
    sign(&k, "state.put", json_pack("{s:s,s:s}", "key", "color", "value", "blue"), now, &s);
    ag_grant g;
    char why[200];
    assert_int_equal(open_req(&s, &g), AG_OPR_OK);
    assert_memory_equal(g.pk, k.pk, 32);
    assert_int_equal(g.issued_ms, now);
    /* the agent checks the grant was made for the request it got, auth aside */
    json_t *args = json_pack("{s:s,s:s,s:{}}", "key", "color", "value", "blue", "auth");
    assert_true(ag_grant_is_for(&g, "state.put", args));
    json_object_set_new(args, "value", json_string("red"));
    assert_false(ag_grant_is_for(&g, "state.put", args));
    json_decref(args);
    ag_op_act act = put_act("color", "blue");
    assert_int_equal(ag_op_permits(&g, &act, why, sizeof why), AG_OPR_OK);
    ag_grant_free(&g);
    free_req(&s);
}

static void wrong_key_refused(void **state)
{
    (void)state;
    ag_opkey k, other;
    new_key(&k);
    new_key(&other);
    signed_req s;
    sign(&k, "state.put", json_pack("{s:s,s:s}", "key", "a", "value", "1"), now, &s);
    memcpy(s.pk, other.pk, 32);   /* claims another operator */
    ag_grant g;
    assert_int_equal(open_req(&s, &g), AG_OPR_BAD_SIG);
    /* a grant for another cluster */
    memcpy(s.pk, k.pk, 32);
    uint8_t cid2[AG_CLUSTER_ID_LEN] = {0};
    assert_int_equal(ag_grant_open(s.req, s.rlen, s.sig, s.siglen, s.pk, 32, cid2, &g), AG_OPR_OTHER_CLUSTER);
    /* garbage */
    assert_int_equal(ag_grant_open(s.req, 10, s.sig, s.siglen, s.pk, 32, cid, &g), AG_OPR_MALFORMED);
    free_req(&s);
}

static void tampered_args_refused(void **state)
{
    (void)state;
    ag_opkey k;
    new_key(&k);
    signed_req s;
    sign(&k, "state.put", json_pack("{s:s,s:s}", "key", "a", "value", "1"), now, &s);
    char *p = memmem(s.req, s.rlen, "\"1\"", 3);
    assert_non_null(p);
    p[1] = '2';   /* the value the grant says */
    ag_grant g;
    assert_int_equal(open_req(&s, &g), AG_OPR_BAD_SIG);
    p[1] = '1';
    assert_int_equal(open_req(&s, &g), AG_OPR_OK);
    /* a command that puts another value or key than the grant's */
    char why[200];
    ag_op_act act = put_act("a", "2");
    assert_int_equal(ag_op_permits(&g, &act, why, sizeof why), AG_OPR_MISMATCH);
    act = put_act("member/00", "1");
    assert_int_equal(ag_op_permits(&g, &act, why, sizeof why), AG_OPR_MISMATCH);
    act.op = DROVER__COMMAND_OP__CMD_DEL;
    act.key = "a";
    assert_int_equal(ag_op_permits(&g, &act, why, sizeof why), AG_OPR_MISMATCH);
    ag_grant_free(&g);
    free_req(&s);
}

static void grant_for_another_command_refused(void **state)
{
    (void)state;
    ag_opkey k;
    new_key(&k);
    signed_req s;
    ag_grant g;
    char why[200];
    /* token.create permits one token/<id> put, never a member record */
    sign(&k, "token.create", json_pack("{s:I}", "ttl_ms", (json_int_t)3600000), now, &s);
    assert_int_equal(open_req(&s, &g), AG_OPR_OK);
    ag_op_act act = put_act("token/0011223344556677", "x");
    assert_int_equal(ag_op_permits(&g, &act, why, sizeof why), AG_OPR_OK);
    act = put_act("member/00112233445566778899aabbccddeeff", "x");
    assert_int_equal(ag_op_permits(&g, &act, why, sizeof why), AG_OPR_MISMATCH);
    ag_grant_free(&g);
    free_req(&s);
    /* members.remove h2 permits deleting h2's record only */
    sign(&k, "members.remove", json_pack("{s:s}", "host", "h2"), now, &s);
    assert_int_equal(open_req(&s, &g), AG_OPR_OK);
    act = (ag_op_act){.op = DROVER__COMMAND_OP__CMD_DEL, .key = "member/aa", .member_name = "h2"};
    assert_int_equal(ag_op_permits(&g, &act, why, sizeof why), AG_OPR_OK);
    act.member_name = "h3";
    assert_int_equal(ag_op_permits(&g, &act, why, sizeof why), AG_OPR_MISMATCH);
    ag_grant_free(&g);
    free_req(&s);
    /* ha.protect of vm a permits that protection, not another VM's or an upgrade */
    sign(&k, "ha.protect", json_pack("{s:s,s:b,s:i}", "vm", "a", "protect", 1, "priority", 5), now, &s);
    assert_int_equal(open_req(&s, &g), AG_OPR_OK);
    static hac_rstate st;
    hac_rstate_init(&st);
    hac_prop p = {.kind = HAC_P_PROTECT};
    snprintf(p.vm.name, sizeof p.vm.name, "a");
    p.vm.protected_ = true;
    p.vm.priority = 5;
    act = (ag_op_act){.op = DROVER__COMMAND_OP__CMD_HA, .prop = &p, .st = &st};
    assert_int_equal(ag_op_permits(&g, &act, why, sizeof why), AG_OPR_OK);
    p.vm.priority = 6;
    assert_int_equal(ag_op_permits(&g, &act, why, sizeof why), AG_OPR_MISMATCH);
    p.vm.priority = 5;
    snprintf(p.vm.name, sizeof p.vm.name, "b");
    assert_int_equal(ag_op_permits(&g, &act, why, sizeof why), AG_OPR_MISMATCH);
    p = (hac_prop){.kind = HAC_P_UPGRADE};
    assert_int_equal(ag_op_permits(&g, &act, why, sizeof why), AG_OPR_MISMATCH);
    ag_grant_free(&g);
    free_req(&s);
}

static void upgrade_grant_binds_the_command(void **state)
{
    (void)state;
    ag_opkey k;
    new_key(&k);
    signed_req s;
    ag_grant g;
    char why[200];
    static hac_rstate st;
    hac_rstate_init(&st);
    snprintf(st.hosts[0].name, sizeof st.hosts[0].name, "h1");
    snprintf(st.hosts[1].name, sizeof st.hosts[1].name, "h2");
    st.n_hosts = 2;
    sign(&k, "ha.upgrade", json_pack("{s:s,s:s}", "op", "start", "command", "apt upgrade"), now, &s);
    assert_int_equal(open_req(&s, &g), AG_OPR_OK);
    static hac_prop p;
    p = (hac_prop){.kind = HAC_P_UPGRADE};
    p.upgrade.state = HAC_UPG_RUNNING;
    p.upgrade.n = 2;
    p.upgrade.order[1] = 1;
    snprintf(p.upgrade.command, sizeof p.upgrade.command, "apt upgrade");
    ag_op_act act = {.op = DROVER__COMMAND_OP__CMD_HA, .prop = &p, .st = &st};
    assert_int_equal(ag_op_permits(&g, &act, why, sizeof why), AG_OPR_OK);
    snprintf(p.upgrade.command, sizeof p.upgrade.command, "id > /tmp/pwned");
    assert_int_equal(ag_op_permits(&g, &act, why, sizeof why), AG_OPR_MISMATCH);
    ag_grant_free(&g);
    free_req(&s);
    /* ha.admin drain of h2 is about h2 only */
    sign(&k, "ha.admin", json_pack("{s:s,s:s}", "host", "h2", "req", "drain"), now, &s);
    assert_int_equal(open_req(&s, &g), AG_OPR_OK);
    p = (hac_prop){.kind = HAC_P_ADMIN, .index = 1, .admin = PLC_ADMIN_DRAINING};
    assert_int_equal(ag_op_permits(&g, &act, why, sizeof why), AG_OPR_OK);
    p.index = 0;
    assert_int_equal(ag_op_permits(&g, &act, why, sizeof why), AG_OPR_MISMATCH);
    p = (hac_prop){.kind = HAC_P_ADMIN, .index = 1, .admin = PLC_ADMIN_ACTIVE};
    assert_int_equal(ag_op_permits(&g, &act, why, sizeof why), AG_OPR_MISMATCH);
    ag_grant_free(&g);
    free_req(&s);
}

static void replay_refused(void **state)
{
    (void)state;
    static ag_op_nonces t;
    uint8_t n1[AG_OP_NONCE_LEN] = {1}, n2[AG_OP_NONCE_LEN] = {2};
    assert_int_equal(ag_op_nonce_check(&t, n1, now, now, false), AG_OPR_OK);
    assert_int_equal(ag_op_nonce_check(&t, n1, now, now, true), AG_OPR_OK);
    assert_int_equal(ag_op_nonce_check(&t, n1, now, now + 1000, false), AG_OPR_REPLAY);
    assert_int_equal(ag_op_nonce_check(&t, n2, now, now, true), AG_OPR_OK);
    /* once stale, an entry is forgotten (the grant is refused as stale by then) */
    assert_int_equal(ag_op_nonce_check(&t, n1, now, now + AG_OP_FRESH_MS + 1, false), AG_OPR_OK);
    assert_int_equal(t.n, 0);
    /* the table is bounded: full of fresh grants, a new one waits */
    for (uint32_t i = 0; i < AG_OP_NONCES_MAX; i++) {
        uint8_t n[AG_OP_NONCE_LEN] = {0};
        memcpy(n, &i, sizeof i);
        n[8] = 9;
        assert_int_equal(ag_op_nonce_check(&t, n, now, now, true), AG_OPR_OK);
    }
    assert_int_equal(ag_op_nonce_check(&t, n2, now, now, true), AG_OPR_FULL);
    /* the replicated ring on every host: a nonce once, the oldest dropped past the bound */
    uint8_t *ring = NULL, *next;
    size_t len = 0, nlen;
    for (int i = 0; i < AG_OP_RING_MAX + 3; i++) {
        uint8_t n[AG_OP_NONCE_LEN] = {0};
        memcpy(n, &i, sizeof i);
        assert_int_equal(ag_op_ring_add(ring, len, n, &next, &nlen), AG_OPR_OK);
        assert_int_equal(ag_op_ring_add(next, nlen, n, &ring, &len), AG_OPR_REPLAY);
        free(ring);
        ring = next;
        len = nlen;
    }
    assert_int_equal(len, AG_OP_RING_MAX * AG_OP_NONCE_LEN);
    uint8_t last[AG_OP_NONCE_LEN] = {0};
    int i = AG_OP_RING_MAX + 2;
    memcpy(last, &i, sizeof i);
    assert_int_equal(ag_op_ring_add(ring, len, last, &next, &nlen), AG_OPR_REPLAY);
    free(ring);
}

static void stale_at_the_leader(void **state)
{
    (void)state;
    assert_true(ag_op_fresh(now, now));
    assert_true(ag_op_fresh(now - AG_OP_FRESH_MS, now));
    assert_true(ag_op_fresh(now + AG_OP_FRESH_MS, now));   /* a clock a little ahead */
    assert_false(ag_op_fresh(now - AG_OP_FRESH_MS - 1, now));
    assert_false(ag_op_fresh(now + AG_OP_FRESH_MS + 1, now));
}

static void admin_keys(void **state)
{
    (void)state;
    assert_true(ag_op_key_is_admin("member/aa"));
    assert_true(ag_op_key_is_admin("token/aa"));
    assert_true(ag_op_key_is_admin("color"));
    assert_true(ag_op_key_is_admin("vmxml/"));
    assert_true(ag_op_key_is_admin("vmxml/a/b"));
    assert_false(ag_op_key_is_admin("vmxml/web1"));
}

int main(void)
{
    if (!mkdtemp(dir) || sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(key_file),
        cmocka_unit_test(valid_grant_permits_its_command),
        cmocka_unit_test(wrong_key_refused),
        cmocka_unit_test(tampered_args_refused),
        cmocka_unit_test(grant_for_another_command_refused),
        cmocka_unit_test(upgrade_grant_binds_the_command),
        cmocka_unit_test(replay_refused),
        cmocka_unit_test(stale_at_the_leader),
        cmocka_unit_test(admin_keys),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
