/* raft_snapshot.c — snapshots: taking them, streaming them, installing them (paper §7).
 *
 * The snapshot itself is an opaque blob the caller owns (drover: an LMDB copy); the core
 * only tracks its metadata (last included index and term, the configuration as of that
 * index, diss. §5.1, and its size). Sending is chunked: the leader emits
 * InstallSnapshot messages with offset/len and no data, and the caller reads the bytes
 * from its stored snapshot just before sending. One chunk is outstanding per follower;
 * the follower answers with the next offset it wants, so a lost or duplicated chunk
 * costs one resend on the next heartbeat and chunks from a superseded snapshot are
 * answered with "start over at 0". Only an answer that advances the offset triggers
 * the next chunk, so duplicated messages cannot multiply into a chunk storm.
 *
 * A follower writes each accepted chunk through the update into a staging area and, on
 * the last chunk, installs: if its log already holds the snapshot's last entry with the
 * same term, the entries after it are kept (paper §7: "retain log entries following
 * it"); otherwise the whole log is discarded. Installing moves commit and applied to
 * the snapshot index, since a snapshot only ever contains committed state.
 */
#include "raft_internal.h"

void raft__send_snapshot(struct raft *r, struct raft__progress *p)
{
    if (p->snap_index != r->snap.index) {
        /* we took a newer snapshot since streaming started: restart with it */
        p->snap_index = r->snap.index;
        p->snap_offset = 0;
    }
    if (r->snap.index == 0) {
        r->anomalies++; /* compacted log without a snapshot cannot happen */
        return;
    }
    struct raft_message *m = raft__msg(r, RAFT_MSG_INSTALL_SNAPSHOT, p->id);
    if (!m)
        return;
    uint64_t off = p->snap_offset > r->snap.size ? r->snap.size : p->snap_offset;
    uint64_t left = r->snap.size - off;
    uint32_t len = left < r->o.snapshot_chunk_bytes ? (uint32_t)left : r->o.snapshot_chunk_bytes;
    m->term = r->term;
    m->index = r->snap.index;
    m->log_term = r->snap.term;
    m->config = &r->snap.config;
    m->snapshot.offset = off;
    m->snapshot.size = r->snap.size;
    m->snapshot.len = len;
    m->snapshot.done = off + len == r->snap.size;
}

static void reply_snapshot(struct raft *r, const struct raft_message *m, uint64_t offset, bool done)
{
    struct raft_message *out = raft__msg(r, RAFT_MSG_INSTALL_SNAPSHOT_RESULT, m->from);
    if (!out)
        return;
    out->term = r->term;
    out->index = m->index;
    out->snapshot.offset = offset;
    out->snapshot.done = done;
}

/* Called with m->term == r->term and us a follower of m->from. */
void raft__recv_snapshot(struct raft *r, const struct raft_message *m)
{
    if (m->index <= r->commit) {
        /* we already hold everything it covers, and our log matches up to commit */
        reply_snapshot(r, m, m->snapshot.size, true);
        return;
    }
    if (!m->config || (m->snapshot.len != 0 && !m->snapshot.data) ||
        m->snapshot.offset + m->snapshot.len > m->snapshot.size) {
        r->anomalies++;
        return;
    }
    /* A stream is one leader's one blob: (index, term) alone is not enough, since two
     * servers' snapshots of the same state need not be byte-identical. A chunk at
     * offset 0 of the stream in progress is a stale duplicate, not a restart. */
    bool same = r->rx_index == m->index && r->rx_term == m->log_term &&
                r->rx_leader == m->from && r->rx_leader_term == m->term;
    if (m->snapshot.offset == 0 && (!same || r->rx_offset == 0)) {
        r->rx_index = m->index;
        r->rx_term = m->log_term;
        r->rx_leader = m->from;
        r->rx_leader_term = m->term;
        r->rx_offset = 0;
        same = true;
    }
    if (!same || r->rx_offset != m->snapshot.offset) {
        reply_snapshot(r, m, same ? r->rx_offset : 0, false);
        return;
    }
    r->flags |= RAFT_UPD_SNAPSHOT_CHUNK;
    r->chunk_index = m->index;
    r->chunk_term = m->log_term;
    r->chunk_offset = m->snapshot.offset;
    r->chunk_len = m->snapshot.len;
    r->chunk_data = m->snapshot.data;
    r->rx_offset += m->snapshot.len;
    if (!m->snapshot.done) {
        reply_snapshot(r, m, r->rx_offset, false);
        return;
    }
    bool keep = raft__term_at(r, m->index) == m->log_term && m->index <= raft__last_index(r);
    r->flags |= RAFT_UPD_SNAPSHOT_INSTALL;
    r->install_drop_log = !keep;
    r->snap.index = m->index;
    r->snap.term = m->log_term;
    r->snap.size = m->snapshot.size;
    r->snap.config = *m->config;
    if (keep) {
        raft__compact(r, m->index);
    } else {
        raft__log_clear(r, m->index, m->log_term);
        r->durable = m->index;
    }
    if (r->durable < m->index)
        r->durable = m->index;
    r->commit = m->index;
    r->applied = m->index;
    r->rx_index = 0;
    r->rx_offset = 0;
    raft__config_recompute(r);
    reply_snapshot(r, m, m->snapshot.size, true);
}

void raft__recv_snapshot_result(struct raft *r, const struct raft_message *m)
{
    if (r->role != RAFT_LEADER)
        return;
    struct raft__progress *p = raft__progress(r, m->from);
    if (!p)
        return;
    p->recent_active = true;
    p->acked = true;
    raft__note_ack(r, p, m->stamp);
    if (m->snapshot.done) {
        if (m->index > raft__last_index(r)) {
            r->anomalies++;
            return;
        }
        if (m->index > p->match)
            p->match = m->index;
        if (p->mode == RAFT__SNAPSHOT) {
            p->mode = RAFT__PROBE;
            p->next = p->match + 1;
            p->probe_wait = false;
            p->inflight = 0;
            raft__maybe_commit(r);
            raft__send_append(r, p, true);
        }
        return;
    }
    if (p->mode != RAFT__SNAPSHOT || m->index != p->snap_index)
        return;
    /* Only progress triggers the next chunk. Answers that do not advance (duplicates,
     * or a follower that lost its partial stream) wait for the heartbeat resend;
     * otherwise every duplicate would start another chunk/answer ping-pong. */
    bool progress = m->snapshot.offset > p->snap_offset;
    p->snap_offset = m->snapshot.offset;
    if (progress)
        raft__send_snapshot(r, p);
}

int raft__snapshot_taken(struct raft *r, raft_index index, uint64_t size)
{
    if (index <= r->snap.index || index > r->applied)
        return RAFT_EINVAL;
    struct raft_configuration c;
    int rv = raft__config_at(r, index, &c);
    if (rv != 0)
        return rv;
    r->snap.config = c;
    r->snap.term = raft__term_at(r, index);
    r->snap.index = index;
    r->snap.size = size;
    /* keep a tail so a follower slightly behind gets entries, not a whole snapshot */
    if (index > r->o.snapshot_trailing) {
        raft_index upto = index - r->o.snapshot_trailing;
        if (upto > r->log.offset) {
            raft__compact(r, upto);
            r->compact_upto = upto;
        }
    }
    return 0;
}
