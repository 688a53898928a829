/* raft_replication.c — log replication (paper §5.3), commitment (paper §5.4.2) and the
 * leader's per-follower flow control.
 *
 * A new leader appends a barrier entry in its own term (paper §8): entries from older
 * terms can only be committed indirectly, by committing a newer entry of the current
 * term after them (paper §5.4.2, Figure 8), so without the barrier an idle leader could
 * never learn what is committed.
 *
 * Flow control follows the dissertation's advice to batch and pipeline (diss. §10.2.1):
 * each follower is in PROBE (one AppendEntries at a time until we know where its log
 * matches ours), PIPELINE (send batches of up to batch_entries_max / batch_bytes_max
 * optimistically, advancing nextIndex at send time, at most inflight_max unanswered), or
 * SNAPSHOT (its next entry was compacted; stream the snapshot). Any rejection or a
 * heartbeat period without an answer drops a pipelined follower back to PROBE at
 * matchIndex+1, so loss or reordering only costs a resend, never correctness: the
 * follower's consistency check (prevLogIndex/prevLogTerm) is what keeps logs matching.
 *
 * The leader counts itself towards a commit quorum only up to `durable`, the index the
 * caller confirmed on disk (RAFT_EV_PERSISTED), so its own write can overlap sending.
 */
#include "raft_internal.h"

void raft__become_leader(struct raft *r)
{
    r->flags |= RAFT_UPD_ROLE;
    r->role = RAFT_LEADER;
    r->leader = r->o.id;
    r->transfer_target = 0;
    r->timeout_now_sent = 0;
    r->n_prog = 0;
    raft__progress_rebuild(r);
    r->heartbeat_last = r->now;
    r->quorum_check_last = r->now;
    if (raft__append(r, r->term, RAFT_ENTRY_BARRIER, NULL, 0) != 0) {
        /* without the barrier we cannot commit; step down and let someone else try */
        raft__become_follower(r, r->term, 0);
        return;
    }
    r->term_first_index = raft__last_index(r);
    raft__broadcast(r, false);
}

void raft__send_append(struct raft *r, struct raft__progress *p, bool heartbeat)
{
    if (p->mode == RAFT__SNAPSHOT) {
        raft__send_snapshot(r, p);
        return;
    }
    raft_index prev = p->next - 1;
    if (prev < r->log.offset) {
        p->mode = RAFT__SNAPSHOT;
        p->snap_index = r->snap.index;
        p->snap_offset = 0;
        p->inflight = 0;
        raft__send_snapshot(r, p);
        return;
    }
    raft_index last = raft__last_index(r);
    uint32_t n = 0;
    uint64_t bytes = 0;
    while (prev + n < last && n < r->o.batch_entries_max) {
        const struct raft_entry *e = raft__entry(r, prev + n + 1);
        if (n > 0 && bytes + e->len > r->o.batch_bytes_max)
            break;
        bytes += e->len;
        n++;
    }
    if (n == 0 && !heartbeat)
        return;
    if (p->mode == RAFT__PIPELINE && n > 0 && p->inflight >= r->o.inflight_max && !heartbeat)
        return;
    if (p->mode == RAFT__PROBE && p->probe_wait && !heartbeat)
        return;
    struct raft_message *m = raft__msg(r, RAFT_MSG_APPEND_ENTRIES, p->id);
    if (!m)
        return;
    m->term = r->term;
    m->index = prev;
    m->log_term = raft__term_at(r, prev);
    m->commit = r->commit;
    m->n_entries = n; /* entries pointer resolved when the update is built */
    raft_index learned = r->commit < prev + n ? r->commit : prev + n;
    if (learned > p->commit_sent)
        p->commit_sent = learned;
    if (p->mode == RAFT__PIPELINE && n > 0) {
        p->next += n;
        p->inflight++;
    } else if (p->mode == RAFT__PROBE) {
        p->probe_wait = true;
    }
}

void raft__broadcast(struct raft *r, bool heartbeat)
{
    for (unsigned i = 0; i < r->n_prog; i++)
        raft__send_append(r, &r->prog[i], heartbeat);
}

