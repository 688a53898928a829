/* cli_admin.c — signing admin requests with the operator key (operator.h, admin.h).
 *
 * Before an admin call the CLI asks the agent which cluster it is in and which operator
 * keys that cluster knows (admin.info), so a missing, unreadable or foreign key is told
 * at once with what to do; then it signs {cmd, args} for that cluster and sends the
 * grant in args.auth. The agent, the leader and every host check it again.
 */
#include "cli.h"
#include "ctl.h"
#include "exitcodes.h"
#include "loop.h"
#include "operator.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* The cluster id of the agent's cluster, after checking the key is one of its operators. */
static int cluster_of(const cli_common *cc, const ag_opkey *k, const char *path,
                      uint8_t cid[AG_CLUSTER_ID_LEN])
{
    json_t *r;
    int rc = cli_call(cc, "admin.info", NULL, &r);
    if (rc)
        return rc;
    const char *hex = json_string_value(json_object_get(r, "cluster_id"));
    json_t *ops = json_object_get(r, "operators"), *v;
    size_t i;
    bool known = false;
    json_array_foreach(ops, i, v) known |= ag_fingerprint_matches(json_string_value(v), k->pk);
    if (!hex || ag_unhex(hex, cid, AG_CLUSTER_ID_LEN) != 0) {
        fprintf(stderr, "drover: the agent did not say which cluster it is in\n");
        rc = AG_EX_PROTOCOL;
    } else if (!known) {
        fprintf(stderr, "drover: the operator key %s (%s) is not an operator of cluster %s%s%s%s: use the "
                "operator key `drover init` wrote when this cluster was created (--operator-key FILE or "
                "$%s)\n", path, k->fpr, hex, json_array_size(ops) ? " (its operator: " : " (it has no operator key",
                json_array_size(ops) ? json_string_value(json_array_get(ops, 0)) : "", ")", AG_OP_ENV);
        rc = AG_EX_NOPERM;
    }
    json_decref(r);
    return rc;
}

int cli_admin_call(const cli_common *cc, const char *cmd, json_t *args, json_t **result)
{
    *result = NULL;
    if (!args)
        args = json_object();
    const char *path = ag_op_path(cc->operator_key);
    ag_opkey k;
    char err[1024];
    if (ag_op_load(path, &k, err, sizeof err) != 0) {
        fprintf(stderr, "drover: %s\n", err);
        json_decref(args);
        return AG_EX_NOPERM;
    }
    uint8_t cid[AG_CLUSTER_ID_LEN], nonce[AG_OP_NONCE_LEN];
    int rc = cluster_of(cc, &k, path, cid);
    json_t *auth = NULL;
    if (rc == 0) {
        randombytes_buf(nonce, sizeof nonce);
        auth = ag_op_sign(&k, cid, cmd, args, ag_wall_ms(), nonce);
        if (!auth) {
            fprintf(stderr, "drover: out of memory\n");
            rc = AG_EX_OSERR;
        }
    }
    ag_op_wipe(&k);
    if (rc) {
        json_decref(args);
        return rc;
    }
    json_object_set_new(args, "auth", auth);
    return cli_call(cc, cmd, args, result);
}
