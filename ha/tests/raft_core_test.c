/* raft_core_test.c — unit tests of the Raft core's rules, one scenario each, on a tiny
 * synchronous harness (no faults; the simulator in tests/sim/raft covers those). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "raft.h"

#define N_MAX 6
#define QMAX 4096

struct tnode {
    struct raft *r;
    bool up;
    uint64_t applied[1024]; /* first 8 bytes of each applied command (0 for non-commands) */
    size_t n_applied;
    raft_index applied_upto;
    uint8_t snap[8192]; /* snapshot blob: applied[] as bytes */
    uint64_t snap_size;
    uint8_t staging[8192];
    unsigned chunks_rx;
    bool auto_snapshot;
};

struct qmsg {
    unsigned to;
    struct raft_message m;
    struct raft_entry ents[64];
    uint8_t payload[64][64];
    uint8_t data[1024];
    struct raft_configuration conf;
    bool persisted;
    raft_index p_index;
    raft_term p_term;
};

static struct tnode nodes[N_MAX];
static unsigned n_nodes;
static struct qmsg *q;
static unsigned q_head, q_tail;
static uint64_t now;
static bool cut[N_MAX + 1][N_MAX + 1]; /* cut[a][b]: a's messages to b are lost */

static void carry_out(unsigned i, const struct raft_update *up);

static void push(unsigned to, const struct raft_message *m, unsigned from)
{
    if (cut[from + 1][to + 1] || !nodes[to].up)
        return;
    assert_true(q_tail - q_head < QMAX);
    struct qmsg *x = &q[q_tail++ % QMAX];
    memset(x, 0, sizeof(*x));
    x->to = to;
    x->m = *m;
    assert_true(m->n_entries <= 64);
    for (uint32_t k = 0; k < m->n_entries; k++) {
        x->ents[k] = m->entries[k];
        assert_true(m->entries[k].len <= 64);
        if (m->entries[k].len)
            memcpy(x->payload[k], m->entries[k].buf, m->entries[k].len);
        x->ents[k].buf = x->payload[k];
    }
    x->m.entries = x->ents;
    if (m->type == RAFT_MSG_INSTALL_SNAPSHOT) {
        memcpy(x->data, nodes[from].snap + m->snapshot.offset, m->snapshot.len);
        x->m.snapshot.data = x->data;
        x->conf = *m->config;
        x->m.config = &x->conf;
    }
}

static int step(unsigned i, struct raft_event *ev)
{
    struct raft_update up;
    ev->now_ms = now;
    int rv = raft_step(nodes[i].r, ev, &up);
    carry_out(i, &up);
    return rv;
}

static void carry_out(unsigned i, const struct raft_update *up)
{
    struct tnode *n = &nodes[i];
    if (up->flags & RAFT_UPD_SNAPSHOT_CHUNK) {
        memcpy(n->staging + up->chunk.offset, up->chunk.data, up->chunk.len);
        n->chunks_rx++;
    }
    if (up->flags & RAFT_UPD_SNAPSHOT_INSTALL) {
        raft_index idx = up->install.index;
        memcpy(n->applied, n->staging, idx * 8);
        memcpy(n->snap, n->staging, idx * 8);
        n->snap_size = idx * 8;
        n->n_applied = idx;
        n->applied_upto = idx;
    }
    for (unsigned k = 0; k < up->n_msgs; k++)
        push((unsigned)(up->msgs[k].to - 1), &up->msgs[k], i);
    for (unsigned k = 0; k < up->n_apply; k++) {
        assert_int_equal(up->apply_first + k, n->applied_upto + 1);
        uint64_t v = 0;
        if (up->apply[k].type == RAFT_ENTRY_COMMAND)
            memcpy(&v, up->apply[k].buf, 8);
        n->applied[n->n_applied++] = v;
        n->applied_upto++;
    }
    if (up->n_append) {
        struct qmsg *x = &q[q_tail++ % QMAX];
        memset(x, 0, sizeof(*x));
        x->to = i;
        x->persisted = true;
        x->p_index = up->append_first + up->n_append - 1;
        x->p_term = up->append[up->n_append - 1].term;
    }
    if ((up->flags & RAFT_UPD_SNAPSHOT_TAKE) && n->auto_snapshot) {
        raft_index idx = up->snapshot_take_index;
        memcpy(n->snap, n->applied, idx * 8);
        n->snap_size = idx * 8;
        struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_TAKEN};
        ev.snapshot_taken.index = idx;
        ev.snapshot_taken.size = idx * 8;
        assert_int_equal(step(i, &ev), 0);
    }
}

static void deliver(void)
{
    while (q_head != q_tail) {
        struct qmsg *x = &q[q_head++ % QMAX];
        if (!nodes[x->to].up)
            continue;
        struct raft_event ev = {0};
        if (x->persisted) {
            ev.type = RAFT_EV_PERSISTED;
            ev.persisted.index = x->p_index;
            ev.persisted.term = x->p_term;
        } else {
            ev.type = RAFT_EV_RECEIVE;
            ev.receive = x->m;
        }
        step(x->to, &ev);
    }
}

static void run(uint64_t ms)
{
    for (uint64_t k = 0; k < ms; k += 5) {
        now += 5;
        for (unsigned i = 0; i < n_nodes; i++)
            if (nodes[i].up) {
                struct raft_event ev = {.type = RAFT_EV_TICK};
                step(i, &ev);
            }
        deliver();
    }
}