/* Tell an idle follower about a new commit index now instead of at the next
 * heartbeat, so followers apply (and answer forwarded requests) one round trip after
 * the leader, not one heartbeat period. The message is a heartbeat anchored at the
 * follower's confirmed match index, so it cannot be rejected by a pipelined follower
 * that has not yet received everything in flight. */
static void notify_commit(struct raft *r, struct raft__progress *p)
{
    raft_index learned = r->commit < p->match ? r->commit : p->match;
    if (p->mode == RAFT__SNAPSHOT || learned <= p->commit_sent || p->match < r->log.offset)
        return;
    struct raft_message *m = raft__msg(r, RAFT_MSG_APPEND_ENTRIES, p->id);
    if (!m)
        return;
    m->term = r->term;
    m->index = p->match;
    m->log_term = raft__term_at(r, p->match);
    m->commit = r->commit;
    p->commit_sent = learned;
}

void raft__maybe_commit(struct raft *r)
{
    if (r->role != RAFT_LEADER)
        return;
    raft_index m[RAFT_SERVERS_MAX];
    unsigned n = 0;
    if (raft__is_voter(&r->conf, r->o.id))
        m[n++] = r->durable;
    for (unsigned i = 0; i < r->n_prog; i++)
        if (raft__is_voter(&r->conf, r->prog[i].id))
            m[n++] = r->prog[i].match;
    if (n == 0)
        return;
    /* insertion sort, descending: n <= RAFT_SERVERS_MAX and usually 3 or 5 */
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && m[j] > m[j - 1]; j--) {
            raft_index t = m[j];
            m[j] = m[j - 1];
            m[j - 1] = t;
        }
    raft_index q = m[raft__quorum(r) - 1];
    /* paper §5.4.2: only an entry of the current term is committed by counting */
    if (q > r->commit && raft__term_at(r, q) == r->term) {
        r->commit = q;
        for (unsigned i = 0; i < r->n_prog; i++) {
            struct raft__progress *p = &r->prog[i];
            if (p->next <= raft__last_index(r))
                raft__send_append(r, p, false); /* the commit rides on new entries */
            else
                notify_commit(r, p);
        }
    }
}

static void reply_append(struct raft *r, raft_id to, bool reject, raft_index index, raft_index hint)
{
    struct raft_message *m = raft__msg(r, RAFT_MSG_APPEND_ENTRIES_RESULT, to);
    if (!m)
        return;
    m->term = r->term;
    m->reject = reject;
    m->index = index;
    m->hint = hint;
}

/* Called with m->term == r->term and us a follower of m->from. */
void raft__recv_append(struct raft *r, const struct raft_message *m)
{
    raft_index prev = m->index;
    raft_term prev_term = m->log_term;
    uint32_t skip = 0;
    /* Entries at or below our compaction point are committed, hence identical to the
     * leader's (Leader Completeness); start the comparison at the compaction point. */
    if (prev < r->log.offset) {
        skip = (uint32_t)((r->log.offset - prev) < m->n_entries ? r->log.offset - prev
                                                                 : m->n_entries);
        if (prev + skip < r->log.offset) {
            reply_append(r, m->from, false, prev + m->n_entries, 0);
            return;
        }
        prev = r->log.offset;
        prev_term = r->log.offset_term;
        if (skip > 0 && m->entries[skip - 1].term != prev_term) {
            r->anomalies++;
            reply_append(r, m->from, true, m->index, r->commit);
            return;
        }
    }
    if (prev > raft__last_index(r) || raft__term_at(r, prev) != prev_term) {
        raft_index last = raft__last_index(r);
        reply_append(r, m->from, true, m->index, last < prev ? last : prev - 1);
        return;
    }
    bool conf_touched = false;
    for (uint32_t i = skip; i < m->n_entries; i++) {
        raft_index idx = m->index + 1 + i;
        const struct raft_entry *e = &m->entries[i];
        if (idx <= raft__last_index(r)) {
            if (raft__term_at(r, idx) == e->term)
                continue;
            if (idx <= r->commit) {
                /* Log Matching says this cannot happen; refuse rather than lose a
                 * committed entry. */
                r->anomalies++;
                reply_append(r, m->from, true, m->index, r->commit);
                return;
            }
            if (idx <= r->conf_index)
                conf_touched = true;
            raft__truncate(r, idx); /* paper §5.3: delete the conflict and all after */
        }
        if (raft__append(r, e->term, e->type, e->buf, e->len) != 0)
            break; /* OOM: acknowledge what we have; the leader resends the rest */
        if (e->type == RAFT_ENTRY_CONFIG)
            conf_touched = true;
    }
    if (conf_touched)
        raft__config_recompute(r);
    raft_index last_new = m->index + m->n_entries;
    if (last_new > raft__last_index(r))
        last_new = raft__last_index(r);
    /* paper Figure 2: commitIndex = min(leaderCommit, index of last new entry) */
    raft_index c = m->commit < last_new ? m->commit : last_new;
    if (c > r->commit)
        r->commit = c;
    reply_append(r, m->from, false, last_new, 0);
}

