/* raft_drv.h — runs the Raft core (ha/raft.h) inside the agent.
 *
 * Persistence: term, vote, snapshot metadata and the log live in LMDB (ST_DB_RAFT,
 * ST_DB_LOG); steps 1-4 of each raft_update are written in ONE durable transaction before
 * any message of that update leaves, which is the order raft.h demands. The state machine
 * is ST_DB_STATE, applied in its own transaction together with "applied_index", so an
 * entry is applied exactly once across crashes.
 *
 * Who may write what (docs/security.md "Operator credential"): the leader proposes a
 * command only if it carries a valid operator grant that permits it (admin.h,
 * operator.h) or is a host right of the host it came from (its own VMs' definitions,
 * its own freeze, an admission through a join token, the coordinator's own decisions);
 * apply checks every grant again on every host, and refuses an admin key without one.
 *
 * Admin requests enter on any host: the leader proposes them; a follower forwards them
 * to the leader (MSG_FORWARD) and answers its client once the entry is committed AND
 * applied locally (read-your-writes), or fails with exit 106 (no quorum) after a timeout.
 *
 * Raft server ids are the first 8 bytes of the host ID (big-endian). The first
 * configuration is derived from the roster the same way on every host: members sorted
 * by id, the first [ha] voters are voters, every other host a learner.
 */
#ifndef DROVER_RAFT_DRV_H
#define DROVER_RAFT_DRV_H

#include <jansson.h>
#include <stdbool.h>

#include "agent.h"

/* How a server with an empty log starts: from the static roster (every host derives the
 * same first configuration), as the first host of a new cluster (itself the only voter,
 * and its member record as entry 2), or joining (empty: the leader sends everything). */
enum ag_raft_boot { AG_RAFT_BOOT_ROSTER, AG_RAFT_BOOT_CREATE, AG_RAFT_BOOT_JOIN };

int  ag_raft_start(ag_agent *a, enum ag_raft_boot boot, char *err, size_t errlen);
void ag_raft_stop(ag_agent *a);
void ag_raft_recv(ag_agent *a, const ag_opened *o);      /* MSG_RAFT */
void ag_raft_forward(ag_agent *a, const ag_opened *o);   /* MSG_FORWARD */
struct Drover__Forward;
struct Drover__Command;
/* What ag_raft_forward believes of a MSG_FORWARD payload from sender, before any state is
 * read: a Forward that decodes and, unless it is a reply, a Command that decodes, has its
 * shape (CMD_ADMIT with an Admit, else a non-empty key) and names sender as its origin (a
 * member forwards only its own requests). 0 with *f (and *c for a request, else NULL) to
 * free with their free_unpacked; -EBADMSG (nothing to free) otherwise. Pure, so
 * tests/fuzz/fuzz_forward.c runs it without an agent. */
int  ag_raft_forward_decode(const uint8_t *buf, size_t len, const uint8_t sender[AG_HOST_ID_LEN],
                            struct Drover__Forward **f, struct Drover__Command **c);
/* A host's Raft id: the first 8 bytes of its host id, big-endian (never 0). */
uint64_t ag_raft_id_of_host(const uint8_t id[AG_HOST_ID_LEN]);
json_t *ag_raft_status_json(ag_agent *a);
uint64_t ag_raft_applied(const ag_agent *a);
/* This host's current Raft term (0 before Raft runs). */
uint64_t ag_raft_term(const ag_agent *a);
uint64_t ag_raft_commit(const ag_agent *a);
/* The member record of the host this one believes leads (NULL when none is known). */
const ag_member *ag_raft_leader_member(ag_agent *a);
/* This host leads (*term gets the term) and can vouch that no other leader exists up to
 * *until_ms (this host's monotonic clock): half an election timeout past the send time
 * of the newest message a majority of voters answered, and never past a TIMEOUT_NOW it
 * sent. Leases it grants count no later than that (docs/ha.md "Lease arithmetic"). */
bool ag_raft_lead_vouch(ag_agent *a, uint64_t *term, uint64_t *until_ms);

/* Propose a state change from this host; done(ud, code, index, error) is called once,
 * on the loop thread, after it is applied here (code 0) or failed (ag_exit code). */
typedef void (*ag_raft_done_fn)(ag_agent *a, void *ud, int code, uint64_t index, const char *error);
void ag_raft_submit(ag_agent *a, int op, const char *key, const void *val, size_t vlen,
                    ag_raft_done_fn done, void *ud);
struct Drover__Command;
struct ag_admin;
/* The same for an admin change: the Command carries the operator's grant (admin.h). */
void ag_raft_submit_admin(ag_agent *a, const struct ag_admin *ad, int op, const char *key, const void *val,
                          size_t vlen, ag_raft_done_fn done, void *ud);
/* The same for a prepared command (op, key, value, admit); origin and req_id are set here. */
void ag_raft_submit_cmd(ag_agent *a, struct Drover__Command *cmd, ag_raft_done_fn done, void *ud);

#endif