/* voters 1..v, learners v+1..v+l, plus `spare` servers outside the configuration */
static void setup(unsigned v, unsigned l, unsigned spare, bool pre_vote)
{
    memset(nodes, 0, sizeof(nodes));
    memset(cut, 0, sizeof(cut));
    q = calloc(QMAX, sizeof(*q));
    q_head = q_tail = 0;
    now = 1000;
    n_nodes = v + l + spare;
    struct raft_configuration c = {.n = v + l};
    for (unsigned i = 0; i < v + l; i++)
        c.servers[i] = (struct raft_server){.id = i + 1, .role = i < v ? RAFT_VOTER : RAFT_LEARNER};
    uint8_t buf[RAFT_CONFIG_ENCODED_MAX];
    struct raft_entry boot;
    raft_bootstrap_entry(&c, buf, &boot);
    for (unsigned i = 0; i < n_nodes; i++) {
        struct raft_opts o;
        raft_opts_default(&o, i + 1, 42);
        o.election_timeout_ms = 100;
        o.heartbeat_ms = 20;
        o.pre_vote = pre_vote;
        o.snapshot_threshold = 0;
        o.snapshot_trailing = 2;
        o.snapshot_chunk_bytes = 24;
        nodes[i].r = raft_new(&o);
        assert_non_null(nodes[i].r);
        nodes[i].up = true;
        bool member = i < v + l;
        assert_int_equal(raft_load(nodes[i].r, 1, 0, NULL, 1, member ? &boot : NULL, member), 0);
        nodes[i].applied_upto = 0;
    }
}

static void teardown_nodes(void)
{
    for (unsigned i = 0; i < n_nodes; i++)
        raft_free(nodes[i].r);
    free(q);
}

static int leader(void)
{
    int l = -1;
    raft_term t = 0;
    for (unsigned i = 0; i < n_nodes; i++)
        if (nodes[i].up && raft_role_of(nodes[i].r) == RAFT_LEADER && raft_term_of(nodes[i].r) >= t) {
            l = (int)i;
            t = raft_term_of(nodes[i].r);
        }
    return l;
}

static int propose(unsigned i, uint64_t v)
{
    uint8_t b[8];
    memcpy(b, &v, 8);
    struct raft_event ev = {.type = RAFT_EV_PROPOSE};
    ev.propose.buf = b;
    ev.propose.len = 8;
    return step(i, &ev);
}

static void isolate(unsigned i, bool on)
{
    for (unsigned j = 0; j <= N_MAX; j++) {
        cut[i + 1][j] = on;
        cut[j][i + 1] = on;
    }
}

/* paper §5.2: one leader emerges, its term is 2 (bootstrap is term 1), everybody
 * follows it; pre-vote (diss. §9.6) does not bump terms before the real election. */
static void test_election(void **state)
{
    (void)state;
    setup(3, 0, 0, true);
    run(400);
    int l = leader();
    assert_true(l >= 0);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(raft_term_of(nodes[i].r), 2);
        assert_int_equal(raft_leader_of(nodes[i].r), (raft_id)l + 1);
    }
    unsigned leaders = 0;
    for (unsigned i = 0; i < 3; i++)
        leaders += raft_role_of(nodes[i].r) == RAFT_LEADER;
    assert_int_equal(leaders, 1);
    teardown_nodes();
}

/* diss. §9.6: an isolated follower keeps timing out but, with pre-vote, never raises
 * its term, so rejoining does not depose the leader. */
static void test_pre_vote_isolated_follower(void **state)
{
    (void)state;
    setup(3, 0, 0, true);
    run(400);
    int l = leader();
    unsigned f = (unsigned)(l + 1) % 3;
    raft_term t = raft_term_of(nodes[l].r);
    isolate(f, true);
    run(2000);
    assert_int_equal(raft_term_of(nodes[f].r), t);
    isolate(f, false);
    run(300);
    assert_int_equal(leader(), l);
    assert_int_equal(raft_term_of(nodes[l].r), t);
    teardown_nodes();
}

/* diss. §6.2: a leader cut off from the majority steps down within ~an election
 * timeout; the majority elects a new leader in a higher term. */
static void test_check_quorum(void **state)
{
    (void)state;
    setup(3, 0, 0, true);
    run(400);
    int l = leader();
    isolate((unsigned)l, true);
    run(400);
    assert_int_not_equal(raft_role_of(nodes[l].r), RAFT_LEADER);
    int l2 = leader();
    assert_true(l2 >= 0 && l2 != l);
    teardown_nodes();
}

/* raft_quorum_contact_ms: a leader's majority contact stays fresh while followers
 * answer and ages once it is cut off; followers report their last leader contact. */
static void test_quorum_contact(void **state)
{
    (void)state;
    setup(3, 0, 0, true);
    run(400);
    int l = leader();
    unsigned f = (unsigned)(l + 1) % 3;
    assert_true(now - raft_quorum_contact_ms(nodes[l].r) <= 50);
    assert_true(now - raft_quorum_contact_ms(nodes[f].r) <= 50);
    isolate((unsigned)l, true);
    run(60);
    uint64_t age = now - raft_quorum_contact_ms(nodes[l].r);
    assert_true(age >= 40 && age <= 80);
    teardown_nodes();
}

/* Quorum contact counts from when the leader SENT what a majority answered, not from when
 * the answers were processed: a leader that reads late answers (its loop stalled) must
 * not believe its followers heard from it later than they did (ha_drv.c's lease). */
static void test_quorum_contact_from_send_time(void **state)
{
    (void)state;
    setup(3, 0, 0, true);
    run(400);
    int l = leader();
    uint64_t first = now;
    for (int k = 0; k < 12; k++) {   /* 60 ms of heartbeats, none answered yet */
        now += 5;
        struct raft_event ev = {.type = RAFT_EV_TICK};
        step((unsigned)l, &ev);
    }
    uint64_t last_sent = now;
    now += 300;                      /* followers and leader stalled */
    deliver();
    uint64_t qc = raft_quorum_contact_ms(nodes[l].r);
    assert_true(qc >= first && qc <= last_sent);
    assert_true(now - qc >= 300);
    teardown_nodes();
}

