/* raft_sim.c — deterministic simulation of drover's Raft core.
 *
 * One process, one thread, one PRNG per seed: a cluster of 3 or 5 voters plus learners
 * and a spare server (for membership changes) runs on a virtual clock over a virtual
 * network that loses, duplicates, delays and thereby reorders messages, and that can be
 * partitioned (minority, majority with the leader cut off, bridge, asymmetric). Servers
 * crash and restart from their "disk": an in-memory copy of exactly what the update
 * said to make durable — sometimes crashing halfway through carrying out an update.
 * Servers are also paused (SIGSTOP) and resumed with their stale volatile state, their
 * queued messages read on resume. Each server's clock runs at its own rate (drift). Disk write acknowledgements
 * (RAFT_EV_PERSISTED) arrive after a random latency; a leader's own appends often sit
 * in a disk queue while its messages already went out (diss. §10.2.1), and a crash
 * loses that queue.
 *
 * After EVERY raft_step the checker asserts:
 *   - no anomalies counted by the core itself;
 *   - Election Safety: at most one leader per term (paper Figure 3);
 *   - Log Matching: an entry (index, term) has one content and one predecessor term
 *     across all servers and all time, which by induction makes equal (index, term)
 *     imply equal prefixes;
 *   - Leader Completeness: a new leader holds every entry known committed;
 *   - State Machine Safety: every server applies the same entry at an index, in order,
 *     and every entry a commit index covers matches the globally committed one — so a
 *     committed client command is never lost or replaced;
 *   - snapshots installed reproduce the committed prefix exactly.
 * At the end the network heals and every server restarts: the cluster must elect a
 * leader, commit a fresh command and converge (all members apply the same log).
 *
 * Usage: raft_sim [seeds [first_seed]]; env DROVER_SIM_SEEDS=N (count, default 1000),
 * DROVER_SIM_SEED=N (replay one seed, verbose), DROVER_SIM_LONG=1 (20000 seeds,
 * longer runs). A failure prints the seed and how to replay it.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft.h"
#include "raft_codec.h"

#define NODES_MAX 8
#define NET_QUEUE_MAX 20000  /* bounded network: beyond this, messages are dropped */
#define TICK_MS 5            /* how often each server gets RAFT_EV_TICK (local clock) */

static uint64_t seed_cur;
static bool verbose;
static bool long_mode;
static bool idle_mode;
static uint64_t msg_trace_from; /* DROVER_SIM_MSGTRACE=ms: log deliveries after ms */
static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint64_t rnd_below(uint64_t n) { return n ? rnd() % n : 0; }
static bool chance(double p) { return (double)(rnd() >> 11) / 9007199254740992.0 < p; }

static void dump(void);

static void fail(const char *fmt, ...)
{
    va_list ap;
    dump();
    va_start(ap, fmt);
    fprintf(stderr, "raft_sim: FAIL seed=%llu: ", (unsigned long long)seed_cur);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nraft_sim: replay with %sDROVER_SIM_SEED=%llu tests/sim/raft/raft_sim\n",
            long_mode ? "DROVER_SIM_LONG=1 " : "", (unsigned long long)seed_cur);
    va_end(ap);
    exit(1);
}

#define TRACE(...)                                                                       \
    do {                                                                                 \
        if (verbose)                                                                     \
            printf(__VA_ARGS__);                                                         \
    } while (0)

/* ---- global knowledge for the checker ---- */

struct reg { raft_term term, prev_term; uint64_t hash; };
struct reg_slot { struct reg *v; unsigned n, cap; };
static struct reg_slot *registry; /* by index: every (term, content) ever written */
static size_t registry_cap;
static uint64_t *committed;       /* by index: hash of the committed entry, 0 = unknown */
/* by index: an upper bound on the term the entry was committed in — the smallest current
 * term of any server seen holding it as committed (a leader sees its own exact term) */
static raft_term *committed_term;
static size_t committed_term_cap;
static size_t committed_cap;
static raft_index committed_max;
static raft_id *leader_of_term;
static size_t leader_of_term_cap;

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need < *cap)
        return p;
    size_t n = *cap ? *cap : 256;
    while (n <= need)
        n *= 2;
    p = realloc(p, n * elem);
    if (!p)
        fail("out of memory");
    memset((char *)p + *cap * elem, 0, (n - *cap) * elem);
    *cap = n;
    return p;
}

