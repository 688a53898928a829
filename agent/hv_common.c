/* hv_common.c — the adapter's front door: argument checks, dispatch to the implementation
 * behind a connection, error words, and the pre-migration checks both implementations share.
 *
 * Why the pre-checks live here and not only in libvirt: libvirt refuses a bad migration
 * too, but late (after connecting to the peer and sometimes after starting the incoming
 * QEMU) and in words about QEMU internals ("Cannot get interface MTU on 'br7'"). Checking
 * the VM record against the destination's facts first gives the operator the sentence
 * that names the fix, and lets the simulator's fake refuse exactly what libvirt would.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hv_int.h"

int hv__fail(hv_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void hv__copy(char *dst, size_t cap, const char *src)
{
    if (cap == 0)
        return;
    snprintf(dst, cap, "%s", src ? src : "");
}

bool hv__list_has(const char *list, const char *item)
{
    size_t len = strlen(item);
    const char *p = list;
    if (len == 0)
        return false;
    while ((p = strstr(p, item)) != NULL) {
        bool starts = p == list || p[-1] == ',';
        bool ends = p[len] == '\0' || p[len] == ',';
        if (starts && ends)
            return true;
        p += len;
    }
    return false;
}

bool hv__list_add(char *buf, size_t cap, const char *item)
{
    size_t used = strlen(buf), len = strlen(item);
    if (len == 0 || hv__list_has(buf, item))
        return true;
    if (used + len + (used ? 1 : 0) + 1 > cap)
        return false;
    if (used)
        buf[used++] = ',';
    memcpy(buf + used, item, len + 1);
    return true;
}

const char *hv_strerror(int code)
{
    switch (code) {
    case HV_OK: return "ok";
    case HV_EINVAL: return "invalid argument";
    case HV_ENOCONN: return "libvirtd not reachable";
    case HV_ENOTFOUND: return "no such VM";
    case HV_EEXIST: return "VM already exists";
    case HV_EBRIDGE: return "bridge or network missing";
    case HV_ECPU: return "CPU incompatible";
    case HV_ENOTSHARED: return "disk not on shared storage";
    case HV_EHOSTMEM: return "not enough memory";
    case HV_EUNMIGRATABLE: return "passthrough device prevents migration";
    case HV_ETIMEDOUT: return "peer did not answer in time";
    case HV_ECANCELED: return "canceled";
    case HV_ESTATE: return "VM in the wrong state";
    case HV_ENOMEM: return "out of memory";
    default: return "libvirt failure";
    }
}

const char *hv_state_name(hv_vm_state s)
{
    switch (s) {
    case HV_VM_RUNNING: return "running";
    case HV_VM_PAUSED: return "paused";
    case HV_VM_SHUTOFF: return "shutoff";
    case HV_VM_CRASHED: return "crashed";
    case HV_VM_SAVED: return "saved";
    default: return "other";
    }
}

void hv_config_default(hv_config *cfg)
{
    cfg->reconnect_min_ms = 250;
    cfg->reconnect_max_ms = 10000;
    cfg->peer_timeout_ms = 15000;
}

void hv_migrate_opts_default(hv_migrate_opts *o)
{
    memset(o, 0, sizeof *o);
    o->mode = HV_MOVE_LIVE;
    o->auto_converge = true;
    /* 10 s of pre-copy is ~10 GiB on a 10 GbE link: a VM that has not converged by then
     * is dirtying faster than the link; post-copy bounds the rest */
    o->postcopy_after_ms = 10000;
    o->progress_interval_ms = 200;
}

/* Host memory the destination keeps for itself beyond the VM: QEMU's own overhead and
 * page tables for a small VM are ~40 MiB in the lab (LAB-NOTES, "Measured"). */
#define HV_MEM_HEADROOM_KIB (64u * 1024u)

