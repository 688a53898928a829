/* gossip_drv.h — runs the gossip core (gossip/) inside the agent: feeds it ticks and
 * received messages, sends what it asks over net.h, publishes this host's signed status
 * record, and answers `drover members`. */
#ifndef DROVER_GOSSIP_DRV_H
#define DROVER_GOSSIP_DRV_H

#include <jansson.h>

#include "agent.h"

int  ag_gossip_start(ag_agent *a, char *err, size_t errlen);
void ag_gossip_stop(ag_agent *a);
/* An opened MSG_GOSSIP envelope whose sender was checked against the transport. */
void ag_gossip_recv(ag_agent *a, const ag_opened *o);
/* Announce a graceful leave (LEFT) to the group. */
void ag_gossip_leave(ag_agent *a);
/* What gossip knows of a host's health: *alive = alive or suspect (1 when gossip is not
 * running or does not know it yet: no evidence of death), *dead_since_ms = monotonic time
 * it was declared dead or left. */
void ag_gossip_health(ag_agent *a, const uint8_t id[16], int *alive, uint64_t *dead_since_ms);
/* The gossip core, to read members and their records (loop thread), or NULL. */
struct gsp *ag_gossip_core(ag_agent *a);
/* The roster changed (OLD: the members before): push-pull with each member admitted since,
 * 1, 2 and 3 s later while gossip does not know it alive. A relayed ALIVE whose subject's
 * key has not reached this host's roster yet is refused (it cannot be verified), and a
 * relayed fact is sent only a few times: without this, two members admitted through a
 * third could stay unknown to each other until the next periodic push-pull. */
void ag_gossip_meet_new(ag_agent *a, const ag_members *old);
/* Summary for `drover status` (new reference), or NULL when gossip is not running. */
json_t *ag_gossip_status_json(ag_agent *a);

#endif
