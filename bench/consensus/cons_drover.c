/* cons_drover.c — a put through a drover agent's control socket: the same request
 * (`state.put`, signed with the operator key as `drover kv put` signs it) that the CLI
 * sends, without the process spawn. The cluster id the grant names is asked once per
 * socket (admin.info), as the CLI asks it once per command. */
#include "cons_client.h"
#include "ctl.h"
#include "identity.h"
#include "loop.h"
#include "operator.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define SOCKS_MAX 16

static struct {
    char sock[256];
    uint8_t cid[AG_CLUSTER_ID_LEN];
} known[SOCKS_MAX];
static int n_known;
static ag_opkey key;
static int have_key;

static const uint8_t *cluster_of(const char *sock, int timeout_ms, char *err, size_t errlen)
{
    for (int i = 0; i < n_known; i++)
        if (strcmp(known[i].sock, sock) == 0)
            return known[i].cid;
    json_t *r = NULL;
    if (ag_ctl_call(sock, "admin.info", NULL, NULL, NULL, timeout_ms, &r, err, errlen) != 0)
        return NULL;
    const char *hex = json_string_value(json_object_get(r, "cluster_id"));
    int slot = n_known < SOCKS_MAX ? n_known++ : SOCKS_MAX - 1;
    int bad = !hex || ag_unhex(hex, known[slot].cid, AG_CLUSTER_ID_LEN) != 0;
    json_decref(r);
    if (bad) {
        snprintf(err, errlen, "admin.info at %s named no cluster", sock);
        return NULL;
    }
    snprintf(known[slot].sock, sizeof known[slot].sock, "%s", sock);
    return known[slot].cid;
}

int cons_drover_put(const char *sock, const char *key_name, const char *val, int timeout_ms,
                    char *err, size_t errlen)
{
    err[0] = 0;
    if (!have_key && ag_op_load(ag_op_path(NULL), &key, err, errlen) != 0)
        return -1;
    have_key = 1;
    const uint8_t *cid = cluster_of(sock, timeout_ms, err, errlen);
    if (!cid)
        return -1;
    uint8_t nonce[AG_OP_NONCE_LEN];
    randombytes_buf(nonce, sizeof nonce);
    json_t *args = json_pack("{s:s,s:s}", "key", key_name, "value", val);
    json_t *auth = ag_op_sign(&key, cid, "state.put", args, ag_wall_ms(), nonce);
    json_object_set_new(args, "auth", auth);
    json_t *res = NULL;
    int code = ag_ctl_call(sock, "state.put", args, NULL, NULL, timeout_ms, &res, err, errlen);
    json_decref(res);
    if (code != 0 && err[0] == 0)
        snprintf(err, errlen, "state.put answered code %d", code);
    return code == 0 ? 0 : -1;
}
