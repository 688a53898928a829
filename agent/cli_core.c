/* cli_core.c — `drover init` and `drover status`. */
#include "cli.h"
#include "exitcodes.h"
#include "identity.h"
#include "operator.h"
#include "store.h"

#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char init_usage[] =
    "Usage: drover init [--state-dir DIR] [--join] [--force] [--operator-key FILE] [--json]\n"
    "\n"
    "Create this host's identity: an Ed25519 signing key and a separate X25519 transport\n"
    "key (files 0600 in DIR), and its LMDB store. Without --join, the agent started next\n"
    "bootstraps a new cluster with this host as its first member, and init creates the\n"
    "cluster's operator credential: an Ed25519 key (FILE, 0600) that every admin command\n"
    "(token create, members remove, kv put, host drain, vm protect, upgrade ...) signs\n"
    "with, on any host. Keep it like a kubeconfig: copy it where you administer from and\n"
    "point --operator-key or $DROVER_OPERATOR_KEY at it. An existing FILE is used as it is\n"
    "(one operator key for several clusters). Then `drover token create` prints the command\n"
    "that adds the next host. Prints the host ID and the fingerprint that joining hosts pin.\n"
    "\n"
    "  --state-dir DIR     where keys and store live (default /var/lib/drover)\n"
    "  --join              identity only: this host will join an existing cluster\n"
    "  --force             replace an existing identity (the old host ID is lost)\n"
    "  --operator-key FILE the operator credential (default $DROVER_OPERATOR_KEY, else\n"
    "                      " AG_OP_DEFAULT_PATH ")\n"
    "  --json              print the result as JSON\n"
    "\nExit: 0 ok, 108 identity exists (without --force), 73 cannot create files, 77 the\n"
    "operator key exists but does not load, 64 usage.\n";

/* The operator key of a new cluster: the one at path if there is one (one operator, several
 * clusters), else a new one. 0, or an exit code after saying what was wrong. */
static int init_operator(const char *path, ag_opkey *k, bool *created)
{
    char err[1024];
    *created = false;
    int rc = ag_op_load(path, k, err, sizeof err);
    if (rc == -ENOENT) {
        rc = ag_op_create(path, k, err, sizeof err);
        *created = rc == 0;
    }
    if (rc) {
        fprintf(stderr, "drover init: %s\n", err);
        return rc == -EEXIST || rc == -EINVAL || rc == -EACCES ? AG_EX_NOPERM : AG_EX_CANTCREAT;
    }
    return 0;
}

/* The identity and store; without --join the store keeps the operator's public key for the
 * cluster's first entries. */
static int init_store(const char *dir, bool force, bool join, const ag_opkey *op, ag_identity *id)
{
    char err[1024];
    int rc = ag_identity_create(dir, force, id, err, sizeof err);
    if (rc) {
        fprintf(stderr, "drover init: %s\n", err);
        return rc == -EEXIST ? AG_EX_EXISTS : AG_EX_CANTCREAT;
    }
    st_store *st;
    if (st_open(dir, &st, err, sizeof err) != 0) {
        fprintf(stderr, "drover init: %s\n", err);
        ag_identity_wipe(id);
        return AG_EX_CANTCREAT;
    }
    uint64_t one = htobe64(1);
    if (!join) {   /* the agent creates the cluster at its first start (it knows its address) */
        st_put(st, ST_DB_META, "bootstrap", 9, &one, sizeof one);
        st_put(st, ST_DB_META, "operator_pk", 11, op->pk, sizeof op->pk);
    } else {
        st_del(st, ST_DB_META, "bootstrap", 9);
        st_del(st, ST_DB_META, "operator_pk", 11);
    }
    st_close(st);
    return 0;
}

static void init_print(const char *dir, const ag_identity *id, bool join, bool json, const char *oppath,
                       const ag_opkey *op, bool created)
{
    char hid[AG_HOST_ID_HEXLEN], fpr[AG_FPR_STRLEN];
    ag_hex(id->host_id, AG_HOST_ID_LEN, hid);
    ag_fingerprint(id->sign_pk, fpr);
    if (json) {
        json_t *j = json_pack("{s:s,s:s,s:s}", "state_dir", dir, "host_id", hid, "fingerprint", fpr);
        if (!join)
            json_object_set_new(j, "operator", json_pack("{s:s,s:s,s:b}", "key_file", oppath, "fingerprint",
                                                         op->fpr, "created", created));
        cli_print_json(j);
        json_decref(j);
        return;
    }
    printf("Created host identity in %s\n  host id:     %s\n  fingerprint: %s\n", dir, hid, fpr);
    if (!join)
        printf("Operator credential %s %s\n  operator:    %s\n  Every admin command needs it (--operator-key FILE or $"
               AG_OP_ENV "); keep it secret, copy it to where you administer from.\n",
               created ? "written to" : "taken from", oppath, op->fpr);
    printf("%s", join ? "Next: start the agent, then run the `drover join ...` line from `drover token create`.\n"
                      : "Next: start the agent (it creates the cluster), then `drover token create` for each new host.\n");
}

