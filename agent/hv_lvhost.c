/* hv_lvhost.c — host facts and CPU compatibility from a real libvirtd.
 *
 * Every fact comes through the connection (not from this process's machine), so the same
 * code describes a remote destination when given that host's connection; only the shared
 * storage ids are read from the local mount table, because libvirt has no call for them,
 * and a local dir pool's free space from statvfs (libvirt's is as old as its last
 * refresh, and a refresh opens every volume).
 * Memory comes from virNodeGetMemoryStats over all NUMA cells: virNodeGetInfo's memory
 * is node 0 only on multi-node machines (LAB-NOTES 12). "Free" counts buffers and page
 * cache, which the kernel gives back to a new QEMU.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include <libvirt/virterror.h>

#include "hv_lv.h"
#include "hv_storage.h"

/* libvirt returns at most this many node memory fields (total, free, buffers, cached) */
#define LV_MEMSTAT_MAX 8

static void lv_memory(virConnectPtr conn, hv_host *h)
{
    virNodeMemoryStats st[LV_MEMSTAT_MAX];
    int n = 0;
    /* libvirt wants the exact field count: ask for it first */
    if (virNodeGetMemoryStats(conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, NULL, &n, 0) < 0 ||
        n <= 0 || n > LV_MEMSTAT_MAX ||
        virNodeGetMemoryStats(conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, st, &n, 0) < 0) {
        virResetLastError();
        return;
    }
    uint64_t freeish = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(st[i].field, VIR_NODE_MEMORY_STATS_TOTAL))
            h->mem_total_kib = st[i].value;
        else if (!strcmp(st[i].field, VIR_NODE_MEMORY_STATS_FREE) ||
                 !strcmp(st[i].field, VIR_NODE_MEMORY_STATS_BUFFERS) ||
                 !strcmp(st[i].field, VIR_NODE_MEMORY_STATS_CACHED))
            freeish += st[i].value;
    }
    h->mem_free_kib = freeish;
}

static void lv_bridges(virConnectPtr conn, hv_host *h)
{
    virInterfacePtr *ifs = NULL;
    int n = virConnectListAllInterfaces(conn, &ifs, 0);
    for (int i = 0; i < n; i++) {
        char *xml = virInterfaceGetXMLDesc(ifs[i], 0);
        if (xml && strstr(xml, "<interface type='bridge'"))
            hv__list_add(h->bridges, sizeof h->bridges, virInterfaceGetName(ifs[i]));
        free(xml);
        virInterfaceFree(ifs[i]);
    }
    free(ifs);
}

static void lv_networks(virConnectPtr conn, hv_host *h)
{
    virNetworkPtr *nets = NULL;
    int n = virConnectListAllNetworks(conn, &nets, VIR_CONNECT_LIST_NETWORKS_ACTIVE);
    for (int i = 0; i < n; i++) {
        hv__list_add(h->networks, sizeof h->networks, virNetworkGetName(nets[i]));
        virNetworkFree(nets[i]);
    }
    free(nets);
}

/* Pool types whose volumes live on this host only; the network kinds (netfs, iscsi, rbd,
 * gluster...) are shared by nature and never a copy-storage target's concern. */
static bool pool_type_local(const char *xml)
{
    static const char *const local[] = {"<pool type='dir'", "<pool type='fs'",
                                        "<pool type='logical'", "<pool type='zfs'",
                                        "<pool type='disk'"};
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
        if (strncmp(xml, local[i], strlen(local[i])) == 0)
            return true;
    return false;
}

/* The pool's <target><path>: libvirt writes it as one element on its own, so a string
 * search is enough (and keeps libxml2 out of the refresh path). */
static void pool_target_path(const char *xml, char *path, size_t cap)
{
    const char *t = strstr(xml, "<target>");
    const char *p = t ? strstr(t, "<path>") : NULL;
    const char *e = p ? strstr(p, "</path>") : NULL;
    path[0] = '\0';
    if (e && (size_t)(e - p - 6) < cap)
        snprintf(path, cap, "%.*s", (int)(e - p - 6), p + 6);
}

