/* cli_join.c — `drover token create`, `drover join`, `drover members remove`. */
#include "cli.h"
#include "config.h"
#include "exitcodes.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

/* ---- token create ---- */

static const char token_usage[] =
    "Usage: drover token create [--ttl DURATION] [--json] [--socket PATH | -c FILE]\n"
    "\n"
    "Create a single-use join token (default lifetime 1h) and print the command that adds\n"
    "a new host: `drover join ADDR --token ID.SECRET --fingerprint FPR`. The token lives in\n"
    "the replicated state, so any member's join endpoint accepts it; treat it as a secret.\n"
    "\nExit: 0 ok, 2 bad --ttl, 106 no quorum, 69 agent not reachable or not in a cluster.\n";

static int on_token(int o, void *ud)
{
    int64_t *ttl = ud;
    if (o == 't' && (ag_parse_duration_ms(optarg, ttl) != 0 || *ttl < 1000)) {
        fprintf(stderr, "drover token create: --ttl '%s' is not a duration of at least 1s (e.g. 30m, 1h)\n", optarg);
        return -1;
    }
    return 0;
}

static int cmd_token_create(int argc, char **argv)
{
    static const struct option extra[] = {{"ttl", required_argument, 0, 't'}, {0, 0, 0, 0}};
    cli_common cc;
    int64_t ttl = 3600000;
    int rc = cli_parse(argc, argv, "token create", token_usage, &cc, "t:", extra, on_token, &ttl);
    if (rc)
        return rc < 0 ? AG_EX_OK : rc;
    if (optind != argc)
        return cli_usage_error("token create", "unexpected argument '%s'", argv[optind]);
    json_t *r;
    if ((rc = cli_admin_call(&cc, "token.create", json_pack("{s:I}", "ttl_ms", (json_int_t)ttl), &r)) != 0)
        return rc;
    if (cc.json)
        cli_print_json(r);
    else
        printf("Run this on the new host (after `drover init --join` and starting its agent):\n\n  %s\n",
               json_string_value(json_object_get(r, "command")));
    json_decref(r);
    return AG_EX_OK;
}

/* ---- join ---- */

static const char join_usage[] =
    "Usage: drover join ADDR --token ID.SECRET --fingerprint FPR [--json] [--socket PATH | -c FILE]\n"
    "\n"
    "Make this host (its agent must run, after `drover init --join`) a member of the\n"
    "cluster that answers at ADDR (a member's join endpoint, tcp://IP:PORT+1). The reply\n"
    "must be signed by the host whose fingerprint is FPR, or nothing is joined. The\n"
    "cluster commits the admission, then this host catches up on the replicated state.\n"
    "\nExit: 0 joined, 77 token refused, 107 fingerprint or signature mismatch, 108 already\n"
    "a member, 69 no answer, 64 usage.\n";

struct join_opts {
    const char *token, *fpr;
};

static int on_join(int o, void *ud)
{
    struct join_opts *j = ud;
    if (o == 'T')
        j->token = optarg;
    else if (o == 'F')
        j->fpr = optarg;
    return 0;
}

static int cmd_join(int argc, char **argv)
{
    static const struct option extra[] = {{"token", required_argument, 0, 'T'},
                                          {"fingerprint", required_argument, 0, 'F'}, {0, 0, 0, 0}};
    cli_common cc;
    struct join_opts j = {0};
    int rc = cli_parse(argc, argv, "join", join_usage, &cc, "T:F:", extra, on_join, &j);
    if (rc)
        return rc < 0 ? AG_EX_OK : rc;
    if (argc - optind != 1)
        return cli_usage_error("join", "expected one ADDR (tcp://IP:PORT of a member's join endpoint)");
    if (!j.token || !j.fpr)
        return cli_usage_error("join", "--token and --fingerprint are both required");
    json_t *r;
    rc = cli_call_stream(&cc, "join", json_pack("{s:s,s:s,s:s}", "addr", argv[optind], "token", j.token,
                                                "fingerprint", j.fpr), NULL, NULL, 30000, &r);
    if (rc)
        return rc;
    if (cc.json)
        cli_print_json(r);
    else
        printf("Joined cluster %s (%lld members). This host now catches up on the replicated state.\n",
               json_string_value(json_object_get(r, "cluster_id")),
               (long long)json_integer_value(json_object_get(r, "members")));
    json_decref(r);
    return AG_EX_OK;
}

/* ---- members remove ---- */

static const char remove_usage[] =
    "Usage: drover members remove HOST [--json] [--socket PATH | -c FILE]\n"
    "\n"
    "Revoke a member (by name or host ID): once committed, no member admits its keys any\n"
    "more and the coordinator takes it out of the Raft configuration.\n"
    "\nExit: 0 ok, 105 no such member, 107 a host cannot remove itself, 106 no quorum.\n";

static int on_none(int o, void *ud) { (void)o; (void)ud; return 0; }

static int cmd_members_remove(int argc, char **argv)
{
    cli_common cc;
    int rc = cli_parse(argc, argv, "members remove", remove_usage, &cc, "", NULL, on_none, NULL);
    if (rc)
        return rc < 0 ? AG_EX_OK : rc;
    if (argc - optind != 1)
        return cli_usage_error("members remove", "expected one HOST");
    json_t *r;
    if ((rc = cli_admin_call(&cc, "members.remove", json_pack("{s:s}", "host", argv[optind]), &r)) != 0)
        return rc;
    if (cc.json)
        cli_print_json(r);
    else
        printf("Removed %s (committed at index %lld).\n", json_string_value(json_object_get(r, "removed")),
               (long long)json_integer_value(json_object_get(r, "index")));
    json_decref(r);
    return AG_EX_OK;
}

const ag_cmd ag_cmds_join[] = {
    {"token create", cmd_token_create, "print a single-use command that adds a host", token_usage},
    {"join", cmd_join, "join this host to a cluster", join_usage},
    {"members remove", cmd_members_remove, "revoke a member", remove_usage},
    {NULL, NULL, NULL, NULL},
};