static int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"state-dir", required_argument, 0, 'd'}, {"force", no_argument, 0, 'f'},
        {"join", no_argument, 0, 'J'}, {"operator-key", required_argument, 0, 'K'},
        {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *dir = "/var/lib/drover", *opt_key = NULL;
    bool force = false, json = false, join = false, created = false;
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "d:fjh", opts, NULL)) != -1) {
        switch (o) {
        case 'd': dir = optarg; break;
        case 'J': join = true; break;
        case 'f': force = true; break;
        case 'K': opt_key = optarg; break;
        case 'j': json = true; break;
        case 'h': fputs(init_usage, stdout); return AG_EX_OK;
        default: return cli_bad_option("init", argv);
        }
    }
    if (optind != argc)
        return cli_usage_error("init", "unexpected argument '%s'", argv[optind]);
    const char *oppath = ag_op_path(opt_key);
    ag_opkey op = {0};
    ag_identity id;
    int rc = join ? 0 : init_operator(oppath, &op, &created);
    if (rc == 0)
        rc = init_store(dir, force, join, &op, &id);
    if (rc == 0) {
        init_print(dir, &id, join, json, oppath, &op, created);
        ag_identity_wipe(&id);
    }
    ag_op_wipe(&op);
    return rc;
}

static const char status_usage[] =
    "Usage: drover status [--json] [--socket PATH | -c FILE]\n"
    "\n"
    "Show the local agent: host name and ID, version, uptime, state directory, epoch,\n"
    "store size, counters of rejected network messages by reason, and the event loop's\n"
    "latency since the start and over the last 60-120 s: how late timers ran, how long\n"
    "callbacks ran, how long finished work waited for the loop (count, p50, p99, p99.9,\n"
    "max; quantiles are at most 1/64 above the true value), and the longest callback.\n"
    "\n"
    "  --json         the agent's answer as JSON\n"
    "  --socket PATH  control socket (default: $DROVER_SOCKET or /run/drover/drover.sock)\n"
    "  -c FILE        read the socket path from this agent config\n"
    "\nExit: 0 ok, 69 agent not reachable, 4 not root.\n";

static void print_bytes(const char *label, json_int_t b)
{
    printf("%s%.1f MiB", label, (double)b / (1024.0 * 1024.0));
}

static int no_opts(int o, void *ud) { (void)o; (void)ud; return 0; }

/* 512us, 12.3ms, 1.25s: a figure to read, not to parse (--json has the integers) */
static const char *fmt_us(char *buf, size_t cap, json_int_t us)
{
    if (us < 1000)
        snprintf(buf, cap, "%lldus", (long long)us);
    else if (us < 1000000)
        snprintf(buf, cap, "%.1fms", (double)us / 1e3);
    else
        snprintf(buf, cap, "%.2fs", (double)us / 1e6);
    return buf;
}

static void print_lat_row(const char *label, json_t *set, const char *count_key, const char *what)
{
    static const char *const q[] = {"p50", "p99", "p999", "max"};
    printf("  %-12s %7lld", label, (long long)json_integer_value(json_object_get(set, count_key)));
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        char key[64], b[24];
        snprintf(key, sizeof key, "%s_us_%s", what, q[i]);
        printf(" %8s", fmt_us(b, sizeof b, json_integer_value(json_object_get(set, key))));
    }
    printf("\n");
}

/* The loop's latency block: one table since the start, one for the recent window. */
static void print_loop(json_t *loop)
{
    static const struct { const char *key, *title; } sets[] = {
        {"since_start", "since start"}, {"recent", "last"}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        json_t *set = json_object_get(loop, sets[i].key);
        if (!set)
            continue;
        printf("loop %-10s %7s %8s %8s %8s %8s  (%s %llds)\n", i ? "" : "latency", "count", "p50",
               "p99", "p99.9", "max", sets[i].title,
               (long long)json_integer_value(json_object_get(set, "span_s")));
        print_lat_row("timer late", set, "timers", "lateness");
        print_lat_row("callback", set, "callbacks", "run");
        print_lat_row("done wait", set, "completions", "done_wait");
        json_t *w = json_object_get(set, "worst_stall");
        char b[24];
        if (json_is_object(w))
            printf("  %-12s %s in %s %s, %llds ago\n", "worst", fmt_us(b, sizeof b,
                   json_integer_value(json_object_get(w, "run_us"))),
                   json_string_value(json_object_get(w, "kind")),
                   json_string_value(json_object_get(w, "label")),
                   (long long)json_integer_value(json_object_get(w, "ago_s")));
    }
}

