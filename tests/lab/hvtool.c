/* hvtool — drives drover's hypervisor adapter (agent/hv.h) from the command line, so the
 * lab tests and the migration benchmark exercise exactly the code the agent runs.
 *
 *   hvtool -c URI list [--json] | facts | define FILE | state|start|shutdown|destroy|
 *          undefine|save NAME | migrate NAME DEST_URI [--live|--storage|--cold]
 *          [--dest URI] [--max-downtime MS] [--bandwidth MIBPS] [--postcopy-after MS]
 *          [--no-auto-converge] [--compress] [--parallel N] [--save-dir DIR] [--json]
 *
 * --cancel-after MS calls hv_migrate_cancel from another thread; HV_PEER_TIMEOUT_MS in the
 * environment sets the adapter's peer timeout. `events SECONDS` prints lifecycle events
 * and polls the inventory every 200 ms (shows reconnects after a libvirtd restart).
 *
 * Exit status: 0 ok; 2 usage; otherwise 10 + the adapter's error number (HV_EBRIDGE -5
 * exits 15), with "hvtool: <code words>: <sentence>" on stderr.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hv.h"

static int fail(const hv_err *e, int rc)
{
    fprintf(stderr, "hvtool: %s: %s\n", hv_strerror(rc), e->msg);
    return 10 - rc;
}

static int usage(void)
{
    fprintf(stderr, "usage: hvtool -c URI list [--json]|facts|define FILE|state NAME|start NAME|"
                    "shutdown NAME|destroy NAME|undefine NAME|save NAME|"
                    "migrate NAME DEST_URI [options]\n");
    return 2;
}

static void print_vm(const hv_vm *v, bool json)
{
    if (!json) {
        printf("%-20s %-8s %6llu MiB %2u vCPU  disks=%u nics=%u%s%s\n", v->name,
               hv_state_name(v->state), (unsigned long long)(v->mem_kib / 1024), v->vcpus,
               v->n_disks, v->n_nics, v->unmigratable[0] ? "  unmigratable=" : "",
               v->unmigratable);
        return;
    }
    printf("{\"name\":\"%s\",\"uuid\":\"%s\",\"state\":\"%s\",\"mem_kib\":%llu,\"vcpus\":%u,"
           "\"cpu_mode\":\"%s\",\"cpu_model\":\"%s\",\"unmigratable\":\"%s\",\"disks\":[",
           v->name, v->uuid, hv_state_name(v->state), (unsigned long long)v->mem_kib, v->vcpus,
           v->cpu_mode, v->cpu_model, v->unmigratable);
    for (unsigned i = 0; i < v->n_disks; i++)
        printf("%s{\"target\":\"%s\",\"path\":\"%s\",\"format\":\"%s\",\"shared\":%s,"
               "\"storage_id\":\"%s\"}", i ? "," : "", v->disks[i].target, v->disks[i].path,
               v->disks[i].format, v->disks[i].shared ? "true" : "false", v->disks[i].storage_id);
    printf("],\"nics\":[");
    for (unsigned i = 0; i < v->n_nics; i++)
        printf("%s{\"bridge\":\"%s\",\"network\":\"%s\",\"mac\":\"%s\"}", i ? "," : "",
               v->nics[i].bridge, v->nics[i].network, v->nics[i].mac);
    printf("]}\n");
}

static void on_progress(void *ctx, const hv_progress *p)
{
    (void)ctx;
    fprintf(stderr, "\rMigration: [%3u %%] %7.1f MiB/s, %7.1f MiB left, %5llu ms%s", p->percent,
            (double)p->bytes_per_s / 1048576.0, (double)p->remaining_bytes / 1048576.0,
            (unsigned long long)p->elapsed_ms, p->postcopy ? " (post-copy)" : "");
    fflush(stderr);
}

static size_t count_items(const char *list)
{
    size_t n = list[0] ? 1 : 0;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    return n;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    char *buf = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (buf) {
        size_t got = fread(buf, 1, (size_t)len, f);
        buf[got] = '\0';
    }
    fclose(f);
    return buf;
}

static hv_config g_cfg;   /* adapter knobs for every connection hvtool opens */

typedef struct canceller {
    hv_conn *c;
    const char *name;
    unsigned after_ms;
} canceller;

static void *cancel_later(void *arg)
{
    canceller *k = arg;
    usleep(k->after_ms * 1000u);
    hv_err e = {0};
    if (hv_migrate_cancel(k->c, k->name, &e) != HV_OK)
        fprintf(stderr, "hvtool: cancel: %s\n", e.msg);
    return NULL;
}

