/* raft_bench.c — figures for the Raft core alone (mode "sim"); not a test.
 *
 * What the issue ultimately wants (failover of real agents side by side with etcd)
 * needs the agent's LMDB log and transport; until then this measures what the core
 * and its timing configuration imply, on a virtual clock with a loopback-like network
 * (one-way delay 0.1-0.5 ms) and an fsync latency, so the numbers are reproducible:
 *   - failover_ms: leader killed -> a new leader has committed an entry of its own term
 *     (p50/p99/max over trials), for several election timeouts, 3 and 5 voters;
 *   - commit_p50_ms / commit_p99_ms: propose on the leader -> applied on the leader;
 *   - entries_per_s: CPU throughput of the core itself (wall clock), 3 voters in one
 *     process with instant delivery, 64-byte commands.
 * One JSON object per line.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "raft.h"

#define NMAX 5
#define QMAX 65536
#define TICK_MS 5 /* the agent's tick period */

struct msg {
    uint64_t at_us;
    unsigned to;
    bool persisted;
    raft_index p_index;
    raft_term p_term;
    struct raft_message m;
    struct raft_entry *ents;
};

static struct raft *node[NMAX];
static bool up[NMAX];
static unsigned n_nodes;
static struct msg *q;
static unsigned q_n;
static uint64_t now_us, rng = 1;
static uint32_t fsync_us = 1000, delay_us_min = 100, delay_us_max = 500;
static bool instant;
static raft_index applied[NMAX];
static uint64_t *propose_at_us; /* by index: when the leader accepted it, 0 = not ours */
static size_t propose_cap;
static double *lat_ms;
static size_t lat_n, lat_cap;
static uint64_t *propose_at2_us; /* same, consumed by the first follower that applies */
static double *flat_ms;
static size_t flat_n, flat_cap;