/* libvirt pre-creates the disks of an incoming copy-storage migration in the local pool
 * whose target holds the disk's directory; the record carries one number, so the largest
 * local pool's free space stands for them (the usual host has one: "default"). */
static void lv_local_free(virConnectPtr conn, hv_host *h)
{
    virStoragePoolPtr *pools = NULL;
    int n = virConnectListAllStoragePools(conn, &pools, VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE);
    if (n < 0)
        virResetLastError();
    for (int i = 0; i < n; i++) {
        char *xml = virStoragePoolGetXMLDesc(pools[i], 0);
        virStoragePoolInfo info;
        char path[HV_PATH_LEN], id[HV_NAME_LEN];
        bool shared = false;
        if (xml && pool_type_local(xml)) {
            pool_target_path(xml, path, sizeof path);
            if (path[0] == '/')
                hv__storage_of(path, &shared, id, sizeof id);
            /* a directory's free space now, from the filesystem (libvirt's figure is
             * from the pool's last refresh, and a refresh opens every volume); other
             * local pools (LVM, ZFS) from libvirt */
            struct statvfs fs;
            uint64_t bytes = 0;
            bool known = false;
            if (!shared && path[0] == '/' && statvfs(path, &fs) == 0) {
                bytes = (uint64_t)fs.f_bavail * fs.f_frsize;
                known = true;
            } else if (!shared && virStoragePoolGetInfo(pools[i], &info) == 0) {
                bytes = info.available;
                known = true;
            }
            if (known && (!h->local_free_known || bytes / (1024 * 1024) > h->local_free_mib)) {
                h->local_free_mib = bytes / (1024 * 1024);
                h->local_free_known = true;
            }
        }
        virResetLastError();
        free(xml);
        virStoragePoolFree(pools[i]);
    }
    free(pools);
}

int hv_vm_disk_sizes(hv_conn *c, hv_vm *vm, hv_err *err)
{
    if (c == NULL || vm == NULL || vm->name[0] == '\0')
        return hv__fail(err, HV_EINVAL, "hv_vm_disk_sizes: missing connection or VM");
    if (!c->libvirt)
        return HV_OK;   /* the fake's records already carry their sizes */
    virConnectPtr conn;
    virDomainPtr dom = NULL;
    int rc = hv__lv_get((lv_conn *)c, &conn, err);
    if (rc != HV_OK)
        return rc;
    if ((rc = hv__lv_dom(conn, vm->name, &dom, err)) == HV_OK) {
        for (unsigned i = 0; i < vm->n_disks && i < HV_DISKS_MAX; i++) {
            hv_disk *d = &vm->disks[i];
            virDomainBlockInfo bi;
            if (d->target[0] && virDomainGetBlockInfo(dom, d->target, &bi, 0) == 0) {
                d->capacity_bytes = bi.capacity;
                d->allocation_bytes = bi.allocation;
            } else {
                virResetLastError();   /* an empty CD-ROM tray: no size, not an error */
            }
        }
        virDomainFree(dom);
    }
    virConnectClose(conn);
    return rc;
}