static int cmd_migrate(hv_conn *c, int argc, char **argv)
{
    canceller k = {c, NULL, 0};
    pthread_t kt;
    hv_migrate_opts o;
    hv_migrate_result r;
    hv_err e = {0};
    hv_conn *dest = NULL;
    bool json = false;
    if (argc < 2)
        return usage();
    const char *name = argv[0], *uri = argv[1];
    hv_migrate_opts_default(&o);
    o.progress = on_progress;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--live"))
            o.mode = HV_MOVE_LIVE;
        else if (!strcmp(a, "--storage"))
            o.mode = HV_MOVE_STORAGE;
        else if (!strcmp(a, "--cold"))
            o.mode = HV_MOVE_COLD;
        else if (!strcmp(a, "--no-auto-converge"))
            o.auto_converge = false;
        else if (!strcmp(a, "--compress"))
            o.compress = true;
        else if (!strcmp(a, "--json"))
            json = true;
        else if (v && !strcmp(a, "--max-downtime"))
            o.max_downtime_ms = (uint32_t)strtoul(v, NULL, 10), i++;
        else if (v && !strcmp(a, "--bandwidth"))
            o.bandwidth_mibps = (uint32_t)strtoul(v, NULL, 10), i++;
        else if (v && !strcmp(a, "--postcopy-after"))
            o.postcopy_after_ms = (uint32_t)strtoul(v, NULL, 10), i++;
        else if (v && !strcmp(a, "--parallel"))
            o.parallel_connections = (uint32_t)strtoul(v, NULL, 10), i++;
        else if (v && !strcmp(a, "--cancel-after"))
            k.after_ms = (unsigned)strtoul(v, NULL, 10), i++;
        else if (v && !strcmp(a, "--save-dir"))
            o.save_dir = v, i++;
        else if (v && !strcmp(a, "--dest")) {
            int rc = hv_open_libvirt(v, &g_cfg, &dest, &e);
            if (rc != HV_OK)
                return fail(&e, rc);
            i++;
        } else
            return usage();
    }
    k.name = name;
    if (k.after_ms && pthread_create(&kt, NULL, cancel_later, &k) != 0)
        k.after_ms = 0;
    int rc = hv_migrate(c, name, uri, dest, &o, &r, &e);
    if (k.after_ms)
        pthread_join(kt, NULL);
    fprintf(stderr, "\n");
    hv_close(dest);
    if (rc != HV_OK)
        return fail(&e, rc);
    if (json)
        printf("{\"vm\":\"%s\",\"wall_ms\":%llu,\"job_ms\":%llu,\"downtime_ms\":%llu,"
               "\"bytes\":%llu,\"postcopy\":%s}\n", name, (unsigned long long)r.wall_ms,
               (unsigned long long)r.job_ms, (unsigned long long)r.downtime_ms,
               (unsigned long long)r.bytes, r.postcopy ? "true" : "false");
    else
        printf("migrated %s in %llu ms (job %llu ms, downtime %llu ms, %.1f MiB sent%s)\n", name,
               (unsigned long long)r.wall_ms, (unsigned long long)r.job_ms,
               (unsigned long long)r.downtime_ms, (double)r.bytes / 1048576.0,
               r.postcopy ? ", finished in post-copy" : "");
    return 0;
}

static const char *const ev_names[] = {
    "defined", "undefined", "started", "suspended", "resumed", "stopped", "shutdown",
    "pmsuspended", "crashed", "reconnected", "disconnected",
};

static void on_event(void *ctx, hv_event_kind kind, const char *vm, const char *uuid, int d)
{
    (void)ctx, (void)uuid, (void)d;
    printf("event %s %s\n", ev_names[kind], vm);
    fflush(stdout);
}

static int cmd_events(hv_conn *c, unsigned seconds)
{
    static hv_vm vms[64];
    hv_err e = {0};
    size_t n;
    int last = 1;
    int rc = hv_events(c, on_event, NULL, &e);
    if (rc != HV_OK)
        return fail(&e, rc);
    for (unsigned i = 0; i < seconds * 5; i++) {
        rc = hv_vm_list(c, vms, 64, &n, &e);
        if (rc != last) {
            printf("poll %s\n", rc == HV_OK ? "ok" : hv_strerror(rc));
            fflush(stdout);
            last = rc;
        }
        usleep(200 * 1000);
    }
    return 0;
}

