/* raft.c — the handle, loading persisted state, and raft_step: the one entry point.
 *
 * Design. The core is a deterministic function of (persisted state, sequence of
 * events). raft_step resets a per-step scratch area, dispatches the event to the file
 * that owns that part of the algorithm, and then turns the scratch into the update the
 * caller must carry out (see raft.h for the order). Keeping the update as "differences
 * since the last step" rather than as callbacks lets the caller batch and fsync once per
 * step, and lets the simulator crash a server between any two steps: whatever the
 * caller had not yet made durable is simply gone, and the core only ever promised
 * things (votes, acknowledgements) in messages that go out after the durable part.
 *
 * Messages that carry entries refer to the log by index while the step runs and get
 * their pointers at the end, because appending inside the same step may move the log
 * array. The message buffer has a fixed capacity (two per peer plus slack): a step
 * produces at most a reply plus one message per peer, and anything beyond the cap is
 * dropped like a lost packet, which Raft tolerates.
 *
 * Messages from a newer term turn us into a follower of that term first (paper §5.1);
 * messages from an older term are answered (so a stale leader learns it is deposed)
 * or dropped. Vote requests are the exception: they carry their own rules (pre-vote,
 * lease) in raft_election.c.
 *
 * Who may send what. The caller has checked that a message really comes from m->from
 * (drover: a signed envelope from an admitted member); the core then decides whether
 * that server may send it, before the message can touch our term, vote or log. Raft
 * trusts its voters and nobody else (the paper assumes non-Byzantine servers; the set
 * it trusts is the configuration), so:
 *   1. The sender must be in our latest configuration or, while that one is not known
 *      committed (conf_index > commit), in the one before it. The previous one covers
 *      a leader removing itself (it leads until the removal commits, diss. §4.2.2) and
 *      a removal that a new leader may still truncate. Once the change commits, only
 *      the new configuration counts: a removed server is dropped, pre-vote or not.
 *   2. AppendEntries, InstallSnapshot and TimeoutNow come only from a leader, and
 *      only a voter can have won an election: from anybody else they are dropped, and
 *      so are vote answers. Vote requests are the exception rule 1 and this rule must
 *      make (diss. §4.2.3: servers vote without consulting their configuration): a
 *      server that was away may not know that the candidate was promoted, and the
 *      cluster may need its vote (raft_sim long seed 7092 deadlocked without it). So
 *      from a non-voter or non-member a pre-vote request is answered as any (it
 *      changes nothing here), and a real one is processed only if its term is at most
 *      ours + 1; beyond that it is dropped. Outside the lease (a live leader's
 *      followers ignore vote requests) a stranger can thus move our term by one per
 *      election it calls, never far and never past a live leader.
 *   3. A learner's other messages (answers to our AppendEntries/InstallSnapshot) are
 *      accepted unless they carry a term newer than ours: with pre-vote a term only
 *      rises with a majority of voters' consent and a learner only learns terms from
 *      voters, so a newer term from a learner is forged or an echo the voters will
 *      give us themselves. Ignoring a term never endangers safety, only how soon a
 *      stale leader steps down (check-quorum bounds that). Without pre-vote
 *      (raft_opts.pre_vote false; drover never runs so) every timeout raises a
 *      server's own term, and one demoted while it was away can only come back by
 *      deposing the leader with that term, so this rule is off: learners can then
 *      force elections, though never past RAFT_TERM_MAX.
 *   4. Terms are bounded by RAFT_TERM_MAX (raft.h): a message above it is dropped, so
 *      are AppendEntries/InstallSnapshot whose log terms exceed the message's own term
 *      or go backwards (no leader sends those), and a server at the bound refuses to
 *      campaign rather than wrap (raft_election.c).
 *   5. A server with no configuration at all (a host that joined and has not yet
 *      received its first entry or snapshot: agent/raft_drv.c loads it empty) cannot
 *      tell voters from anyone. It accepts AppendEntries and InstallSnapshot (the
 *      leader must be able to reach it) and vote requests (a cluster may have made it
 *      a voter before it caught up and need its vote; its empty log makes granting
 *      harmless), from any sender the caller admitted, and nothing else. The first
 *      configuration it receives ends this, so the window is one round trip after
 *      admission; within it only an admitted member can abuse it, and only for this
 *      server, and never past RAFT_TERM_MAX.
 *   6. Catching up from behind. A server that missed the promotion of today's leader
 *      (it was down while voters were replaced) knows that leader only as a learner,
 *      or not at all, so rule 2 would keep it behind for good. It asks: when it hears
 *      no leader it accepts for an election timeout, it campaigns (a voter) or sends a
 *      pre-vote request that only asks (a learner: it does not act on the answer; a
 *      refusal's newer term is adopted, as any voter's). Every vote answer names the leader the answering
 *      voter follows in the answer's term (hint). A leader so named by a voter of our
 *      configuration is accepted for AppendEntries/InstallSnapshot of exactly that
 *      term, until we follow a leader our own configuration knows. By Election
 *      Safety a term has one leader, so this is the message Raft would have us
 *      accept anyway, and it extends no trust beyond the voters: only a voter can name
 *      a leader, and a voter could lead us itself. (Any newer term from the named
 *      server is refused: it may have been demoted since.)
 * Every refusal is counted by reason in raft_stats (accepted_vouched counts rule 6).
 * What is left: a server none of whose known voters is still reachable (all replaced
 * while it was away) cannot be caught up and must be re-joined (docs/consensus.md).
 */
