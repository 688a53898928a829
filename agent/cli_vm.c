/* cli_vm.c — `drover vm list` and `drover vm migrate`, clients of the agent's vm.* commands
 * (ctl_vm.c). The progress line rewrites itself like `virsh migrate --verbose`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ctl.h"
#include "ctl_vm.h"
#include "exitcodes.h"

static const char list_usage[] =
    "Usage: drover vm list [--json] [--socket PATH | -c FILE]\n"
    "\n"
    "List the VMs libvirt knows on this host: name, state, memory, vCPUs, disks (shared or\n"
    "host-local), networks, and devices that prevent migration. In a cluster, also each\n"
    "VM's owner (the host allowed to run it) and its HA protection (priority, restart\n"
    "order), and the cluster's VMs that are not on this host (STATE on:HOST where a host\n"
    "reports it running, - otherwise). --json adds an \"ha\" object to each VM.\n"
    "\nExit: 0 ok, 69 agent not reachable, 1 libvirtd not reachable.\n";

/* A host list field of ha.status (running_on may name one host or several). */
static void hosts_text(json_t *v, char *buf, size_t len)
{
    size_t i, off = 0;
    json_t *h;
    buf[0] = 0;
    if (json_is_string(v) && json_string_length(v)) {
        snprintf(buf, len, "%s", json_string_value(v));
        return;
    }
    json_array_foreach(v, i, h) {
        int k = snprintf(buf + off, len - off, "%s%s", off ? "," : "", json_string_value(h) ? json_string_value(h) : "?");
        if (k < 0 || (size_t)k >= len - off)
            return;
        off += (size_t)k;
    }
}

static json_t *ha_vm(json_t *ha_status, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(ha_status, "vms"), i, v) {
        const char *n = json_string_value(json_object_get(v, "name"));
        if (n && name && strcmp(n, name) == 0)
            return v;
    }
    return NULL;
}

static bool in_inventory(json_t *inventory, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(inventory, "vms"), i, v) {
        const char *n = json_string_value(json_object_get(v, "name"));
        if (n && name && strcmp(n, name) == 0)
            return true;
    }
    return false;
}

/* OWNER, HA, PRIO, ORDER of one VM ("-" where the HA state does not know it). */
static void ha_cols(json_t *h, char *owner, char *prot, char *prio, char *order, size_t len)
{
    const char *o = h ? json_string_value(json_object_get(h, "owner")) : NULL;
    snprintf(owner, len, "%s", o && o[0] ? o : "-");
    snprintf(prot, len, "%s", !h ? "-" : json_is_true(json_object_get(h, "protected")) ? "yes" : "no");
    if (h && json_is_true(json_object_get(h, "protected"))) {
        snprintf(prio, len, "%lld", (long long)json_number_value(json_object_get(h, "priority")));
        snprintf(order, len, "%lld", (long long)json_number_value(json_object_get(h, "order")));
    } else {
        snprintf(prio, len, "-");
        snprintf(order, len, "-");
    }
}

static void ha_notes(json_t *h, char *buf, size_t len)
{
    const char *to = h ? json_string_value(json_object_get(h, "moving_to")) : NULL;
    buf[0] = 0;
    if (to && to[0])
        snprintf(buf, len, "moving to %s; ", to);
    else if (h && json_is_true(json_object_get(h, "protected")) &&
             json_is_false(json_object_get(h, "want_running")))
        snprintf(buf, len, "shut down: not kept running until started; ");
}