static void maybe_transfer(struct raft *r, struct raft__progress *p)
{
    if (r->transfer_target != p->id || p->match != raft__last_index(r))
        return;
    struct raft_message *m = raft__msg(r, RAFT_MSG_TIMEOUT_NOW, p->id);
    if (!m)
        return;
    m->term = r->term;
    m->index = raft__last_index(r);
    m->log_term = raft__last_term(r);
}

void raft__recv_append_result(struct raft *r, const struct raft_message *m)
{
    if (r->role != RAFT_LEADER)
        return;
    struct raft__progress *p = raft__progress(r, m->from);
    if (!p)
        return;
    p->recent_active = true;
    p->acked = true;
    raft__note_ack(r, p, m->stamp);
    if (p->mode == RAFT__SNAPSHOT)
        return; /* a late answer from before the snapshot; the snapshot reply decides */
    if (m->reject) {
        if (m->index <= p->match)
            return; /* stale rejection of something already matched */
        raft_index next = m->index;
        if (m->hint + 1 < next)
            next = m->hint + 1;
        if (next <= p->match)
            next = p->match + 1;
        p->next = next;
        p->mode = RAFT__PROBE;
        p->probe_wait = false;
        p->inflight = 0;
        raft__send_append(r, p, true);
        return;
    }
    if (m->index > raft__last_index(r)) {
        r->anomalies++; /* acknowledges entries we never had */
        return;
    }
    if (p->inflight)
        p->inflight--;
    if (m->index > p->match)
        p->match = m->index;
    if (p->next <= p->match)
        p->next = p->match + 1;
    if (p->mode == RAFT__PROBE) {
        p->mode = RAFT__PIPELINE;
        p->probe_wait = false;
        p->inflight = 0;
    }
    raft__maybe_commit(r);
    maybe_transfer(r, p);
    raft__send_append(r, p, false);
    /* A follower whose acknowledgement came after the quorum's was not told about the
     * commit it helped nothing with: tell it now, or it learns at the next heartbeat
     * and a request forwarded through it waits that long (measured: p99 = heartbeat). */
    if (p->next > raft__last_index(r))
        notify_commit(r, p);
}

void raft__tick_leader(struct raft *r)
{
    raft__check_quorum(r);
    if (r->role != RAFT_LEADER)
        return;
    if (r->now - r->heartbeat_last < r->o.heartbeat_ms)
        return;
    r->heartbeat_last = r->now;
    for (unsigned i = 0; i < r->n_prog; i++) {
        struct raft__progress *p = &r->prog[i];
        if (p->mode == RAFT__PIPELINE && p->next > p->match + 1 && !p->acked) {
            /* nothing came back for a whole period: assume loss, re-probe */
            p->mode = RAFT__PROBE;
            p->next = p->match + 1;
            p->inflight = 0;
        }
        p->acked = false;
        p->probe_wait = false;
        raft__send_append(r, p, true);
    }
}

int raft__propose(struct raft *r, uint8_t type, const void *buf, uint32_t len)
{
    if (r->role != RAFT_LEADER)
        return RAFT_ENOTLEADER;
    if (r->transfer_target)
        return RAFT_EBUSY;
    if (raft__last_index(r) - r->commit >= r->o.uncommitted_max)
        return RAFT_EBUSY;
    int rv = raft__append(r, r->term, type, buf, len);
    if (rv != 0)
        return rv;
    if (type == RAFT_ENTRY_CONFIG)
        raft__config_recompute(r);
    raft__broadcast(r, false);
    return 0;
}
