/* raft.h — the whole contract of drover's Raft core (library drover_raft, libc only).
 *
 * References: "In Search of an Understandable Consensus Algorithm (Extended Version)",
 * Ongaro & Ousterhout 2014 ("paper §N"), and Ongaro's PhD dissertation "Consensus:
 * Bridging Theory and Practice", 2014 ("diss. §N").
 *
 * Shape: sans-I/O. One handle per server; the caller feeds it events with
 *
 *     int raft_step(struct raft *r, const struct raft_event *ev, struct raft_update *up);
 *
 * Each event carries the caller's monotonic time (now_ms) and exactly one input. The
 * core never reads a clock, never does I/O, keeps no global state; its only randomness
 * is a PRNG seeded from raft_opts.seed. The update lists what the caller must do,
 * and the caller MUST carry it out in this order (crashes may happen between any two
 * steps, and the core stays safe as long as the order holds):
 *
 *   1. hard state: if (up->flags & RAFT_UPD_HARD_STATE) durably store up->term, up->vote.
 *   2. snapshot chunk: if RAFT_UPD_SNAPSHOT_CHUNK, write up->chunk into the staging file
 *      for (chunk.index, chunk.term) at chunk.offset (data points into the caller's event).
 *   3. snapshot install: if RAFT_UPD_SNAPSHOT_INSTALL, atomically replace the state
 *      machine with the staged snapshot, store its metadata (index, term, config) and drop
 *      every log entry with index <= install.index (or the whole log when
 *      install.drop_log is set).
 *   4. log: if RAFT_UPD_LOG_TRUNCATE, delete persisted entries with index >=
 *      up->truncate_from; then append up->append[0..n_append) at up->append_first.
 *      Steps 1-4 must be DURABLE (fsync) before step 5: a vote or an AppendEntries
 *      acknowledgement must never leave the host before what it promises is on disk
 *      (paper §5.1 "respond after storing", diss. §3.8). One exception: when
 *      up->role is RAFT_LEADER and the update has only appends (no other flag of 1-4),
 *      the caller may send first and write in the background (diss. §10.2.1); writes
 *      must still reach disk in order, and a later update's durable steps wait for them.
 *   5. send up->msgs[0..n_msgs) (best effort; loss is tolerated). An InstallSnapshot
 *      message has data == NULL: the caller fills data with snapshot.len bytes read at
 *      snapshot.offset from its stored snapshot (index, log_term) before sending.
 *   6. apply up->apply[0..n_apply) (indices apply_first...) to the state machine, in
 *      order. Entries of type RAFT_ENTRY_BARRIER and RAFT_ENTRY_CONFIG carry no command.
 *   7. if n_append > 0, once step 4 is durable, report it back with a RAFT_EV_PERSISTED
 *      event (index = append_first + n_append - 1, term = that entry's term). The leader
 *      counts itself in a commit quorum only for durable entries (diss. §10.2.1 allows the
 *      leader's own write to run in parallel with replication).
 *   Optional: if RAFT_UPD_SNAPSHOT_TAKE, take a snapshot of the applied state at
 *   up->snapshot_take_index when convenient and report RAFT_EV_SNAPSHOT_TAKEN (the flag
 *   repeats on every update until a snapshot is reported); if up->compact_upto > 0,
 *   entries <= compact_upto may be deleted from disk (never required for safety: on
 *   load, entries at or below the snapshot are ignored).
 *   Step 6 may repeat entries after a restart (the apply list restarts after the
 *   snapshot): a state machine that survives crashes skips indices it already applied.
 *
 * All pointers in an update stay valid until the next raft_step/raft_load/raft_free on
 * the same handle. Chunk data in an update points into the event the caller passed in.
 *
 * Restart: raft_new() then raft_load() with exactly what was declared durable.
 */
#ifndef DROVER_RAFT_H
#define DROVER_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t raft_id;    /* server id, never 0 */
typedef uint64_t raft_term;
typedef uint64_t raft_index; /* log index; the first entry has index 1 */

