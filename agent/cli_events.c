/* cli_events.c — `drover events [--follow] [--kind K] [--limit N] [--json]`. */
#include "cli.h"
#include "exitcodes.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char events_usage[] =
    "Usage: drover events [--follow] [--kind KIND] [--limit N] [--json] [--socket PATH | -c FILE]\n"
    "\n"
    "Show this agent's event journal: every decision and its reason (members coming and\n"
    "going, coordinator changes, voter changes, joins, migrations). --follow keeps\n"
    "printing new events until Ctrl-C. Kinds: agent, member, membership, raft, voters,\n"
    "join, and those the HA controllers add.\n"
    "\n"
    "  --limit N   how many of the newest events to show first (default 100)\n"
    "\nExit: 0 ok, 2 bad --limit, 69 agent not reachable.\n";

struct ev_opts {
    int follow;
    const char *kind;
    long limit;
    int json;
};

static void print_event(json_t *e, void *ud)
{
    struct ev_opts *o = ud;
    if (o->json) {
        char *s = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
        if (s)
            puts(s);
        free(s);
    } else {
        time_t t = (time_t)(json_integer_value(json_object_get(e, "time_ms")) / 1000);
        struct tm tm;
        char ts[32];
        localtime_r(&t, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
        printf("%s  %-8s %-10s %s\n", ts, json_string_value(json_object_get(e, "host")),
               json_string_value(json_object_get(e, "kind")), json_string_value(json_object_get(e, "message")));
    }
    fflush(stdout);
}

static int on_opt(int o, void *ud)
{
    struct ev_opts *e = ud;
    char *end;
    switch (o) {
    case 'f': e->follow = 1; break;
    case 'k': e->kind = optarg; break;
    case 'n':
        e->limit = strtol(optarg, &end, 10);
        if (*end || e->limit <= 0) {
            fprintf(stderr, "drover events: --limit takes a positive number, not '%s'\n", optarg);
            return -1;
        }
        break;
    }
    return 0;
}

static int cmd_events(int argc, char **argv)
{
    static const struct option extra[] = {{"follow", no_argument, 0, 'f'}, {"kind", required_argument, 0, 'k'},
                                          {"limit", required_argument, 0, 'n'}, {0, 0, 0, 0}};
    cli_common cc;
    struct ev_opts o = {.limit = 100};
    int rc = cli_parse(argc, argv, "events", events_usage, &cc, "fk:n:", extra, on_opt, &o);
    if (rc)
        return rc < 0 ? AG_EX_OK : rc;
    if (optind != argc)
        return cli_usage_error("events", "unexpected argument '%s'", argv[optind]);
    o.json = cc.json;
    json_t *args = json_pack("{s:b,s:I}", "follow", o.follow, "limit", (json_int_t)o.limit), *r;
    if (o.kind)
        json_object_set_new(args, "kind", json_string(o.kind));
    /* --follow: no timeout; the stream ends when the agent stops or on Ctrl-C */
    rc = cli_call_stream(&cc, "events", args, print_event, &o, o.follow ? 0 : 30000, &r);
    if (rc)
        return rc;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(r, "events"), i, e) print_event(e, &o);
    json_decref(r);
    return AG_EX_OK;
}

const ag_cmd ag_cmds_events[] = {
    {"events", cmd_events, "show the event journal (decisions and reasons)", events_usage},
    {NULL, NULL, NULL, NULL},
};