int hv__precheck(const hv_vm *vm, const hv_host *dst, hv_move_mode mode, hv_err *err)
{
    if (vm->unmigratable[0])
        return hv__fail(err, HV_EUNMIGRATABLE,
                        "VM %s uses host devices that cannot move (%s); detach them first "
                        "or keep the VM on this host", vm->name, vm->unmigratable);
    for (unsigned i = 0; i < vm->n_nics; i++) {
        const hv_nic *n = &vm->nics[i];
        if (n->bridge[0] && !hv__list_has(dst->bridges, n->bridge))
            return hv__fail(err, HV_EBRIDGE,
                            "destination host %s has no bridge '%s' (used by VM %s, MAC %s); "
                            "create the bridge there or change the VM's interface",
                            dst->hostname, n->bridge, vm->name, n->mac);
        if (n->network[0] && !hv__list_has(dst->networks, n->network))
            return hv__fail(err, HV_EBRIDGE,
                            "destination host %s has no active libvirt network '%s' (used by "
                            "VM %s); define and start it there", dst->hostname, n->network,
                            vm->name);
    }
    if (mode != HV_MOVE_STORAGE) {
        for (unsigned i = 0; i < vm->n_disks; i++) {
            const hv_disk *d = &vm->disks[i];
            if (!d->path[0])
                continue;   /* network disks (rbd, iscsi) are reachable from anywhere */
            if (!d->shared)
                return hv__fail(err, HV_ENOTSHARED,
                                "disk %s of VM %s (%s) is not on shared storage; move it with "
                                "--storage (copies the disk) or put it on shared storage",
                                d->target, vm->name, d->path);
            if (dst->storage_ids[0] && d->storage_id[0] &&
                !hv__list_has(dst->storage_ids, d->storage_id))
                return hv__fail(err, HV_ENOTSHARED,
                                "destination host %s does not see storage %s that holds disk "
                                "%s of VM %s; mount it there", dst->hostname, d->storage_id,
                                d->target, vm->name);
        }
    }
    bool needs_ram = vm->state == HV_VM_RUNNING || vm->state == HV_VM_PAUSED ||
                     vm->state == HV_VM_SAVED;
    if (needs_ram && dst->mem_free_kib < vm->mem_kib + HV_MEM_HEADROOM_KIB)
        return hv__fail(err, HV_EHOSTMEM,
                        "destination host %s has %llu MiB free, VM %s needs %llu MiB (+%u MiB "
                        "overhead); free memory there or pick another host", dst->hostname,
                        (unsigned long long)(dst->mem_free_kib / 1024), vm->name,
                        (unsigned long long)(vm->mem_kib / 1024), HV_MEM_HEADROOM_KIB / 1024);
    return HV_OK;
}

static bool bad_name(const char *s) { return s == NULL || s[0] == '\0' || strlen(s) >= HV_NAME_LEN; }

#define CHECK_CONN(c)                                                      \
    do {                                                                   \
        if ((c) == NULL)                                                   \
            return hv__fail(err, HV_EINVAL, "no hypervisor connection");   \
    } while (0)
#define CHECK_NAME(n)                                                      \
    do {                                                                   \
        if (bad_name(n))                                                   \
            return hv__fail(err, HV_EINVAL, "VM name missing or longer than %d bytes", \
                            HV_NAME_LEN - 1);                              \
    } while (0)

void hv_close(hv_conn *c)
{
    if (c)
        c->be->close(c);
}

int hv_events(hv_conn *c, hv_event_fn fn, void *ctx, hv_err *err)
{
    CHECK_CONN(c);
    return c->be->events(c, fn, ctx, err);
}

int hv_vm_list(hv_conn *c, hv_vm *vms, size_t max, size_t *n, hv_err *err)
{
    CHECK_CONN(c);
    if (n == NULL || (vms == NULL && max > 0))
        return hv__fail(err, HV_EINVAL, "hv_vm_list: no output buffer");
    return c->be->vm_list(c, vms, max, n, err);
}

int hv_vm_get(hv_conn *c, const char *name, hv_vm *vm, hv_err *err)
{
    CHECK_CONN(c);
    CHECK_NAME(name);
    if (vm == NULL)
        return hv__fail(err, HV_EINVAL, "hv_vm_get: no output record");
    return c->be->vm_get(c, name, vm, err);
}