/* Terms stop at RAFT_TERM_MAX (2^62). A message whose term (or any log term it carries)
 * is above it is dropped, and a server whose term has reached it does not campaign:
 * term + 1 never wraps, so one forged message cannot leave a cluster unable to elect.
 * Honest servers raise a term by one per election; at one election per millisecond
 * 2^62 lasts 146 million years, so the bound refuses nothing a real cluster sends. */
#define RAFT_TERM_MAX (UINT64_C(1) << 62)

/* Errors: negative return values of raft_* functions. */
enum {
    RAFT_OK = 0,
    RAFT_EINVAL = -1,      /* malformed argument or event */
    RAFT_ENOMEM = -2,      /* allocation failed; state unchanged */
    RAFT_ENOTLEADER = -3,  /* propose/change on a non-leader; up->leader is a hint */
    RAFT_EBUSY = -4,       /* too many uncommitted entries (raft_opts.uncommitted_max) */
    RAFT_ECHANGE = -5,     /* a configuration change is still uncommitted (diss. §4.1) */
    RAFT_ETOOBIG = -6,     /* configuration would exceed RAFT_SERVERS_MAX */
    RAFT_ENOTFOUND = -7,   /* no such server in the configuration */
    RAFT_ECORRUPT = -8,    /* loaded state or config entry does not decode */
};
const char *raft_strerror(int err);

/* Largest configuration (voters + learners). Bounded so every per-server table is a
 * fixed array; 64 covers the design target of 3-5 voters plus learners for a 64-host
 * cluster. Larger clusters can raise it at build time. */
#ifndef RAFT_SERVERS_MAX
#define RAFT_SERVERS_MAX 64
#endif

enum raft_role { RAFT_FOLLOWER = 0, RAFT_PRE_CANDIDATE, RAFT_CANDIDATE, RAFT_LEADER };
const char *raft_role_name(enum raft_role role);

/* Membership roles (diss. §4.2.1: learners — "non-voting members" — replicate the log
 * but are not counted in any majority and never campaign). */
enum raft_member_role { RAFT_VOTER = 1, RAFT_LEARNER = 2 };

struct raft_server {
    raft_id id;
    uint8_t role; /* enum raft_member_role */
};
struct raft_configuration {
    unsigned n;
    struct raft_server servers[RAFT_SERVERS_MAX];
};
/* Encoded configuration size bound: 4-byte count + 9 bytes per server. */
#define RAFT_CONFIG_ENCODED_MAX (4u + 9u * RAFT_SERVERS_MAX)
/* Encode conf into buf (at least RAFT_CONFIG_ENCODED_MAX bytes); returns the length. */
size_t raft_config_encode(const struct raft_configuration *conf, uint8_t *buf);
/* Decode; RAFT_ECORRUPT on short/extra bytes, zero/duplicate ids, bad roles, n > max. */
int raft_config_decode(const uint8_t *buf, size_t len, struct raft_configuration *conf);
const struct raft_server *raft_config_get(const struct raft_configuration *c, raft_id id);
unsigned raft_config_voters(const struct raft_configuration *c);

enum raft_entry_type {
    RAFT_ENTRY_COMMAND = 1, /* opaque client command */
    RAFT_ENTRY_BARRIER = 2, /* no-op appended by a new leader (paper §8) */
    RAFT_ENTRY_CONFIG = 3,  /* buf = raft_config_encode() output (diss. §4.1) */
};
struct raft_entry {
    raft_term term;
    uint8_t type; /* enum raft_entry_type */
    uint32_t len;
    const void *buf; /* owned by the core for entries it returns */
};

enum raft_msg_type {
    RAFT_MSG_REQUEST_VOTE = 1,        /* paper §5.2, pre_vote: diss. §9.6 */
    RAFT_MSG_REQUEST_VOTE_RESULT = 2,
    RAFT_MSG_APPEND_ENTRIES = 3,      /* paper §5.3 */
    RAFT_MSG_APPEND_ENTRIES_RESULT = 4,
    RAFT_MSG_INSTALL_SNAPSHOT = 5,    /* paper §7, chunked */
    RAFT_MSG_INSTALL_SNAPSHOT_RESULT = 6,
    RAFT_MSG_TIMEOUT_NOW = 7,         /* leadership transfer, diss. §3.10 */
};

