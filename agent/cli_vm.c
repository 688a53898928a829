/* cli_vm.c — `drover vm list` and `drover vm migrate`, clients of the agent's vm.* commands
 * (ctl_vm.c). The progress line rewrites itself like `virsh migrate --verbose`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ctl_vm.h"
#include "exitcodes.h"

static const char list_usage[] =
    "Usage: drover vm list [--json] [--socket PATH | -c FILE]\n"
    "\n"
    "List the VMs libvirt knows on this host: name, state, memory, vCPUs, disks (shared or\n"
    "host-local), networks, and devices that prevent migration.\n"
    "\nExit: 0 ok, 69 agent not reachable, 1 libvirtd not reachable.\n";

static int cmd_vm_list(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, 0, 'j'}, {"socket", required_argument, 0, 's'},
        {"config", required_argument, 0, 'c'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    cli_common cc;
    const char *config = NULL;
    int o;
    cli_common_init(&cc);
    opterr = 0;
    while ((o = getopt_long(argc, argv, "js:c:h", opts, NULL)) != -1) {
        switch (o) {
        case 'j': cc.json = true; break;
        case 's': snprintf(cc.socket, sizeof cc.socket, "%s", optarg); break;
        case 'c': config = optarg; break;
        case 'h': fputs(list_usage, stdout); return AG_EX_OK;
        default: return cli_bad_option("vm list", argv);
        }
    }
    if (optind != argc)
        return cli_usage_error("vm list", "unexpected argument '%s'", argv[optind]);
    int rc = cli_common_config(&cc, config);
    json_t *r;
    if (rc || (rc = cli_call(&cc, "vm.list", NULL, &r)) != 0)
        return rc;
    if (cc.json) {
        cli_print_json(r);
        json_decref(r);
        return AG_EX_OK;
    }
    printf("%-20s %-8s %8s %5s %-8s %s\n", "NAME", "STATE", "MEM MiB", "VCPU", "DISKS", "NOTES");
    size_t i, k;
    json_t *vm, *d;
    json_array_foreach(json_object_get(r, "vms"), i, vm) {
        int shared = 0, local = 0;
        json_array_foreach(json_object_get(vm, "disks"), k, d) {
            if (json_is_true(json_object_get(d, "shared")))
                shared++;
            else
                local++;
        }
        char disks[32];
        snprintf(disks, sizeof disks, "%ds/%dl", shared, local);
        const char *um = json_string_value(json_object_get(vm, "unmigratable"));
        printf("%-20s %-8s %8lld %5lld %-8s %s%s\n", json_string_value(json_object_get(vm, "name")),
               json_string_value(json_object_get(vm, "state")),
               (long long)json_integer_value(json_object_get(vm, "mem_kib")) / 1024,
               (long long)json_integer_value(json_object_get(vm, "vcpus")), disks,
               um && um[0] ? "unmigratable: " : "", um ? um : "");
    }
    json_decref(r);
    return AG_EX_OK;
}

static const char migrate_usage[] =
    "Usage: drover vm migrate VM HOST [--live|--storage|--cold] [--max-downtime MS]\n"
    "                         [--bandwidth MiBps] [--save-dir DIR] [--json]\n"
    "\n"
    "Move VM from this host to HOST (its libvirtd address, or a libvirt URI).\n"
    "  --live      (default) memory copied while the VM runs; disks must be shared\n"
    "  --storage   live, and host-local disks are copied too (copy-storage-all)\n"
    "  --cold      a stopped VM's definition; a paused/saved VM through --save-dir\n"
    "              (a directory on shared storage)\n"
    "A live move that does not converge is throttled, then finished in post-copy; the VM\n"
    "is never stopped because of it.\n"
    "\nExit: 0 moved, 105 no such VM, 107 refused (bridge missing, CPU incompatible, disk\n"
    "not shared, not enough memory, wrong state), 124 destination did not answer, 1 other.\n";

static void on_progress(json_t *ev, void *ud)
{
    (void)ud;
    fprintf(stderr, "\rMigration: [%3lld %%] %7.1f MiB/s, %7.1f MiB left%s",
            (long long)json_integer_value(json_object_get(ev, "percent")),
            (double)json_integer_value(json_object_get(ev, "bytes_per_s")) / 1048576.0,
            (double)json_integer_value(json_object_get(ev, "remaining_bytes")) / 1048576.0,
            json_is_true(json_object_get(ev, "postcopy")) ? " (post-copy)" : "");
    fflush(stderr);
}

/* A migration is bounded by the adapter's peer timeout and post-copy, not by the CLI:
 * wait up to an hour for the final frame (a multi-TiB storage copy). */
