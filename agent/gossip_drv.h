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
/* Summary for `drover status` (new reference), or NULL when gossip is not running. */
json_t *ag_gossip_status_json(ag_agent *a);

#endif
