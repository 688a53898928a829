/* agent.h — the running agent: what every driver part (control socket handlers,
 * transport, hypervisor, consensus) shares. Owned and touched by the loop thread only. */
#ifndef DROVER_AGENT_H
#define DROVER_AGENT_H

#include <stdint.h>

#include "config.h"
#include "ctl.h"
#include "envelope.h"
#include "identity.h"
#include "loop.h"
#include "members.h"
#include "store.h"

struct tp;
struct gsp;
struct ag_gossip;
struct ag_raft;
struct ag_join;
struct ag_vm_ctl;
struct ag_events;
struct ag_place;
struct ag_ha;

typedef struct ag_agent {
    ag_config   cfg;
    ag_identity id;
    st_store   *store;
    ag_loop    *loop;
    ag_ctl     *ctl;
    uint64_t    epoch;        /* bumped in the store at every start */
    uint64_t    started_ms;   /* monotonic */
    /* messages dropped by ag_env_open, by reason (index = -code) */
    uint64_t    rejected[AG_ENV_ERR_COUNT];
    uint64_t    rejected_payload;    /* envelope fine, payload undecodable or unexpected */
    /* network (net.c): present when a roster is configured */
    ag_members  members;
    ag_peers    peers;          /* signing keys of members, with replay windows */
    ag_sealer   sealer;
    struct tp  *tp;
    struct ag_gossip *gossip;
    struct ag_raft *raft;
    struct ag_join *join;
    struct ag_events *events;
    struct ag_vm_ctl *vm;     /* drover vm list|migrate (libvirt, lazily connected) */
    struct ag_place *place;   /* drover cpu baseline, check migrate, place; host facts */
    struct ag_ha *ha;         /* HA: replicated state, coordinator, fence (ha_drv.h) */
} ag_agent;

#endif
