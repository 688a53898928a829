/* cli_join.c — `drover token create`, `drover join`, `drover members remove`. */
#include "cli.h"
#include "config.h"
#include "exitcodes.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- token create ---- */

static const char token_usage[] =
    "Usage: drover token create [--ttl DURATION] [--json] [--socket PATH | -c FILE]\n"
    "\n"
    "Create a single-use join token (default lifetime 1h) and print the command that adds\n"
    "a new host: `echo ID.SECRET | drover join ADDR --token - --fingerprint FPR`. The token lives in\n"
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
        /* echo is a shell builtin: the secret reaches stdin without showing in /proc */
        printf("Run this on the new host (after `drover init --join` and starting its agent):\n\n"
               "  echo %s | drover join %s --token - --fingerprint %s\n",
               json_string_value(json_object_get(r, "token")), json_string_value(json_object_get(r, "addr")),
               json_string_value(json_object_get(r, "fingerprint")));
    json_decref(r);
    return AG_EX_OK;
}

/* ---- token list / revoke ---- */

static const char list_usage[] =
    "Usage: drover token list [--json] [--socket PATH | -c FILE]\n"
    "\n"
    "List the join tokens not yet used: id, expiry and the host that issued them (only\n"
    "that host's join endpoint accepts a token). No secret is shown: the secrets stay\n"
    "with their issuing hosts.\n"
    "\nExit: 0 ok, 69 agent not reachable.\n";

static int on_nothing(int o, void *ud) { (void)o; (void)ud; return 0; }

static int cmd_token_list(int argc, char **argv)
{
    cli_common cc;
    int rc = cli_parse(argc, argv, "token list", list_usage, &cc, "", NULL, on_nothing, NULL);
    if (rc)
        return rc < 0 ? AG_EX_OK : rc;
    if (optind != argc)
        return cli_usage_error("token list", "unexpected argument '%s'", argv[optind]);
    json_t *r, *t;
    size_t i;
    if ((rc = cli_call(&cc, "token.list", NULL, &r)) != 0)
        return rc;
    if (cc.json) {
        cli_print_json(r);
        json_decref(r);
        return AG_EX_OK;
    }
    long long now = (long long)json_integer_value(json_object_get(r, "now_ms"));
    printf("%-16s  %-14s  %s\n", "ID", "EXPIRES", "ISSUED BY");
    json_array_foreach(json_object_get(r, "tokens"), i, t) {
        long long left = ((long long)json_integer_value(json_object_get(t, "expires_ms")) - now) / 1000;
        char exp[32];
        if (left < 0)
            snprintf(exp, sizeof exp, "expired");
        else
            snprintf(exp, sizeof exp, "in %lldm%02llds", left / 60, left % 60);
        const char *who = json_string_value(json_object_get(t, "issuer"));
        bool old = json_is_true(json_object_get(t, "secret_replicated"));
        printf("%-16s  %-14s  %s%s\n", json_string_value(json_object_get(t, "id")), exp,
               who && who[0] ? who : "(unknown)", old ? "  [old format: secret replicated; revoke]" : "");
    }
    json_decref(r);
    return AG_EX_OK;
}

static const char revoke_usage[] =
    "Usage: drover token revoke ID [--json] [--socket PATH | -c FILE]\n"
    "\n"
    "Delete a join token before it is used (ID as `drover token list` shows it). Signed\n"
    "with the operator key, like token create.\n"
    "\nExit: 0 ok, 105 no such token, 77 not permitted, 106 no quorum.\n";

static int cmd_token_revoke(int argc, char **argv)
{
    cli_common cc;
    int rc = cli_parse(argc, argv, "token revoke", revoke_usage, &cc, "", NULL, on_nothing, NULL);
    if (rc)
        return rc < 0 ? AG_EX_OK : rc;
    if (argc - optind != 1)
        return cli_usage_error("token revoke", "expected one token ID (see `drover token list`)");
    json_t *r;
    if ((rc = cli_admin_call(&cc, "token.revoke", json_pack("{s:s}", "id", argv[optind]), &r)) != 0)
        return rc;
    if (cc.json)
        cli_print_json(r);
    else
        printf("Revoked join token %s (committed at index %lld).\n", json_string_value(json_object_get(r, "revoked")),
               (long long)json_integer_value(json_object_get(r, "index")));
    json_decref(r);
    return AG_EX_OK;
}

/* ---- join ---- */