/* After TIMEOUT_NOW the target may win at once (the followers' leader lease does not
 * hold it back), so the old leader must not vouch for any time after sending it. */
static void test_vouch_limit_after_transfer(void **state)
{
    (void)state;
    setup(3, 0, 0, true);
    run(400);
    int l = leader();
    assert_true(raft_vouch_limit_ms(nodes[l].r) == UINT64_MAX);
    unsigned t = (unsigned)(l + 1) % 3;
    uint64_t at = now;
    struct raft_event ev = {.type = RAFT_EV_TRANSFER};
    ev.transfer.target = t + 1;
    assert_int_equal(step((unsigned)l, &ev), 0);
    if (raft_role_of(nodes[l].r) == RAFT_LEADER)
        assert_true(raft_vouch_limit_ms(nodes[l].r) <= at);
    deliver();
    run(10);
    assert_int_equal(leader(), (int)t);
    assert_true(raft_vouch_limit_ms(nodes[l].r) == 0);   /* not leader: vouches for nothing */
    assert_true(raft_vouch_limit_ms(nodes[t].r) == UINT64_MAX);
    teardown_nodes();
}

/* paper §5.3: proposals are replicated and applied in the same order everywhere;
 * non-leaders refuse proposals with the leader as a hint. */
static void test_replication_and_apply(void **state)
{
    (void)state;
    setup(5, 1, 0, true);
    run(400);
    int l = leader();
    for (uint64_t v = 1; v <= 50; v++)
        assert_int_equal(propose((unsigned)l, v), 0);
    run(200);
    unsigned other = (unsigned)(l + 1) % 5;
    assert_int_equal(propose(other, 99), RAFT_ENOTLEADER);
    for (unsigned i = 0; i < 6; i++) {
        size_t k = 0;
        for (size_t j = 0; j < nodes[i].n_applied; j++)
            if (nodes[i].applied[j])
                assert_int_equal(nodes[i].applied[j], ++k);
        assert_int_equal(k, 50);
    }
    teardown_nodes();
}

/* paper §5.4.2 / Figure 8: a leader never commits an entry of an older term by
 * counting replicas; only once an entry of its own term is on a majority. */
static void test_commit_only_current_term(void **state)
{
    (void)state;
    struct raft_opts o;
    raft_opts_default(&o, 1, 7);
    o.election_timeout_ms = 100;
    o.heartbeat_ms = 20;
    o.pre_vote = false;
    struct raft *r = raft_new(&o);
    struct raft_configuration c = {.n = 3};
    for (unsigned i = 0; i < 3; i++)
        c.servers[i] = (struct raft_server){.id = i + 1, .role = RAFT_VOTER};
    uint8_t buf[RAFT_CONFIG_ENCODED_MAX];
    struct raft_entry log[2];
    raft_bootstrap_entry(&c, buf, &log[0]);
    uint64_t cmd = 5;
    log[1] = (struct raft_entry){.term = 2, .type = RAFT_ENTRY_COMMAND, .len = 8, .buf = &cmd};
    assert_int_equal(raft_load(r, 3, 0, NULL, 1, log, 2), 0);
    struct raft_update up;
    struct raft_event ev = {.type = RAFT_EV_TICK, .now_ms = 0};
    raft_step(r, &ev, &up);
    ev.now_ms = 1000;
    raft_step(r, &ev, &up); /* times out: candidate in term 4 */
    assert_int_equal(raft_role_of(r), RAFT_CANDIDATE);
    assert_int_equal(raft_term_of(r), 4);
    assert_true(up.flags & RAFT_UPD_HARD_STATE);
    assert_int_equal(up.vote, 1);
    ev = (struct raft_event){.type = RAFT_EV_RECEIVE, .now_ms = 1001};
    ev.receive = (struct raft_message){.type = RAFT_MSG_REQUEST_VOTE_RESULT, .from = 2, .to = 1, .term = 4};
    raft_step(r, &ev, &up);
    assert_int_equal(raft_role_of(r), RAFT_LEADER);
    assert_int_equal(raft_last_index(r), 3); /* barrier of term 4 at index 3 */
    assert_int_equal(raft_term_at(r, 3), 4);
    ev = (struct raft_event){.type = RAFT_EV_PERSISTED, .now_ms = 1002};
    ev.persisted.index = 3;
    ev.persisted.term = 4;
    raft_step(r, &ev, &up);
    /* follower 2 holds index 2 (term 2): a majority, but of an older term */
    ev = (struct raft_event){.type = RAFT_EV_RECEIVE, .now_ms = 1003};
    ev.receive = (struct raft_message){.type = RAFT_MSG_APPEND_ENTRIES_RESULT, .from = 2, .to = 1, .term = 4, .index = 2};
    raft_step(r, &ev, &up);
    assert_int_equal(raft_commit_of(r), 0);
    assert_int_equal(up.n_apply, 0);
    ev.receive.index = 3;
    raft_step(r, &ev, &up);
    assert_int_equal(raft_commit_of(r), 3);
    assert_int_equal(up.n_apply, 3);
    assert_int_equal(up.apply_first, 1);
    raft_free(r);
}

/* Figure 2 receiver rules: a vote needs an up-to-date log (paper §5.4.1) and one vote
 * per term, made durable (hard state in the update) before the reply. */