/* One flat message; fields used per type:
 *   REQUEST_VOTE:         index/log_term = candidate's last log entry; pre_vote;
 *                         transfer (sent because of TIMEOUT_NOW, bypasses leader lease);
 *                         a learner's pre_vote request only asks who leads (never granted)
 *   REQUEST_VOTE_RESULT:  reject, pre_vote; hint = the id of the leader the voter follows
 *                         (0 = none), for a server whose configuration is behind
 *   APPEND_ENTRIES:       index/log_term = prevLogIndex/prevLogTerm; commit; entries
 *   APPEND_ENTRIES_RESULT: reject=false: index = highest index known to match;
 *                         reject=true: index = rejected prevLogIndex, hint = last index
 *   INSTALL_SNAPSHOT:     index/log_term = snapshot's last included entry; config;
 *                         snapshot.{offset,len,done,size}; data filled by the caller
 *   INSTALL_SNAPSHOT_RESULT: index = snapshot index; snapshot.offset = next byte wanted;
 *                         snapshot.done = installed (then index also matches)
 *   TIMEOUT_NOW:          index/log_term = leader's last entry */
struct raft_message {
    uint8_t type; /* enum raft_msg_type */
    raft_id from, to;
    raft_term term;
    raft_index index;
    raft_term log_term;
    raft_index commit;
    raft_index hint;
    bool reject, pre_vote, transfer;
    /* The sender's clock when it sent this message; a result echoes the stamp of the
     * message it answers, so the leader measures quorum contact from its own send time
     * (a late-processed answer cannot make contact look newer than it was). 0 = none
     * (older peers): the leader then counts the answer's arrival. */
    uint64_t stamp;
    uint32_t n_entries;
    const struct raft_entry *entries;
    struct {
        uint64_t offset, size; /* byte offset of this chunk, total snapshot size */
        uint32_t len;
        bool done; /* last chunk */
        const void *data;
    } snapshot;
    struct raft_configuration *config; /* INSTALL_SNAPSHOT only; points into the core */
};

enum raft_event_type {
    RAFT_EV_TICK = 1,           /* time passed; call at least every tick_hint_ms */
    RAFT_EV_RECEIVE = 2,        /* msg arrived (caller verified sender identity); the
                                   core drops what the sender may not send (raft.c's
                                   header: who may send what), counted in raft_stats */
    RAFT_EV_PROPOSE = 3,        /* append a command (leader only) */
    RAFT_EV_PERSISTED = 4,      /* log durable up to (index, term) */
    RAFT_EV_SNAPSHOT_TAKEN = 5, /* caller stored a snapshot of applied state at index */
    RAFT_EV_CHANGE = 6,         /* add/promote/demote/remove one server (leader only) */
    RAFT_EV_TRANSFER = 7,       /* hand leadership to target (leader only) */
};
struct raft_event {
    uint8_t type; /* enum raft_event_type */
    uint64_t now_ms;
    union {
        struct raft_message receive;
        struct { const void *buf; uint32_t len; } propose;
        struct { raft_index index; raft_term term; } persisted;
        struct { raft_index index; uint64_t size; } snapshot_taken;
        /* role 0 removes the server; otherwise it becomes RAFT_VOTER/RAFT_LEARNER */
        struct { raft_id id; uint8_t role; } change;
        struct { raft_id target; } transfer;
    };
};