#define VM_MIGRATE_WAIT_MS (3600 * 1000)

static int cmd_vm_migrate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"live", no_argument, 0, 'L'}, {"storage", no_argument, 0, 'S'},
        {"cold", no_argument, 0, 'C'}, {"max-downtime", required_argument, 0, 'd'},
        {"bandwidth", required_argument, 0, 'b'}, {"save-dir", required_argument, 0, 'D'},
        {"json", no_argument, 0, 'j'}, {"socket", required_argument, 0, 's'},
        {"config", required_argument, 0, 'c'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    cli_common cc;
    const char *config = NULL, *mode = "live", *save_dir = NULL;
    long downtime = -1, bandwidth = -1;
    char *end;
    int o;
    cli_common_init(&cc);
    opterr = 0;
    while ((o = getopt_long(argc, argv, "LSCd:b:D:js:c:h", opts, NULL)) != -1) {
        switch (o) {
        case 'L': mode = "live"; break;
        case 'S': mode = "storage"; break;
        case 'C': mode = "cold"; break;
        case 'd':
            downtime = strtol(optarg, &end, 10);
            if (*end || downtime < 0)
                return cli_usage_error("vm migrate", "--max-downtime takes milliseconds");
            break;
        case 'b':
            bandwidth = strtol(optarg, &end, 10);
            if (*end || bandwidth < 0)
                return cli_usage_error("vm migrate", "--bandwidth takes MiB per second");
            break;
        case 'D': save_dir = optarg; break;
        case 'j': cc.json = true; break;
        case 's': snprintf(cc.socket, sizeof cc.socket, "%s", optarg); break;
        case 'c': config = optarg; break;
        case 'h': fputs(migrate_usage, stdout); return AG_EX_OK;
        default: return cli_bad_option("vm migrate", argv);
        }
    }
    if (argc - optind != 2)
        return cli_usage_error("vm migrate", "needs VM and HOST");
    int rc = cli_common_config(&cc, config);
    if (rc)
        return rc;
    const char *vm = argv[optind], *host = argv[optind + 1];
    json_t *args = json_pack("{s:s, s:s, s:s}", "vm", vm, "dest", host, "mode", mode), *r;
    if (downtime >= 0)
        json_object_set_new(args, "max_downtime_ms", json_integer(downtime));
    if (bandwidth >= 0)
        json_object_set_new(args, "bandwidth_mibps", json_integer(bandwidth));
    if (save_dir)
        json_object_set_new(args, "save_dir", json_string(save_dir));
    rc = cli_call_stream(&cc, "vm.migrate", args, cc.json ? NULL : on_progress, NULL,
                         VM_MIGRATE_WAIT_MS, &r);
    if (!cc.json)
        fputc('\n', stderr);
    if (rc != 0)
        return rc;
    if (cc.json) {
        cli_print_json(r);
    } else {
        printf("Migrated %s to %s in %lld ms: downtime %lld ms, %.1f MiB sent%s\n", vm, host,
               (long long)json_integer_value(json_object_get(r, "wall_ms")),
               (long long)json_integer_value(json_object_get(r, "downtime_ms")),
               (double)json_integer_value(json_object_get(r, "bytes")) / 1048576.0,
               json_is_true(json_object_get(r, "postcopy")) ? " (finished in post-copy)" : "");
    }
    json_decref(r);
    return AG_EX_OK;
}

const ag_cmd ag_cmds_vm[] = {
    {"vm list", cmd_vm_list, "list this host's VMs (libvirt inventory)", list_usage},
    {"vm migrate", cmd_vm_migrate, "move a VM to another host (live, storage or cold)",
     migrate_usage},
    {NULL, NULL, NULL, NULL},
};