static void test_vote_rules(void **state)
{
    (void)state;
    struct raft_opts o;
    raft_opts_default(&o, 1, 7);
    o.pre_vote = false;
    o.check_quorum = false;
    struct raft *r = raft_new(&o);
    struct raft_configuration c = {.n = 3};
    for (unsigned i = 0; i < 3; i++)
        c.servers[i] = (struct raft_server){.id = i + 1, .role = RAFT_VOTER};
    uint8_t buf[RAFT_CONFIG_ENCODED_MAX];
    struct raft_entry log[2];
    raft_bootstrap_entry(&c, buf, &log[0]);
    log[1] = (struct raft_entry){.term = 3, .type = RAFT_ENTRY_BARRIER};
    assert_int_equal(raft_load(r, 3, 0, NULL, 1, log, 2), 0);
    struct raft_update up;
    struct raft_event ev = {.type = RAFT_EV_RECEIVE, .now_ms = 5};
    /* stale log (last term 2): refused, but the newer term is adopted */
    ev.receive = (struct raft_message){.type = RAFT_MSG_REQUEST_VOTE, .from = 2, .to = 1, .term = 4, .index = 9, .log_term = 2};
    raft_step(r, &ev, &up);
    assert_int_equal(up.n_msgs, 1);
    assert_true(up.msgs[0].reject);
    assert_int_equal(raft_term_of(r), 4);
    /* up-to-date: granted, durable */
    ev.receive = (struct raft_message){.type = RAFT_MSG_REQUEST_VOTE, .from = 3, .to = 1, .term = 4, .index = 2, .log_term = 3};
    raft_step(r, &ev, &up);
    assert_false(up.msgs[0].reject);
    assert_true(up.flags & RAFT_UPD_HARD_STATE);
    assert_int_equal(up.vote, 3);
    /* a second candidate in the same term: refused */
    ev.receive = (struct raft_message){.type = RAFT_MSG_REQUEST_VOTE, .from = 2, .to = 1, .term = 4, .index = 5, .log_term = 3};
    raft_step(r, &ev, &up);
    assert_true(up.msgs[0].reject);
    raft_free(r);
}

/* paper Figure 2, AppendEntries rule 5: commitIndex = min(leaderCommit, index of the
 * last NEW entry) — not the follower's last index, which may be a stale suffix from an
 * older term that the leader's log does not share. */
static void test_follower_commit_bound(void **state)
{
    (void)state;
    struct raft_opts o;
    raft_opts_default(&o, 2, 7);
    struct raft *r = raft_new(&o);
    struct raft_configuration c = {.n = 3};
    for (unsigned i = 0; i < 3; i++)
        c.servers[i] = (struct raft_server){.id = i + 1, .role = RAFT_VOTER};
    uint8_t buf[RAFT_CONFIG_ENCODED_MAX];
    struct raft_entry log[3];
    raft_bootstrap_entry(&c, buf, &log[0]);
    log[1] = (struct raft_entry){.term = 2, .type = RAFT_ENTRY_BARRIER};
    log[2] = (struct raft_entry){.term = 2, .type = RAFT_ENTRY_COMMAND, .len = 3, .buf = "old"};
    assert_int_equal(raft_load(r, 2, 0, NULL, 1, log, 3), 0);
    /* leader of term 3 holds 1:t1 2:t2 3:t3 4:t3, committed 4; sends one entry */
    struct raft_entry e = {.term = 2, .type = RAFT_ENTRY_BARRIER};
    struct raft_event ev = {.type = RAFT_EV_RECEIVE, .now_ms = 5};
    ev.receive = (struct raft_message){.type = RAFT_MSG_APPEND_ENTRIES, .from = 1, .to = 2,
                                       .term = 3, .index = 1, .log_term = 1, .commit = 4,
                                       .n_entries = 1, .entries = &e};
    struct raft_update up;
    raft_step(r, &ev, &up);
    assert_int_equal(raft_commit_of(r), 2); /* not 3: entry 3 (term 2) is stale */
    assert_int_equal(raft_last_index(r), 3);
    assert_int_equal(up.n_msgs, 1);
    assert_false(up.msgs[0].reject);
    assert_int_equal(up.msgs[0].index, 2);
    raft_free(r);
}

/* paper §7: a follower that missed compacted entries catches up by a chunked snapshot
 * and then by normal replication. */
static void test_snapshot_install(void **state)
{
    (void)state;
    setup(3, 0, 0, true);
    run(400);
    int l = leader();
    unsigned f = (unsigned)(l + 1) % 3;
    isolate(f, true);
    for (uint64_t v = 1; v <= 30; v++)
        assert_int_equal(propose((unsigned)l, v), 0);
    run(100);
    /* the leader snapshots its applied state and compacts its log */
    nodes[l].auto_snapshot = true;
    raft_index idx = raft_applied_of(nodes[l].r);
    memcpy(nodes[l].snap, nodes[l].applied, idx * 8);
    nodes[l].snap_size = idx * 8;
    struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_TAKEN};
    ev.snapshot_taken.index = idx;
    ev.snapshot_taken.size = idx * 8;
    assert_int_equal(step((unsigned)l, &ev), 0);
    assert_int_equal(raft_snapshot_index(nodes[l].r), idx);
    assert_null(raft_entry_at(nodes[l].r, 2));
    isolate(f, false);
    run(400);
    assert_true(nodes[f].chunks_rx > 1); /* 24-byte chunks */
    assert_int_equal(raft_snapshot_index(nodes[f].r), idx);
    assert_int_equal(raft_applied_of(nodes[f].r), raft_applied_of(nodes[l].r));
    assert_memory_equal(nodes[f].applied, nodes[l].applied, nodes[l].n_applied * 8);
    teardown_nodes();
}

static int change(unsigned i, raft_id id, uint8_t role)
{
    struct raft_event ev = {.type = RAFT_EV_CHANGE};
    ev.change.id = id;
    ev.change.role = role;
    return step(i, &ev);
}

/* diss. §4.1-4.2: a learner catches up without voting; one change at a time; promote,
 * remove; a removed leader steps down once the change commits. */