static const char join_usage[] =
    "Usage: drover join ADDR --fingerprint FPR [--token-file FILE | --token - | --token ID.SECRET]\n"
    "                   [--json] [--socket PATH | -c FILE]\n"
    "\n"
    "Make this host (its agent must run, after `drover init --join`) a member of the\n"
    "cluster that answers at ADDR (a member's join endpoint, tcp://IP:PORT+1). The reply\n"
    "must be signed by the host whose fingerprint is FPR, or nothing is joined. The\n"
    "cluster commits the admission, then this host catches up on the replicated state.\n"
    "\n"
    "The token is read from --token-file FILE, from standard input with --token -, or\n"
    "from the environment variable DROVER_JOIN_TOKEN. --token ID.SECRET works too but\n"
    "puts the secret on the command line, where local users see it in /proc.\n"
    "\nExit: 0 joined, 77 token refused, 107 fingerprint or signature mismatch, 108 already\n"
    "a member, 69 no answer, 64 usage.\n";

struct join_opts {
    const char *token, *token_file, *fpr;
};

static int on_join(int o, void *ud)
{
    struct join_opts *j = ud;
    if (o == 'T')
        j->token = optarg;
    else if (o == 'K')
        j->token_file = optarg;
    else if (o == 'F')
        j->fpr = optarg;
    return 0;
}

/* One line of f into buf, surrounding blanks cut: 0, or -1 when empty or too long. */
static int read_token_line(FILE *f, char *buf, size_t n)
{
    if (!fgets(buf, (int)n, f))
        return -1;
    size_t len = strcspn(buf, "\r\n");
    if (len == n - 1 && !strchr(buf, '\n') && !feof(f))
        return -1;
    buf[len] = 0;
    char *p = buf;
    while (*p == ' ' || *p == '\t')
        p++;
    memmove(buf, p, strlen(p) + 1);
    for (len = strlen(buf); len && (buf[len - 1] == ' ' || buf[len - 1] == '\t'); len--)
        buf[len - 1] = 0;
    return buf[0] ? 0 : -1;
}

/* The token from wherever the operator put it (see join_usage), into buf. 0 or an exit
 * code with the reason printed. Kept off argv: another local user reads argv in /proc. */
static int join_token(const struct join_opts *j, char *buf, size_t n)
{
    const char *env = getenv("DROVER_JOIN_TOKEN");
    if (j->token_file) {
        FILE *f = fopen(j->token_file, "r");
        int rc = f ? read_token_line(f, buf, n) : -1;
        if (f)
            fclose(f);
        if (rc)
            return cli_usage_error("join", "cannot read a token from %s%s%s", j->token_file,
                                   f ? "" : ": ", f ? " (empty?)" : strerror(errno));
    } else if (j->token && !strcmp(j->token, "-")) {
        if (read_token_line(stdin, buf, n))
            return cli_usage_error("join", "--token -: no token on standard input");
    } else if (j->token) {
        fprintf(stderr, "drover join: warning: --token VALUE is visible to local users in /proc; "
                "prefer --token-file FILE, --token - (stdin) or DROVER_JOIN_TOKEN\n");
        snprintf(buf, n, "%s", j->token);
    } else if (env && env[0]) {
        snprintf(buf, n, "%s", env);
    } else {
        return cli_usage_error("join", "no token: give --token-file FILE, --token - (stdin) or "
                               "set DROVER_JOIN_TOKEN");
    }
    return 0;
}

static int cmd_join(int argc, char **argv)
{
    static const struct option extra[] = {{"token", required_argument, 0, 'T'},
                                          {"token-file", required_argument, 0, 'K'},
                                          {"fingerprint", required_argument, 0, 'F'}, {0, 0, 0, 0}};
    cli_common cc;
    struct join_opts j = {0};
    char token[256];
    int rc = cli_parse(argc, argv, "join", join_usage, &cc, "T:K:F:", extra, on_join, &j);
    if (rc)
        return rc < 0 ? AG_EX_OK : rc;
    if (argc - optind != 1)
        return cli_usage_error("join", "expected one ADDR (tcp://IP:PORT of a member's join endpoint)");
    if (!j.fpr)
        return cli_usage_error("join", "--fingerprint is required");
    if ((rc = join_token(&j, token, sizeof token)) != 0)
        return rc;
    json_t *r;
    rc = cli_call_stream(&cc, "join", json_pack("{s:s,s:s,s:s}", "addr", argv[optind], "token", token,
                                                "fingerprint", j.fpr), NULL, NULL, 30000, &r);
    explicit_bzero(token, sizeof token);
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
    {"token list", cmd_token_list, "list unused join tokens (no secrets)", list_usage},
    {"token revoke", cmd_token_revoke, "delete a join token before it is used", revoke_usage},
    {"join", cmd_join, "join this host to a cluster", join_usage},
    {"members remove", cmd_members_remove, "revoke a member", remove_usage},
    {NULL, NULL, NULL, NULL},
};