int hv_vm_xml(hv_conn *c, const char *name, char **out, hv_err *err)
{
    CHECK_CONN(c);
    CHECK_NAME(name);
    if (out == NULL)
        return hv__fail(err, HV_EINVAL, "hv_vm_xml: no output");
    if (c->be->vm_xml == NULL)
        return hv__fail(err, HV_EFAIL, "this adapter cannot give VM definitions");
    return c->be->vm_xml(c, name, out, err);
}

int hv_host_facts(hv_conn *c, hv_host *h, hv_err *err)
{
    CHECK_CONN(c);
    if (h == NULL)
        return hv__fail(err, HV_EINVAL, "hv_host_facts: no output record");
    return c->be->host_facts(c, h, err);
}

int hv_vm_define(hv_conn *c, const char *xml, hv_err *err)
{
    CHECK_CONN(c);
    if (xml == NULL || xml[0] == '\0')
        return hv__fail(err, HV_EINVAL, "define: empty domain XML");
    return c->be->vm_define(c, xml, err);
}

static int op(hv_conn *c, const char *name, int which, hv_err *err)
{
    CHECK_CONN(c);
    CHECK_NAME(name);
    return c->be->vm_op(c, name, which, err);
}

int hv_vm_start(hv_conn *c, const char *name, hv_err *err) { return op(c, name, HV__OP_START, err); }
int hv_vm_shutdown(hv_conn *c, const char *name, hv_err *err) { return op(c, name, HV__OP_SHUTDOWN, err); }
int hv_vm_destroy(hv_conn *c, const char *name, hv_err *err) { return op(c, name, HV__OP_DESTROY, err); }
int hv_vm_undefine(hv_conn *c, const char *name, hv_err *err) { return op(c, name, HV__OP_UNDEFINE, err); }
int hv_vm_managed_save(hv_conn *c, const char *name, hv_err *err) { return op(c, name, HV__OP_SAVE, err); }

int hv_migrate(hv_conn *c, const char *name, const char *dest_uri, hv_conn *dest,
               const hv_migrate_opts *o, hv_migrate_result *res, hv_err *err)
{
    hv_migrate_opts defaults;
    CHECK_CONN(c);
    CHECK_NAME(name);
    if (dest_uri == NULL || dest_uri[0] == '\0')
        return hv__fail(err, HV_EINVAL, "migrate: no destination URI");
    if (dest && dest->libvirt != c->libvirt)
        return hv__fail(err, HV_EINVAL, "migrate: destination connection of another kind");
    if (o == NULL) {
        hv_migrate_opts_default(&defaults);
        o = &defaults;
    }
    if (o->mode > HV_MOVE_COLD || o->parallel_connections > 255)
        return hv__fail(err, HV_EINVAL, "migrate: bad mode or parallel connection count");
    hv_migrate_result scratch;
    memset(&scratch, 0, sizeof scratch);
    int rc = c->be->migrate(c, name, dest_uri, dest, o, &scratch, err);
    if (rc == HV_OK && res)
        *res = scratch;
    return rc;
}

int hv_migrate_cancel(hv_conn *c, const char *name, hv_err *err)
{
    CHECK_CONN(c);
    CHECK_NAME(name);
    return c->be->migrate_cancel(c, name, err);
}

int hv_cpu_compatible(hv_conn *c, const hv_vm *vm, bool *ok, hv_err *err)
{
    CHECK_CONN(c);
    if (vm == NULL || ok == NULL)
        return hv__fail(err, HV_EINVAL, "cpu_compatible: missing VM or result");
    return c->be->cpu_compatible(c, vm, ok, err);
}

int hv_cpu_baseline(hv_conn *c, const char **cpu_xmls, size_t n, char **out, hv_err *err)
{
    CHECK_CONN(c);
    if (cpu_xmls == NULL || n == 0 || out == NULL)
        return hv__fail(err, HV_EINVAL, "cpu_baseline: no CPU definitions");
    return c->be->cpu_baseline(c, cpu_xmls, n, out, err);
}

int hv_host_cpu_xml(hv_conn *c, char **out, hv_err *err)
{
    CHECK_CONN(c);
    if (out == NULL)
        return hv__fail(err, HV_EINVAL, "host_cpu_xml: no output");
    return c->be->host_cpu_xml(c, out, err);
}