static void test_membership(void **state)
{
    (void)state;
    setup(3, 0, 1, true);
    run(400);
    int l = leader();
    assert_int_equal(propose((unsigned)l, 1), 0);
    assert_int_equal(change((unsigned)l, 4, RAFT_LEARNER), 0);
    /* a second change before the first commits is refused */
    assert_int_equal(change((unsigned)l, 4, RAFT_VOTER), RAFT_ECHANGE);
    run(200);
    assert_int_equal(raft_applied_of(nodes[3].r), raft_applied_of(nodes[l].r));
    assert_int_equal(raft_config_voters(raft_config_of(nodes[l].r)), 3);
    assert_int_equal(raft_role_of(nodes[3].r), RAFT_FOLLOWER);
    assert_int_equal(change((unsigned)l, 4, RAFT_VOTER), 0);
    run(200);
    assert_int_equal(raft_config_voters(raft_config_of(nodes[3].r)), 4);
    /* remove the leader itself: it keeps leading until the change commits (§4.2.2) */
    assert_int_equal(change((unsigned)l, (raft_id)l + 1, 0), 0);
    run(600);
    int l2 = leader();
    assert_true(l2 >= 0 && l2 != l);
    assert_int_equal(raft_config_voters(raft_config_of(nodes[l2].r)), 3);
    assert_null(raft_config_get(raft_config_of(nodes[l2].r), (raft_id)l + 1));
    assert_int_equal(change((unsigned)l2, 9, 0), RAFT_ENOTFOUND);
    teardown_nodes();
}

/* diss. §3.10: leadership moves to a caught-up voter without waiting for timeouts. */
static void test_transfer(void **state)
{
    (void)state;
    setup(3, 0, 0, true);
    run(400);
    int l = leader();
    unsigned t = (unsigned)(l + 1) % 3;
    struct raft_event ev = {.type = RAFT_EV_TRANSFER};
    ev.transfer.target = t + 1;
    assert_int_equal(step((unsigned)l, &ev), 0);
    deliver();
    run(10);
    assert_int_equal(leader(), (int)t);
    teardown_nodes();
}

/* a single voter commits on its own, as soon as its write is durable */
static void test_single_voter(void **state)
{
    (void)state;
    setup(1, 0, 0, true);
    run(300);
    assert_int_equal(leader(), 0);
    assert_int_equal(propose(0, 7), 0);
    deliver();
    assert_int_equal(nodes[0].applied[nodes[0].n_applied - 1], 7);
    teardown_nodes();
}

static void test_config_codec(void **state)
{
    (void)state;
    struct raft_configuration c = {.n = 2}, d;
    c.servers[0] = (struct raft_server){.id = 7, .role = RAFT_VOTER};
    c.servers[1] = (struct raft_server){.id = 9, .role = RAFT_LEARNER};
    uint8_t buf[RAFT_CONFIG_ENCODED_MAX];
    size_t n = raft_config_encode(&c, buf);
    assert_int_equal(raft_config_decode(buf, n, &d), 0);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.servers[1].id, 9);
    assert_int_equal(raft_config_decode(buf, n - 1, &d), RAFT_ECORRUPT);
    buf[4 + 8] = 3; /* bad role */
    assert_int_equal(raft_config_decode(buf, n, &d), RAFT_ECORRUPT);
}


/* ---- who may send what (raft.c's header; issue 12) ------------------------------- */

/* One server, id 1, loaded with voters {1,2,3} and learner 4 at term 3. */
static struct raft *lone(bool pre_vote, raft_term term)
{
    struct raft_opts o;
    raft_opts_default(&o, 1, 7);
    o.election_timeout_ms = 100;
    o.heartbeat_ms = 20;
    o.pre_vote = pre_vote;
    struct raft *r = raft_new(&o);
    struct raft_configuration c = {.n = 4};
    for (unsigned i = 0; i < 4; i++)
        c.servers[i] = (struct raft_server){.id = i + 1, .role = i < 3 ? RAFT_VOTER : RAFT_LEARNER};
    static uint8_t buf[RAFT_CONFIG_ENCODED_MAX];
    struct raft_entry boot;
    raft_bootstrap_entry(&c, buf, &boot);
    assert_int_equal(raft_load(r, term, 0, NULL, 1, &boot, 1), 0);
    return r;
}

static void rx(struct raft *r, struct raft_update *up, struct raft_message m)
{
    struct raft_event ev = {.type = RAFT_EV_RECEIVE, .now_ms = 10};
    ev.receive = m;
    raft_step(r, &ev, up);
}

/* The attack: an AppendEntries with term UINT64_MAX from an id outside the
 * configuration. It and every other message from a non-member are dropped, counted,
 * and leave term, vote and leader alone. */
static void test_forged_non_member(void **state)
{
    (void)state;
    struct raft *r = lone(true, 3);
    struct raft_update up;
    const uint8_t types[] = {RAFT_MSG_APPEND_ENTRIES, RAFT_MSG_INSTALL_SNAPSHOT, RAFT_MSG_TIMEOUT_NOW,
                             RAFT_MSG_REQUEST_VOTE, RAFT_MSG_REQUEST_VOTE_RESULT,
                             RAFT_MSG_APPEND_ENTRIES_RESULT, RAFT_MSG_INSTALL_SNAPSHOT_RESULT};
    struct raft_configuration sc = {0};
    for (unsigned k = 0; k < sizeof types; k++) {
        struct raft_message m = {.type = types[k], .from = 9, .to = 1, .term = 1000, .index = 1, .log_term = 1};
        m.config = &sc;
        rx(r, &up, m);
        assert_int_equal(up.n_msgs, 0);
        assert_false(up.flags & RAFT_UPD_HARD_STATE);
    }
    assert_int_equal(raft_stats_of(r)->dropped_not_member, sizeof types);
    rx(r, &up, (struct raft_message){.type = RAFT_MSG_APPEND_ENTRIES, .from = 9, .to = 1, .term = UINT64_MAX});
    assert_int_equal(raft_stats_of(r)->dropped_term_bound, 1);
    assert_int_equal(raft_term_of(r), 3);
    assert_int_equal(raft_leader_of(r), 0);
    /* from id 0, from ourselves, to someone else */
    rx(r, &up, (struct raft_message){.type = RAFT_MSG_APPEND_ENTRIES, .from = 0, .to = 1, .term = 5});
    rx(r, &up, (struct raft_message){.type = RAFT_MSG_APPEND_ENTRIES, .from = 1, .to = 1, .term = 5});
    rx(r, &up, (struct raft_message){.type = RAFT_MSG_APPEND_ENTRIES, .from = 2, .to = 3, .term = 5});
    assert_int_equal(raft_stats_of(r)->dropped_misaddressed, 3);
    assert_int_equal(raft_term_of(r), 3);
    assert_int_equal(raft_anomalies(r), 0);
    raft_free(r);
}

