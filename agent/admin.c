/* admin.c — admin requests on the control socket; see admin.h. */
#include "admin.h"
#include "events.h"
#include "exitcodes.h"
#include "log.h"
#include "state.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool ag_admin_known(ag_agent *a, MDB_txn *txn, MDB_dbi state, const uint8_t pk[32])
{
    for (size_t i = 0; i < a->members.n_operators; i++)
        if (memcmp(a->members.operators[i], pk, 32) == 0)
            return true;
    char key[sizeof AG_OP_STATE_PREFIX + AG_FPR_STRLEN];
    memcpy(key, AG_OP_STATE_PREFIX, sizeof AG_OP_STATE_PREFIX - 1);
    ag_fingerprint(pk, key + sizeof AG_OP_STATE_PREFIX - 1);
    uint8_t v[32];
    size_t len = 0;
    if (txn) {
        MDB_val k = {strlen(key), key}, val;
        return mdb_get(txn, state, &k, &val) == 0 && val.mv_size == 32 && memcmp(val.mv_data, pk, 32) == 0;
    }
    return st_get(a->store, ST_DB_STATE, key, strlen(key), v, sizeof v, &len) == 0 && len == 32 &&
           memcmp(v, pk, 32) == 0;
}

static const char *cluster_hint = "use the operator key `drover init` wrote when this cluster was created "
                                  "(--operator-key FILE or $" AG_OP_ENV ")";

/* The grant of args.auth, opened and checked against this request; 0 or an exit code
 * with msg said. */
static int check(ag_agent *a, const char *method, json_t *args, ag_admin *ad, char *msg, size_t n)
{
    json_t *auth = json_object_get(args, "auth");
    if (!auth) {
        snprintf(msg, n, "%s changes the cluster and needs the operator credential: this drover sent "
                 "none (an old CLI, or a script calling the socket); %s", method, cluster_hint);
        return AG_EX_NOPERM;
    }
    if (ag_op_auth_bytes(auth, &ad->request, &ad->rlen, &ad->sig, &ad->siglen, ad->pk) != 0) {
        snprintf(msg, n, "the request's operator credential is malformed");
        return AG_EX_NOPERM;
    }
    ag_grant g;
    ag_op_reason r = ag_grant_open(ad->request, ad->rlen, ad->sig, ad->siglen, ad->pk, 32,
                                   a->members.cluster_id, &g);
    if (r == AG_OPR_OTHER_CLUSTER)
        snprintf(msg, n, "the request was signed for another cluster; run it again");
    else if (r)
        snprintf(msg, n, "the operator signature does not verify (%s)", ag_op_reason_name(r));
    else if (!ag_grant_is_for(&g, method, args))
        snprintf(msg, n, "the operator signature is for another request than this %s", method);
    else if (!ag_admin_known(a, NULL, 0, g.pk))
        snprintf(msg, n, "operator key %s is not an operator of this cluster: %s", g.fpr, cluster_hint);
    else {
        snprintf(ad->fpr, sizeof ad->fpr, "%s", g.fpr);
        ag_grant_free(&g);
        return 0;
    }
    ag_grant_free(&g);
    return AG_EX_NOPERM;
}

int ag_admin_begin(ag_agent *a, ag_ctl_req *req, const char *method, json_t *args, ag_admin **out)
{
    *out = NULL;
    if (!a->raft) {
        ag_ctl_finish(req, AG_EX_UNAVAILABLE, NULL, "this agent is not part of a cluster yet "
                      "(`drover init` bootstraps one, `drover join` joins one)");
        return AG_EX_UNAVAILABLE;
    }
    ag_admin *ad = calloc(1, sizeof *ad);
    if (!ad) {
        ag_ctl_finish(req, AG_EX_OSERR, NULL, "out of memory");
        return AG_EX_OSERR;
    }
    snprintf(ad->method, sizeof ad->method, "%s", method);
    ag_ctl_caller(req, &ad->uid, &ad->pid);
    char msg[512];
    int rc = check(a, method, args, ad, msg, sizeof msg);
    if (rc) {
        ag_event(a, "admin", json_pack("{s:s,s:s,s:i,s:s}", "cmd", method, "operator", ad->fpr[0] ? ad->fpr : "",
                                        "uid", (int)ad->uid, "refused", msg),
                 "refused %s asked by uid %u: %s", method, ad->uid, msg);
        ag_ctl_finish(req, rc, NULL, "%s", msg);
        free(ad->request);
        free(ad->sig);
        free(ad);
        return rc;
    }
    *out = ad;
    return 0;
}