static uint64_t entry_hash(const struct raft_entry *e)
{
    uint64_t h = 1469598103934665603ull ^ e->term ^ ((uint64_t)e->type << 56);
    const uint8_t *p = e->buf;
    for (uint32_t i = 0; i < e->len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h | 1; /* never 0: 0 means unknown */
}

/* ---- servers ---- */

struct pentry { raft_term term; uint8_t type; uint32_t len; uint8_t *buf; };

struct node {
    raft_id id;
    struct raft *r;
    bool up;
    double rate;           /* clock rate: local ms per global ms */
    uint64_t clock_offset; /* local clock at global 0 */
    uint64_t next_tick;    /* local time of next tick */
    unsigned restarts;
    bool quick_restart; /* nemesis crashed it on purpose: come back within ms */
    uint64_t paused_until; /* SIGSTOP: no ticks, messages wait in its socket buffer */
    /* the "disk" */
    raft_term p_term;
    raft_id p_vote;
    struct raft_snapshot_meta p_snap;
    uint64_t *p_blob; /* snapshot: hash of entries 1..p_snap.index */
    struct pentry *p_log;
    size_t p_n, p_cap;
    raft_index p_first;
    uint8_t *staging;
    size_t staging_cap;
    /* a leader's appends still in the disk queue (diss. §10.2.1: the leader may send
     * before its own write is durable); lost on a crash, flushed in order */
    struct pentry *pend;
    size_t pend_n, pend_cap;
    raft_index pend_first;
    /* volatile state machine: hash of each applied entry */
    uint64_t *sm;
    size_t sm_len, sm_cap;
    raft_index seen_commit;
};

static struct node nodes[NODES_MAX];
static unsigned n_nodes;
static bool blocked[NODES_MAX][NODES_MAX];
static double p_loss, p_dup;
static uint64_t delay_max_ms;
static uint64_t now_g; /* global virtual time */
static bool calm;      /* final phase: no more faults */
static struct raft_opts base_opts;

/* ---- network: a binary heap ordered by delivery time then sequence ---- */

struct netmsg {
    uint64_t at, seq;
    unsigned to;
    bool persisted; /* a disk completion, not a message */
    raft_index p_index;
    raft_term p_term;
    struct raft_message m;
    struct raft_entry *ents;
    void *data;
    struct raft_configuration conf;
};
static struct netmsg *heap[NET_QUEUE_MAX];
static unsigned heap_n;
static uint64_t net_seq;
static uint64_t stat_msgs, stat_dropped, stat_installs, stat_chunks, stat_truncates,
    stat_changes, stat_transfers, stat_snapshots, stat_mid_crashes, stat_wire;

static bool heap_less(const struct netmsg *a, const struct netmsg *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}
static void heap_push(struct netmsg *m)
{
    if (heap_n == NET_QUEUE_MAX) {
        stat_dropped++;
        free(m->ents);
        free(m->data);
        free(m);
        return;
    }
    unsigned i = heap_n++;
    heap[i] = m;
    while (i > 0 && heap_less(heap[i], heap[(i - 1) / 2])) {
        struct netmsg *t = heap[i];
        heap[i] = heap[(i - 1) / 2];
        heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}
static struct netmsg *heap_pop(void)
{
    struct netmsg *top = heap[0];
    heap[0] = heap[--heap_n];
    unsigned i = 0;
    for (;;) {
        unsigned l = 2 * i + 1, r = l + 1, s = i;
        if (l < heap_n && heap_less(heap[l], heap[s]))
            s = l;
        if (r < heap_n && heap_less(heap[r], heap[s]))
            s = r;
        if (s == i)
            break;
        struct netmsg *t = heap[i];
        heap[i] = heap[s];
        heap[s] = t;
        i = s;
    }
    return top;
}
static void netmsg_free(struct netmsg *m)
{
    if (m->ents)
        for (uint32_t i = 0; i < m->m.n_entries; i++)
            free((void *)m->ents[i].buf);
    free(m->ents);
    free(m->data);
    free(m);
}

static unsigned node_index(raft_id id)
{
    for (unsigned i = 0; i < n_nodes; i++)
        if (nodes[i].id == id)
            return i;
    return NODES_MAX;
}

static void wire_check(const struct raft_message *a);

static void send_copy(unsigned from, const struct raft_message *src, uint64_t delay)
{
    unsigned to = node_index(src->to);
    if (to == NODES_MAX || blocked[from][to])
        return;
    struct netmsg *m = calloc(1, sizeof(*m));
    if (!m)
        fail("out of memory");
    m->at = now_g + delay;
    m->seq = net_seq++;
    m->to = to;
    m->m = *src;
    if (src->n_entries) {
        m->ents = calloc(src->n_entries, sizeof(*m->ents));
        for (uint32_t i = 0; i < src->n_entries; i++) {
            m->ents[i] = src->entries[i];
            if (src->entries[i].len) {
                void *b = malloc(src->entries[i].len);
                memcpy(b, src->entries[i].buf, src->entries[i].len);
                m->ents[i].buf = b;
            }
        }
        m->m.entries = m->ents;
    }
    if (src->type == RAFT_MSG_INSTALL_SNAPSHOT) {
        const struct node *n = &nodes[from];
        if (n->p_snap.index != src->index)
            fail("node %llu sends snapshot %llu but stores %llu", (unsigned long long)n->id,
                 (unsigned long long)src->index, (unsigned long long)n->p_snap.index);
        if (src->snapshot.len) {
            m->data = malloc(src->snapshot.len);
            memcpy(m->data, (const uint8_t *)n->p_blob + src->snapshot.offset, src->snapshot.len);
        }
        m->m.snapshot.data = m->data;
        m->conf = *src->config;
        m->m.config = &m->conf;
    } else {
        m->m.config = NULL;
    }
    stat_msgs++;
    if (chance(0.2))
        wire_check(&m->m);
    heap_push(m);
}

/* A fifth of all messages also go through the wire codec, which must give back
 * exactly what the core produced (every field the type uses, every byte). */
static void wire_check(const struct raft_message *a)
{
    uint8_t *buf;
    size_t len;
    struct raft_wire w;
    char err[160];
    if (raft_codec_encode(a, &buf, &len) != 0)
        fail("codec refuses to encode a message of type %u", a->type);
    if (raft_codec_decode(buf, len, &w, err, sizeof(err)) != 0)
        fail("codec refuses its own encoding of type %u: %s", a->type, err);
    const struct raft_message *b = &w.m;
    bool same = a->type == b->type && a->from == b->from && a->to == b->to &&
                a->term == b->term && a->index == b->index && a->log_term == b->log_term &&
                a->commit == b->commit && a->hint == b->hint && a->reject == b->reject &&
                a->pre_vote == b->pre_vote && a->transfer == b->transfer &&
                a->n_entries == b->n_entries && a->snapshot.offset == b->snapshot.offset &&
                a->snapshot.size == b->snapshot.size && a->snapshot.done == b->snapshot.done;
    for (uint32_t i = 0; same && i < a->n_entries; i++)
        same = a->entries[i].term == b->entries[i].term &&
               a->entries[i].type == b->entries[i].type && a->entries[i].len == b->entries[i].len &&
               (a->entries[i].len == 0 ||
                memcmp(a->entries[i].buf, b->entries[i].buf, a->entries[i].len) == 0);
    if (same && a->type == RAFT_MSG_INSTALL_SNAPSHOT)
        same = a->snapshot.len == b->snapshot.len &&
               (a->snapshot.len == 0 ||
                memcmp(a->snapshot.data, b->snapshot.data, a->snapshot.len) == 0) &&
               a->config->n == b->config->n;
    for (unsigned i = 0; same && a->type == RAFT_MSG_INSTALL_SNAPSHOT && i < a->config->n; i++)
        same = a->config->servers[i].id == b->config->servers[i].id &&
               a->config->servers[i].role == b->config->servers[i].role;
    if (!same)
        fail("codec round trip changed a message of type %u", a->type);
    raft_wire_free(&w);
    free(buf);
    stat_wire++;
}

static void net_send(unsigned from, const struct raft_message *src)
{
    if (chance(p_loss))
        return;
    send_copy(from, src, 1 + rnd_below(delay_max_ms));
    if (chance(p_dup))
        send_copy(from, src, 1 + rnd_below(delay_max_ms * 3));
}

/* ---- the "disk" ---- */

static raft_index p_last(const struct node *n) { return n->p_first + n->p_n - 1; }

static void p_log_clear(struct node *n, raft_index first)
{
    for (size_t i = 0; i < n->p_n; i++)
        free(n->p_log[i].buf);
    n->p_n = 0;
    n->p_first = first;
}

static void p_truncate(struct node *n, raft_index from)
{
    while (n->p_n > 0 && p_last(n) >= from) {
        free(n->p_log[n->p_n - 1].buf);
        n->p_n--;
    }
}

static void p_drop_upto(struct node *n, raft_index upto)
{
    if (upto < n->p_first)
        return;
    size_t drop = (size_t)(upto - n->p_first + 1);
    if (drop > n->p_n)
        drop = n->p_n;
    for (size_t i = 0; i < drop; i++)
        free(n->p_log[i].buf);
    if (drop == 0)
        return;
    memmove(n->p_log, n->p_log + drop, (n->p_n - drop) * sizeof(*n->p_log));
    n->p_n -= drop;
    n->p_first = upto + 1;
}

static void p_append(struct node *n, raft_index idx, const struct raft_entry *e)
{
    if (n->p_n == 0)
        n->p_first = idx;
    if (idx != p_last(n) + 1)
        fail("node %llu: append at %llu but disk log ends at %llu", (unsigned long long)n->id,
             (unsigned long long)idx, (unsigned long long)p_last(n));
    n->p_log = grow(n->p_log, &n->p_cap, n->p_n + 1, sizeof(*n->p_log));
    struct pentry *p = &n->p_log[n->p_n++];
    p->term = e->term;
    p->type = e->type;
    p->len = e->len;
    p->buf = NULL;
    if (e->len) {
        p->buf = malloc(e->len);
        memcpy(p->buf, e->buf, e->len);
    }
}

static void pend_push(struct node *n, raft_index idx, const struct raft_entry *e)
{
    if (n->pend_n == 0)
        n->pend_first = idx;
    if (idx != n->pend_first + n->pend_n)
        fail("node %llu: deferred append at %llu not contiguous", (unsigned long long)n->id,
             (unsigned long long)idx);
    n->pend = grow(n->pend, &n->pend_cap, n->pend_n + 1, sizeof(*n->pend));
    struct pentry *p = &n->pend[n->pend_n++];
    *p = (struct pentry){.term = e->term, .type = e->type, .len = e->len};
    if (e->len) {
        p->buf = malloc(e->len);
        memcpy(p->buf, e->buf, e->len);
    }
}

/* the disk queue reaches `upto`: those writes are now durable, in order */
static void pend_flush(struct node *n, raft_index upto)
{
    size_t k = 0;
    while (k < n->pend_n && n->pend_first + k <= upto) {
        struct pentry *p = &n->pend[k];
        struct raft_entry e = {.term = p->term, .type = p->type, .len = p->len, .buf = p->buf};
        p_append(n, n->pend_first + k, &e);
        free(p->buf);
        k++;
    }
    if (k == 0)
        return;
    memmove(n->pend, n->pend + k, (n->pend_n - k) * sizeof(*n->pend));
    n->pend_n -= k;
    n->pend_first += k;
}

static void pend_drop(struct node *n)
{
    for (size_t k = 0; k < n->pend_n; k++)
        free(n->pend[k].buf);
    n->pend_n = 0;
}

/* ---- checker ---- */

static void record_entry(const struct node *n, raft_index idx, const struct raft_entry *e)
{
    registry = grow(registry, &registry_cap, idx, sizeof(*registry));
    struct reg_slot *s = &registry[idx];
    uint64_t h = entry_hash(e);
    raft_term prev = idx > 1 ? raft_term_at(n->r, idx - 1) : 0;
    for (unsigned i = 0; i < s->n; i++) {
        if (s->v[i].term != e->term)
            continue;
        if (s->v[i].hash != h)
            fail("Log Matching: node %llu index %llu term %llu has different content",
                 (unsigned long long)n->id, (unsigned long long)idx, (unsigned long long)e->term);
        if (prev && s->v[i].prev_term && s->v[i].prev_term != prev)
            fail("Log Matching: node %llu index %llu term %llu follows term %llu, others %llu",
                 (unsigned long long)n->id, (unsigned long long)idx, (unsigned long long)e->term,
                 (unsigned long long)prev, (unsigned long long)s->v[i].prev_term);
        if (!s->v[i].prev_term)
            s->v[i].prev_term = prev;
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 2;
        s->v = realloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = (struct reg){.term = e->term, .prev_term = prev, .hash = h};
}

static void record_commit(const struct node *n, raft_index idx, uint64_t h)
{
    committed = grow(committed, &committed_cap, idx, sizeof(*committed));
    committed_term = grow(committed_term, &committed_term_cap, idx, sizeof(*committed_term));
    raft_term t = raft_term_of(n->r);
    if (committed[idx] == 0) {
        committed[idx] = h;
        committed_term[idx] = t;
        if (idx > committed_max)
            committed_max = idx;
    } else if (committed[idx] != h) {
        fail("State Machine Safety: node %llu commits a different entry at index %llu",
             (unsigned long long)n->id, (unsigned long long)idx);
    } else if (t < committed_term[idx]) {
        committed_term[idx] = t;
    }
}

static void check_step(struct node *n, const struct raft_update *up, bool role_to_leader)
{
    struct raft *r = n->r;
    if (raft_anomalies(r))
        fail("node %llu counted %llu anomalies", (unsigned long long)n->id,
             (unsigned long long)raft_anomalies(r));
    raft_term term = raft_term_of(r);
    if (raft_role_of(r) == RAFT_LEADER) {
        leader_of_term = grow(leader_of_term, &leader_of_term_cap, term, sizeof(*leader_of_term));
        if (leader_of_term[term] && leader_of_term[term] != n->id)
            fail("Election Safety: %llu and %llu both lead term %llu",
                 (unsigned long long)leader_of_term[term], (unsigned long long)n->id,
                 (unsigned long long)term);
        leader_of_term[term] = n->id;
    }
    for (unsigned i = 0; i < up->n_append; i++)
        record_entry(n, up->append_first + i, &up->append[i]);
    /* every index the commit index covers must match the committed history */
    raft_index c = raft_commit_of(r), si = raft_snapshot_index(r);
    raft_index from = n->seen_commit > si ? n->seen_commit : si;
    for (raft_index i = from + 1; i <= c; i++) {
        const struct raft_entry *e = raft_entry_at(r, i);
        if (!e)
            fail("node %llu commit %llu beyond its log", (unsigned long long)n->id,
                 (unsigned long long)c);
        record_commit(n, i, entry_hash(e));
    }
    if (c > n->seen_commit)
        n->seen_commit = c;
    if (role_to_leader) {
        /* Leader Completeness: a new leader holds every entry committed in an earlier
         * term. (A leader of an older term can still win late — e.g. a paused candidate
         * counting votes queued while it was stopped — and need not hold entries that
         * later terms committed.) */
        for (raft_index i = si + 1; i <= committed_max; i++) {
            if (!committed[i] || committed_term[i] >= term)
                continue;
            const struct raft_entry *e = raft_entry_at(r, i);
            if (!e || entry_hash(e) != committed[i])
                fail("Leader Completeness: new leader %llu (term %llu) lacks committed %llu",
                     (unsigned long long)n->id, (unsigned long long)term, (unsigned long long)i);
        }
    }
}

static void sm_apply(struct node *n, raft_index idx, uint64_t h)
{
    if (idx != n->sm_len + 1)
        fail("node %llu applies %llu after %zu", (unsigned long long)n->id,
             (unsigned long long)idx, n->sm_len);
    if (idx > committed_max || committed[idx] != h)
        fail("State Machine Safety: node %llu applies an uncommitted/different entry at %llu",
             (unsigned long long)n->id, (unsigned long long)idx);
    n->sm = grow(n->sm, &n->sm_cap, n->sm_len + 1, sizeof(*n->sm));
    n->sm[n->sm_len++] = h;
}

static void sm_load_blob(struct node *n)
{
    n->sm_len = 0;
    for (raft_index i = 1; i <= n->p_snap.index; i++) {
        n->sm = grow(n->sm, &n->sm_cap, n->sm_len + 1, sizeof(*n->sm));
        n->sm[n->sm_len++] = n->p_blob[i - 1];
        if (i < committed_cap && committed[i] && committed[i] != n->p_blob[i - 1])
            fail("snapshot at node %llu differs from committed history at %llu",
                 (unsigned long long)n->id, (unsigned long long)i);
    }
}

/* ---- driving one server ---- */

static void crash(struct node *n);

static uint64_t local_now(const struct node *n)
{
    return n->clock_offset + (uint64_t)((double)now_g * n->rate);
}

/* Carry out an update in the order raft.h prescribes. With small probability the
 * server crashes after only a prefix of the durable steps. */
static void carry_out(struct node *n, const struct raft_update *up, bool role_to_leader)
{
    unsigned ni = (unsigned)(n - nodes);
    int crash_at = !calm && chance(0.001) ? (int)rnd_below(4) : -1;
    check_step(n, up, role_to_leader);
    unsigned disk = RAFT_UPD_HARD_STATE | RAFT_UPD_SNAPSHOT_CHUNK | RAFT_UPD_SNAPSHOT_INSTALL |
                    RAFT_UPD_LOG_TRUNCATE;
    bool defer = up->role == RAFT_LEADER && up->n_append && !(up->flags & disk) &&
                 !up->compact_upto && chance(0.7);
    if (!defer && ((up->flags & disk) || up->n_append || up->compact_upto))
        pend_flush(n, UINT64_MAX); /* a later write's fsync covers all earlier ones */
    if (crash_at == 0)
        goto crash;
    if (up->flags & RAFT_UPD_HARD_STATE) {
        n->p_term = up->term;
        n->p_vote = up->vote;
    }
    if (crash_at == 1)
        goto crash;
    if (up->flags & RAFT_UPD_SNAPSHOT_CHUNK) {
        stat_chunks++;
        n->staging = grow(n->staging, &n->staging_cap, up->chunk.offset + up->chunk.len + 1, 1);
        if (up->chunk.len)
            memcpy(n->staging + up->chunk.offset, up->chunk.data, up->chunk.len);
    }
    if (up->flags & RAFT_UPD_SNAPSHOT_INSTALL) {
        stat_installs++;
        n->p_snap.index = up->install.index;
        n->p_snap.term = up->install.term;
        n->p_snap.size = up->install.index * 8;
        n->p_snap.config = *up->install.config;
        free(n->p_blob);
        n->p_blob = malloc(n->p_snap.size + 8);
        memcpy(n->p_blob, n->staging, n->p_snap.size);
        if (up->install.drop_log)
            p_log_clear(n, up->install.index + 1);
        else
            p_drop_upto(n, up->install.index);
        sm_load_blob(n);
    }
    if (crash_at == 2)
        goto crash;
    if (up->flags & RAFT_UPD_LOG_TRUNCATE) {
        stat_truncates += up->truncate_from <= p_last(n);
    }
    if (up->flags & RAFT_UPD_LOG_TRUNCATE)
        p_truncate(n, up->truncate_from);
    for (unsigned i = 0; i < up->n_append; i++) {
        if (defer)
            pend_push(n, up->append_first + i, &up->append[i]);
        else
            p_append(n, up->append_first + i, &up->append[i]);
    }
    if (up->compact_upto)
        p_drop_upto(n, up->compact_upto);
    if (crash_at == 3)
        goto crash;
    bool voted = false;
    for (unsigned i = 0; i < up->n_msgs; i++) {
        net_send(ni, &up->msgs[i]);
        voted |= up->msgs[i].type == RAFT_MSG_REQUEST_VOTE_RESULT && !up->msgs[i].reject &&
                 !up->msgs[i].pre_vote;
    }
    for (unsigned i = 0; i < up->n_apply; i++)
        sm_apply(n, up->apply_first + i, entry_hash(&up->apply[i]));
    if (up->n_append) {
        struct netmsg *d = calloc(1, sizeof(*d));
        d->at = now_g + rnd_below(4);
        d->seq = net_seq++;
        d->to = ni;
        d->persisted = true;
        d->p_index = up->append_first + up->n_append - 1;
        d->p_term = up->append[up->n_append - 1].term;
        heap_push(d);
    }
    if ((up->flags & RAFT_UPD_SNAPSHOT_TAKE) && chance(0.5)) {
        /* store the applied state machine as the snapshot blob, then tell the core */
        raft_index idx = up->snapshot_take_index;
        if (n->sm_len < idx)
            fail("node %llu asked to snapshot unapplied %llu", (unsigned long long)n->id,
                 (unsigned long long)idx);
        struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_TAKEN, .now_ms = local_now(n)};
        ev.snapshot_taken.index = idx;
        ev.snapshot_taken.size = idx * 8;
        struct raft_update u2;
        int rv = raft_step(n->r, &ev, &u2);
        if (rv != 0)
            fail("snapshot_taken: %s", raft_strerror(rv));
        stat_snapshots++;
        free(n->p_blob);
        n->p_blob = malloc(idx * 8 + 8);
        memcpy(n->p_blob, n->sm, idx * 8);
        n->p_snap = *raft_snapshot_of(n->r);
        carry_out(n, &u2, false);
    }
    if (voted && !calm && n->up && chance(0.1)) {
        /* nemesis: die right after granting a vote and come back at once, so a vote
         * that was not durable would be granted twice in one term */
        n->quick_restart = true;
        crash(n);
    }
    return;
crash:
    stat_mid_crashes++;
    TRACE("%6llu crash-mid-update %llu at %d\n", (unsigned long long)now_g,
          (unsigned long long)n->id, crash_at);
    crash(n);
}

static int step(struct node *n, struct raft_event *ev)
{
    struct raft_update up;
    if (!n->up)
        return RAFT_EINVAL; /* crashed earlier in this same round */
    enum raft_role before = raft_role_of(n->r);
    ev->now_ms = local_now(n);
    int rv = raft_step(n->r, ev, &up);
    if (before != raft_role_of(n->r))
        TRACE("%6llu node %llu %s term %llu\n", (unsigned long long)now_g,
              (unsigned long long)n->id, raft_role_name(raft_role_of(n->r)),
              (unsigned long long)raft_term_of(n->r));
    carry_out(n, &up, before != RAFT_LEADER && raft_role_of(n->r) == RAFT_LEADER);
    return rv;
}

static void start(struct node *n)
{
    struct raft_opts o = base_opts;
    o.id = n->id;
    o.seed = seed_cur * 1000003u + n->id * 7919u + n->restarts;
    n->r = raft_new(&o);
    if (!n->r)
        fail("raft_new");
    struct raft_entry *ents = calloc(n->p_n + 1, sizeof(*ents));
    for (size_t i = 0; i < n->p_n; i++)
        ents[i] = (struct raft_entry){.term = n->p_log[i].term, .type = n->p_log[i].type,
                                      .len = n->p_log[i].len, .buf = n->p_log[i].buf};
    int rv = raft_load(n->r, n->p_term, n->p_vote, n->p_snap.index ? &n->p_snap : NULL,
                       n->p_first, ents, (unsigned)n->p_n);
    free(ents);
    if (rv != 0)
        fail("raft_load node %llu: %s", (unsigned long long)n->id, raft_strerror(rv));
    sm_load_blob(n);
    n->seen_commit = raft_commit_of(n->r);
    n->up = true;
    n->next_tick = local_now(n) + 1 + rnd_below(TICK_MS);
}

static void crash(struct node *n)
{
    n->paused_until = 0; /* a killed process is not stopped any more */
    pend_drop(n);
    raft_free(n->r);
    n->r = NULL;
    n->up = false;
    n->restarts++;
}

static void dump(void)
{
    fprintf(stderr, "t=%llu committed_max=%llu\n", (unsigned long long)now_g,
            (unsigned long long)committed_max);
    for (unsigned i = 0; i < n_nodes; i++) {
        struct node *n = &nodes[i];
        if (!n->up) {
            fprintf(stderr, "  node %llu down\n", (unsigned long long)n->id);
            continue;
        }
        const struct raft_configuration *c = raft_config_of(n->r);
        fprintf(stderr, "  node %llu %s term %llu leader %llu last %llu commit %llu applied %llu sm %zu snap %llu conf",
                (unsigned long long)n->id, raft_role_name(raft_role_of(n->r)),
                (unsigned long long)raft_term_of(n->r), (unsigned long long)raft_leader_of(n->r),
                (unsigned long long)raft_last_index(n->r), (unsigned long long)raft_commit_of(n->r),
                (unsigned long long)raft_applied_of(n->r), n->sm_len,
                (unsigned long long)raft_snapshot_index(n->r));
        for (unsigned k = 0; k < c->n; k++)
            fprintf(stderr, " %llu%s", (unsigned long long)c->servers[k].id,
                    c->servers[k].role == RAFT_VOTER ? "v" : "l");
        fprintf(stderr, "\n");
    }
}

/* ---- one seed ---- */

struct run_stats { uint64_t commits, leaders, crashes, partitions, pauses, changes, snapshots_sent; };

static bool paused(const struct node *n) { return now_g < n->paused_until; }

/* the leader a client could reach: a paused (SIGSTOPped) leader answers nobody */
static raft_id find_leader(void)
{
    raft_id best = 0;
    raft_term bt = 0;
    for (unsigned i = 0; i < n_nodes; i++)
        if (nodes[i].up && !paused(&nodes[i]) && raft_role_of(nodes[i].r) == RAFT_LEADER &&
            raft_term_of(nodes[i].r) >= bt) {
            best = nodes[i].id;
            bt = raft_term_of(nodes[i].r);
        }
    return best;
}

static uint64_t cmd_counter;

static void propose(struct node *n)
{
    uint8_t buf[64];
    uint64_t id = ++cmd_counter;
    memcpy(buf, &id, 8);
    uint32_t len = 8 + (uint32_t)rnd_below(40);
    for (uint32_t i = 8; i < len; i++)
        buf[i] = (uint8_t)rnd();
    struct raft_event ev = {.type = RAFT_EV_PROPOSE};
    ev.propose.buf = buf;
    ev.propose.len = len;
    step(n, &ev);
}

static void change(struct node *n)
{
    if (!n->up)
        return;
    /* pick a random server and a random legal role change; the core refuses illegal
     * timing (ECHANGE) itself, which is part of what is tested */
    const struct raft_configuration *c = raft_config_of(n->r);
    unsigned voters = raft_config_voters(c);
    struct node *t = &nodes[rnd_below(n_nodes)];
    const struct raft_server *s = raft_config_get(c, t->id);
    struct raft_event ev = {.type = RAFT_EV_CHANGE};
    ev.change.id = t->id;
    if (!s)
        ev.change.role = RAFT_LEARNER;
    else if (s->role == RAFT_LEARNER)
        ev.change.role = chance(0.7) ? RAFT_VOTER : 0;
    else if (voters > 3)
        ev.change.role = chance(0.5) ? RAFT_LEARNER : 0;
    else
        return;
    if (step(n, &ev) == 0) {
        stat_changes++;
        TRACE("%6llu change %llu -> %d\n", (unsigned long long)now_g,
              (unsigned long long)t->id, ev.change.role);
    }
}

/* Forged traffic (issue 12): a message from an id outside every configuration, or,
 * with pre-vote on, from a learner of the target's configuration, claiming leadership
 * or an election with a term at least two above the target's (a real vote request one
 * term up is voted on, ha/raft.c rule 2). The core must drop it (or answer a pre-vote
 * request) without touching the target's term, vote or role. Learners'
 * forged answers to AppendEntries are left out: a learner may answer, and an answer
 * claiming entries the leader never sent is counted as an anomaly by design. */
#define FORGED_ID 1000
static uint64_t stat_forged;

static void forge(void)
{
    struct node *n = &nodes[rnd_below(n_nodes)];
    if (!n->up || paused(n))
        return;
    const struct raft_configuration *c = raft_config_of(n->r);
    if (c->n == 0)
        return; /* a server with no configuration yet trusts whoever the caller admits */
    raft_id from = FORGED_ID;
    if (base_opts.pre_vote && chance(0.5)) {
        const struct raft_server *s = &c->servers[rnd_below(c->n)];
        if (s->role != RAFT_LEARNER || s->id == n->id)
            return;
        /* while a change is uncommitted a demoted voter still counts as one */
        for (raft_index i = raft_commit_of(n->r) + 1; i <= raft_last_index(n->r); i++) {
            const struct raft_entry *e = raft_entry_at(n->r, i);
            if (!e || e->type == RAFT_ENTRY_CONFIG)
                return;
        }
        from = s->id;
    }
    static const uint8_t types[] = {RAFT_MSG_APPEND_ENTRIES, RAFT_MSG_INSTALL_SNAPSHOT,
                                    RAFT_MSG_TIMEOUT_NOW, RAFT_MSG_REQUEST_VOTE,
                                    RAFT_MSG_REQUEST_VOTE_RESULT, RAFT_MSG_APPEND_ENTRIES_RESULT};
    static const raft_term terms[] = {UINT64_MAX, RAFT_TERM_MAX + 1, RAFT_TERM_MAX, RAFT_TERM_MAX - 1};
    struct raft_configuration none = {0};
    struct raft_event ev = {.type = RAFT_EV_RECEIVE};
    ev.receive = (struct raft_message){
        .type = types[rnd_below(from == FORGED_ID ? 6 : 5)], .from = from, .to = n->id,
        .term = chance(0.5) ? terms[rnd_below(4)] : raft_term_of(n->r) + 2 + rnd_below(1000),
        .index = raft_last_index(n->r), .log_term = raft_term_at(n->r, raft_last_index(n->r)),
        .commit = raft_last_index(n->r) + 10, .pre_vote = chance(0.5), .config = &none};
    raft_term term = raft_term_of(n->r);
    raft_id leader = raft_leader_of(n->r);
    enum raft_role role = raft_role_of(n->r);
    step(n, &ev);
    stat_forged++;
    if (!n->up)
        return;
    if (raft_term_of(n->r) != term || raft_role_of(n->r) != role || raft_leader_of(n->r) != leader)
        fail("forged %s from %llu (term %llu) changed node %llu: term %llu -> %llu, %s -> %s",
             ev.receive.type == RAFT_MSG_APPEND_ENTRIES ? "AppendEntries" : "message",
             (unsigned long long)from, (unsigned long long)ev.receive.term,
             (unsigned long long)n->id, (unsigned long long)term,
             (unsigned long long)raft_term_of(n->r), raft_role_name(role),
             raft_role_name(raft_role_of(n->r)));
}

/* A server none of whose known voters is still in the leader's configuration (all
 * were replaced while it was away, and those removed are cut off) cannot be caught up:
 * the core accepts a leader only from a voter it knows or one such a voter names
 * (ha/raft.c, rules 2 and 6), and drover re-joins such a host. Counted, not required
 * to converge. */
static uint64_t stat_orphans;

static bool orphaned(const struct node *m, const struct raft_configuration *lc)
{
    const struct raft_configuration *c = raft_config_of(m->r);
    for (unsigned i = 0; i < c->n; i++)
        if (c->servers[i].role == RAFT_VOTER && c->servers[i].id != m->id &&
            raft_config_get(lc, c->servers[i].id))
            return false;
    return c->n > 0;
}

static void heal(void)
{
    memset(blocked, 0, sizeof(blocked));
}

static void partition(struct run_stats *st)
{
    heal();
    st->partitions++;
    unsigned kind = (unsigned)rnd_below(5);
    raft_id lid = find_leader();
    unsigned li = lid ? node_index(lid) : (unsigned)rnd_below(n_nodes);
    bool side[NODES_MAX];
    for (unsigned i = 0; i < n_nodes; i++)
        side[i] = chance(0.5);
    switch (kind) {
    case 0: /* minority: one random server alone */
    case 1: /* majority partition: the leader (and maybe one more) cut off */
        for (unsigned i = 0; i < n_nodes; i++)
            side[i] = false;
        side[kind == 0 ? rnd_below(n_nodes) : li] = true;
        if (kind == 1 && chance(0.5))
            side[rnd_below(n_nodes)] = true;
        break;
    case 2: /* random split */
        break;
    case 3: { /* bridge: two sides, one server talks to both */
        unsigned b = (unsigned)rnd_below(n_nodes);
        for (unsigned i = 0; i < n_nodes; i++)
            for (unsigned j = 0; j < n_nodes; j++)
                if (i != b && j != b && side[i] != side[j])
                    blocked[i][j] = true;
        TRACE("%6llu bridge via %u\n", (unsigned long long)now_g, b);
        return;
    }
    case 4: /* asymmetric: some one-way links */
        for (unsigned k = 0; k < 1 + n_nodes / 2; k++) {
            unsigned a = (unsigned)rnd_below(n_nodes), b = chance(0.5) ? li : (unsigned)rnd_below(n_nodes);
            if (a != b)
                blocked[a][b] = true;
        }
        TRACE("%6llu asymmetric\n", (unsigned long long)now_g);
        return;
    }
    for (unsigned i = 0; i < n_nodes; i++)
        for (unsigned j = 0; j < n_nodes; j++)
            if (side[i] != side[j])
                blocked[i][j] = true;
    TRACE("%6llu partition kind %u\n", (unsigned long long)now_g, kind);
}

static void deliver_due(void)
{
    while (heap_n && heap[0]->at <= now_g) {
        struct netmsg *m = heap_pop();
        struct node *n = &nodes[m->to];
        if (n->up && paused(n)) {
            m->at = n->paused_until + rnd_below(3); /* read after SIGCONT */
            heap_push(m);
            continue;
        }
        if (n->up) {
            struct raft_event ev = {0};
            if (m->persisted) {
                pend_flush(n, m->p_index);
                ev.type = RAFT_EV_PERSISTED;
                ev.persisted.index = m->p_index;
                ev.persisted.term = m->p_term;
            } else {
                ev.type = RAFT_EV_RECEIVE;
                ev.receive = m->m;
                if (verbose && msg_trace_from && now_g >= msg_trace_from)
                    printf("%6llu %llu->%llu type %u term %llu index %llu logterm %llu commit %llu "
                           "hint %llu reject %d n %u off %llu len %u done %d\n",
                           (unsigned long long)now_g, (unsigned long long)m->m.from,
                           (unsigned long long)m->m.to, m->m.type, (unsigned long long)m->m.term,
                           (unsigned long long)m->m.index, (unsigned long long)m->m.log_term,
                           (unsigned long long)m->m.commit, (unsigned long long)m->m.hint,
                           m->m.reject, m->m.n_entries, (unsigned long long)m->m.snapshot.offset,
                           m->m.snapshot.len, m->m.snapshot.done);
            }
            step(n, &ev);
        }
        netmsg_free(m);
    }
}

static void tick_all(void)
{
    for (unsigned i = 0; i < n_nodes; i++) {
        struct node *n = &nodes[i];
        if (!n->up || paused(n) || local_now(n) < n->next_tick)
            continue;
        n->next_tick += TICK_MS;
        struct raft_event ev = {.type = RAFT_EV_TICK};
        step(n, &ev);
    }
}

/* drover revokes a removed host's keys when its removal commits (ZAP stops
 * admitting it), so after healing, servers outside the leader's configuration are cut
 * off; without that a removed server that still believes it is a voter keeps
 * deposing leaders whenever the lease (check-quorum) is off (diss. §4.2.3). */
static void revoke_non_members(void)
{
    raft_id l = find_leader();
    if (!l)
        return;
    const struct raft_configuration *c = raft_config_of(nodes[node_index(l)].r);
    bool member[NODES_MAX];
    for (unsigned i = 0; i < n_nodes; i++)
        member[i] = raft_config_get(c, nodes[i].id) != NULL;
    for (unsigned i = 0; i < n_nodes; i++)
        for (unsigned j = 0; j < n_nodes; j++)
            blocked[i][j] = !(member[i] && member[j]);
}

static void run_ms(uint64_t ms)
{
    for (uint64_t k = 0; k < ms; k++) {
        if (calm && !idle_mode)
            revoke_non_members();
        now_g++;
        deliver_due();
        tick_all();
    }
}

static void reset_world(void)
{
    for (unsigned i = 0; i < n_nodes; i++) {
        struct node *n = &nodes[i];
        if (n->r)
            raft_free(n->r);
        p_log_clear(n, 1);
        free(n->p_log);
        free(n->p_blob);
        free(n->staging);
        pend_drop(n);
        free(n->pend);
        free(n->sm);
    }
    memset(nodes, 0, sizeof(nodes));
    while (heap_n)
        netmsg_free(heap_pop());
    for (size_t i = 0; i < registry_cap; i++)
        free(registry[i].v);
    free(registry);
    registry = NULL;
    registry_cap = 0;
    if (committed)
        memset(committed, 0, committed_cap * sizeof(*committed));
    if (committed_term)
        memset(committed_term, 0, committed_term_cap * sizeof(*committed_term));
    committed_max = 0;
    if (leader_of_term)
        memset(leader_of_term, 0, leader_of_term_cap * sizeof(*leader_of_term));
    heal();
    now_g = 0;
    calm = false;
    idle_mode = false;
    cmd_counter = 0;
    net_seq = 0;
}

static void run_seed(uint64_t seed, uint64_t duration_ms, struct run_stats *st, bool idle)
{
    seed_cur = seed;
    if (getenv("DROVER_SIM_TRACE"))
        verbose = strtoull(getenv("DROVER_SIM_TRACE"), NULL, 10) == seed;
    rng_state = seed * 0x9e3779b97f4a7c15ull + 12345;
    reset_world();
    unsigned voters = idle || chance(0.5) ? 5 : 3;
    unsigned learners = idle ? 2 : (unsigned)rnd_below(3);
    n_nodes = voters + learners + 1; /* + one spare outside the configuration */
    raft_opts_default(&base_opts, 1, 0);
    base_opts.election_timeout_ms = 100;
    base_opts.heartbeat_ms = 20;
    base_opts.batch_entries_max = 1 + (uint32_t)rnd_below(16);
    base_opts.batch_bytes_max = 64 + (uint32_t)rnd_below(512);
    base_opts.inflight_max = 1 + (uint32_t)rnd_below(6);
    base_opts.uncommitted_max = 64;
    /* half the seeds run without the liveness refinements so that the bare algorithm's
     * safety rules (vote up-to-date check, persisted votes, §5.4.2) face the faults
     * alone instead of being masked by pre-vote and the lease */
    base_opts.pre_vote = idle || chance(0.5);
    base_opts.check_quorum = idle || chance(0.5);
    base_opts.snapshot_threshold = 16 + (uint32_t)rnd_below(48);
    base_opts.snapshot_trailing = (uint32_t)rnd_below(16);
    base_opts.snapshot_chunk_bytes = 16 + (uint32_t)rnd_below(200);
    struct raft_configuration conf = {.n = voters + learners};
    for (unsigned i = 0; i < voters + learners; i++)
        conf.servers[i] = (struct raft_server){.id = i + 1, .role = i < voters ? RAFT_VOTER : RAFT_LEARNER};
    uint8_t cbuf[RAFT_CONFIG_ENCODED_MAX];
    struct raft_entry boot;
    raft_bootstrap_entry(&conf, cbuf, &boot);
    for (unsigned i = 0; i < n_nodes; i++) {
        struct node *n = &nodes[i];
        n->id = i + 1;
        n->rate = 0.9 + 0.2 * (double)rnd_below(1001) / 1000.0;
        n->clock_offset = rnd_below(100000);
        n->p_first = 1;
        n->p_term = 1;
        if (i < voters + learners)
            p_append(n, 1, &boot);
        start(n);
    }
    registry = grow(registry, &registry_cap, 1, sizeof(*registry));
    record_entry(&nodes[0], 1, &boot);
    p_loss = 0;
    p_dup = 0;
    delay_max_ms = 2;
    now_g = 0;
    if (idle) {
        /* A healthy but sluggish cluster: 1% loss, up to 30 ms delay (a loaded host's
         * scheduling), clock drift, a trickle of commands. After the first election
         * nobody should ever campaign again. */
        p_loss = 0.01;
        delay_max_ms = 30;
        calm = true;
        idle_mode = true;
        while (now_g < duration_ms) {
            raft_id l = find_leader();
            if (l && chance(0.01))
                propose(&nodes[node_index(l)]);
            run_ms(1);
        }
        for (raft_term t = 0; t < leader_of_term_cap; t++)
            st->leaders += leader_of_term[t] != 0;
        st->commits += committed_max;
        return;
    }
    uint64_t next_fault = 200 + rnd_below(400);
    uint64_t fault_gap_ms = 50 + rnd_below(650);    /* per-seed intensity */
    uint64_t down_max_ms = 5 + rnd_below(500);
    double propose_p = 0.02 + (double)rnd_below(20) / 100.0;
    uint64_t restart_at[NODES_MAX] = {0};
    uint64_t leader_crash_at = 0;
    while (now_g < duration_ms) {
        if (leader_crash_at && now_g >= leader_crash_at) {
            leader_crash_at = 0;
            raft_id l = find_leader();
            if (l) {
                crash(&nodes[node_index(l)]);
                st->crashes++;
            }
        }
        for (unsigned i = 0; i < n_nodes; i++) {
            if (!nodes[i].up && restart_at[i] == 0)
                restart_at[i] = now_g + 1 + rnd_below(nodes[i].quick_restart ? 3 : down_max_ms);
            if (!nodes[i].up && now_g >= restart_at[i]) {
                restart_at[i] = 0;
                nodes[i].quick_restart = false;
                start(&nodes[i]);
            }
        }
        if (now_g >= next_fault) {
            next_fault = now_g + 1 + rnd_below(fault_gap_ms);
            unsigned a = (unsigned)rnd_below(9);
            if (a == 0) {
                heal();
            } else if (a <= 2) {
                partition(st);
            } else if (a == 3) {
                unsigned i = (unsigned)rnd_below(n_nodes);
                if (nodes[i].up) {
                    TRACE("%6llu crash %u\n", (unsigned long long)now_g, i + 1);
                    crash(&nodes[i]);
                    st->crashes++;
                }
            } else if (a == 4) {
                p_loss = chance(0.5) ? 0 : (double)rnd_below(20) / 100.0;
                p_dup = chance(0.5) ? 0 : (double)rnd_below(10) / 100.0;
                delay_max_ms = 1 + rnd_below(60);
            } else if (a == 5) {
                /* crash the leader: the classic failover */
                raft_id l = find_leader();
                if (l) {
                    crash(&nodes[node_index(l)]);
                    st->crashes++;
                }
            } else if (a == 7) {
                /* SIGSTOP a server (often the leader) and SIGCONT it later: it wakes
                 * up with its old volatile state, e.g. still believing it leads */
                raft_id l = find_leader();
                unsigned i = l && chance(0.6) ? node_index(l) : (unsigned)rnd_below(n_nodes);
                if (nodes[i].up && !paused(&nodes[i])) {
                    nodes[i].paused_until = now_g + 50 + rnd_below(1500);
                    st->pauses++;
                    TRACE("%6llu pause %u until %llu\n", (unsigned long long)now_g, i + 1,
                          (unsigned long long)nodes[i].paused_until);
                }
            } else if (a == 8) {
                for (int k = 0; k < 3; k++)
                    forge();
            } else if (a == 6) {
                /* a burst of proposals, then the leader dies while they are only
                 * partly replicated: the setup of paper Figure 8 */
                raft_id l = find_leader();
                if (l) {
                    for (int k = 0; k < 5; k++)
                        propose(&nodes[node_index(l)]);
                    leader_crash_at = now_g + 1 + rnd_below(10);
                }
            }
        }
        raft_id l = find_leader();
        if (l && chance(propose_p)) {
            struct node *ln = &nodes[node_index(l)];
            if (chance(0.01))
                change(ln);
            else if (chance(0.003)) {
                struct raft_event ev = {.type = RAFT_EV_TRANSFER};
                ev.transfer.target = nodes[rnd_below(n_nodes)].id;
                stat_transfers += step(ln, &ev) == 0;
            } else
                propose(ln);
        }
        run_ms(1);
    }
    /* heal, resume and restart everything: the cluster must recover and converge */
    calm = true;
    for (unsigned i = 0; i < n_nodes; i++)
        nodes[i].paused_until = 0;
    heal();
    p_loss = 0;
    p_dup = 0;
    delay_max_ms = 2;
    for (unsigned i = 0; i < n_nodes; i++)
        if (!nodes[i].up)
            start(&nodes[i]);
    /* a leader must commit a fresh command; re-propose if its leader is deposed */
    raft_index target = 0;
    raft_term target_term = 0;
    bool ok = false;
    for (int round = 0; round < 400 && !ok; round++) {
        run_ms(10);
        for (unsigned i = 0; target && i < n_nodes; i++)
            if (nodes[i].up && raft_commit_of(nodes[i].r) >= target &&
                raft_term_at(nodes[i].r, target) == target_term)
                ok = true;
        raft_id l = find_leader();
        if (ok || !l)
            continue;
        struct node *ln = &nodes[node_index(l)];
        if (target && raft_term_of(ln->r) == target_term)
            continue; /* still waiting on the same leader */
        propose(ln);
        if (ln->up && raft_role_of(ln->r) == RAFT_LEADER) {
            target = raft_last_index(ln->r);
            target_term = raft_term_of(ln->r);
        }
    }
    if (!ok)
        fail("liveness: no command committed within 4 s after healing");
    raft_id l = 0;
    for (int round = 0; round < 800; round++) {
        run_ms(10);
        l = find_leader();
        if (!l)
            continue;
        const struct raft_configuration *c = raft_config_of(nodes[node_index(l)].r);
        bool done = committed_max >= target;
        for (unsigned i = 0; done && i < c->n; i++) {
            struct node *m = &nodes[node_index(c->servers[i].id)];
            if (m->sm_len < committed_max && !orphaned(m, c))
                done = false;
        }
        if (done) {
            for (unsigned i = 0; i < c->n; i++) {
                struct node *m = &nodes[node_index(c->servers[i].id)];
                stat_orphans += m->sm_len < committed_max;
            }
            break;
        }
        if (round == 799)
            fail("liveness: members did not converge to index %llu within 8 s",
                 (unsigned long long)committed_max);
    }
    st->commits += committed_max;
    for (raft_term t = 0; t < leader_of_term_cap; t++)
        st->leaders += leader_of_term[t] != 0;
}

int main(int argc, char **argv)
{
    uint64_t seeds = 1000, first = 1, duration = 4000;
    const char *e;
    if ((e = getenv("DROVER_SIM_LONG")) && *e && *e != '0') {
        seeds = 20000;
        long_mode = true;
        duration = 10000;
    }
    if ((e = getenv("DROVER_SIM_SEEDS")))
        seeds = strtoull(e, NULL, 10);
    if (argc > 1)
        seeds = strtoull(argv[1], NULL, 10);
    if (argc > 2)
        first = strtoull(argv[2], NULL, 10);
    if ((e = getenv("DROVER_SIM_MSGTRACE")))
        msg_trace_from = strtoull(e, NULL, 10);
    if ((e = getenv("DROVER_SIM_SEED"))) {
        first = strtoull(e, NULL, 10);
        seeds = 1;
        verbose = getenv("DROVER_SIM_QUIET") == NULL;
    }
    struct run_stats st = {0};
    for (uint64_t s = first; s < first + seeds; s++)
        run_seed(s, duration, &st, false);
    /* no false elections: one long idle run (10 virtual minutes) after the seeds */
    struct run_stats idle = {0};
    uint64_t idle_ms = getenv("DROVER_SIM_SEED") ? 0 : 600000;
    if (idle_ms) {
        run_seed(first, idle_ms, &idle, true);
        if (idle.leaders != 1)
            fail("idle run: %llu leaders in %llu virtual ms, expected exactly 1",
                 (unsigned long long)idle.leaders, (unsigned long long)idle_ms);
        printf("raft_sim: idle %llu virtual ms, 5 voters + 2 learners, 1%% loss, <=30 ms delay: "
               "%llu election(s), %llu entries committed\n", (unsigned long long)idle_ms,
               (unsigned long long)idle.leaders, (unsigned long long)idle.commits);
    }
    reset_world();
    printf("raft_sim: OK seeds=%llu..%llu (%llu) virtual_ms_each=%llu commits=%llu "
           "leaders=%llu crashes=%llu partitions=%llu pauses=%llu msgs=%llu\n",
           (unsigned long long)first, (unsigned long long)(first + seeds - 1),
           (unsigned long long)seeds, (unsigned long long)duration,
           (unsigned long long)st.commits, (unsigned long long)st.leaders,
           (unsigned long long)st.crashes, (unsigned long long)st.partitions,
           (unsigned long long)st.pauses, (unsigned long long)stat_msgs);
    printf("raft_sim: snapshots_taken=%llu installs=%llu chunks=%llu truncations=%llu "
           "config_changes=%llu transfers=%llu crashes_mid_update=%llu queue_drops=%llu "
           "codec_round_trips=%llu forged=%llu orphans=%llu\n",
           (unsigned long long)stat_snapshots, (unsigned long long)stat_installs,
           (unsigned long long)stat_chunks, (unsigned long long)stat_truncates,
           (unsigned long long)stat_changes, (unsigned long long)stat_transfers,
           (unsigned long long)stat_mid_crashes, (unsigned long long)stat_dropped,
           (unsigned long long)stat_wire, (unsigned long long)stat_forged,
           (unsigned long long)stat_orphans);
    return 0;
}