int hv__lv_host_facts(hv_conn *c, hv_host *h, hv_err *err)
{
    virConnectPtr conn;
    int rc = hv__lv_get((lv_conn *)c, &conn, err);
    if (rc != HV_OK)
        return rc;
    memset(h, 0, sizeof *h);
    char *caps = virConnectGetCapabilities(conn);
    if (caps == NULL) {
        rc = hv__lv_fail(err, "reading host capabilities");
        goto out;
    }
    rc = hv__parse_caps(caps, h, err);
    free(caps);
    if (rc != HV_OK)
        goto out;
    /* optional: an old libvirt or a driver without domcapabilities leaves these empty */
    char *dcaps = virConnectGetDomainCapabilities(conn, NULL, NULL, NULL, NULL, 0);
    if (dcaps)
        hv__parse_domcaps(dcaps, h, NULL);
    else
        virResetLastError();
    free(dcaps);
    char *name = virConnectGetHostname(conn);
    hv__copy(h->hostname, sizeof h->hostname, name);
    /* libvirtd resolves its own hostname for incoming migrations unless migration_host
     * is set; peers reach it by that name */
    hv__copy(h->migration_addr, sizeof h->migration_addr, name);
    free(name);
    virNodeInfo ni;
    if (virNodeGetInfo(conn, &ni) == 0)
        h->cpus = ni.cpus;
    lv_memory(conn, h);
    unsigned long v = 0;
    if (virConnectGetLibVersion(conn, &v) == 0)
        h->libvirt_version = v;
    if (virConnectGetVersion(conn, &v) == 0)
        h->qemu_version = v;
    lv_bridges(conn, h);
    lv_networks(conn, h);
    hv__storage_shared_ids(h->storage_ids, sizeof h->storage_ids);
    lv_local_free(conn, h);
out:
    virConnectClose(conn);
    return rc;
}

/* <cpu> for the VM's model and required features, in the form CompareHypervisorCPU takes. */
static int lv_vm_cpu_xml(const hv_vm *vm, char *buf, size_t cap)
{
    size_t used = (size_t)snprintf(buf, cap, "<cpu mode='custom' match='exact'><model>%s</model>",
                                   vm->cpu_model);
    const char *p = vm->cpu_features;
    while (*p && used < cap) {
        size_t len = strcspn(p, ",");
        bool off = p[0] == '-';
        used += (size_t)snprintf(buf + used, cap - used, "<feature policy='%s' name='%.*s'/>",
                                 off ? "disable" : "require", (int)(len - off), p + off);
        p += len + (p[len] == ',');
    }
    if (used < cap)
        used += (size_t)snprintf(buf + used, cap - used, "</cpu>");
    return used < cap ? HV_OK : HV_EINVAL;
}

int hv__lv_cpu_compatible(hv_conn *c, const hv_vm *vm, bool *ok, hv_err *err)
{
    char xml[HV_LIST_LEN * 2 + 256];
    /* No explicit model or no feature list: QEMU's default CPU (qemu64, check='none')
     * which libvirt itself does not check on migration; comparing it against a host model
     * would refuse what libvirt accepts (kvm_pvm hosts lack svm). host-model and
     * host-passthrough are expanded by libvirt at start; their migration check is libvirt's
     * own, done when the move starts. */
    if (vm->cpu_model[0] == '\0' || vm->cpu_mode[0] == '\0' || vm->cpu_features[0] == '\0' || !strcmp(vm->cpu_mode, "host-passthrough") ||
        !strcmp(vm->cpu_mode, "host-model")) {
        *ok = true;
        return HV_OK;
    }
    if (lv_vm_cpu_xml(vm, xml, sizeof xml) != HV_OK)
        return hv__fail(err, HV_EINVAL, "VM %s's CPU definition is too long", vm->name);
    virConnectPtr conn;
    int rc = hv__lv_get((lv_conn *)c, &conn, err);
    if (rc != HV_OK)
        return rc;
    int r = virConnectCompareHypervisorCPU(conn, NULL, NULL, NULL, NULL, xml, 0);
    if (r == VIR_CPU_COMPARE_ERROR) {
        rc = hv__lv_fail(err, "comparing CPUs");
    } else if (r == VIR_CPU_COMPARE_INCOMPATIBLE) {
        *ok = false;
        hv__fail(err, HV_ECPU, "this host's CPU cannot run VM %s's CPU model %s with features "
                 "[%s]; give the VM a baseline model or pick another host", vm->name,
                 vm->cpu_model, vm->cpu_features);
    } else {
        *ok = true;
    }
    virConnectClose(conn);
    return rc;
}
