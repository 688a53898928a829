/* cli_members.c — `drover members`, `drover roster line` and `drover roster operator`. */
#include "cli.h"
#include "ctl.h"
#include "exitcodes.h"
#include "identity.h"
#include "members.h"
#include "operator.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char members_usage[] =
    "Usage: drover members [--json] [--status alive|suspect|dead|left] [--socket PATH | -c FILE]\n"
    "\n"
    "List the cluster's hosts as this agent's gossip sees them: name, address, state,\n"
    "incarnation, and a summary of each host's signed status record (free memory, VMs,\n"
    "admin state, libvirtd health, agent version). A host whose agent stopped cleanly shows\n"
    "ADMIN \"frozen\": the cluster leaves its VMs alone until the agent is back (--json:\n"
    "ha.frozen, ha.frozen_at_ms).\n"
    "\nExit: 0 ok, 2 bad --status, 69 agent not reachable.\n";

static int on_status(int o, void *ud)
{
    if (o == 'S')
        *(const char **)ud = optarg;
    return 0;
}

/* The HA state's word on each member (frozen, admin) from ha.status, merged into the
 * list as "ha": gossip's record of a stopped agent is gone or old, the HA state is not.
 * Without an answer (not in a cluster yet) the list is gossip's alone. */
static void add_ha(const cli_common *cc, json_t *members)
{
    json_t *st = NULL, *m, *h;
    char err[256];
    size_t i, k;
    if (ag_ctl_call(cc->socket, "ha.status", NULL, NULL, NULL, 5000, &st, err, sizeof err) != 0) {
        json_decref(st);
        return;
    }
    json_array_foreach(members, i, m) {
        json_array_foreach(json_object_get(st, "hosts"), k, h) {
            if (!json_equal(json_object_get(h, "name"), json_object_get(m, "name")))
                continue;
            json_t *o = json_pack("{s:O,s:O}", "admin", json_object_get(h, "admin"), "frozen",
                                  json_object_get(h, "frozen") ? json_object_get(h, "frozen") : json_false());
            if (json_object_get(h, "frozen_at_ms"))
                json_object_set(o, "frozen_at_ms", json_object_get(h, "frozen_at_ms"));
            json_object_set_new(m, "ha", o);
        }
    }
    json_decref(st);
}

static int cmd_members(int argc, char **argv)
{
    static const struct option extra[] = {{"status", required_argument, 0, 'S'}, {0, 0, 0, 0}};
    cli_common cc;
    const char *status = NULL;
    int rc = cli_parse(argc, argv, "members", members_usage, &cc, "S:", extra, on_status, &status);
    if (rc)
        return rc < 0 ? AG_EX_OK : rc;
    if (optind != argc)
        return cli_usage_error("members", "unexpected argument '%s'", argv[optind]);
    json_t *args = json_object(), *r;
    if (status)
        json_object_set_new(args, "status", json_string(status));
    if ((rc = cli_call(&cc, "members", args, &r)) != 0)
        return rc;
    add_ha(&cc, json_object_get(r, "members"));
    if (cc.json) {
        cli_print_json(r);
        json_decref(r);
        return AG_EX_OK;
    }
    printf("%-14s %-24s %-8s %5s %10s %4s %-12s %-8s %s\n", "NAME", "ADDRESS", "STATE", "INC",
           "FREE MiB", "VMS", "ADMIN", "LIBVIRTD", "VERSION");
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(r, "members"), i, m) {
        json_t *st = json_object_get(m, "status");
        bool frozen = json_is_true(json_object_get(json_object_get(m, "ha"), "frozen"));
        char freemem[32] = "-", vms[16] = "-";
        if (st) {
            snprintf(freemem, sizeof freemem, "%lld", (long long)json_integer_value(json_object_get(st, "memory_free_mib")));
            snprintf(vms, sizeof vms, "%lld", (long long)json_integer_value(json_object_get(st, "vm_count")));
        }
        printf("%-14s %-24s %-8s %5lld %10s %4s %-12s %-8s %s%s\n",
               json_string_value(json_object_get(m, "name")),
               json_string_value(json_object_get(m, "addr")),
               json_string_value(json_object_get(m, "state")),
               (long long)json_integer_value(json_object_get(m, "incarnation")), freemem, vms,
               frozen ? "frozen" : st ? json_string_value(json_object_get(st, "admin_state")) : "-",
               st ? (json_is_true(json_object_get(st, "libvirtd_responsive")) ? "ok" : "down") : "-",
               st ? json_string_value(json_object_get(st, "agent_version")) : "-",
               json_is_true(json_object_get(m, "self")) ? "  (this host)" : "");
    }
    json_decref(r);
    return AG_EX_OK;
}

