/* ctl_place.h — the agent side of `drover cpu baseline`, `drover check migrate` and
 * `drover place` (issue 6), the hypervisor facts this host publishes in its gossip
 * status record so other hosts can answer those questions about it, and admission
 * control for `drover vm protect`. */
#ifndef DROVER_CTL_PLACE_H
#define DROVER_CTL_PLACE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "hoststatus.h"

typedef struct ag_place ag_place;

/* Registers cpu.baseline, check.migrate and place on ctl, and starts refreshing this
 * host's libvirt facts on a worker every AG_PLACE_FACTS_MS. */
int  ag_place_init(ag_agent *a, ag_place **out);
void ag_place_free(ag_place *p);
/* Copy the last facts gathered (loop thread; never blocks). Leaves the facts in f as
 * they are when none were gathered yet. libvirtd_responsive and libvirtd_silent_ms are
 * judged at each call (ag_lvwatch_judge: a probe stuck for AG_LIBVIRTD_TIMEOUT_MS makes
 * it 0 while it is still stuck); facts_known is 1 only when the last refresh read the
 * facts and libvirtd answers now. The migrations this agent runs now
 * (ag_vm_ctl_migrations) are filled in at each call, not at refresh. */
void ag_place_facts(const ag_place *p, ag_host_facts *f);

/* Is this host's libvirtd answering, as the facts probe judges it (hoststatus.h
 * ag_lvwatch)? 1 yes, 0 no; *silent_ms (may be NULL) how long it has not answered, 0
 * when it answers; *waiting_ms (may be NULL) how long the probe's question now out has
 * been waiting, 0 when none is out. For code about to ask libvirtd itself (the HA
 * executor): with *waiting_ms >= AG_LIBVIRTD_TIMEOUT_MS its question would only wait
 * behind the stuck one, holding a worker as long. Any thread; p NULL = 1, 0, 0. */
int ag_place_libvirtd(const ag_place *p, uint64_t now_ms, uint32_t *silent_ms, uint64_t *waiting_ms);

/* Live migrations `drover vm migrate` runs out of this host now (ctl_vm.c, counted
 * from submission to the end of the job), and their destinations as given, comma-
 * separated into dests (cap bytes; a destination that does not fit is left out; dests
 * may be NULL). Loop thread. v NULL = 0. Defined in ctl_vm.c, where the jobs live. */
struct ag_vm_ctl;
uint32_t ag_vm_ctl_migrations(const struct ag_vm_ctl *v, char *dests, size_t cap);

/* ---- admission control for `drover vm protect` ----
 * An already-protected VM as the HA state knows it. Placement knows such VMs only by
 * size and where they run (no CPU, disk or network facts), so admission is a capacity
 * question: could every protected VM be restarted after any host_failures_to_tolerate
 * live hosts fail at once? (vSphere HA admission control, XenServer's failover plan;
 * placement/placement.h plc_admit_protect.) */
typedef struct ag_place_prot {
    const char *name;
    uint64_t mem_mib;
    uint32_t vcpus;
    const char *host;    /* member name of the host it runs on; NULL/"" = not running */
    int32_t priority;    /* higher restarts first */
} ag_place_prot;

/* Host failures every protected VM must survive when the caller does not say: vSphere's
 * and XenServer's default. */
#define AG_PLACE_TOLERATE_DEFAULT 1

/* May VM (mem_mib, vcpus, priority; running on `host`, NULL = this host) be protected
 * alongside prot[0..n_prot) (an entry with VM's own name is ignored: re-protecting
 * replaces it)? Builds a view from the gossip records (this host's view of the cluster:
 * down hosts are not counted, members without a record neither) and runs the restart
 * planner for every combination of AG_PLACE_TOLERATE_DEFAULT failed hosts.
 * Loop thread (it reads the gossip core); cost grows with hosts x protected VMs
 * (~50 ms at 256 hosts / 10 000 VMs, docs/placement.md).
 * Returns AG_EX_OK (0) — *warnings may still say something (already broken before this
 * VM, too many combinations to check, hosts without a record, a protected VM on a host
 * not in the view) —, AG_EX_UNSAFE when protecting VM would leave some protected VM
 * without a place after such a failure (*warnings says which failure and which VM),
 * AG_EX_UNAVAILABLE when this agent has no cluster view, AG_EX_OSERR without memory,
 * AG_EX_INVALID for a missing VM name. *warnings (may be NULL) is always set to a new
 * JSON array of strings the caller owns (json_decref). */
int ag_place_admission(ag_agent *a, const char *vm, uint64_t mem_mib, uint32_t vcpus,
                       int32_t priority, const char *host, const ag_place_prot *prot,
                       size_t n_prot, json_t **warnings);

/* The same over a view the caller built (tests; any thread): host indexes from names in
 * v, v->pv.cfg.host_failures_to_tolerate as set, warnings appended to the array w.
 * Calls ag_view_set_vms on v (once per view: it moves memory out of mem_reserved_mib). */
struct ag_view;
int ag_place_admission_in(struct ag_view *v, const char *vm, uint64_t mem_mib, uint32_t vcpus,
                          int32_t priority, const char *host, const ag_place_prot *prot,
                          size_t n_prot, json_t *w);

#endif
