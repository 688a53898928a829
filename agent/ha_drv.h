/* ha_drv.h — runs the HA cores (ha/hac.h) inside the agent: the replicated HA state in
 * LMDB, the coordinator on the Raft leader, the fence on every host, and the commands
 * between them.
 *
 * Replicated state. Every HA decision is a hac_prop carried in a Raft entry (CMD_HA,
 * proto/ha.proto); raft_drv applies it with ag_ha_apply inside the same LMDB transaction
 * that moves applied_index, into state key "ha/state" (HaState: hosts with admin state,
 * VMs with owner, generation, protection, move in flight, the upgrade plan). Every host
 * logs an "ha" event per applied decision with the coordinator's reason, so `drover
 * events` on any host shows every decision. "vmxml/<name>" keeps each managed VM's
 * definition (put by its owner) so another host can start it after a failure.
 *
 * Leases and reports (MSG_COMMAND traffic, HaMsg). Every agent sends a report to the
 * coordinator every report period: its send time, the VMs libvirt runs here with the
 * generation it applied, migrations running here. The coordinator records the receive
 * time as the host's last_ack and answers with the send time echoed, its commit index
 * and the moves in flight (with progress). The agent counts its lease from the echoed
 * send time (hac_fence HAC_FIN_CONTACT), only when the coordinator still has quorum
 * contact. Commands carry (term, generation, commit index); the fence core checks them.
 *
 * Control socket commands (JSON, ctl.h):
 *   "ha.admin"   {host, req: cordon|drain|undrain|failback|degraded-on|degraded-off|
 *                confirm-off} -> after commit: {host, admin, degraded_flag, failback,
 *                frozen, index}. confirm-off ends a frozen host's freeze as a confirmed
 *                fence (refused, 107, unless frozen and while gossip hears the host)
 *   "ha.protect" {vm, protect: bool, priority?, order?, max_restarts?}
 *                -> after commit: {vm, protected, priority, order, max_restarts, index,
 *                   warnings: [string]}
 *   "ha.upgrade" {op: start|pause|resume|abort, command? (start), order? [host names]}
 *                -> after commit: {state, index}
 *   "ha.status"  {} -> {coordinator, term, self, fence: {mode, contact_age_ms},
 *                   hosts: [{name, admin, degraded_flag, failback, frozen,
 *                           frozen_at_ms + frozen_for_s (when frozen), live, owned}],
 *                   vms: [{name, owner, generation, protected, priority, order,
 *                          max_restarts, restarts, moving_to, home, want_running,
 *                          prot_acked, running_on}],
 *                   moves: [{vm, from, to, percent, bytes_per_s}],
 *                   upgrade: {state, phase, current, order: [names], command}}
 *   Errors: 105 unknown host/VM, 106 no quorum, 69 not in a cluster, 107 refused
 *   (the message says why), 2 bad arguments.
 */
#ifndef DROVER_HA_DRV_H
#define DROVER_HA_DRV_H

#include <jansson.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"

struct ag_ha;

int  ag_ha_start(ag_agent *a, char *err, size_t errlen);
void ag_ha_stop(ag_agent *a);
/* An opened MSG_COMMAND envelope (reports, acks, commands, results). */
void ag_ha_recv(ag_agent *a, const ag_opened *o);

/* raft_drv hooks (loop thread). ag_ha_apply runs inside the apply transaction and must be
 * re-runnable (st_write may run it twice): it reads the state from txn, applies the
 * proposal encoded in buf and writes the state back. Returns 0 or an LMDB error; the
 * proposal's own result (0 or -ESTALE...) goes to *prop_rc. */
int  ag_ha_apply(ag_agent *a, MDB_txn *txn, MDB_dbi state_db, uint64_t index,
                 const uint8_t *buf, size_t len, int *prop_rc);
/* After the apply transaction committed (or a snapshot was installed): reload the
 * in-memory copy, feed the coordinator, log events. */
void ag_ha_applied(ag_agent *a, uint64_t index);
/* Leadership changed (role/term as raft_drv sees them after a step). */
void ag_ha_leader(ag_agent *a, bool leader, uint64_t term);

/* A clean stop (SIGTERM): unless this host owns no protected VM or has fenced them, ask
 * the cluster to freeze it (its VMs are then left alone until the agent is back, however
 * long that takes), wait up to HA_FREEZE_WAIT_MS for the commit, journal the outcome,
 * then call THEN (once, on the loop thread). Nothing is destroyed either way. */
typedef void (*ag_ha_then_fn)(ag_agent *a);
void ag_ha_stop_request(ag_agent *a, ag_ha_then_fn then);

struct ag_host_facts;
/* What HA adds to this host's gossip record: its admin state from the replicated state
 * (cordoned, draining, maintenance) and the migrations the coordinator runs from here,
 * added to those `drover vm migrate` runs. */
void ag_ha_host_facts(ag_agent *a, struct ag_host_facts *f);

/* Summary for `drover status` (new reference), or NULL. */
json_t *ag_ha_status_json(ag_agent *a);

#endif
