/* raft_codec_test.c — wire codec: every message type round-trips; garbage, truncation
 * and structurally invalid messages are refused with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft.pb-c.h"
#include "raft_codec.h"

static void roundtrip(const struct raft_message *m, struct raft_wire *w)
{
    uint8_t *buf;
    size_t len;
    assert_int_equal(raft_codec_encode(m, &buf, &len), 0);
    char err[128] = "";
    int rv = raft_codec_decode(buf, len, w, err, sizeof(err));
    if (rv != 0)
        fail_msg("decode: %s", err);
    free(buf);
    assert_int_equal(w->m.type, m->type);
    assert_int_equal(w->m.from, m->from);
    assert_int_equal(w->m.to, m->to);
    assert_int_equal(w->m.term, m->term);
    assert_int_equal(w->m.index, m->index);
    assert_int_equal(w->m.log_term, m->log_term);
    assert_int_equal(w->m.commit, m->commit);
    assert_int_equal(w->m.hint, m->hint);
    assert_int_equal(w->m.reject, m->reject);
    assert_int_equal(w->m.pre_vote, m->pre_vote);
    assert_int_equal(w->m.transfer, m->transfer);
    assert_int_equal(w->m.n_entries, m->n_entries);
}

static void test_roundtrip_all_types(void **state)
{
    (void)state;
    for (uint8_t t = RAFT_MSG_REQUEST_VOTE; t <= RAFT_MSG_TIMEOUT_NOW; t++) {
        if (t == RAFT_MSG_APPEND_ENTRIES || t == RAFT_MSG_INSTALL_SNAPSHOT)
            continue;
        struct raft_message m = {.type = t, .from = 3, .to = 5, .term = 77, .index = 1000,
                                 .log_term = 76, .commit = 999, .hint = 12, .reject = true,
                                 .pre_vote = t == RAFT_MSG_REQUEST_VOTE, .transfer = true};
        struct raft_wire w;
        roundtrip(&m, &w);
        raft_wire_free(&w);
    }
}

static void test_roundtrip_append_entries(void **state)
{
    (void)state;
    struct raft_configuration c = {.n = 1};
    c.servers[0] = (struct raft_server){.id = 3, .role = RAFT_VOTER};
    uint8_t cbuf[RAFT_CONFIG_ENCODED_MAX];
    size_t clen = raft_config_encode(&c, cbuf);
    struct raft_entry e[3] = {
        {.term = 5, .type = RAFT_ENTRY_COMMAND, .len = 5, .buf = "hello"},
        {.term = 5, .type = RAFT_ENTRY_BARRIER},
        {.term = 6, .type = RAFT_ENTRY_CONFIG, .len = (uint32_t)clen, .buf = cbuf},
    };
    struct raft_message m = {.type = RAFT_MSG_APPEND_ENTRIES, .from = 1, .to = 2, .term = 6,
                             .index = 41, .log_term = 5, .commit = 40, .n_entries = 3, .entries = e};
    struct raft_wire w;
    roundtrip(&m, &w);
    assert_int_equal(w.m.entries[0].len, 5);
    assert_memory_equal(w.m.entries[0].buf, "hello", 5);
    assert_int_equal(w.m.entries[1].type, RAFT_ENTRY_BARRIER);
    assert_int_equal(w.m.entries[2].term, 6);
    assert_int_equal(w.m.entries[2].len, clen);
    raft_wire_free(&w);
}

static void test_roundtrip_snapshot(void **state)
{
    (void)state;
    struct raft_configuration c = {.n = 2};
    c.servers[0] = (struct raft_server){.id = 1, .role = RAFT_VOTER};
    c.servers[1] = (struct raft_server){.id = 8, .role = RAFT_LEARNER};
    struct raft_message m = {.type = RAFT_MSG_INSTALL_SNAPSHOT, .from = 1, .to = 8, .term = 3,
                             .index = 500, .log_term = 2, .config = &c};
    m.snapshot.offset = 10;
    m.snapshot.size = 14;
    m.snapshot.len = 4;
    m.snapshot.done = true;
    m.snapshot.data = "abcd";
    struct raft_wire w;
    roundtrip(&m, &w);
    assert_int_equal(w.m.snapshot.offset, 10);
    assert_int_equal(w.m.snapshot.size, 14);
    assert_true(w.m.snapshot.done);
    assert_memory_equal(w.m.snapshot.data, "abcd", 4);
    assert_int_equal(w.m.config->n, 2);
    assert_int_equal(w.m.config->servers[1].role, RAFT_LEARNER);
    raft_wire_free(&w);
    m.snapshot.data = NULL; /* the caller forgot to fill the chunk */
    uint8_t *buf;
    size_t len;
    assert_int_equal(raft_codec_encode(&m, &buf, &len), RAFT_EINVAL);
}

