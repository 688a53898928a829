/* fuzz_raft_codec.c — libFuzzer: arbitrary bytes through raft_codec_decode, and every
 * message that decodes through re-encode/decode (must round-trip) and into a fresh
 * Raft core (must not crash, whatever a forged message claims). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "raft_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct raft_wire w;
    if (raft_codec_decode(data, size, &w, NULL, 0) != 0)
        return 0;
    uint8_t *buf;
    size_t len;
    struct raft_message m = w.m;
    uint8_t zero[1] = {0};
    if (m.type == RAFT_MSG_INSTALL_SNAPSHOT && m.snapshot.len && !m.snapshot.data)
        m.snapshot.data = zero;
    if (raft_codec_encode(&m, &buf, &len) == 0) {
        struct raft_wire w2;
        if (raft_codec_decode(buf, len, &w2, NULL, 0) != 0)
            abort(); /* what we encode we must accept */
        if (w2.m.type != w.m.type || w2.m.term != w.m.term || w2.m.n_entries != w.m.n_entries)
            abort();
        raft_wire_free(&w2);
        free(buf);
    }
    struct raft_opts o;
    raft_opts_default(&o, 1, 1);
    struct raft *r = raft_new(&o);
    /* voters 1-3 and learner 4: the sender is folded onto ids 1-5 below so that the
     * core's rules for voters, learners, strangers (5) and itself (1) all get input */
    struct raft_configuration c = {.n = 4};
    for (unsigned i = 0; i < 4; i++)
        c.servers[i] = (struct raft_server){.id = i + 1, .role = i < 3 ? RAFT_VOTER : RAFT_LEARNER};
    uint8_t cbuf[RAFT_CONFIG_ENCODED_MAX];
    struct raft_entry log[2];
    raft_bootstrap_entry(&c, cbuf, &log[0]);
    log[1] = (struct raft_entry){.term = 2, .type = RAFT_ENTRY_BARRIER};
    if (r && raft_load(r, 2, 0, NULL, 1, log, 2) == 0) {
        struct raft_update up;
        struct raft_event ev = {.type = RAFT_EV_TICK, .now_ms = 10};
        raft_step(r, &ev, &up);
        ev = (struct raft_event){.type = RAFT_EV_RECEIVE, .now_ms = 20};
        ev.receive = w.m;
        ev.receive.to = 1;
        ev.receive.from = 1 + w.m.from % 5;
        raft_step(r, &ev, &up);
        ev.now_ms = 5000; /* and again after an election timeout, in whatever role */
        raft_step(r, &ev, &up);
    }
    raft_free(r);
    raft_wire_free(&w);
    return 0;
}
