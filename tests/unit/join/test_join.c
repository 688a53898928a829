/* The join endpoint's pure parts (agent/join.h): one flooding source is limited without
 * costing other sources their answers; the source table stays bounded and forgets the
 * least recently seen; the request and reply parsers refuse junk with their reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"
#include "join.h"
#include "state.pb-c.h"

static ag_join_limiter L;

static void flood_limits_one_source_only(void **st)
{
    (void)st;
    ag_join_limiter_init(&L, 1000);
    int ok = 0;
    for (int i = 0; i < 1000; i++)
        ok += ag_join_limiter_take(&L, "10.0.0.9", 8, 1000) == 0;
    assert_int_equal(ok, AG_JOIN_SRC_BURST);
    assert_int_equal(ag_join_limiter_take(&L, "10.0.0.9", 8, 1000), AG_JOIN_R_RATE_SOURCE);
    /* the flood cost the others nothing beyond its burst */
    assert_int_equal(ag_join_limiter_take(&L, "10.0.0.1", 8, 1000), 0);
    /* one second later the flooder has one more */
    assert_int_equal(ag_join_limiter_take(&L, "10.0.0.9", 8, 2000), 0);
    assert_int_equal(ag_join_limiter_take(&L, "10.0.0.9", 8, 2000), AG_JOIN_R_RATE_SOURCE);
}

static void global_bucket_caps_many_sources(void **st)
{
    (void)st;
    ag_join_limiter_init(&L, 0);
    int ok = 0, global = 0;
    for (int i = 0; i < 100; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "10.1.0.%d", i);
        int r = ag_join_limiter_take(&L, ip, strlen(ip), 0);
        ok += r == 0;
        global += r == AG_JOIN_R_RATE_GLOBAL;
    }
    assert_int_equal(ok, AG_JOIN_BURST);
    assert_int_equal(global, 100 - AG_JOIN_BURST);
}

static void table_is_bounded_oldest_evicted(void **st)
{
    (void)st;
    ag_join_limiter_init(&L, 0);
    for (int i = 0; i < AG_JOIN_SOURCES_MAX + 10; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "10.2.%d.%d", i / 256, i % 256);
        ag_join_limiter_take(&L, ip, strlen(ip), (uint64_t)i);
    }
    assert_int_equal(L.n, AG_JOIN_SOURCES_MAX);
    assert_int_equal(L.evicted, 10);
    /* the first sources seen are the ones forgotten */
    for (size_t i = 0; i < L.n; i++)
        assert_false(L.v[i].keylen == 6 && memcmp(L.v[i].key, "10.2.0", 6) == 0 && L.v[i].at_ms < 10);
    /* an over-long key is cut, not overflowed */
    char big[200];
    memset(big, 'x', sizeof big);
    ag_join_limiter_take(&L, big, sizeof big, 5000);
}

static void clock_going_back_refills_nothing(void **st)
{
    (void)st;
    ag_join_limiter_init(&L, 10000);
    for (int i = 0; i < AG_JOIN_SRC_BURST; i++)
        assert_int_equal(ag_join_limiter_take(&L, "a", 1, 10000), 0);
    assert_int_equal(ag_join_limiter_take(&L, "a", 1, 5), AG_JOIN_R_RATE_SOURCE);
}

static void request_parser_refuses_junk(void **st)
{
    (void)st;
    ag_join_req q;
    const char *why = NULL;
    assert_int_equal(ag_join_req_parse((const uint8_t *)"junk", 4, &q, &why), AG_JOIN_R_MALFORMED);
    assert_non_null(why);
    ag_join_req_free(&q);
    /* a well-formed body whose member does not check out */
    uint8_t tid[8] = {0}, nonce[16] = {0}, mac[32] = {0};
    Drover__Member m = DROVER__MEMBER__INIT;
    m.name = (char *)"h9";
    Drover__JoinRequestBody b = DROVER__JOIN_REQUEST_BODY__INIT;
    b.token_id.data = tid, b.token_id.len = 8;
    b.nonce.data = nonce, b.nonce.len = 16;
    b.member = &m;
    uint8_t body[512], buf[1024];
    size_t bl = drover__join_request_body__pack(&b, body);
    Drover__JoinRequest rq = DROVER__JOIN_REQUEST__INIT;
    rq.body.data = body, rq.body.len = bl;
    rq.mac.data = mac, rq.mac.len = 32;
    size_t n = drover__join_request__pack(&rq, buf);
    assert_int_equal(ag_join_req_parse(buf, n, &q, &why), AG_JOIN_R_KEYS);
    ag_join_req_free(&q);
    rq.mac.len = 31;
    n = drover__join_request__pack(&rq, buf);
    assert_int_equal(ag_join_req_parse(buf, n, &q, &why), AG_JOIN_R_MALFORMED);
    ag_join_req_free(&q);
}