/* A learner never leads and never takes part in elections: its AppendEntries,
 * InstallSnapshot, TimeoutNow, vote requests (pre-vote or not) and vote answers are
 * dropped, and so is any message of its carrying a newer term; its answers in our term
 * still count. */
static void test_learner_cannot_lead(void **state)
{
    (void)state;
    struct raft *r = lone(true, 3);
    struct raft_update up;
    struct raft_configuration sc = {0};
    struct raft_message leaderish[] = {
        {.type = RAFT_MSG_APPEND_ENTRIES, .from = 4, .to = 1, .term = 3, .index = 1, .log_term = 1},
        {.type = RAFT_MSG_APPEND_ENTRIES, .from = 4, .to = 1, .term = 50, .index = 1, .log_term = 1},
        {.type = RAFT_MSG_INSTALL_SNAPSHOT, .from = 4, .to = 1, .term = 50, .index = 9, .log_term = 2, .config = &sc},
        {.type = RAFT_MSG_TIMEOUT_NOW, .from = 4, .to = 1, .term = 3},
        {.type = RAFT_MSG_REQUEST_VOTE_RESULT, .from = 4, .to = 1, .term = 3},
        {.type = RAFT_MSG_APPEND_ENTRIES_RESULT, .from = 4, .to = 1, .term = 50},
    };
    for (unsigned k = 0; k < sizeof leaderish / sizeof leaderish[0]; k++) {
        rx(r, &up, leaderish[k]);
        assert_int_equal(up.n_msgs, 0);
        assert_false(up.flags & RAFT_UPD_HARD_STATE);
        assert_int_equal(up.role, RAFT_FOLLOWER);
    }
    assert_int_equal(raft_stats_of(r)->dropped_not_voter, sizeof leaderish / sizeof leaderish[0]);
    assert_int_equal(raft_term_of(r), 3);
    assert_int_equal(raft_leader_of(r), 0);
    assert_int_equal(raft_last_index(r), 1);
    /* a real vote request more than one term up is dropped */
    rx(r, &up, (struct raft_message){.type = RAFT_MSG_REQUEST_VOTE, .from = 4, .to = 1, .term = 50,
                                     .index = 9, .log_term = 9});
    assert_int_equal(up.n_msgs, 0);
    assert_int_equal(raft_stats_of(r)->dropped_not_voter, sizeof leaderish / sizeof leaderish[0] + 1);
    /* a pre-vote request is answered as anybody's: it changes nothing here */
    rx(r, &up, (struct raft_message){.type = RAFT_MSG_REQUEST_VOTE, .from = 4, .to = 1, .term = 50,
                                     .index = 9, .log_term = 9, .pre_vote = true});
    assert_int_equal(up.n_msgs, 1);
    assert_false(up.flags & RAFT_UPD_HARD_STATE);
    assert_int_equal(raft_term_of(r), 3);
    /* one term up, it is a candidate our stale configuration may not know was
     * promoted (diss. §4.2.3): voted for like any other */
    rx(r, &up, (struct raft_message){.type = RAFT_MSG_REQUEST_VOTE, .from = 4, .to = 1, .term = 4,
                                     .index = 9, .log_term = 9});
    assert_int_equal(up.n_msgs, 1);
    assert_false(up.msgs[0].reject);
    assert_int_equal(raft_term_of(r), 4);
    assert_int_equal(up.vote, 4);
    /* the same AppendEntries from a voter is followed */
    rx(r, &up, (struct raft_message){.type = RAFT_MSG_APPEND_ENTRIES, .from = 2, .to = 1, .term = 4, .index = 1, .log_term = 1});
    assert_int_equal(raft_term_of(r), 4);
    assert_int_equal(raft_leader_of(r), 2);
    assert_int_equal(up.n_msgs, 1);
    assert_false(up.msgs[0].reject);
    raft_free(r);
}

/* A voter's AppendEntries whose log terms go above its own term or backwards is
 * malformed (no leader sends it) and dropped; a term above RAFT_TERM_MAX is dropped
 * even from a voter, a term at the bound is accepted. */