static int cmd_status(int argc, char **argv)
{
    cli_common cc;
    int rc = cli_parse(argc, argv, "status", status_usage, &cc, "", NULL, no_opts, NULL);
    if (rc)
        return rc < 0 ? AG_EX_OK : rc;
    if (optind != argc)
        return cli_usage_error("status", "unexpected argument '%s'", argv[optind]);
    json_t *r;
    if ((rc = cli_call(&cc, "status", NULL, &r)) != 0)
        return rc;
    if (cc.json) {
        cli_print_json(r);
        json_decref(r);
        return AG_EX_OK;
    }
    json_t *store = json_object_get(r, "store");
    printf("host        %s (id %s)\n", json_string_value(json_object_get(r, "name")),
           json_string_value(json_object_get(r, "host_id")));
    printf("fingerprint %s\n", json_string_value(json_object_get(r, "fingerprint")));
    printf("version     %s\n", json_string_value(json_object_get(r, "version")));
    printf("uptime      %llds\n", (long long)json_integer_value(json_object_get(r, "uptime_s")));
    printf("state dir   %s\n", json_string_value(json_object_get(r, "state_dir")));
    printf("epoch       %lld\n", (long long)json_integer_value(json_object_get(r, "epoch")));
    printf("store       %s: ", json_string_value(json_object_get(store, "path")));
    print_bytes("", json_integer_value(json_object_get(store, "used_bytes")));
    print_bytes(" used of ", json_integer_value(json_object_get(store, "map_bytes")));
    printf(" map, last txn %lld\n", (long long)json_integer_value(json_object_get(store, "last_txnid")));
    json_t *raft = json_object_get(r, "raft"), *g = json_object_get(r, "gossip");
    if (g)
        printf("members     %lld known, %lld alive; incarnation %lld\n",
               (long long)json_integer_value(json_object_get(g, "members")),
               (long long)json_integer_value(json_object_get(g, "alive")),
               (long long)json_integer_value(json_object_get(g, "incarnation")));
    if (raft) {
        printf("raft        %s, term %lld, leader %s, commit %lld, applied %lld\n",
               json_string_value(json_object_get(raft, "role")),
               (long long)json_integer_value(json_object_get(raft, "term")),
               json_string_value(json_object_get(raft, "leader")),
               (long long)json_integer_value(json_object_get(raft, "commit")),
               (long long)json_integer_value(json_object_get(raft, "applied")));
        printf("voters     ");
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(raft, "voters"), i, v) printf(" %s", json_string_value(v));
        printf("\nlearners   ");
        json_array_foreach(json_object_get(raft, "learners"), i, v) printf(" %s", json_string_value(v));
        printf("\n");
    }
    json_t *ha = json_object_get(r, "ha");
    if (ha) {
        printf("ha          fence %s, lease left %lld ms%s", json_string_value(json_object_get(ha, "fence")),
               (long long)json_integer_value(json_object_get(ha, "lease_left_ms")),
               json_is_true(json_object_get(ha, "coordinator")) ? ", coordinator" : "");
        /* frozen: this host's agent stopped cleanly and the cluster left its VMs alone */
        json_int_t at = json_integer_value(json_object_get(ha, "frozen_at_ms"));
        if (json_is_true(json_object_get(ha, "frozen"))) {
            char when[32] = "?";
            time_t t = (time_t)(at / 1000);
            struct tm tm;
            if (at && localtime_r(&t, &tm))
                strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
            printf(", host frozen since %s (its agent stopped; unfrozen once caught up)", when);
        }
        printf("\n");
    }
    json_t *rej = json_object_get(r, "rejected");
    const char *k;
    json_t *v;
    long long total = 0;
    json_object_foreach(rej, k, v) total += json_integer_value(v);
    printf("rejected    %lld message(s)", total);
    json_object_foreach(rej, k, v) if (json_integer_value(v)) printf(" %s=%lld", k, (long long)json_integer_value(v));
    printf("\n");
    json_t *loop = json_object_get(r, "loop");
    if (loop)
        print_loop(loop);
    json_decref(r);
    return AG_EX_OK;
}

const ag_cmd ag_cmds_core[] = {
    {"init", cmd_init, "create this host's identity and store", init_usage},
    {"status", cmd_status, "show the local agent's state", status_usage},
    {NULL, NULL, NULL, NULL},
};