void ag_admin_attach(const ag_admin *ad, Drover__Command *c, Drover__AdminAuth *auth)
{
    drover__admin_auth__init(auth);
    auth->request.data = ad->request;
    auth->request.len = ad->rlen;
    auth->signature.data = ad->sig;
    auth->signature.len = ad->siglen;
    auth->operator_id.data = (uint8_t *)ad->pk;
    auth->operator_id.len = 32;
    c->auth = auth;
}

void ag_admin_end(ag_agent *a, ag_admin *ad, int code, uint64_t index, const char *what, const char *error)
{
    if (!ad)
        return;
    json_t *f = json_pack("{s:s,s:s,s:i,s:i,s:I,s:i}", "cmd", ad->method, "operator", ad->fpr, "uid",
                          (int)ad->uid, "pid", (int)ad->pid, "index", (json_int_t)index, "code", code);
    if (code == 0)
        ag_event(a, "admin", f, "%s by operator %s (uid %u): %s, committed at %llu", ad->method, ad->fpr,
                 ad->uid, what ? what : "done", (unsigned long long)index);
    else
        ag_event(a, "admin", f, "%s by operator %s (uid %u) failed (%d): %s", ad->method, ad->fpr, ad->uid,
                 code, error ? error : "");
    free(ad->request);
    free(ad->sig);
    free(ad);
}

/* ---- admin.info -------------------------------------------------------------------------- */

static int list_operators(MDB_txn *t, const MDB_dbi *dbi, void *ctx)
{
    json_t *arr = ctx;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t, dbi[ST_DB_STATE], &c);
    if (rc)
        return rc;
    size_t pl = sizeof AG_OP_STATE_PREFIX - 1;
    MDB_val k = {pl, (void *)AG_OP_STATE_PREFIX}, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size < pl || memcmp(k.mv_data, AG_OP_STATE_PREFIX, pl) != 0)
            break;
        if (v.mv_size == 32) {
            char fpr[AG_FPR_STRLEN];
            ag_fingerprint(v.mv_data, fpr);
            json_array_append_new(arr, json_string(fpr));
        }
    }
    mdb_cursor_close(c);
    return 0;
}

static void ctl_info(ag_ctl_req *req, json_t *args, void *ud)
{
    (void)args;
    ag_agent *a = ud;
    if (!a->raft) {
        ag_ctl_finish(req, AG_EX_UNAVAILABLE, NULL, "this agent is not part of a cluster yet "
                      "(`drover init` bootstraps one, `drover join` joins one)");
        return;
    }
    json_t *ops = json_array();
    st_read(a->store, list_operators, ops);
    for (size_t i = 0; i < a->members.n_operators; i++) {
        char fpr[AG_FPR_STRLEN];
        ag_fingerprint(a->members.operators[i], fpr);
        json_array_append_new(ops, json_string(fpr));
    }
    char cid[2 * AG_CLUSTER_ID_LEN + 1];
    ag_hex(a->members.cluster_id, AG_CLUSTER_ID_LEN, cid);
    ag_ctl_finish(req, AG_EX_OK, json_pack("{s:s,s:o}", "cluster_id", cid, "operators", ops), NULL);
}

void ag_admin_register(ag_agent *a)
{
    ag_ctl_register(a->ctl, "admin.info", ctl_info, a);
}