int main(int argc, char **argv)
{
    hv_conn *c = NULL;
    hv_err e = {0};
    hv_config *cfg = &g_cfg;
    if (argc < 4 || strcmp(argv[1], "-c") != 0)
        return usage();
    const char *cmd = argv[3];
    hv_config_default(cfg);
    /* as the agent (agent/loop.c): a write to a libvirtd that was just killed raises
     * SIGPIPE, which killed the events watcher of lab_events mid-test */
    signal(SIGPIPE, SIG_IGN);
    if (getenv("HV_PEER_TIMEOUT_MS"))
        cfg->peer_timeout_ms = (uint32_t)strtoul(getenv("HV_PEER_TIMEOUT_MS"), NULL, 10);
    int rc = hv_open_libvirt(argv[2], cfg, &c, &e);
    if (rc != HV_OK)
        return fail(&e, rc);
    int status = 0;
    if (!strcmp(cmd, "list")) {
        static hv_vm vms[256];
        size_t n = 0;
        bool json = argc > 4 && !strcmp(argv[4], "--json");
        if ((rc = hv_vm_list(c, vms, 256, &n, &e)) != HV_OK)
            status = fail(&e, rc);
        for (size_t i = 0; status == 0 && i < n; i++)
            print_vm(&vms[i], json);
    } else if (!strcmp(cmd, "facts")) {
        hv_host h;
        if ((rc = hv_host_facts(c, &h, &e)) != HV_OK)
            status = fail(&e, rc);
        else
            printf("{\"hostname\":\"%s\",\"uuid\":\"%s\",\"arch\":\"%s\",\"cpu_vendor\":\"%s\","
                   "\"cpu_model\":\"%s\",\"mem_total_kib\":%llu,\"mem_free_kib\":%llu,"
                   "\"cpus\":%u,\"libvirt_version\":%lu,\"qemu_version\":%lu,"
                   "\"storage_ids\":\"%s\",\"bridges\":\"%s\",\"networks\":\"%s\","
                   "\"migration_addr\":\"%s\",\"n_cpu_features\":%zu,"
                   "\"cpu_host_model\":\"%s\",\"n_cpu_host_features\":%zu}\n",
                   h.hostname, h.host_uuid, h.cpu_arch, h.cpu_vendor, h.cpu_model,
                   (unsigned long long)h.mem_total_kib, (unsigned long long)h.mem_free_kib,
                   h.cpus, h.libvirt_version, h.qemu_version, h.storage_ids, h.bridges,
                   h.networks, h.migration_addr,
                   count_items(h.cpu_features), h.cpu_host_model,
                   count_items(h.cpu_host_features));
    } else if (!strcmp(cmd, "define") && argc > 4) {
        char *xml = slurp(argv[4]);
        if (xml == NULL) {
            fprintf(stderr, "hvtool: cannot read %s\n", argv[4]);
            status = 1;
        } else if ((rc = hv_vm_define(c, xml, &e)) != HV_OK) {
            status = fail(&e, rc);
        }
        free(xml);
    } else if (!strcmp(cmd, "cpu-baseline")) {
        /* this host's CPU with itself and, if given, other hosts' (URIs) */
        char *xmls[8] = {NULL}, *out = NULL;
        size_t n = 0;
        rc = hv_host_cpu_xml(c, &xmls[n++], &e);
        for (int i = 4; rc == HV_OK && i < argc && n < 8; i++) {
            hv_conn *o = NULL;
            if ((rc = hv_open_libvirt(argv[i], &g_cfg, &o, &e)) == HV_OK)
                rc = hv_host_cpu_xml(o, &xmls[n++], &e);
            hv_close(o);
        }
        if (rc == HV_OK)
            rc = hv_cpu_baseline(c, (const char **)xmls, n, &out, &e);
        if (rc == HV_OK)
            printf("%s\n", out);
        else
            status = fail(&e, rc);
        free(out);
        for (size_t i = 0; i < n; i++)
            free(xmls[i]);
    } else if (!strcmp(cmd, "cpu-check") && argc > 4) {
        hv_vm vm;
        bool ok = false;
        if ((rc = hv_vm_get(c, argv[4], &vm, &e)) == HV_OK)
            rc = hv_cpu_compatible(c, &vm, &ok, &e);
        if (rc != HV_OK)
            status = fail(&e, rc);
        else if (!ok)
            status = fail(&e, HV_ECPU);
        else
            printf("compatible\n");
    } else if (!strcmp(cmd, "events") && argc > 4) {
        status = cmd_events(c, (unsigned)strtoul(argv[4], NULL, 10));
    } else if (!strcmp(cmd, "migrate")) {
        status = cmd_migrate(c, argc - 4, argv + 4);
    } else if (argc > 4) {
        const char *name = argv[4];
        hv_vm vm;
        if (!strcmp(cmd, "state")) {
            if ((rc = hv_vm_get(c, name, &vm, &e)) == HV_OK)
                printf("%s\n", hv_state_name(vm.state));
        } else if (!strcmp(cmd, "show")) {
            if ((rc = hv_vm_get(c, name, &vm, &e)) == HV_OK)
                print_vm(&vm, true);
        } else if (!strcmp(cmd, "start")) {
            rc = hv_vm_start(c, name, &e);
        } else if (!strcmp(cmd, "shutdown")) {
            rc = hv_vm_shutdown(c, name, &e);
        } else if (!strcmp(cmd, "destroy")) {
            rc = hv_vm_destroy(c, name, &e);
        } else if (!strcmp(cmd, "undefine")) {
            rc = hv_vm_undefine(c, name, &e);
        } else if (!strcmp(cmd, "save")) {
            rc = hv_vm_managed_save(c, name, &e);
        } else {
            status = usage();
        }
        if (status == 0 && rc != HV_OK)
            status = fail(&e, rc);
    } else {
        status = usage();
    }
    hv_close(c);
    return status;
}
