/* restore.h — a host whose state dir went back in time: detect it, refuse it.
 *
 * What goes wrong: the state dir holds the epoch (envelope.h), the Raft term, vote and
 * log, the HA lease. Restored from a backup (or copied to a second machine), it makes
 * the host (1) reuse an epoch its peers have seen, or an older one: they drop every
 * message as old_epoch or replay and the host falls silent without knowing why; and
 * (2) forget the votes it gave since the backup, so it could vote twice in one term.
 *
 * Why detection and not a wall-clock floor for the epoch: an epoch of
 * max(stored + 1, seconds since a base) never goes back, but then a restored host's
 * messages are accepted again and its rolled-back Raft term and vote are believed: the
 * floor hides exactly the state that must not be used. The epoch stays a counter in the
 * store; peers remember, per member, the newest epoch they have seen (persisted, so a
 * peer's restart does not forget), and a host whose epoch is not newer is refused.
 *
 * How the host learns (etcd's rule "a restored member is a new member", made explicit):
 * a peer that drops a member's envelope as old_epoch, replay or too_old answers, at most
 * once per AG_RESTORE_NOTICE_MS per member, with MSG_EPOCH_NOTICE whose payload is the
 * newest small envelope it accepted from that member, whole. The member checks it is its
 * own signature (ag_env_verify_own) and judges it (ag_restore_judge): an (epoch, seq) it
 * never sent in its present state proves the state went back — no other member can forge
 * it, so a lying member cannot stop a healthy host this way. The host then seals and
 * delivers nothing more, records the verdict in its store (later starts refuse at once)
 * and exits with AG_EX_OLD_STATE, leaving its VMs as they are.
 *
 * The pure decisions are here; net.c carries them out and daemon.c refuses at start.
 */
#ifndef DROVER_RESTORE_H
#define DROVER_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

/* At most one notice per member per second: a restored host sends many messages at
 * start, one proof is enough, and a flood of drops must not become a flood of sends. */
#define AG_RESTORE_NOTICE_MS  1000u
/* ST_DB_META key of the verdict: its value is the text shown at every later start. */
#define AG_RESTORE_MARK       "restored"
/* Epochs stay below 2^32: request ids and freeze stamps are epoch << 32 | counter. */
#define AG_EPOCH_MAX          0xFFFFFFFFull

typedef enum ag_restore_verdict {
    AG_RESTORE_BENIGN = 0,  /* a proof our present state explains (reordering, a replay) */
    AG_RESTORE_STALE  = 1,  /* a proof of an (epoch, seq) we never sent: we went back */
} ag_restore_verdict;

/* Judge a proof (seen_epoch, seen_seq) of our own signature against our present epoch
 * and the last seq we sealed. A peer only ever keeps what we sent, so in a state that
 * never went back seen_epoch <= own_epoch and, at own_epoch, seen_seq <= own_seq. */
ag_restore_verdict ag_restore_judge(uint64_t own_epoch, uint64_t own_seq,
                                    uint64_t seen_epoch, uint64_t seen_seq);

typedef enum ag_notice_action {
    AG_NOTICE_NONE = 0,  /* not an epoch refusal, or no proof to show */
    AG_NOTICE_HELD,      /* one was sent less than AG_RESTORE_NOTICE_MS ago */
    AG_NOTICE_SEND,      /* send p's proof now; p->notice_ms updated */
} ag_notice_action;

/* Receiver side: ag_env_open refused p's envelope with rc (an ag_env_err) at now_ms.
 * Only old_epoch, replay and too_old say anything about p's epoch; they come after the
 * signature check, so p really sent it. */
ag_notice_action ag_restore_notice(int rc, ag_peer *p, uint64_t now_ms);

/* The operator's message: what happened and what to do. Returns snprintf's count. */
int ag_restore_message(char *buf, size_t len, const char *name, const char *state_dir,
                       uint64_t own_epoch, uint64_t seen_epoch, uint64_t seen_seq,
                       const char *seen_by);

#endif