static const char roster_usage[] =
    "Usage: drover roster line --addr tcp://IP:PORT [--name NAME] [--state-dir DIR]\n"
    "\n"
    "Print this host's line for the cluster roster ([cluster] roster): its name, host ID,\n"
    "signing key, CURVE key with its signature, and address. Until `drover join` lands,\n"
    "a cluster is the set of hosts listed in one roster file shared by all of them,\n"
    "plus a line `cluster_id = <32 hex>` (e.g. from `od -An -tx1 -N16 /dev/urandom | tr -d ' \\n'`).\n"
    "\nExit: 0 ok, 66 no identity (run drover init), 2 bad address or name.\n";

static int cmd_roster_line(int argc, char **argv)
{
    static const struct option opts[] = {
        {"addr", required_argument, 0, 'a'}, {"name", required_argument, 0, 'n'},
        {"state-dir", required_argument, 0, 'd'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *addr = NULL, *dir = "/var/lib/drover";
    char name[64];
    if (gethostname(name, sizeof name - 1) != 0)
        snprintf(name, sizeof name, "host");
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "a:n:d:h", opts, NULL)) != -1) {
        switch (o) {
        case 'a': addr = optarg; break;
        case 'n': snprintf(name, sizeof name, "%s", optarg); break;
        case 'd': dir = optarg; break;
        case 'h': fputs(roster_usage, stdout); return AG_EX_OK;
        default: return cli_bad_option("roster line", argv);
        }
    }
    if (!addr)
        return cli_usage_error("roster line", "--addr tcp://IP:PORT is required");
    ag_identity id;
    char err[512], line[512];
    if (ag_identity_load(dir, &id, err, sizeof err) != 0) {
        fprintf(stderr, "drover roster line: %s\n", err);
        return AG_EX_NOINPUT;
    }
    int rc = ag_members_line(&id, name, addr, line, sizeof line);
    ag_identity_wipe(&id);
    if (rc) {
        fprintf(stderr, "drover roster line: the address must look like tcp://IP:PORT (under %d "
                "characters) and the name must have no spaces\n", AG_MEMBER_ADDR_MAX);
        return AG_EX_INVALID;
    }
    fputs(line, stdout);
    return AG_EX_OK;
}

static const char roster_op_usage[] =
    "Usage: drover roster operator [--operator-key FILE]\n"
    "\n"
    "Print the roster line `operator = <public key>` of the operator credential (FILE, else\n"
    "$" AG_OP_ENV ", else " AG_OP_DEFAULT_PATH ", as `drover init` wrote it). A cluster built\n"
    "from a static roster knows its operators from these lines: every admin command must be\n"
    "signed by one of them.\n"
    "\nExit: 0 ok, 77 no readable operator key, 64 usage.\n";

static int cmd_roster_operator(int argc, char **argv)
{
    static const struct option opts[] = {
        {"operator-key", required_argument, 0, 'K'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *path = NULL;
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (o == 'K')
            path = optarg;
        else if (o == 'h') {
            fputs(roster_op_usage, stdout);
            return AG_EX_OK;
        } else
            return cli_bad_option("roster operator", argv);
    }
    if (optind != argc)
        return cli_usage_error("roster operator", "unexpected argument '%s'", argv[optind]);
    ag_opkey k;
    char err[1024], hex[65];
    if (ag_op_load(ag_op_path(path), &k, err, sizeof err) != 0) {
        fprintf(stderr, "drover roster operator: %s\n", err);
        return AG_EX_NOPERM;
    }
    ag_hex(k.pk, 32, hex);
    printf("# operator %s\noperator = %s\n", k.fpr, hex);
    ag_op_wipe(&k);
    return AG_EX_OK;
}

const ag_cmd ag_cmds_members[] = {
    {"members", cmd_members, "list cluster hosts and their state (gossip)", members_usage},
    {"roster line", cmd_roster_line, "print this host's roster line", roster_usage},
    {"roster operator", cmd_roster_operator, "print the operator key's roster line", roster_op_usage},
    {NULL, NULL, NULL, NULL},
};
