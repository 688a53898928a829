/* libFuzzer: a forwarded request (MSG_FORWARD) is bytes from any member, and the
 * operator grant inside it is bytes from anyone who can reach a control socket. Every
 * run takes the input three ways:
 *  - as a Forward payload from member SENDER: ag_raft_forward_decode (agent/raft_drv.c:
 *    Forward and Command decoding, the shape and origin checks) must never accept a
 *    request whose origin is not the sender;
 *  - the accepted Command's AdminAuth as the leader opens it (ag_grant_open against this
 *    cluster), and once more re-signed by a known operator key so the grant's JSON is
 *    parsed behind the signature, then ag_op_permits against the command as
 *    grant_at_leader builds it (CMD_HA decoded with hac_prop_decode, a fixed HA state);
 *  - as a control request's JSON args (admin.c): ag_op_auth_bytes of args.auth, the
 *    grant opened (and re-signed) and ag_grant_is_for(method, args).
 * Must never crash or leak. */
#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hac.h"
#include "hac_codec.h"
#include "operator.h"
#include "raft_drv.h"
#include "state.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t sender[AG_HOST_ID_LEN] = {0x11, 0x22, 0x33};
static uint8_t cluster[AG_CLUSTER_ID_LEN];   /* all zero, as the seeds' grants */
static uint8_t op_pk[32], op_sk[64];
static hac_rstate st;

static void setup(void)
{
    if (sodium_init() < 0)
        abort();
    uint8_t seed[32] = {9};
    crypto_sign_seed_keypair(op_pk, op_sk, seed);
    hac_rstate_init(&st);
    const char *hosts[] = {"h1", "h2", "h3"};
    for (int i = 0; i < 3; i++) {
        hac_prop p = {.kind = HAC_P_HOST_ADD};
        strcpy(p.host.name, hosts[i]);
        if (hac_apply(&st, &p) != 0)
            abort();
    }
}

/* Open a grant as the leader does, and again re-signed by the operator; permits() is
 * called on every grant that opens. */
static void grant(const uint8_t *req, size_t rlen, const uint8_t *sig, size_t siglen, const uint8_t *pk,
                  size_t pklen, void (*opened)(const ag_grant *, void *), void *ud)
{
    ag_grant g;
    if (ag_grant_open(req, rlen, sig, siglen, pk, pklen, cluster, &g) == AG_OPR_OK) {
        opened(&g, ud);
        ag_grant_free(&g);
    }
    if (!req || rlen > AG_OP_GRANT_MAX)
        return;
    uint8_t s[64];
    crypto_sign_detached(s, NULL, req, rlen, op_sk);
    ag_op_reason r = ag_grant_open(req, rlen, s, sizeof s, op_pk, sizeof op_pk, cluster, &g);
    if (r == AG_OPR_OK) {
        if (!g.cmd || !json_is_object(g.args))
            abort();
        opened(&g, ud);
        ag_grant_free(&g);
    } else if (r == AG_OPR_BAD_SIG)
        abort();   /* it signed these very bytes */
}

/* grant_at_leader's act for command c */
static void permits(const ag_grant *g, void *ud)
{
    const Drover__Command *c = ud;
    hac_prop prop;
    char why[200];
    ag_op_act act = {.op = c->op, .key = c->key, .val = c->value.data, .vlen = c->value.len, .st = &st};
    if (c->op == DROVER__COMMAND_OP__CMD_HA && hac_prop_decode(c->ha.data, c->ha.len, &prop, NULL, 0, why, sizeof why) == 0)
        act.prop = &prop;
    if (c->key && strncmp(c->key, "member/", 7) == 0)
        act.member_name = "h2";
    (void)ag_op_permits(g, &act, why, sizeof why);
    (void)ag_grant_is_for(g, g->cmd, g->args);
}

struct ctl {
    const char *method;
    json_t *args;
};

static void is_for(const ag_grant *g, void *ud)
{
    const struct ctl *x = ud;
    (void)ag_grant_is_for(g, x->method, x->args);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!st.n_hosts)
        setup();
    Drover__Forward *f;
    Drover__Command *c;
    if (ag_raft_forward_decode(data, size, sender, &f, &c) == 0) {
        if (!f || (f->is_reply ? c != NULL : c == NULL))
            abort();
        if (c && (c->origin.len != AG_HOST_ID_LEN || memcmp(c->origin.data, sender, AG_HOST_ID_LEN) != 0))
            abort();   /* a member forwarding another host's request was believed */
        if (c && c->auth)
            grant(c->auth->request.data, c->auth->request.len, c->auth->signature.data, c->auth->signature.len,
                  c->auth->operator_id.data, c->auth->operator_id.len, permits, c);
        if (c)
            drover__command__free_unpacked(c, NULL);
        drover__forward__free_unpacked(f, NULL);
    } else if (f || c)
        abort();

    json_t *args = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (json_is_object(args)) {
        uint8_t *req, *sig, pk[32];
        size_t rlen, siglen;
        if (ag_op_auth_bytes(json_object_get(args, "auth"), &req, &rlen, &sig, &siglen, pk) == 0) {
            const char *m = json_string_value(json_object_get(args, "method"));
            struct ctl x = {.method = m ? m : "state.put", .args = args};
            grant(req, rlen, sig, siglen, pk, sizeof pk, is_for, &x);
            free(req);
            free(sig);
        }
    }
    json_decref(args);
    return 0;
}
