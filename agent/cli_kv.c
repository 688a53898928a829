/* cli_kv.c — `drover kv put|get|delete`: low-level access to the replicated state
 * (like `consul kv` or `etcdctl put`). Writes go through the coordinator and return
 * after they are committed and applied on this host. */
#include "cli.h"
#include "exitcodes.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char kv_usage[] =
    "Usage: drover kv put KEY VALUE | drover kv get KEY | drover kv delete KEY\n"
    "       [--json] [--socket PATH | -c FILE]\n"
    "\n"
    "Read and write the cluster's replicated key-value state. put and delete are\n"
    "forwarded to the coordinator and return once committed by a majority of voters and\n"
    "applied on this host; get reads this host's applied copy.\n"
    "\nExit: 0 ok, 105 no such key, 106 no quorum (not committed within 5 s), 69 agent\n"
    "not reachable, 64 usage.\n";

static int no_opts(int o, void *ud) { (void)o; (void)ud; return 0; }

static int run(int argc, char **argv, const char *verb, int nargs)
{
    char cmdname[32];
    snprintf(cmdname, sizeof cmdname, "kv %s", verb);
    cli_common cc;
    int rc = cli_parse(argc, argv, cmdname, kv_usage, &cc, "", NULL, no_opts, NULL);
    if (rc)
        return rc < 0 ? AG_EX_OK : rc;
    if (argc - optind != nargs)
        return cli_usage_error(cmdname, "expected %s", nargs == 2 ? "KEY VALUE" : "KEY");
    json_t *args = json_pack("{s:s}", "key", argv[optind]), *r;
    if (!strcmp(verb, "put"))
        json_object_set_new(args, "value", json_string(argv[optind + 1]));
    if (!strcmp(verb, "delete"))
        json_object_set_new(args, "delete", json_true());
    /* writes are cluster administration: signed with the operator key */
    rc = strcmp(verb, "get") ? cli_admin_call(&cc, "state.put", args, &r) : cli_call(&cc, "state.get", args, &r);
    if (rc)
        return rc;
    if (cc.json)
        cli_print_json(r);
    else if (!strcmp(verb, "get"))
        printf("%s\n", json_string_value(json_object_get(r, "value")));
    else
        printf("committed at index %lld\n", (long long)json_integer_value(json_object_get(r, "index")));
    json_decref(r);
    return AG_EX_OK;
}

static int cmd_put(int argc, char **argv) { return run(argc, argv, "put", 2); }
static int cmd_get(int argc, char **argv) { return run(argc, argv, "get", 1); }
static int cmd_del(int argc, char **argv) { return run(argc, argv, "delete", 1); }

const ag_cmd ag_cmds_kv[] = {
    {"kv put", cmd_put, "write a key to the replicated state", kv_usage},
    {"kv get", cmd_get, "read a key from this host's replicated state", kv_usage},
    {"kv delete", cmd_del, "delete a key from the replicated state", kv_usage},
    {NULL, NULL, NULL, NULL},
};