void cli_vm_list_print(FILE *f, json_t *r, json_t *ha)
{
    if (ha)
        fprintf(f, "%-20s %-10s %8s %5s %-8s %-14s %-3s %5s %5s %s\n", "NAME", "STATE", "MEM MiB", "VCPU",
                "DISKS", "OWNER", "HA", "PRIO", "ORDER", "NOTES");
    else
        fprintf(f, "%-20s %-8s %8s %5s %-8s %s\n", "NAME", "STATE", "MEM MiB", "VCPU", "DISKS", "NOTES");
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
        const char *name = json_string_value(json_object_get(vm, "name"));
        const char *um = json_string_value(json_object_get(vm, "unmigratable"));
        if (!ha) {
            fprintf(f, "%-20s %-8s %8lld %5lld %-8s %s%s\n", name, json_string_value(json_object_get(vm, "state")),
                    (long long)json_integer_value(json_object_get(vm, "mem_kib")) / 1024,
                    (long long)json_integer_value(json_object_get(vm, "vcpus")), disks,
                    um && um[0] ? "unmigratable: " : "", um ? um : "");
            continue;
        }
        char owner[64], prot[64], prio[64], order[64], notes[128];
        json_t *h = ha_vm(ha, name);
        ha_cols(h, owner, prot, prio, order, sizeof owner);
        ha_notes(h, notes, sizeof notes);
        fprintf(f, "%-20s %-10s %8lld %5lld %-8s %-14s %-3s %5s %5s %s%s%s\n", name,
                json_string_value(json_object_get(vm, "state")),
                (long long)json_integer_value(json_object_get(vm, "mem_kib")) / 1024,
                (long long)json_integer_value(json_object_get(vm, "vcpus")), disks, owner, prot, prio, order,
                notes, um && um[0] ? "unmigratable: " : "", um ? um : "");
    }
    if (!ha)
        return;
    json_array_foreach(json_object_get(ha, "vms"), i, vm) {
        const char *name = json_string_value(json_object_get(vm, "name"));
        if (!name || in_inventory(r, name))
            continue;
        char owner[64], prot[64], prio[64], order[64], notes[128], on[96], state[100];
        ha_cols(vm, owner, prot, prio, order, sizeof owner);
        ha_notes(vm, notes, sizeof notes);
        hosts_text(json_object_get(vm, "running_on"), on, sizeof on);
        snprintf(state, sizeof state, "%s%s", on[0] ? "on:" : "-", on);
        fprintf(f, "%-20s %-10s %8s %5s %-8s %-14s %-3s %5s %5s %snot on this host\n", name, state, "-", "-",
                "-", owner, prot, prio, order, notes);
    }
}

json_t *cli_vm_list_merge(json_t *r, json_t *ha)
{
    json_t *out = json_deep_copy(r), *vms = json_object_get(out, "vms"), *vm;
    size_t i;
    if (!ha)
        return out;
    if (!json_is_array(vms)) {
        vms = json_array();
        json_object_set_new(out, "vms", vms);
    }
    json_array_foreach(vms, i, vm) {
        json_t *h = ha_vm(ha, json_string_value(json_object_get(vm, "name")));
        if (h)
            json_object_set_new(vm, "ha", json_deep_copy(h));
    }
    json_array_foreach(json_object_get(ha, "vms"), i, vm) {
        const char *name = json_string_value(json_object_get(vm, "name"));
        if (name && !in_inventory(r, name))
            json_array_append_new(vms, json_pack("{s:s, s:b, s:O}", "name", name, "remote", 1, "ha", vm));
    }
    return out;
}

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
    json_t *r, *ha = NULL;
    if (rc || (rc = cli_call(&cc, "vm.list", NULL, &r)) != 0)
        return rc;
    /* The HA columns are extra: an agent outside a cluster (69) or without HA (64,
     * unknown command) still lists its inventory. */
    char err[1024];
    int hrc = ag_ctl_call(cc.socket, "ha.status", NULL, NULL, NULL, 30000, &ha, err, sizeof err);
    if (hrc != 0) {
        if (hrc != AG_EX_UNAVAILABLE && hrc != AG_EX_USAGE)
            fprintf(stderr, "drover vm list: no HA columns: %s\n", err[0] ? err : "ha.status failed");
        json_decref(ha);
        ha = NULL;
    }
    if (cc.json) {
        json_t *m = cli_vm_list_merge(r, ha);
        cli_print_json(m);
        json_decref(m);
    } else {
        cli_vm_list_print(stdout, r, ha);
    }
    json_decref(ha);
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
