/* cons_drover.c — a put through a drover agent's control socket: the same request
 * (`state.put`) that `drover kv put` sends, without the process spawn. */
#include "cons_client.h"
#include "ctl.h"

#include <stdio.h>

int cons_drover_put(const char *sock, const char *key, const char *val, int timeout_ms,
                    char *err, size_t errlen)
{
    json_t *res = NULL;
    int code = ag_ctl_call(sock, "state.put", json_pack("{s:s,s:s}", "key", key, "value", val),
                           NULL, NULL, timeout_ms, &res, err, errlen);
    json_decref(res);
    if (code != 0 && err[0] == 0)
        snprintf(err, errlen, "state.put answered code %d", code);
    return code == 0 ? 0 : -1;
}
