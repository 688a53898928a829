/* view.h — the placement core's cluster view (placement/placement.h plc_view) as this
 * agent sees the real cluster: one host per gossip member with a verified status record
 * (proto/gossip.proto HostStatus), plus the one VM a command asks about, read from this
 * host's libvirt inventory (hv.h).
 *
 * What the view knows and what it cannot:
 *   - host capacity is the record's memory/vCPUs; memory in use by VMs the view does not
 *     list is folded into mem_reserved_mib (total - free), their vCPUs (the record's
 *     vcpus_used) into one stand-in VM per host, so capacity checks see the host as it
 *     is, not as if it were empty;
 *   - a host whose record says its facts are unknown (HostStatus.facts_unknown: its
 *     libvirtd failed or did not answer; an older agent's record with no libvirt
 *     version and libvirtd not responsive reads the same) gets plc_host.facts_unknown
 *     and none of the record's CPU features, storage, networks or libvirt/QEMU
 *     versions: those are a stale reading or empty, and as values they would read as
 *     "lacks CPU features" or "libvirt 0.0.0" — reasons a VM could never run there.
 *     Placement then leaves those checks undecided (host.facts_unknown). Feature names
 *     cut to fit GSP_STATUS_MAX (cpu_features_cut) give cpu_features_unknown the same
 *     way;
 *   - a disk that is not on shared storage is modelled as storage "local:<host>", so
 *     only copy-storage can move it.
 * Building from gossip reads the gossip core, so ag_view_from_gossip runs on the loop
 * thread; everything else only touches the view and may run on a worker.
 */
#ifndef DROVER_VIEW_H
#define DROVER_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "gossip.pb-c.h"
#include "hv.h"
#include "placement.h"

/* One cluster: 256 hosts is the scale target (ANCHORS.md "Scale"). */
#define AG_VIEW_HOSTS_MAX 256

typedef struct ag_view_host {
    bool has_status;          /* a verified record was found */
    bool libvirt;             /* the record says libvirtd answered there */
    char arch[16];
    char features[1024];      /* comma list of feature names, from the record */
    char migration_addr[64];
    char cluster_addr[64];    /* the roster's address (tcp://IP:port) */
    uint32_t vcpus_used;      /* from the record: vCPUs of the VMs running there */
    char migration_dests[512]; /* from the record: where its running migrations go */
} ag_view_host;

typedef struct ag_view {
    plc_view pv;
    plc_host hosts[AG_VIEW_HOSTS_MAX];
    ag_view_host aux[AG_VIEW_HOSTS_MAX];
    /* pv.vms points here once ag_view_add_vm succeeded: [0] is the VM asked about, then
     * one stand-in per host for the vCPUs of the VMs the view does not list (no memory:
     * that is already in mem_reserved_mib), so CPU use after placement is real */
    plc_vm vms[1 + AG_VIEW_HOSTS_MAX];
    int32_t self;             /* this host's index, -1 when it has no record yet */
    uint32_t n_skipped;       /* members beyond AG_VIEW_HOSTS_MAX or without a record */
} ag_view;

/* Fill v (caller-allocated, large: heap it) from the agent's gossip members. Loop thread.
 * -ENODEV when this agent runs without a cluster (no gossip). */
int ag_view_from_gossip(ag_view *v, ag_agent *a);

/* Add host `name` (roster address cluster_addr and failure domain, either may be NULL
 * or "") as its verified record st describes it, with the health gossip gives it; a
 * record whose libvirtd is not responsive makes it at least degraded. Returns its index,
 * or -ENOSPC when the view holds AG_VIEW_HOSTS_MAX hosts. ag_view_from_gossip calls it
 * for each member; tests call it with records of their own. */
int ag_view_add_record(ag_view *v, const char *name, const char *cluster_addr, const char *domain,
                       plc_health health, const Drover__HostStatus *st);

/* Add VM (as libvirt defines it) running on host index `host` (-1: not running).
 * 0, or -ENOSPC when a name table is full, with a sentence in err. */
int ag_view_add_vm(ag_view *v, const hv_vm *vm, int32_t host, char *err, size_t errlen);

/* Which host a migration destination names (a host name, an address with or without a
 * port, or a libvirt URI such as qemu+tcp://10.0.0.2/system): matched against host names,
 * published migration addresses and roster addresses. -1 when none matches. */
int32_t ag_view_host_of_dest(const ag_view *v, const char *dest);

/* Count each host's incoming migrations from the other hosts' published destinations
 * (a host knows only what it sends). Called by ag_view_from_gossip; exposed for tests. */
void ag_view_count_incoming(ag_view *v);

/* Make vms[0..n_known) (host indexes set, -1 = not running) the view's VMs and append one
 * stand-in per host for the vCPUs of the VMs not listed, as ag_view_add_vm does; the
 * listed VMs' memory leaves the host's mem_reserved_mib (the record's total - free
 * already counts it), so nothing counts twice. vms must hold n_known + pv.n_hosts
 * entries (cap); it stays the caller's and must outlive the view's use.
 * 0, or -ENOSPC when cap is too small. */
int ag_view_set_vms(ag_view *v, plc_vm *vms, uint32_t n_known, uint32_t cap);

/* A <cpu> definition of host i rebuilt from its record (model, vendor, arch, feature
 * names) for hv_cpu_baseline; malloc'd, NULL when the record lacks features. */
char *ag_view_cpu_xml(const ag_view *v, uint32_t i);

#endif
