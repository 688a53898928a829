/* hv_lvhost.c — host facts and CPU compatibility from a real libvirtd.
 *
 * Every fact comes through the connection (not from this process's machine), so the same
 * code describes a remote destination when given that host's connection; only the shared
 * storage ids are read from the local mount table, because libvirt has no call for them.
 * Memory comes from virNodeGetMemoryStats over all NUMA cells: virNodeGetInfo's memory
 * is node 0 only on multi-node machines (LAB-NOTES 12). "Free" counts buffers and page
 * cache, which the kernel gives back to a new QEMU.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