#include <stdlib.h>
#include <string.h>

#include "raft_internal.h"

/* Defaults, each with its reason:
 *  - election 1000 ms, heartbeat 100 ms: etcd's defaults, a 10:1 ratio tolerates a
 *    few lost heartbeats and scheduling stalls on a loaded 2-core box; drover's own
 *    failover target (<= 1 s) is met by the agent choosing a smaller election timeout.
 *  - 64 entries / 1 MiB per AppendEntries: amortizes per-message cost without making
 *    one message a head-of-line blocker.
 *  - 8 in flight: enough to fill a LAN round trip at our entry rates.
 *  - 1024 uncommitted: bounds leader memory when followers stall.
 *  - snapshot every 4096 entries, keep 512: LMDB state is small, copies are cheap.
 *  - 256 KiB chunks: well under ZeroMQ's and our envelope's message limits. */
void raft_opts_default(struct raft_opts *o, raft_id id, uint64_t seed)
{
    *o = (struct raft_opts){
        .id = id,
        .seed = seed,
        .election_timeout_ms = 1000,
        .heartbeat_ms = 100,
        .batch_entries_max = 64,
        .batch_bytes_max = 1u << 20,
        .inflight_max = 8,
        .uncommitted_max = 1024,
        .snapshot_threshold = 4096,
        .snapshot_trailing = 512,
        .snapshot_chunk_bytes = 256u << 10,
        .pre_vote = true,
        .check_quorum = true,
    };
}

const char *raft_strerror(int err)
{
    switch (err) {
    case RAFT_OK: return "ok";
    case RAFT_EINVAL: return "invalid argument";
    case RAFT_ENOMEM: return "out of memory";
    case RAFT_ENOTLEADER: return "not the leader";
    case RAFT_EBUSY: return "too many uncommitted entries or transfer in progress";
    case RAFT_ECHANGE: return "a configuration change is in progress";
    case RAFT_ETOOBIG: return "configuration too large";
    case RAFT_ENOTFOUND: return "no such server";
    case RAFT_ECORRUPT: return "corrupt state or configuration";
    default: return "unknown error";
    }
}

const char *raft_role_name(enum raft_role role)
{
    switch (role) {
    case RAFT_FOLLOWER: return "follower";
    case RAFT_PRE_CANDIDATE: return "pre-candidate";
    case RAFT_CANDIDATE: return "candidate";
    case RAFT_LEADER: return "leader";
    }
    return "?";
}

