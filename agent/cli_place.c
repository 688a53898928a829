/* cli_place.c — `drover cpu baseline`, `drover check migrate VM HOST`, `drover place VM`:
 * clients of the agent's cpu.baseline, check.migrate and place commands (ctl_place.c).
 * The agent renders the text with the placement core's own formatter (the golden
 * scenarios check the same text), so this file only chooses what to print and the exit
 * code: a blocked migration, or a VM with no candidate host, exits 107 (unsafe). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "exitcodes.h"

/* Shared option loop: --json, --socket, -c, --help, and --storage for check migrate. */
static int parse(int argc, char **argv, const char *cmd, const char *usage, int npos,
                 cli_common *cc, int *storage)
{
    static const struct option opts[] = {
        {"json", no_argument, 0, 'j'},        {"socket", required_argument, 0, 's'},
        {"config", required_argument, 0, 'c'}, {"help", no_argument, 0, 'h'},
        {"storage", no_argument, 0, 'S'},     {0, 0, 0, 0}};
    const char *config = NULL;
    int o;
    cli_common_init(cc);
    opterr = 0;
    while ((o = getopt_long(argc, argv, "js:c:h", opts, NULL)) != -1) {
        switch (o) {
        case 'j': cc->json = true; break;
        case 's': snprintf(cc->socket, sizeof cc->socket, "%s", optarg); break;
        case 'c': config = optarg; break;
        case 'h': fputs(usage, stdout); return -1;
        case 'S':
            if (storage) {
                *storage = 1;
                break;
            }
            return cli_bad_option(cmd, argv);
        default: return cli_bad_option(cmd, argv);
        }
    }
    if (argc - optind != npos)
        return cli_usage_error(cmd, "expected %d argument%s, got %d", npos, npos == 1 ? "" : "s",
                               argc - optind);
    return cli_common_config(cc, config);
}

static const char baseline_usage[] =
    "Usage: drover cpu baseline [--json] [--socket PATH | -c FILE]\n"
    "\n"
    "The CPU every live host can run (drover's EVC): the CPU vendor, the features all hosts\n"
    "share (from their gossip records) and libvirt's baseline <cpu> model, usable as is in\n"
    "a domain definition. Hosts whose libvirtd is unreachable publish no features and are\n"
    "listed as skipped. Without a local libvirtd only the common features are shown.\n"
    "\nExit: 0 ok, 69 agent or every host's libvirt not reachable, 107 hosts mix CPU vendors.\n";

static int cmd_baseline(int argc, char **argv)
{
    cli_common cc;
    int rc = parse(argc, argv, "cpu baseline", baseline_usage, 0, &cc, NULL);
    json_t *r;
    if (rc)
        return rc < 0 ? AG_EX_OK : rc;
    if ((rc = cli_call(&cc, "cpu.baseline", NULL, &r)) != 0)
        return rc;
    if (cc.json) {
        cli_print_json(r);
        json_decref(r);
        return AG_EX_OK;
    }
    json_t *b = json_object_get(r, "result"), *v;
    size_t i;
    printf("vendor    %s\nhosts    ", json_string_value(json_object_get(b, "vendor")));
    json_array_foreach(json_object_get(b, "hosts"), i, v) printf(" %s", json_string_value(v));
    printf("\n");
    if (json_array_size(json_object_get(b, "skipped"))) {
        printf("skipped  ");
        json_array_foreach(json_object_get(b, "skipped"), i, v) printf(" %s", json_string_value(v));
        printf("   (no CPU features in their records: libvirt unreachable there, or down)\n");
    }
    printf("features  %zu in common:", json_array_size(json_object_get(b, "features")));
    json_array_foreach(json_object_get(b, "features"), i, v) printf(" %s", json_string_value(v));
    printf("\n");
    const char *xml = json_string_value(json_object_get(r, "cpu_xml"));
    if (xml)
        printf("\n%s", xml);
    else
        printf("\nno libvirt model: %s\n",
               json_string_value(json_object_get(r, "libvirt_error"))
                   ? json_string_value(json_object_get(r, "libvirt_error")) : "?");
    json_decref(r);
    return AG_EX_OK;
}

static const char check_usage[] =
    "Usage: drover check migrate VM HOST [--storage] [--json] [--socket PATH | -c FILE]\n"
    "\n"
    "Every reason VM (defined on this host) cannot be live-migrated to HOST (a member name),\n"
    "and every warning, each with a stable code and what to do about it; nothing moves.\n"
    "  --storage   allow copying host-local disks (as `drover vm migrate --storage` would)\n"
    "\nExit: 0 can move (warnings possible), 107 blocked, 105 no such VM or host,\n"
    "1 libvirt unreachable here, 69 agent not reachable.\n";

static int cmd_check(int argc, char **argv)
{
    cli_common cc;
    int storage = 0;
    int rc = parse(argc, argv, "check migrate", check_usage, 2, &cc, &storage);
    json_t *r;
    if (rc)
        return rc < 0 ? AG_EX_OK : rc;
    json_t *args = json_pack("{s:s, s:s, s:b}", "vm", argv[optind], "host", argv[optind + 1],
                             "storage", storage);
    if ((rc = cli_call(&cc, "check.migrate", args, &r)) != 0)
        return rc;
    int blocked = json_is_true(json_object_get(r, "blocked"));
    if (cc.json)
        cli_print_json(json_object_get(r, "result"));
    else
        fputs(json_string_value(json_object_get(r, "text")), stdout);
    json_decref(r);
    return blocked ? AG_EX_UNSAFE : AG_EX_OK;
}

static const char place_usage[] =
    "Usage: drover place VM [--storage] [--json] [--socket PATH | -c FILE]\n"
    "\n"
    "Rank every host for VM (defined on this host): candidates best first with their\n"
    "scores (higher = more balanced after the move), then the rejected hosts with why.\n"
    "  --storage   hosts that would need host-local disks copied are candidates too\n"
    "\nExit: 0 at least one candidate, 107 none, 105 no such VM, 1 libvirt unreachable here.\n";

static int cmd_place(int argc, char **argv)
{
    cli_common cc;
    int storage = 0;
    int rc = parse(argc, argv, "place", place_usage, 1, &cc, &storage);
    json_t *r;
    if (rc)
        return rc < 0 ? AG_EX_OK : rc;
    if ((rc = cli_call(&cc, "place", json_pack("{s:s, s:b}", "vm", argv[optind], "storage", storage), &r)) != 0)
        return rc;
    int none = json_is_true(json_object_get(r, "blocked"));
    if (cc.json)
        cli_print_json(json_object_get(r, "result"));
    else
        fputs(json_string_value(json_object_get(r, "text")), stdout);
    json_decref(r);
    return none ? AG_EX_UNSAFE : AG_EX_OK;
}

const ag_cmd ag_cmds_place[] = {
    {"cpu baseline", cmd_baseline, "the CPU model every host can run (EVC)", baseline_usage},
    {"check migrate", cmd_check, "why VM can or cannot move to HOST, before anything moves",
     check_usage},
    {"place", cmd_place, "hosts ranked for a VM, with the rejections of the others",
     place_usage},
    {NULL, NULL, NULL, NULL}};