static void test_term_bound_messages(void **state)
{
    (void)state;
    struct raft *r = lone(false, 3);
    struct raft_update up;
    struct raft_entry e[2] = {{.term = 9, .type = RAFT_ENTRY_BARRIER}, {.term = 4, .type = RAFT_ENTRY_BARRIER}};
    rx(r, &up, (struct raft_message){.type = RAFT_MSG_APPEND_ENTRIES, .from = 2, .to = 1, .term = 5,
                                     .index = 1, .log_term = 1, .n_entries = 1, .entries = e});
    rx(r, &up, (struct raft_message){.type = RAFT_MSG_APPEND_ENTRIES, .from = 2, .to = 1, .term = 9,
                                     .index = 1, .log_term = 1, .n_entries = 2, .entries = e});
    rx(r, &up, (struct raft_message){.type = RAFT_MSG_APPEND_ENTRIES, .from = 2, .to = 1, .term = 5,
                                     .index = 1, .log_term = 6});
    assert_int_equal(raft_stats_of(r)->dropped_bad_term, 3);
    assert_int_equal(raft_term_of(r), 3);
    assert_int_equal(raft_last_index(r), 1);
    rx(r, &up, (struct raft_message){.type = RAFT_MSG_APPEND_ENTRIES, .from = 2, .to = 1,
                                     .term = RAFT_TERM_MAX + 1, .index = 1, .log_term = 1});
    rx(r, &up, (struct raft_message){.type = RAFT_MSG_REQUEST_VOTE, .from = 3, .to = 1,
                                     .term = UINT64_MAX, .index = 1, .log_term = 1});
    assert_int_equal(raft_stats_of(r)->dropped_term_bound, 2);
    assert_int_equal(raft_term_of(r), 3);
    rx(r, &up, (struct raft_message){.type = RAFT_MSG_APPEND_ENTRIES, .from = 2, .to = 1,
                                     .term = RAFT_TERM_MAX, .index = 1, .log_term = 1});
    assert_int_equal(raft_term_of(r), RAFT_TERM_MAX);
    assert_int_equal(raft_leader_of(r), 2);
    raft_free(r);
}

/* A server at RAFT_TERM_MAX never campaigns (term + 1 must not wrap); one just below
 * it campaigns once, reaching the bound, and then no more. */
static void test_term_bound_campaign(void **state)
{
    (void)state;
    struct raft_update up;
    struct raft_event tick = {.type = RAFT_EV_TICK};
    for (int pv = 0; pv < 2; pv++) {
        struct raft *r = lone(pv, RAFT_TERM_MAX);
        for (uint64_t t = 0; t <= 1000; t += 5) {
            tick.now_ms = t;
            raft_step(r, &tick, &up);
            assert_int_equal(up.n_msgs, 0);
            assert_false(up.flags & RAFT_UPD_HARD_STATE);
        }
        assert_int_equal(raft_role_of(r), RAFT_FOLLOWER);
        assert_int_equal(raft_term_of(r), RAFT_TERM_MAX);
        assert_true(raft_stats_of(r)->campaigns_refused >= 4);
        raft_free(r);
    }
    struct raft *r = lone(false, RAFT_TERM_MAX - 1);
    unsigned requests = 0;
    for (uint64_t t = 0; t <= 1000; t += 5) {
        tick.now_ms = t;
        raft_step(r, &tick, &up);
        for (unsigned k = 0; k < up.n_msgs; k++) {
            assert_int_equal(up.msgs[k].term, RAFT_TERM_MAX);
            requests++;
        }
    }
    assert_int_equal(requests, 2); /* one election, to voters 2 and 3 */
    assert_int_equal(raft_term_of(r), RAFT_TERM_MAX);
    assert_true(raft_stats_of(r)->campaigns_refused >= 1);
    raft_free(r);
}

/* A server with no configuration yet (a joining host) accepts the leader's
 * AppendEntries from whoever the caller admitted, and vote requests, but no TimeoutNow
 * and no answers; once the log gives it a configuration the usual rules apply. */
static void test_no_configuration_yet(void **state)
{
    (void)state;
    struct raft_opts o;
    raft_opts_default(&o, 5, 7);
    struct raft *r = raft_new(&o);
    assert_int_equal(raft_load(r, 0, 0, NULL, 0, NULL, 0), 0);
    struct raft_update up;
    rx(r, &up, (struct raft_message){.type = RAFT_MSG_TIMEOUT_NOW, .from = 2, .to = 5, .term = 4});
    rx(r, &up, (struct raft_message){.type = RAFT_MSG_APPEND_ENTRIES_RESULT, .from = 2, .to = 5, .term = 4});
    assert_int_equal(raft_stats_of(r)->dropped_not_member, 2);
    assert_int_equal(raft_term_of(r), 0);
    struct raft_configuration c = {.n = 2};
    c.servers[0] = (struct raft_server){.id = 2, .role = RAFT_VOTER};
    c.servers[1] = (struct raft_server){.id = 5, .role = RAFT_LEARNER};
    uint8_t buf[RAFT_CONFIG_ENCODED_MAX];
    struct raft_entry boot;
    raft_bootstrap_entry(&c, buf, &boot);
    rx(r, &up, (struct raft_message){.type = RAFT_MSG_APPEND_ENTRIES, .from = 2, .to = 5, .term = 4,
                                     .index = 0, .log_term = 0, .n_entries = 1, .entries = &boot});
    assert_int_equal(raft_leader_of(r), 2);
    assert_int_equal(raft_last_index(r), 1);
    assert_int_equal(raft_config_of(r)->n, 2);
    /* now a configuration exists: a stranger is dropped again */
    rx(r, &up, (struct raft_message){.type = RAFT_MSG_APPEND_ENTRIES, .from = 3, .to = 5, .term = 90,
                                     .index = 1, .log_term = 1});
    assert_int_equal(raft_stats_of(r)->dropped_not_member, 3);
    assert_int_equal(raft_term_of(r), 4);
    raft_free(r);
}

/* The whole cluster under forged traffic: every server gets AppendEntries, TimeoutNow
 * and vote requests with huge terms from a stranger and from a learner; they are
 * counted and the cluster keeps its leader and term and still commits. */