static void reply_parser_checks_signature_and_nonce(void **st)
{
    (void)st;
    uint8_t pk[32], sk[64], nonce[16] = {7}, other[16] = {8}, cid[16] = {1};
    crypto_sign_keypair(pk, sk);
    char fpr[AG_FPR_STRLEN], msg[640];
    ag_fingerprint(pk, fpr);
    ag_join_rep p;
    assert_int_equal(ag_join_rep_parse((const uint8_t *)"x", 1, fpr, nonce, &p, msg, sizeof msg), AG_EX_PROTOCOL);
    ag_join_rep_free(&p);
    assert_int_equal(ag_join_rep_parse(NULL, 0, fpr, nonce, &p, msg, sizeof msg), AG_EX_PROTOCOL);
    ag_join_rep_free(&p);
    /* a refusal, correctly signed: its code and words come through */
    Drover__JoinReplyBody b = DROVER__JOIN_REPLY_BODY__INIT;
    b.code = AG_EX_NOPERM;
    b.error = (char *)"a member named h2 already exists";
    b.nonce.data = nonce, b.nonce.len = 16;
    b.server_sign_pk.data = pk, b.server_sign_pk.len = 32;
    b.cluster_id.data = cid, b.cluster_id.len = 16;
    uint8_t body[512], buf[1024], d[32], sig[64];
    size_t bl = drover__join_reply_body__pack(&b, body);
    crypto_generichash_state gs;
    crypto_generichash_init(&gs, NULL, 0, 32);
    crypto_generichash_update(&gs, (const uint8_t *)"drover-joinreply-v1", sizeof "drover-joinreply-v1");
    crypto_generichash_update(&gs, body, bl);
    crypto_generichash_final(&gs, d, 32);
    crypto_sign_detached(sig, NULL, d, 32, sk);
    Drover__JoinReply r = DROVER__JOIN_REPLY__INIT;
    r.body.data = body, r.body.len = bl;
    r.signature.data = sig, r.signature.len = 64;
    size_t n = drover__join_reply__pack(&r, buf);
    assert_int_equal(ag_join_rep_parse(buf, n, fpr, nonce, &p, msg, sizeof msg), AG_EX_NOPERM);
    assert_non_null(strstr(msg, "already exists"));
    ag_join_rep_free(&p);
    assert_int_equal(ag_join_rep_parse(buf, n, fpr, other, &p, msg, sizeof msg), AG_EX_UNSAFE);
    ag_join_rep_free(&p);
    sig[0] ^= 1;
    n = drover__join_reply__pack(&r, buf);
    assert_int_equal(ag_join_rep_parse(buf, n, fpr, nonce, &p, msg, sizeof msg), AG_EX_UNSAFE);
    ag_join_rep_free(&p);
    assert_int_equal(ag_join_rep_parse(buf, n, "AAAAA-AAAAA", nonce, &p, msg, sizeof msg), AG_EX_UNSAFE);
    assert_non_null(strstr(msg, "fingerprint mismatch"));
    ag_join_rep_free(&p);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest t[] = {
        cmocka_unit_test(flood_limits_one_source_only),
        cmocka_unit_test(global_bucket_caps_many_sources),
        cmocka_unit_test(table_is_bounded_oldest_evicted),
        cmocka_unit_test(clock_going_back_refills_nothing),
        cmocka_unit_test(request_parser_refuses_junk),
        cmocka_unit_test(reply_parser_checks_signature_and_nonce),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
