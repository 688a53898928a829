/* raft_internal.h — state shared by the raft_*.c files; not part of the contract. */
#ifndef DROVER_RAFT_INTERNAL_H
#define DROVER_RAFT_INTERNAL_H

#include "raft.h"

/* Replication modes per follower, after etcd's progress tracking (diss. §10.2.1):
 * PROBE sends one AppendEntries and waits, to find where logs diverge; PIPELINE sends
 * optimistically, advancing next_index before the answer; SNAPSHOT streams chunks. */
enum { RAFT__PROBE = 0, RAFT__PIPELINE, RAFT__SNAPSHOT };

struct raft__progress {
    raft_id id;
    raft_index next, match;
    uint8_t mode;
    bool probe_wait;     /* PROBE: a message is out, wait for answer or heartbeat */
    bool acked;          /* an answer arrived since the last heartbeat */
    bool recent_active;  /* an answer arrived since the last check-quorum round */
    uint32_t inflight;   /* PIPELINE: AppendEntries with entries not yet answered */
    raft_index snap_index; /* SNAPSHOT: which snapshot is streaming */
    uint64_t snap_offset;  /* SNAPSHOT: next byte the follower wants */
    raft_index commit_sent; /* highest commit index this follower can have learned */
    uint64_t last_ack_ms;   /* send time (our clock) of the newest message it answered */
};

/* In-memory log: e[i] holds index offset + 1 + i. Entries <= offset were compacted;
 * offset_term is the term of entry `offset` (needed for prevLogTerm checks). */
struct raft__log {
    struct raft_entry *e;
    size_t n, cap;
    raft_index offset;
    raft_term offset_term;
};

struct raft {
    struct raft_opts o;
    uint64_t prng;
    bool loaded;
    bool started;
    uint64_t now;

    /* persistent state (paper Figure 2) */
    raft_term term;
    raft_id vote;
    struct raft__log log;
    struct raft_snapshot_meta snap;

    /* volatile state */
    enum raft_role role;
    raft_id leader;
    raft_index commit, applied, durable;
    struct raft_configuration conf; /* latest config in the log (diss. §4.1) */
    raft_index conf_index;
    /* the configuration before `conf` (the previous config entry, else the snapshot's);
     * senders are accepted from it too while conf_index > commit (raft.c) */
    struct raft_configuration conf_prev;
    uint64_t anomalies;
    struct raft_stats stats;
    /* the leader of term vouched_term as a voter of ours named it, while our
     * configuration does not make it a voter: we are behind and accept its
     * AppendEntries/InstallSnapshot of exactly that term (raft.c, rule 6); cleared
     * once we follow a leader our configuration knows */
    raft_id vouched;
    raft_term vouched_term;

    /* timers (caller's clock, ms) */
    uint64_t election_start;
    uint64_t election_rand;  /* randomized timeout in [eto, 2*eto) */
    uint64_t leader_contact; /* last AppendEntries/snapshot from the current leader */
    uint64_t heartbeat_last;
    uint64_t quorum_check_last;

    /* candidate */
    raft_id granted[RAFT_SERVERS_MAX];
    unsigned n_granted;

    /* leader */
    struct raft__progress prog[RAFT_SERVERS_MAX];
    unsigned n_prog;
    raft_index term_first_index; /* the barrier this leader appended */
    raft_id transfer_target;
    uint64_t transfer_start;
    uint64_t timeout_now_sent; /* first TIMEOUT_NOW of this term (0 = none) */

    /* the stamp of the message being received, echoed in the results it causes */
    uint64_t rx_stamp;

    /* follower receiving a snapshot */
    raft_index rx_index;
    raft_term rx_term;
    uint64_t rx_offset;
    raft_id rx_leader;        /* the stream's sender and its term identify the blob */
    raft_term rx_leader_term;
    struct raft_configuration rx_conf;

    /* per-step scratch, turned into the update at the end of raft_step */
    struct raft_message *msgs;
    unsigned n_msgs, cap_msgs;
    unsigned flags;
    raft_index dirty_from;
    bool truncated;
    raft_index compact_upto;
    bool install_drop_log;
    raft_index chunk_index;
    raft_term chunk_term;
    uint64_t chunk_offset;
    uint32_t chunk_len;
    const void *chunk_data;
    enum raft_role step_role;
};

/* raft_log.c */
raft_index raft__last_index(const struct raft *r);
raft_term raft__last_term(const struct raft *r);
raft_term raft__term_at(const struct raft *r, raft_index i); /* 0 = unknown */
struct raft_entry *raft__entry(const struct raft *r, raft_index i);
int raft__append(struct raft *r, raft_term term, uint8_t type, const void *buf, uint32_t len);
void raft__truncate(struct raft *r, raft_index from); /* drop entries >= from */
void raft__compact(struct raft *r, raft_index upto);  /* drop entries <= upto */
void raft__log_clear(struct raft *r, raft_index offset, raft_term offset_term);
void raft__log_free(struct raft__log *l);

/* raft_config.c */
int raft__config_recompute(struct raft *r);
bool raft__is_voter(const struct raft_configuration *c, raft_id id);
uint8_t raft__sender_role(const struct raft *r, raft_id id);
unsigned raft__quorum(const struct raft *r);
void raft__progress_rebuild(struct raft *r);
struct raft__progress *raft__progress(struct raft *r, raft_id id);
int raft__change(struct raft *r, raft_id id, uint8_t role);
int raft__config_at(const struct raft *r, raft_index i, struct raft_configuration *out);

/* raft_election.c */
void raft__timer_reset(struct raft *r);
void raft__become_follower(struct raft *r, raft_term term, raft_id leader);
void raft__start_election(struct raft *r, bool pre_vote, bool transfer);
void raft__tick_election(struct raft *r);
void raft__recv_request_vote(struct raft *r, const struct raft_message *m);
void raft__recv_request_vote_result(struct raft *r, const struct raft_message *m);
void raft__recv_timeout_now(struct raft *r, const struct raft_message *m);
void raft__check_quorum(struct raft *r);

/* raft_replication.c */
void raft__become_leader(struct raft *r);
void raft__send_append(struct raft *r, struct raft__progress *p, bool heartbeat);
void raft__broadcast(struct raft *r, bool heartbeat);
void raft__note_ack(struct raft *r, struct raft__progress *p, uint64_t stamp);
void raft__maybe_commit(struct raft *r);
void raft__recv_append(struct raft *r, const struct raft_message *m);
void raft__recv_append_result(struct raft *r, const struct raft_message *m);
void raft__tick_leader(struct raft *r);
int raft__propose(struct raft *r, uint8_t type, const void *buf, uint32_t len);

/* raft_snapshot.c */
void raft__send_snapshot(struct raft *r, struct raft__progress *p);
void raft__recv_snapshot(struct raft *r, const struct raft_message *m);
void raft__recv_snapshot_result(struct raft *r, const struct raft_message *m);
int raft__snapshot_taken(struct raft *r, raft_index index, uint64_t size);

/* raft.c */
struct raft_message *raft__msg(struct raft *r, uint8_t type, raft_id to);
uint64_t raft__rand(struct raft *r);

#endif
