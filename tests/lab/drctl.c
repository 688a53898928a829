/* drctl — one raw control-socket request to a drover agent (agent/ctl.h), for the lab
 * scripts: they check the agent's own JSON (e.g. "ha.status") without depending on how
 * a CLI command formats it.
 *
 *   drctl SOCKET CMD [ARGS_JSON] [TIMEOUT_MS]
 *
 * Progress frames go to stderr, one compact JSON object a line; the final result goes to
 * stdout as one compact line. Exit status: the agent's code (ag_exit values), or 69 when
 * the agent is not reachable, 2 on bad arguments. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"

/* Lab requests answer in well under a second; 10 s covers a committed proposal during
 * an election without hanging a test on a frozen host. */
#define DRCTL_TIMEOUT_MS 10000

static void on_event(json_t *event, void *ud)
{
    (void)ud;
    char *s = json_dumps(event, JSON_COMPACT);
    if (s) {
        fprintf(stderr, "%s\n", s);
        free(s);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: drctl SOCKET CMD [ARGS_JSON] [TIMEOUT_MS]\n");
        return 2;
    }
    json_t *args = NULL;
    if (argc >= 4) {
        json_error_t je;
        args = json_loads(argv[3], 0, &je);
        if (!args || !json_is_object(args)) {
            fprintf(stderr, "drctl: ARGS_JSON is not a JSON object: %s\n", je.text);
            json_decref(args);
            return 2;
        }
    }
    int timeout_ms = argc == 5 ? atoi(argv[4]) : DRCTL_TIMEOUT_MS;
    json_t *result = NULL;
    char err[512] = "";
    int rc = ag_ctl_call(argv[1], argv[2], args, on_event, NULL, timeout_ms, &result, err, sizeof err);
    if (rc)
        fprintf(stderr, "drctl: %s: %s\n", argv[2], err);
    if (result) {
        char *s = json_dumps(result, JSON_COMPACT);
        if (s) {
            printf("%s\n", s);
            free(s);
        }
        json_decref(result);
    }
    return rc;
}
