/* ctl_place.h — the agent side of `drover cpu baseline`, `drover check migrate` and
 * `drover place` (issue 6), and the hypervisor facts this host publishes in its gossip
 * status record so other hosts can answer those questions about it. */
#ifndef DROVER_CTL_PLACE_H
#define DROVER_CTL_PLACE_H

#include "agent.h"
#include "hoststatus.h"

typedef struct ag_place ag_place;

/* Registers cpu.baseline, check.migrate and place on ctl, and starts refreshing this
 * host's libvirt facts on a worker every AG_PLACE_FACTS_MS. */
int  ag_place_init(ag_agent *a, ag_place **out);
void ag_place_free(ag_place *p);
/* Copy the last facts gathered (loop thread; never blocks). Leaves f as is when none
 * were gathered yet; libvirtd_responsive 0 after a failed refresh. */
void ag_place_facts(const ag_place *p, ag_host_facts *f);

#endif