static void test_cluster_keeps_leader_under_forgery(void **state)
{
    (void)state;
    setup(3, 1, 0, true);
    run(400);
    int l = leader();
    assert_true(l >= 0);
    raft_term t = raft_term_of(nodes[l].r);
    for (raft_id from = 4; from <= 9; from += 5) /* the learner, then a stranger */
        for (unsigned i = 0; i < 4; i++) {
            const uint8_t types[] = {RAFT_MSG_APPEND_ENTRIES, RAFT_MSG_TIMEOUT_NOW, RAFT_MSG_REQUEST_VOTE,
                                     RAFT_MSG_APPEND_ENTRIES_RESULT};
            for (unsigned k = 0; k < sizeof types; k++) {
                struct raft_event ev = {.type = RAFT_EV_RECEIVE};
                ev.receive = (struct raft_message){.type = types[k], .from = from, .to = i + 1,
                                                   .term = RAFT_TERM_MAX, .index = 1, .log_term = 1};
                if (from != i + 1)
                    step(i, &ev);
            }
        }
    run(300);
    assert_int_equal(leader(), l);
    assert_int_equal(raft_term_of(nodes[l].r), t);
    for (unsigned i = 0; i < 4; i++) {
        const struct raft_stats *s = raft_stats_of(nodes[i].r);
        assert_int_equal(raft_term_of(nodes[i].r), t);
        assert_true(s->dropped_not_member == 4);
        assert_true(s->dropped_not_voter == (i == 3 ? 0u : 4u));
    }
    assert_int_equal(propose((unsigned)l, 11), 0);
    run(100);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(nodes[i].applied[nodes[i].n_applied - 1], 11);
    teardown_nodes();
}


/* Rule 6: a server that missed the promotion of today's leader (it knows id 4 only as
 * a learner) refuses that leader until a voter of its configuration names it in a
 * vote answer; then it follows it and catches up. A learner names nobody. */
static void test_catch_up_when_behind(void **state)
{
    (void)state;
    struct raft *r = lone(true, 3);
    struct raft_update up;
    struct raft_message ae = {.type = RAFT_MSG_APPEND_ENTRIES, .from = 4, .to = 1, .term = 9,
                              .index = 1, .log_term = 1};
    rx(r, &up, ae);
    assert_int_equal(raft_stats_of(r)->dropped_not_voter, 1);
    /* a learner's word is not enough: dropped before it is read */
    rx(r, &up, (struct raft_message){.type = RAFT_MSG_REQUEST_VOTE_RESULT, .from = 4, .to = 1,
                                     .term = 9, .reject = true, .pre_vote = true, .hint = 4});
    rx(r, &up, ae);
    assert_int_equal(raft_stats_of(r)->dropped_not_voter, 3);
    assert_int_equal(raft_term_of(r), 3);
    /* voter 2, in its lease, refuses our pre-vote and names its leader 4 */
    rx(r, &up, (struct raft_message){.type = RAFT_MSG_REQUEST_VOTE_RESULT, .from = 2, .to = 1,
                                     .term = 9, .reject = true, .pre_vote = true, .hint = 4});
    /* named as the leader of term 9, not of any later term (it may be demoted by then) */
    ae.term = 10;
    rx(r, &up, ae);
    assert_int_equal(raft_stats_of(r)->dropped_not_voter, 4);
    ae.term = 9;
    rx(r, &up, ae);
    assert_int_equal(raft_stats_of(r)->accepted_vouched, 1);
    assert_int_equal(raft_term_of(r), 9);
    assert_int_equal(raft_leader_of(r), 4);
    assert_int_equal(up.n_msgs, 1);
    assert_false(up.msgs[0].reject);
    raft_free(r);
}

/* Rule 6 on a whole cluster: voter 3 is down while voter 2 is replaced by learner 4,
 * which then leads; 3 comes back knowing 4 only as a learner and still catches up. */
static void test_cluster_catch_up_after_promotion(void **state)
{
    (void)state;
    setup(3, 1, 0, true);
    run(400);
    int l = leader();
    assert_true(l >= 0);
    unsigned away = l == 2 ? 1u : 2u; /* a follower that will miss the changes */
    unsigned other = 3 - (unsigned)l - away;
    nodes[away].up = false;
    assert_int_equal(change((unsigned)l, 4, RAFT_VOTER), 0);
    run(100);
    assert_int_equal(change((unsigned)l, other + 1, RAFT_LEARNER), 0);
    run(100);
    struct raft_event ev = {.type = RAFT_EV_TRANSFER};
    ev.transfer.target = 4;
    assert_int_equal(step((unsigned)l, &ev), 0);
    run(300);
    assert_int_equal(leader(), 3);
    assert_int_equal(propose(3, 21), 0);
    run(50);
    nodes[away].up = true;
    run(1000);
    assert_int_equal(raft_leader_of(nodes[away].r), 4);
    assert_int_equal(nodes[away].applied[nodes[away].n_applied - 1], 21);
    assert_true(raft_stats_of(nodes[away].r)->accepted_vouched > 0);
    assert_true(raft_config_get(raft_config_of(nodes[away].r), 4)->role == RAFT_VOTER);
    teardown_nodes();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_election),
        cmocka_unit_test(test_pre_vote_isolated_follower),
        cmocka_unit_test(test_check_quorum),
        cmocka_unit_test(test_quorum_contact),
        cmocka_unit_test(test_quorum_contact_from_send_time),
        cmocka_unit_test(test_vouch_limit_after_transfer),
        cmocka_unit_test(test_replication_and_apply),
        cmocka_unit_test(test_commit_only_current_term),
        cmocka_unit_test(test_vote_rules),
        cmocka_unit_test(test_follower_commit_bound),
        cmocka_unit_test(test_snapshot_install),
        cmocka_unit_test(test_membership),
        cmocka_unit_test(test_transfer),
        cmocka_unit_test(test_single_voter),
        cmocka_unit_test(test_config_codec),
        cmocka_unit_test(test_forged_non_member),
        cmocka_unit_test(test_learner_cannot_lead),
        cmocka_unit_test(test_term_bound_messages),
        cmocka_unit_test(test_term_bound_campaign),
        cmocka_unit_test(test_no_configuration_yet),
        cmocka_unit_test(test_cluster_keeps_leader_under_forgery),
        cmocka_unit_test(test_catch_up_when_behind),
        cmocka_unit_test(test_cluster_catch_up_after_promotion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