static void expect_refused(const Drover__RaftMessage *pb, const char *why)
{
    size_t n = drover__raft_message__get_packed_size(pb);
    uint8_t *buf = malloc(n + 1);
    drover__raft_message__pack(pb, buf);
    struct raft_wire w;
    char err[160] = "";
    assert_int_equal(raft_codec_decode(buf, n, &w, err, sizeof(err)), RAFT_ECORRUPT);
    if (!strstr(err, why))
        fail_msg("reason \"%s\" lacks \"%s\"", err, why);
    free(buf);
}

static void test_invalid_fields(void **state)
{
    (void)state;
    Drover__RaftMessage pb = DROVER__RAFT_MESSAGE__INIT;
    pb.from = 1;
    pb.to = 2;
    pb.type = 42;
    expect_refused(&pb, "unknown message type");
    pb.type = DROVER__RAFT_MSG_TYPE__RAFT_MSG_REQUEST_VOTE;
    pb.from = 0;
    expect_refused(&pb, "zero server id");
    pb.from = 1;
    Drover__RaftEntry e = DROVER__RAFT_ENTRY__INIT, *ep = &e;
    e.term = 1;
    e.type = 9;
    pb.n_entries = 1;
    pb.entries = &ep;
    expect_refused(&pb, "entries in a message");
    pb.type = DROVER__RAFT_MSG_TYPE__RAFT_MSG_APPEND_ENTRIES;
    expect_refused(&pb, "unknown type 9");
    e.type = RAFT_ENTRY_CONFIG;
    e.data.len = 3;
    e.data.data = (uint8_t *)"xyz";
    expect_refused(&pb, "malformed configuration");
    e.type = RAFT_ENTRY_COMMAND;
    e.term = 0;
    expect_refused(&pb, "term 0");
    pb.n_entries = 0;
    pb.type = DROVER__RAFT_MSG_TYPE__RAFT_MSG_INSTALL_SNAPSHOT;
    pb.index = 5;
    Drover__RaftServer s = DROVER__RAFT_SERVER__INIT, *sp = &s;
    s.id = 1;
    s.role = RAFT_VOTER;
    pb.n_config = 1;
    pb.config = &sp;
    pb.snap_size = 4;
    pb.snap_offset = 2;
    pb.snap_data.len = 3;
    pb.snap_data.data = (uint8_t *)"abc";
    expect_refused(&pb, "outside size");
    pb.snap_offset = 0;
    pb.snap_done = true;
    expect_refused(&pb, "last snapshot chunk");
    pb.snap_done = false;
    s.role = 0;
    expect_refused(&pb, "role 0");
    s.role = RAFT_LEARNER;
    Drover__RaftServer *two[2] = {&s, &s};
    pb.n_config = 2;
    pb.config = two;
    expect_refused(&pb, "twice");
}

/* bytes that are not a RaftMessage, and every truncation of a valid one: refused or
 * decoded, never a crash (run under ASan in CI) */
static void test_garbage(void **state)
{
    (void)state;
    struct raft_wire w;
    char err[160];
    uint8_t junk[64];
    uint64_t x = 88172645463325252ull;
    for (int round = 0; round < 2000; round++) {
        size_t len = (size_t)(x % sizeof(junk));
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            junk[i] = (uint8_t)x;
        }
        if (raft_codec_decode(junk, len, &w, err, sizeof(err)) == 0)
            raft_wire_free(&w);
    }
    assert_int_equal(raft_codec_decode((const uint8_t *)"\xff\xff\xff", 3, &w, err, sizeof(err)),
                     RAFT_ECORRUPT);
    assert_non_null(strstr(err, "protobuf unpack failed"));
    struct raft_entry e = {.term = 5, .type = RAFT_ENTRY_COMMAND, .len = 5, .buf = "hello"};
    struct raft_message m = {.type = RAFT_MSG_APPEND_ENTRIES, .from = 1, .to = 2, .term = 6,
                             .n_entries = 1, .entries = &e};
    uint8_t *buf;
    size_t len;
    assert_int_equal(raft_codec_encode(&m, &buf, &len), 0);
    for (size_t cut = 0; cut < len; cut++)
        if (raft_codec_decode(buf, cut, &w, err, sizeof(err)) == 0)
            raft_wire_free(&w);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all_types),
        cmocka_unit_test(test_roundtrip_append_entries),
        cmocka_unit_test(test_roundtrip_snapshot),
        cmocka_unit_test(test_invalid_fields),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
