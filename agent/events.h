/* events.h — the agent's event journal: every decision and what caused it, for
 * `drover events [--follow] [--json]` (the equivalent of vSphere's event log or
 * `pvesh get /cluster/log`).
 *
 * Each event is a JSON object {seq, time_ms, kind, host, message, ...} appended durably
 * to ST_DB_EVENTS under a big-endian sequence number, so `drover events` lists them in
 * order and survives restarts. The journal keeps the newest AG_EVENTS_KEEP events;
 * older ones are deleted as new ones arrive. Followers (`--follow`) get each new event
 * as a progress frame on their control connection.
 */
#ifndef DROVER_EVENTS_H
#define DROVER_EVENTS_H

#include <jansson.h>

#include "agent.h"

#define AG_EVENTS_KEEP       10000   /* a few days of a busy cluster's decisions */
#define AG_EVENTS_FOLLOWERS  32

/* kind: a short stable word ("member", "raft", "join", "migrate", "drain", ...). fields
 * (may be NULL, stolen) adds structured data. Never fails the caller: a journal that
 * cannot be written is logged, the decision goes on. An event journalled while a
 * control-socket request is handled (ag_ctl_current) names its caller: "uid" and "pid"
 * fields, and " (uid N)" after the message; one whose fields name it already (a "uid"
 * field) is left as it is. */
void ag_event(ag_agent *a, const char *kind, json_t *fields, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

int  ag_events_start(ag_agent *a);
void ag_events_stop(ag_agent *a);

#endif
