/* net.h — the agent's network: transport + envelopes + dispatch to drivers by type.
 *
 * Every received message goes through the same gate: CURVE handshake admitted by ZAP
 * (member keys only) -> envelope opened (signature, cluster, replay window) -> the
 * envelope's sender must be the host whose key authenticated the connection (no member
 * can speak for another) -> the driver for its type. Anything failing a step is dropped
 * and counted by reason (visible in `drover status`).
 */
#ifndef DROVER_NET_H
#define DROVER_NET_H

#include "agent.h"

/* Load the roster, admit its members, bind the transport. 0 or an ag_exit code with err. */
int  ag_net_start(ag_agent *a, char *err, size_t errlen);
void ag_net_stop(ag_agent *a);

/* The replicated member records changed: rebuild the member table and admit/revoke keys. */
void ag_net_members_changed(ag_agent *a);

/* Seal payload as `type` and send it to member m (or to addr + curve_pk). */
int  ag_net_send(ag_agent *a, const ag_member *m, uint32_t type, const void *payload, size_t len);

#endif