/* splitmix64: tiny, full-period, good enough to spread election timeouts */
uint64_t raft__rand(struct raft *r)
{
    uint64_t z = (r->prng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

struct raft *raft_new(const struct raft_opts *o)
{
    if (!o || o->id == 0 || o->election_timeout_ms == 0 ||
        o->heartbeat_ms >= o->election_timeout_ms || o->batch_entries_max == 0 ||
        o->inflight_max == 0 || o->uncommitted_max == 0 || o->snapshot_chunk_bytes == 0)
        return NULL;
    struct raft *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->o = *o;
    r->prng = o->seed ^ (o->id * 0x2545f4914f6cdd1dull);
    r->cap_msgs = 2 * RAFT_SERVERS_MAX + 8;
    r->msgs = calloc(r->cap_msgs, sizeof(*r->msgs));
    if (!r->msgs) {
        free(r);
        return NULL;
    }
    return r;
}

void raft_free(struct raft *r)
{
    if (!r)
        return;
    raft__log_free(&r->log);
    free(r->msgs);
    free(r);
}

int raft_load(struct raft *r, raft_term term, raft_id vote, const struct raft_snapshot_meta *snap,
              raft_index first_index, const struct raft_entry *entries, unsigned n)
{
    if (r->loaded)
        return RAFT_EINVAL;
    if (snap)
        r->snap = *snap;
    raft_index base = r->snap.index;
    if (n > 0 && (first_index == 0 || first_index > base + 1))
        return RAFT_EINVAL;
    raft__log_clear(r, base, r->snap.term);
    for (unsigned i = 0; i < n; i++) {
        raft_index idx = first_index + i;
        if (idx <= base)
            continue;
        int rv = raft__append(r, entries[i].term, entries[i].type, entries[i].buf, entries[i].len);
        if (rv != 0) {
            raft__log_clear(r, base, r->snap.term);
            return rv;
        }
    }
    int rv = raft__config_recompute(r);
    if (rv != 0) {
        raft__log_clear(r, base, r->snap.term);
        return rv;
    }
    r->term = term;
    r->vote = vote;
    r->commit = r->applied = base;
    r->durable = raft__last_index(r);
    r->role = RAFT_FOLLOWER;
    r->loaded = true;
    r->dirty_from = 0;
    r->truncated = false;
    return 0;
}

void raft_bootstrap_entry(const struct raft_configuration *conf, uint8_t *buf, struct raft_entry *out)
{
    size_t len = raft_config_encode(conf, buf);
    *out = (struct raft_entry){.term = 1, .type = RAFT_ENTRY_CONFIG, .len = (uint32_t)len, .buf = buf};
}

struct raft_message *raft__msg(struct raft *r, uint8_t type, raft_id to)
{
    if (r->n_msgs == r->cap_msgs)
        return NULL;
    struct raft_message *m = &r->msgs[r->n_msgs++];
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->from = r->o.id;
    m->to = to;
    bool result = type == RAFT_MSG_APPEND_ENTRIES_RESULT || type == RAFT_MSG_INSTALL_SNAPSHOT_RESULT ||
                  type == RAFT_MSG_REQUEST_VOTE_RESULT;
    m->stamp = result ? r->rx_stamp : r->now;
    if (type == RAFT_MSG_TIMEOUT_NOW && !r->timeout_now_sent)
        r->timeout_now_sent = r->now ? r->now : 1;
    return m;
}

/* Log terms in an AppendEntries/InstallSnapshot: the previous entry's, then the
 * entries', never decreasing and never above the leader's own term (a leader appends
 * only in its term, and its log holds terms up to it). */
static bool log_terms_sane(const struct raft_message *m)
{
    raft_term t = m->log_term;
    if (t > m->term)
        return false;
    if (m->type != RAFT_MSG_APPEND_ENTRIES)
        return true;
    for (uint32_t i = 0; i < m->n_entries; i++) {
        if (m->entries[i].term < t || m->entries[i].term > m->term)
            return false;
        t = m->entries[i].term;
    }
    return true;
}

/* The rules in this file's header: true when m may be processed, else counted. */
static bool admit(struct raft *r, const struct raft_message *m)
{
    if (m->from == 0 || m->from == r->o.id || m->to != r->o.id) {
        r->stats.dropped_misaddressed++;
        return false;
    }
    if (m->term > RAFT_TERM_MAX) {
        r->stats.dropped_term_bound++;
        return false;
    }
    bool from_leader = m->type == RAFT_MSG_APPEND_ENTRIES ||
                       m->type == RAFT_MSG_INSTALL_SNAPSHOT || m->type == RAFT_MSG_TIMEOUT_NOW;
    bool voting = m->type == RAFT_MSG_REQUEST_VOTE || m->type == RAFT_MSG_REQUEST_VOTE_RESULT;
    uint8_t role;
    if (r->conf.n == 0) {
        /* rule 5: no configuration yet */
        if (m->type != RAFT_MSG_APPEND_ENTRIES && m->type != RAFT_MSG_INSTALL_SNAPSHOT &&
            m->type != RAFT_MSG_REQUEST_VOTE) {
            r->stats.dropped_not_member++;
            return false;
        }
        role = RAFT_VOTER;
    } else {
        role = raft__sender_role(r, m->from);
    }
    bool replicate = m->type == RAFT_MSG_APPEND_ENTRIES || m->type == RAFT_MSG_INSTALL_SNAPSHOT;
    bool vouched = false;
    if (role != RAFT_VOTER && replicate && m->from == r->vouched && m->term == r->vouched_term) {
        role = RAFT_VOTER; /* rule 6 */
        vouched = true;
    }
    if (m->type == RAFT_MSG_REQUEST_VOTE && role != RAFT_VOTER) {
        /* rule 2: a pre-vote changes nothing here; a real one at most one term up */
        if (m->pre_vote || m->term <= r->term + 1)
            return true;
        if (role == 0)
            r->stats.dropped_not_member++;
        else
            r->stats.dropped_not_voter++;
        return false;
    }
    if (role == 0) {
        r->stats.dropped_not_member++;
        return false;
    }
    bool newer = m->term > r->term && r->o.pre_vote; /* rule 3 */
    if (role != RAFT_VOTER && (from_leader || voting || newer)) {
        r->stats.dropped_not_voter++;
        return false;
    }
    if (replicate && !log_terms_sane(m)) {
        r->stats.dropped_bad_term++;
        return false;
    }
    if (vouched)
        r->stats.accepted_vouched++;
    else if (replicate)
        r->vouched = 0; /* following a leader our configuration knows: no longer behind */
    return true;
}

static void receive(struct raft *r, const struct raft_message *m)
{
    if (!admit(r, m))
        return;
    r->rx_stamp = m->stamp;
    if (m->type == RAFT_MSG_REQUEST_VOTE) {
        raft__recv_request_vote(r, m);
        return;
    }
    if (m->type == RAFT_MSG_REQUEST_VOTE_RESULT) {
        raft__recv_request_vote_result(r, m);
        return;
    }
    bool from_leader = m->type == RAFT_MSG_APPEND_ENTRIES ||
                       m->type == RAFT_MSG_INSTALL_SNAPSHOT || m->type == RAFT_MSG_TIMEOUT_NOW;
    if (m->term < r->term) {
        if (from_leader && m->type != RAFT_MSG_TIMEOUT_NOW) {
            /* tell the stale leader about the newer term (paper §5.1) */
            struct raft_message *out = raft__msg(r, RAFT_MSG_APPEND_ENTRIES_RESULT, m->from);
            if (out) {
                out->term = r->term;
                out->reject = true;
                out->index = m->index;
                out->hint = raft__last_index(r);
            }
        }
        return;
    }
    if (m->term > r->term)
        raft__become_follower(r, m->term, from_leader ? m->from : 0);
    if (from_leader && m->type != RAFT_MSG_TIMEOUT_NOW) {
        if (r->role == RAFT_LEADER) {
            r->anomalies++; /* two leaders in one term: Election Safety broken */
            return;
        }
        if (r->role != RAFT_FOLLOWER || r->leader != m->from)
            raft__become_follower(r, m->term, m->from);
        r->leader_contact = r->now;
        raft__timer_reset(r);
    }
    switch (m->type) {
    case RAFT_MSG_APPEND_ENTRIES: raft__recv_append(r, m); break;
    case RAFT_MSG_APPEND_ENTRIES_RESULT: raft__recv_append_result(r, m); break;
    case RAFT_MSG_INSTALL_SNAPSHOT: raft__recv_snapshot(r, m); break;
    case RAFT_MSG_INSTALL_SNAPSHOT_RESULT: raft__recv_snapshot_result(r, m); break;
    case RAFT_MSG_TIMEOUT_NOW: raft__recv_timeout_now(r, m); break;
    default: break;
    }
}

static int transfer(struct raft *r, raft_id target)
{
    if (r->role != RAFT_LEADER)
        return RAFT_ENOTLEADER;
    struct raft__progress *p = raft__progress(r, target);
    if (!p || !raft__is_voter(&r->conf, target))
        return RAFT_ENOTFOUND;
    r->transfer_target = target;
    r->transfer_start = r->now;
    /* if it is already caught up this sends TIMEOUT_NOW now; else after its next ack */
    if (p->match == raft__last_index(r)) {
        struct raft_message *m = raft__msg(r, RAFT_MSG_TIMEOUT_NOW, target);
        if (m) {
            m->term = r->term;
            m->index = raft__last_index(r);
            m->log_term = raft__last_term(r);
        }
    } else {
        raft__send_append(r, p, true);
    }
    return 0;
}

static void finish(struct raft *r, struct raft_update *up)
{
    /* a leader removed from the configuration serves until the change commits, then
     * steps down (diss. §4.2.2) */
    if (r->role == RAFT_LEADER && r->conf_index <= r->commit &&
        !raft__is_voter(&r->conf, r->o.id))
        raft__become_follower(r, r->term, 0);

    up->flags = r->flags;
    up->term = r->term;
    up->vote = r->vote;
    up->role = r->role;
    up->leader = r->leader;
    if (r->flags & RAFT_UPD_SNAPSHOT_CHUNK) {
        up->chunk.index = r->chunk_index;
        up->chunk.term = r->chunk_term;
        up->chunk.offset = r->chunk_offset;
        up->chunk.len = r->chunk_len;
        up->chunk.data = r->chunk_data;
    }
    if (r->flags & RAFT_UPD_SNAPSHOT_INSTALL) {
        up->install.index = r->snap.index;
        up->install.term = r->snap.term;
        up->install.drop_log = r->install_drop_log;
        up->install.config = &r->snap.config;
    }
    raft_index last = raft__last_index(r);
    if (r->dirty_from) {
        if (r->truncated) {
            up->flags |= RAFT_UPD_LOG_TRUNCATE;
            up->truncate_from = r->dirty_from;
        }
        if (r->dirty_from <= last && r->dirty_from > r->log.offset) {
            up->append_first = r->dirty_from;
            up->n_append = (unsigned)(last - r->dirty_from + 1);
            up->append = raft__entry(r, r->dirty_from);
        }
    }
    if (r->commit > last) {
        r->anomalies++;
        r->commit = last;
    }
    if (r->commit > r->applied) {
        up->apply_first = r->applied + 1;
        up->n_apply = (unsigned)(r->commit - r->applied);
        up->apply = raft__entry(r, r->applied + 1);
        r->applied = r->commit;
    }
    if (r->o.snapshot_threshold && r->applied - r->snap.index >= r->o.snapshot_threshold) {
        up->flags |= RAFT_UPD_SNAPSHOT_TAKE;
        up->snapshot_take_index = r->applied;
    }
    up->compact_upto = r->compact_upto;
    for (unsigned i = 0; i < r->n_msgs; i++) {
        struct raft_message *m = &r->msgs[i];
        if (m->type != RAFT_MSG_APPEND_ENTRIES || m->n_entries == 0)
            continue;
        if (m->index + m->n_entries > last || m->index < r->log.offset) {
            m->n_entries = 0; /* log moved under it; degrade to a heartbeat */
            if (m->index < r->log.offset || m->index > last)
                m->type = 0;
            continue;
        }
        m->entries = raft__entry(r, m->index + 1);
    }
    /* compact away dropped messages */
    unsigned k = 0;
    for (unsigned i = 0; i < r->n_msgs; i++)
        if (r->msgs[i].type != 0)
            r->msgs[k++] = r->msgs[i];
    r->n_msgs = k;
    up->msgs = r->msgs;
    up->n_msgs = r->n_msgs;
}

int raft_step(struct raft *r, const struct raft_event *ev, struct raft_update *up)
{
    memset(up, 0, sizeof(*up));
    if (!r->loaded || !ev)
        return RAFT_EINVAL;
    if (ev->now_ms > r->now || !r->started)
        r->now = ev->now_ms; /* tolerate a caller clock that steps back: never rewind */
    if (!r->started) {
        /* timers count from the first event, the first moment we know the time */
        r->started = true;
        raft__timer_reset(r);
        r->leader_contact = r->now;
    }
    r->n_msgs = 0;
    r->flags = 0;
    r->dirty_from = 0;
    r->truncated = false;
    r->compact_upto = 0;
    int rv = 0;
    switch (ev->type) {
    case RAFT_EV_TICK:
        if (r->role == RAFT_LEADER)
            raft__tick_leader(r);
        else
            raft__tick_election(r);
        break;
    case RAFT_EV_RECEIVE:
        receive(r, &ev->receive);
        r->rx_stamp = 0;   /* results are made only while receiving */
        break;
    case RAFT_EV_PROPOSE:
        rv = raft__propose(r, RAFT_ENTRY_COMMAND, ev->propose.buf, ev->propose.len);
        if (rv == 0) {
            up->proposed_index = raft__last_index(r);
            up->proposed_term = r->term;
        }
        break;
    case RAFT_EV_PERSISTED:
        if (ev->persisted.index > r->durable &&
            raft__term_at(r, ev->persisted.index) == ev->persisted.term &&
            ev->persisted.index <= raft__last_index(r)) {
            r->durable = ev->persisted.index;
            raft__maybe_commit(r);
        }
        break;
    case RAFT_EV_SNAPSHOT_TAKEN:
        rv = raft__snapshot_taken(r, ev->snapshot_taken.index, ev->snapshot_taken.size);
        break;
    case RAFT_EV_CHANGE:
        rv = raft__change(r, ev->change.id, ev->change.role);
        if (rv == 0) {
            up->proposed_index = raft__last_index(r);
            up->proposed_term = r->term;
        }
        break;
    case RAFT_EV_TRANSFER:
        rv = transfer(r, ev->transfer.target);
        break;
    default:
        rv = RAFT_EINVAL;
    }
    raft_index pi = up->proposed_index;
    raft_term pt = up->proposed_term;
    finish(r, up);
    up->proposed_index = pi;
    up->proposed_term = pt;
    return rv;
}

raft_id raft_id_of(const struct raft *r) { return r->o.id; }
enum raft_role raft_role_of(const struct raft *r) { return r->role; }
raft_term raft_term_of(const struct raft *r) { return r->term; }
raft_id raft_leader_of(const struct raft *r) { return r->leader; }
raft_index raft_commit_of(const struct raft *r) { return r->commit; }
raft_index raft_applied_of(const struct raft *r) { return r->applied; }
raft_index raft_last_index(const struct raft *r) { return raft__last_index(r); }
raft_index raft_snapshot_index(const struct raft *r) { return r->snap.index; }
raft_term raft_term_at(const struct raft *r, raft_index i) { return raft__term_at(r, i); }
const struct raft_entry *raft_entry_at(const struct raft *r, raft_index i) { return raft__entry(r, i); }
const struct raft_configuration *raft_config_of(const struct raft *r) { return &r->conf; }
uint64_t raft_anomalies(const struct raft *r) { return r->anomalies; }
const struct raft_stats *raft_stats_of(const struct raft *r) { return &r->stats; }
const struct raft_snapshot_meta *raft_snapshot_of(const struct raft *r) { return &r->snap; }

uint64_t raft_quorum_contact_ms(const struct raft *r)
{
    if (r->role != RAFT_LEADER)
        return r->leader ? r->leader_contact : 0;
    /* the newest time by which a majority of voters had answered: sort the voters'
     * last answers (ourselves: now) descending and take the quorum-th */
    uint64_t t[RAFT_SERVERS_MAX];
    unsigned n = 0;
    if (raft__is_voter(&r->conf, r->o.id))
        t[n++] = r->now;
    for (unsigned i = 0; i < r->n_prog; i++)
        if (raft__is_voter(&r->conf, r->prog[i].id))
            t[n++] = r->prog[i].last_ack_ms;
    unsigned q = raft__quorum(r);
    if (n < q)
        return 0;
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && t[j] > t[j - 1]; j--) {
            uint64_t x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    return t[q - 1];
}

uint64_t raft_vouch_limit_ms(const struct raft *r)
{
    if (r->role != RAFT_LEADER)
        return 0;
    return r->timeout_now_sent ? r->timeout_now_sent : UINT64_MAX;
}

/* A follower's answer proves contact as of the send time it echoes (capped at now:
 * a stamp from the future is not believed); without one, as of its arrival. */
void raft__note_ack(struct raft *r, struct raft__progress *p, uint64_t stamp)
{
    uint64_t t = stamp && stamp <= r->now ? stamp : r->now;
    if (t > p->last_ack_ms)
        p->last_ack_ms = t;
}

raft_index raft_match_of(const struct raft *r, raft_id id)
{
    if (r->role != RAFT_LEADER)
        return 0;
    if (id == r->o.id)
        return r->durable;
    for (unsigned i = 0; i < r->n_prog; i++)
        if (r->prog[i].id == id)
            return r->prog[i].match;
    return 0;
}