static uint64_t rnd(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void enqueue(struct msg *m)
{
    if (q_n == QMAX) {
        free(m->ents);
        return; /* bounded: drop like a full socket buffer */
    }
    q[q_n++] = *m;
}

static void carry_out(unsigned i, const struct raft_update *up_)
{
    for (unsigned k = 0; k < up_->n_msgs; k++) {
        const struct raft_message *src = &up_->msgs[k];
        struct msg m = {.to = (unsigned)src->to - 1, .m = *src};
        m.at_us = now_us + (instant ? 0 : delay_us_min + rnd() % (delay_us_max - delay_us_min));
        if (src->n_entries) {
            /* payloads are only read during this process's lifetime; copy the headers
             * and point at a private copy of the bytes */
            size_t bytes = 0;
            for (uint32_t e = 0; e < src->n_entries; e++)
                bytes += src->entries[e].len;
            m.ents = malloc(src->n_entries * sizeof(*m.ents) + bytes);
            uint8_t *p = (uint8_t *)(m.ents + src->n_entries);
            for (uint32_t e = 0; e < src->n_entries; e++) {
                m.ents[e] = src->entries[e];
                if (src->entries[e].len)
                    memcpy(p, src->entries[e].buf, src->entries[e].len);
                m.ents[e].buf = p;
                p += src->entries[e].len;
            }
            m.m.entries = m.ents;
        }
        if (src->type == RAFT_MSG_INSTALL_SNAPSHOT)
            continue; /* snapshots are off in this bench */
        enqueue(&m);
    }
    if (up_->n_append) {
        struct msg m = {.to = i, .persisted = true, .at_us = now_us + (instant ? 0 : fsync_us)};
        m.p_index = up_->append_first + up_->n_append - 1;
        m.p_term = up_->append[up_->n_append - 1].term;
        enqueue(&m);
    }
    for (unsigned k = 0; k < up_->n_apply; k++) {
        raft_index idx = up_->apply_first + k;
        applied[i] = idx;
        if (raft_role_of(node[i]) != RAFT_LEADER && idx < propose_cap && propose_at2_us[idx]) {
            if (flat_n == flat_cap) {
                flat_cap = flat_cap ? 2 * flat_cap : 4096;
                flat_ms = realloc(flat_ms, flat_cap * sizeof(*flat_ms));
            }
            flat_ms[flat_n++] = (double)(now_us - propose_at2_us[idx]) / 1000.0;
            propose_at2_us[idx] = 0;
        }
        if (raft_role_of(node[i]) == RAFT_LEADER && idx < propose_cap && propose_at_us[idx]) {
            if (lat_n == lat_cap) {
                lat_cap = lat_cap ? 2 * lat_cap : 4096;
                lat_ms = realloc(lat_ms, lat_cap * sizeof(*lat_ms));
            }
            lat_ms[lat_n++] = (double)(now_us - propose_at_us[idx]) / 1000.0;
            propose_at_us[idx] = 0;
        }
    }
}

static int step(unsigned i, struct raft_event *ev)
{
    struct raft_update u;
    ev->now_ms = now_us / 1000;
    int rv = raft_step(node[i], ev, &u);
    carry_out(i, &u);
    return rv;
}

static void deliver_until(uint64_t t_us)
{
    bool again = true;
    while (again) {
        again = false;
        for (unsigned k = 0; k < q_n;) {
            if (q[k].at_us > t_us) {
                k++;
                continue;
            }
            struct msg m = q[k];
            q[k] = q[--q_n];
            again = true;
            if (up[m.to]) {
                struct raft_event ev = {0};
                if (m.persisted) {
                    ev.type = RAFT_EV_PERSISTED;
                    ev.persisted.index = m.p_index;
                    ev.persisted.term = m.p_term;
                } else {
                    ev.type = RAFT_EV_RECEIVE;
                    ev.receive = m.m;
                }
                uint64_t save = now_us;
                if (m.at_us > now_us)
                    now_us = m.at_us;
                step(m.to, &ev);
                now_us = save > now_us ? save : now_us;
            }
            free(m.ents);
        }
    }
}

static void advance_ms(uint64_t ms)
{
    for (uint64_t k = 0; k < ms; k++) {
        uint64_t end = now_us + 1000;
        deliver_until(end);
        now_us = end;
        if ((now_us / 1000) % TICK_MS == 0)
            for (unsigned i = 0; i < n_nodes; i++)
                if (up[i]) {
                    struct raft_event ev = {.type = RAFT_EV_TICK};
                    step(i, &ev);
                }
    }
}

static void cluster(unsigned n, uint32_t eto, uint32_t hb, uint64_t seed)
{
    for (unsigned i = 0; i < n_nodes; i++)
        raft_free(node[i]);
    for (unsigned k = 0; k < q_n; k++)
        free(q[k].ents);
    q_n = 0;
    n_nodes = n;
    rng = seed;
    now_us = 1000000;
    lat_n = 0;
    flat_n = 0;
    memset(propose_at_us, 0, propose_cap * sizeof(*propose_at_us));
    memset(propose_at2_us, 0, propose_cap * sizeof(*propose_at2_us));
    struct raft_configuration c = {.n = n};
    for (unsigned i = 0; i < n; i++)
        c.servers[i] = (struct raft_server){.id = i + 1, .role = RAFT_VOTER};
    uint8_t buf[RAFT_CONFIG_ENCODED_MAX];
    struct raft_entry boot;
    raft_bootstrap_entry(&c, buf, &boot);
    for (unsigned i = 0; i < n; i++) {
        struct raft_opts o;
        raft_opts_default(&o, i + 1, seed);
        o.election_timeout_ms = eto;
        o.heartbeat_ms = hb;
        o.snapshot_threshold = 0;
        o.uncommitted_max = 4096;
        node[i] = raft_new(&o);
        raft_load(node[i], 1, 0, NULL, 1, &boot, 1);
        up[i] = true;
        applied[i] = 0;
    }
}

static int leader(void)
{
    int l = -1;
    raft_term t = 0;
    for (unsigned i = 0; i < n_nodes; i++)
        if (up[i] && raft_role_of(node[i]) == RAFT_LEADER && raft_term_of(node[i]) >= t) {
            l = (int)i;
            t = raft_term_of(node[i]);
        }
    return l;
}

static int propose(unsigned i)
{
    uint8_t b[64];
    memset(b, 0x5a, sizeof(b));
    struct raft_event ev = {.type = RAFT_EV_PROPOSE};
    ev.propose.buf = b;
    ev.propose.len = sizeof(b);
    struct raft_update u;
    ev.now_ms = now_us / 1000;
    int rv = raft_step(node[i], &ev, &u);
    if (rv == 0 && u.proposed_index < propose_cap) {
        propose_at_us[u.proposed_index] = now_us;
        propose_at2_us[u.proposed_index] = now_us;
    }
    carry_out(i, &u);
    return rv;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof(*v), cmp);
    size_t k = (size_t)(p * (double)(n - 1) + 0.5);
    return v[k];
}

static void bench_failover(unsigned n, uint32_t eto, uint32_t hb, unsigned trials)
{
    double *f = calloc(trials, sizeof(*f));
    unsigned got = 0, extra_elections = 0;
    for (unsigned t = 0; t < trials; t++) {
        cluster(n, eto, hb, 1000 + t);
        advance_ms(3000 + rnd() % 1000);
        int l = leader();
        if (l < 0)
            continue;
        raft_term t0 = raft_term_of(node[l]);
        up[l] = false; /* SIGKILL */
        uint64_t killed = now_us;
        for (int ms = 0; ms < 20000; ms++) {
            int nl = leader();
            if (nl >= 0 && nl != l &&
                raft_term_at(node[nl], raft_commit_of(node[nl])) == raft_term_of(node[nl])) {
                f[got++] = (double)(now_us - killed) / 1000.0;
                extra_elections += (unsigned)(raft_term_of(node[nl]) - t0 - 1);
                break;
            }
            if (ms % 10 == 0 && nl >= 0 && nl != l)
                propose((unsigned)nl);
            advance_ms(1);
        }
    }
    if (got) {
        double max = 0;
        for (unsigned k = 0; k < got; k++)
            max = f[k] > max ? f[k] : max;
        double p50 = pct(f, got, 0.5), p99 = pct(f, got, 0.99);
#define FAILOVER_FMT                                                                     \
    "{\"bench\":\"consensus\",\"system\":\"drover\",\"mode\":\"sim\",\"metric\":\"%s\","    \
    "\"value\":%.1f,\"unit\":\"ms\",\"hosts\":%u,\"election_timeout_ms\":%u,"               \
    "\"heartbeat_ms\":%u,\"trials\":%u,\"extra_terms\":%u}\n"
        printf(FAILOVER_FMT, "failover_ms_p50", p50, n, eto, hb, got, extra_elections);
        printf(FAILOVER_FMT, "failover_ms_p99", p99, n, eto, hb, got, extra_elections);
        printf(FAILOVER_FMT, "failover_ms_max", max, n, eto, hb, got, extra_elections);
    }
    free(f);
}