enum {
    RAFT_UPD_HARD_STATE = 1u << 0,
    RAFT_UPD_SNAPSHOT_CHUNK = 1u << 1,
    RAFT_UPD_SNAPSHOT_INSTALL = 1u << 2,
    RAFT_UPD_LOG_TRUNCATE = 1u << 3,
    RAFT_UPD_SNAPSHOT_TAKE = 1u << 4,
    RAFT_UPD_ROLE = 1u << 5,
};
struct raft_update {
    unsigned flags;
    raft_term term; /* current term (always filled) */
    raft_id vote;   /* current vote (always filled) */
    struct { raft_index index; raft_term term; uint64_t offset; uint32_t len; const void *data; } chunk;
    struct { raft_index index; raft_term term; bool drop_log; const struct raft_configuration *config; } install;
    raft_index truncate_from;
    raft_index append_first;
    unsigned n_append;
    const struct raft_entry *append;
    struct raft_message *msgs;
    unsigned n_msgs;
    raft_index apply_first;
    unsigned n_apply;
    const struct raft_entry *apply;
    raft_index snapshot_take_index;
    raft_index compact_upto;
    enum raft_role role; /* always filled; RAFT_UPD_ROLE says it changed */
    raft_id leader;      /* known leader or 0 (always filled) */
    raft_index proposed_index; /* PROPOSE/CHANGE: index of the new entry */
    raft_term proposed_term;
};

/* Tunables. Defaults from raft_opts_default(); every one may be overridden. */
struct raft_opts {
    raft_id id;
    uint64_t seed;                  /* PRNG seed for election timeouts */
    uint32_t election_timeout_ms;   /* base; actual is uniform in [base, 2*base) (paper §5.2) */
    uint32_t heartbeat_ms;          /* leader idle AppendEntries period; << election */
    uint32_t batch_entries_max;     /* entries per AppendEntries */
    uint32_t batch_bytes_max;       /* payload bytes per AppendEntries (>= 1 entry) */
    uint32_t inflight_max;          /* pipelined AppendEntries per follower */
    uint32_t uncommitted_max;       /* leader refuses proposals beyond this backlog */
    uint32_t snapshot_threshold;    /* ask for a snapshot every this many applied entries */
    uint32_t snapshot_trailing;     /* entries kept after a snapshot for slow followers */
    uint32_t snapshot_chunk_bytes;  /* InstallSnapshot chunk size */
    bool pre_vote;                  /* diss. §9.6 */
    bool check_quorum;              /* diss. §6.2: leader steps down without majority */
};
void raft_opts_default(struct raft_opts *o, raft_id id, uint64_t seed);

struct raft; /* opaque */

/* Allocate a server. Returns NULL on bad opts (id 0, heartbeat >= election) or OOM. */
struct raft *raft_new(const struct raft_opts *o);
void raft_free(struct raft *r);

/* Load what was durably stored (all may be empty for a brand-new server): hard state,
 * snapshot metadata (snap_index 0 = none) and the log entries that follow it, starting
 * at first_index. Entries at or below snap_index are ignored. Must be called once,
 * before the first raft_step. Errors: RAFT_EINVAL (gap between snapshot and log),
 * RAFT_ECORRUPT (config entry does not decode), RAFT_ENOMEM. */
/* Snapshot metadata as stored by the caller (paper §7: last included index and term,
 * plus the configuration as of that index, diss. §5.1). */
struct raft_snapshot_meta {
    raft_index index;
    raft_term term;
    uint64_t size; /* bytes of the opaque snapshot blob */
    struct raft_configuration config;
};

/* Load what was durably stored (all may be empty for a brand-new server): hard state,
 * snapshot metadata (NULL = none) and the log entries that follow it, starting at
 * first_index. Entries at or below the snapshot index are ignored. Call once, before
 * the first raft_step. After a restart the apply list starts again after the snapshot:
 * a caller whose state machine survived the crash skips indices it already applied.
 * Errors: RAFT_EINVAL (gap between snapshot and log, called twice), RAFT_ECORRUPT
 * (config entry does not decode), RAFT_ENOMEM. */
int raft_load(struct raft *r, raft_term term, raft_id vote,
              const struct raft_snapshot_meta *snap, raft_index first_index,
              const struct raft_entry *entries, unsigned n);

