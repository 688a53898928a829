/* autopilot.h — which single Raft membership change the coordinator should make next,
 * so the voters are the right number of healthy hosts, spread across failure domains.
 * Pure: no I/O, no clock (the caller passes now_ms and what gossip knows).
 *
 * Like Consul's autopilot: every member host is in the Raft configuration (as a learner
 * at least, diss. §4.2.1, so it receives the log); the coordinator keeps
 * min(voters_wanted, healthy members) voters; a voter dead for longer than grace_ms is
 * demoted so a healthy learner can take its place; new voters come preferably from a
 * failure domain that has none yet. One change at a time (diss. §4.1: single-server
 * changes are safe only one at a time); the caller calls again after it commits.
 *
 * Order of rules (first that applies wins):
 *   1. a server in the configuration that is no longer a member -> remove it
 *   2. a member missing from the configuration -> add it as a learner
 *   3. a voter dead for > grace_ms, while a healthy learner exists or voters exceed the
 *      wanted count -> demote it to learner
 *   4. fewer voters than wanted and a healthy learner exists -> promote the best one
 *      (a domain with no voter first, then the lowest id)
 *   5. more voters than wanted -> demote one (dead first, then the highest id)
 * "Wanted" is min(voters_wanted, members not dead for longer than grace_ms): a host that
 * is rebooting keeps its vote.
 * Never removes or demotes the coordinator itself (it would hand over first).
 */
#ifndef DROVER_HA_AUTOPILOT_H
#define DROVER_HA_AUTOPILOT_H

#include <stddef.h>
#include <stdint.h>

#include "raft.h"

#define HA_AP_DOMAIN_MAX 64

struct ha_ap_member {
    raft_id id;
    int alive;                      /* gossip: alive or suspect */
    uint64_t dead_since_ms;         /* when gossip declared it dead (valid if !alive) */
    char domain[HA_AP_DOMAIN_MAX];  /* failure_domain label, "" = none */
};

struct ha_ap_change {
    raft_id id;
    uint8_t role;        /* 0 = remove, RAFT_VOTER, RAFT_LEARNER */
    const char *reason;  /* static text for the event log */
};

/* Returns 1 and fills *out when a change is due, 0 when the configuration is as wanted. */
int ha_autopilot(const struct raft_configuration *conf, raft_id self,
                 const struct ha_ap_member *members, size_t n, unsigned voters_wanted,
                 uint64_t grace_ms, uint64_t now_ms, struct ha_ap_change *out);

#endif