static void bench_commit_latency(unsigned n)
{
    cluster(n, 1000, 100, 7);
    advance_ms(3000);
    int l = leader();
    for (int ms = 0; ms < 20000; ms++) {
        if (ms % 37 == 0)
            propose((unsigned)l);
        advance_ms(1);
    }
    if (!lat_n)
        return;
    double p50 = pct(lat_ms, lat_n, 0.5), p99 = pct(lat_ms, lat_n, 0.99);
#define COMMIT_FMT                                                                       \
    "{\"bench\":\"consensus\",\"system\":\"drover\",\"mode\":\"sim\",\"metric\":\"%s\","    \
    "\"value\":%.2f,\"unit\":\"ms\",\"hosts\":%u,\"fsync_ms\":%.1f,"                        \
    "\"one_way_delay_ms\":\"%.1f-%.1f\",\"n\":%zu}\n"
    printf(COMMIT_FMT, "commit_p50_ms", p50, n, fsync_us / 1000.0, delay_us_min / 1000.0,
           delay_us_max / 1000.0, lat_n);
    printf(COMMIT_FMT, "commit_p99_ms", p99, n, fsync_us / 1000.0, delay_us_min / 1000.0,
           delay_us_max / 1000.0, lat_n);
    if (flat_n) {
        /* what a client whose request a follower forwarded waits for: the first
         * follower to apply the entry (commit notification, not next heartbeat) */
        double f50 = pct(flat_ms, flat_n, 0.5), f99 = pct(flat_ms, flat_n, 0.99);
        printf(COMMIT_FMT, "follower_apply_p50_ms", f50, n, fsync_us / 1000.0,
               delay_us_min / 1000.0, delay_us_max / 1000.0, flat_n);
        printf(COMMIT_FMT, "follower_apply_p99_ms", f99, n, fsync_us / 1000.0,
               delay_us_min / 1000.0, delay_us_max / 1000.0, flat_n);
    }
}

static void bench_throughput(unsigned n, uint64_t entries)
{
    instant = true;
    cluster(n, 1000, 100, 9);
    advance_ms(3000);
    int l = leader();
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    raft_index start = applied[l];
    while (applied[l] - start < entries) {
        for (int k = 0; k < 256; k++)
            if (propose((unsigned)l) != 0)
                break;
        deliver_until(now_us);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("{\"bench\":\"consensus\",\"system\":\"drover\",\"mode\":\"core\","
           "\"metric\":\"entries_per_s\",\"value\":%.0f,\"unit\":\"entries/s\",\"hosts\":%u,"
           "\"entry_bytes\":64,\"n\":%" PRIu64 ",\"note\":\"CPU cost of the core only; "
           "no disk, no network\"}\n",
           (double)entries / s, n, entries);
    instant = false;
}

int main(int argc, char **argv)
{
    unsigned trials = argc > 1 ? (unsigned)atoi(argv[1]) : 200;
    propose_cap = 1u << 22;
    propose_at_us = calloc(propose_cap, sizeof(*propose_at_us));
    propose_at2_us = calloc(propose_cap, sizeof(*propose_at2_us));
    q = calloc(QMAX, sizeof(*q));
    /* etcd's defaults (1000/100) for comparison with the figure in ANCHORS.md, then
     * the tighter timings drover's <= 1 s target calls for */
    bench_failover(3, 1000, 100, trials);
    bench_failover(3, 300, 50, trials);
    bench_failover(5, 300, 50, trials);
    bench_failover(3, 200, 30, trials);
    bench_commit_latency(3);
    bench_commit_latency(5);
    bench_throughput(3, 200000);
    bench_throughput(5, 200000);
    for (unsigned i = 0; i < n_nodes; i++)
        raft_free(node[i]);
    for (unsigned k = 0; k < q_n; k++)
        free(q[k].ents);
    free(q);
    free(propose_at_us);
    free(propose_at2_us);
    free(lat_ms);
    free(flat_ms);
    return 0;
}