/* Build the bootstrap entry (index 1, term 1, the initial configuration). Every server
 * bootstrapped together must load the identical entry. buf >= RAFT_CONFIG_ENCODED_MAX. */
void raft_bootstrap_entry(const struct raft_configuration *conf, uint8_t *buf,
                          struct raft_entry *out);

/* Feed one event. Returns 0 or a negative error; on error the update is still valid
 * (it may e.g. carry the leader hint) and must still be carried out. */
int raft_step(struct raft *r, const struct raft_event *ev, struct raft_update *up);

/* Read-only views for status, tests and the simulator. */
raft_id raft_id_of(const struct raft *r);
enum raft_role raft_role_of(const struct raft *r);
raft_term raft_term_of(const struct raft *r);
raft_id raft_leader_of(const struct raft *r);
raft_index raft_commit_of(const struct raft *r);
raft_index raft_applied_of(const struct raft *r);
raft_index raft_last_index(const struct raft *r);
raft_index raft_snapshot_index(const struct raft *r);
/* Metadata of the newest snapshot (taken or installed); index 0 = none. */
const struct raft_snapshot_meta *raft_snapshot_of(const struct raft *r);
/* Term of the entry at index (0 when unknown/compacted except the snapshot's own). */
raft_term raft_term_at(const struct raft *r, raft_index index);
/* Entry at index, or NULL when outside the in-memory log. */
const struct raft_entry *raft_entry_at(const struct raft *r, raft_index index);
const struct raft_configuration *raft_config_of(const struct raft *r);
/* For fencing decisions (DESIGN.md "Never twice"), in the caller's clock:
 *  - leader: the newest time T such that a majority of voters (itself included) had
 *    answered it at or after T — "my quorum contact is now - T old";
 *  - follower: when it last heard from the current leader (0 when none is known).
 * A leader whose quorum contact is older than the election timeout is about to step
 * down (check-quorum, diss. §6.2). Turning this into a lease needs a bound on clock
 * drift; the core makes no such assumption itself. */
uint64_t raft_quorum_contact_ms(const struct raft *r);
/* Leader: the time from which it must no longer vouch for its leadership because it
 * sent TIMEOUT_NOW in this term (a transfer lets the target win an election at once,
 * bypassing the followers' leader lease); UINT64_MAX when it sent none, 0 when not
 * leader. */
uint64_t raft_vouch_limit_ms(const struct raft *r);
/* Per-follower match index as the leader sees it (0 when not leader/unknown). */
raft_index raft_match_of(const struct raft *r, raft_id id);
/* Count of "believed impossible" conditions met (e.g. asked to truncate a committed
 * entry, a second leader in our term). Always 0 unless the algorithm or a peer is
 * broken; the simulator asserts it stays 0. */
uint64_t raft_anomalies(const struct raft *r);

/* Messages the core refused, by reason (raft.c's header gives the rules), and elections
 * it would not start. Every counter only grows. A steady rise of a dropped_* counter
 * names a peer that sends what it may not: a forged or broken sender, or a server whose
 * configuration is far behind the cluster's. */
struct raft_stats {
    uint64_t dropped_misaddressed; /* from id 0 or from ourselves, or not addressed to us */
    uint64_t dropped_not_member;   /* sender in no configuration we accept senders from
                                      (a vote request only when more than one term up) */
    uint64_t dropped_not_voter;    /* from a learner: AppendEntries, InstallSnapshot,
                                      TimeoutNow, a vote answer, a newer term, or a vote
                                      request more than one term up */
    uint64_t dropped_term_bound;   /* message term above RAFT_TERM_MAX */
    uint64_t dropped_bad_term;     /* log terms in it above its own term or decreasing */
    uint64_t campaigns_refused;    /* our term is RAFT_TERM_MAX (or more): no election */
    uint64_t accepted_vouched;     /* leader messages accepted only because a voter named
                                      their sender as its leader (our config is behind) */
};
const struct raft_stats *raft_stats_of(const struct raft *r);

#endif
