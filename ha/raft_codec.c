/* raft_codec.c — wire encoding of Raft messages (see raft_codec.h).
 *
 * protobuf-c gives us a tolerant parser (unknown fields skipped, proto3 defaults), so
 * all semantic validation happens here, after unpacking and before anything reaches
 * the core: a peer that sends garbage gets a precise reason logged and nothing else.
 * Decoded entries and chunks point into the unpacked protobuf message instead of
 * being copied; the core copies what it keeps.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft.pb-c.h"
#include "raft_codec.h"

__attribute__((format(printf, 3, 4)))
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return RAFT_ECORRUPT;
}

static bool type_ok(unsigned t)
{
    return t >= RAFT_MSG_REQUEST_VOTE && t <= RAFT_MSG_TIMEOUT_NOW;
}

static bool entry_type_ok(unsigned t)
{
    return t == RAFT_ENTRY_COMMAND || t == RAFT_ENTRY_BARRIER || t == RAFT_ENTRY_CONFIG;
}

int raft_codec_encode(const struct raft_message *m, uint8_t **out, size_t *len)
{
    if (!type_ok(m->type) || m->from == 0 || m->to == 0 || m->n_entries > RAFT_CODEC_ENTRIES_MAX ||
        (m->n_entries && !m->entries) || m->snapshot.len > RAFT_CODEC_CHUNK_BYTES_MAX)
        return RAFT_EINVAL;
    bool snap = m->type == RAFT_MSG_INSTALL_SNAPSHOT;
    if (snap && (!m->config || (m->snapshot.len && !m->snapshot.data)))
        return RAFT_EINVAL;
    Drover__RaftMessage pb = DROVER__RAFT_MESSAGE__INIT;
    pb.type = (Drover__RaftMsgType)m->type;
    pb.from = m->from;
    pb.to = m->to;
    pb.term = m->term;
    pb.index = m->index;
    pb.log_term = m->log_term;
    pb.commit = m->commit;
    pb.hint = m->hint;
    pb.stamp = m->stamp;
    pb.reject = m->reject;
    pb.pre_vote = m->pre_vote;
    pb.transfer = m->transfer;
    pb.snap_offset = m->snapshot.offset;
    pb.snap_size = m->snapshot.size;
    pb.snap_done = m->snapshot.done;
    pb.snap_data.len = snap ? m->snapshot.len : 0;
    pb.snap_data.data = snap ? (uint8_t *)m->snapshot.data : NULL;

    int rv = RAFT_ENOMEM;
    Drover__RaftEntry *ents = NULL, **eptr = NULL;
    Drover__RaftServer *srv = NULL, **sptr = NULL;
    uint8_t *buf = NULL;
    if (m->n_entries) {
        ents = calloc(m->n_entries, sizeof(*ents));
        eptr = calloc(m->n_entries, sizeof(*eptr));
        if (!ents || !eptr)
            goto out;
        for (uint32_t i = 0; i < m->n_entries; i++) {
            const struct raft_entry *e = &m->entries[i];
            if (!entry_type_ok(e->type) || e->len > RAFT_CODEC_ENTRY_BYTES_MAX ||
                (e->len && !e->buf)) {
                rv = RAFT_EINVAL;
                goto out;
            }
            drover__raft_entry__init(&ents[i]);
            ents[i].term = e->term;
            ents[i].type = e->type;
            ents[i].data.len = e->len;
            ents[i].data.data = (uint8_t *)e->buf;
            eptr[i] = &ents[i];
        }
        pb.n_entries = m->n_entries;
        pb.entries = eptr;
    }
    if (snap && m->config->n) {
        srv = calloc(m->config->n, sizeof(*srv));
        sptr = calloc(m->config->n, sizeof(*sptr));
        if (!srv || !sptr)
            goto out;
        for (unsigned i = 0; i < m->config->n; i++) {
            drover__raft_server__init(&srv[i]);
            srv[i].id = m->config->servers[i].id;
            srv[i].role = m->config->servers[i].role;
            sptr[i] = &srv[i];
        }
        pb.n_config = m->config->n;
        pb.config = sptr;
    }
    size_t n = drover__raft_message__get_packed_size(&pb);
    buf = malloc(n ? n : 1);
    if (!buf)
        goto out;
    drover__raft_message__pack(&pb, buf);
    *out = buf;
    *len = n;
    rv = 0;
out:
    free(ents);
    free(eptr);
    free(srv);
    free(sptr);
    return rv;
}

int raft_codec_decode(const uint8_t *buf, size_t len, struct raft_wire *w, char *err, size_t errlen)
{
    memset(w, 0, sizeof(*w));
    Drover__RaftMessage *pb = drover__raft_message__unpack(NULL, len, buf);
    if (!pb)
        return bad(err, errlen, "not a RaftMessage (protobuf unpack failed, %zu bytes)", len);
    int rv;
    unsigned t = (unsigned)pb->type;
    if (!type_ok(t)) {
        rv = bad(err, errlen, "unknown message type %u", t);
        goto fail;
    }
    if (pb->from == 0 || pb->to == 0) {
        rv = bad(err, errlen, "zero server id (from %llu, to %llu)",
                 (unsigned long long)pb->from, (unsigned long long)pb->to);
        goto fail;
    }
    if (pb->n_entries > RAFT_CODEC_ENTRIES_MAX) {
        rv = bad(err, errlen, "%zu entries, limit %u", pb->n_entries, RAFT_CODEC_ENTRIES_MAX);
        goto fail;
    }
    if (pb->n_entries && t != RAFT_MSG_APPEND_ENTRIES) {
        rv = bad(err, errlen, "entries in a message of type %u", t);
        goto fail;
    }
    if (pb->n_entries) {
        w->entries = calloc(pb->n_entries, sizeof(*w->entries));
        if (!w->entries) {
            rv = RAFT_ENOMEM;
            goto fail;
        }
    }
    for (size_t i = 0; i < pb->n_entries; i++) {
        const Drover__RaftEntry *e = pb->entries[i];
        if (!entry_type_ok(e->type)) {
            rv = bad(err, errlen, "entry %zu: unknown type %u", i, e->type);
            goto fail;
        }
        if (e->data.len > RAFT_CODEC_ENTRY_BYTES_MAX) {
            rv = bad(err, errlen, "entry %zu: %zu bytes, limit %u", i, e->data.len,
                     RAFT_CODEC_ENTRY_BYTES_MAX);
            goto fail;
        }
        if (e->term == 0) {
            rv = bad(err, errlen, "entry %zu: term 0", i);
            goto fail;
        }
        if (e->type == RAFT_ENTRY_CONFIG) {
            struct raft_configuration c;
            if (raft_config_decode(e->data.data, e->data.len, &c) != 0) {
                rv = bad(err, errlen, "entry %zu: malformed configuration", i);
                goto fail;
            }
        }
        w->entries[i] = (struct raft_entry){.term = e->term, .type = (uint8_t)e->type,
                                            .len = (uint32_t)e->data.len, .buf = e->data.data};
    }
    bool snap = t == RAFT_MSG_INSTALL_SNAPSHOT;
    if (!snap && (pb->n_config || pb->snap_data.len)) {
        rv = bad(err, errlen, "snapshot fields in a message of type %u", t);
        goto fail;
    }
    if (snap) {
        if (pb->snap_data.len > RAFT_CODEC_CHUNK_BYTES_MAX) {
            rv = bad(err, errlen, "snapshot chunk of %zu bytes, limit %u", pb->snap_data.len,
                     RAFT_CODEC_CHUNK_BYTES_MAX);
            goto fail;
        }
        if (pb->snap_offset > pb->snap_size || pb->snap_data.len > pb->snap_size - pb->snap_offset) {
            rv = bad(err, errlen, "snapshot chunk [%llu, +%zu) outside size %llu",
                     (unsigned long long)pb->snap_offset, pb->snap_data.len,
                     (unsigned long long)pb->snap_size);
            goto fail;
        }
        if (pb->snap_done && pb->snap_offset + pb->snap_data.len != pb->snap_size) {
            rv = bad(err, errlen, "last snapshot chunk ends at %llu, size %llu",
                     (unsigned long long)(pb->snap_offset + pb->snap_data.len),
                     (unsigned long long)pb->snap_size);
            goto fail;
        }
        if (pb->index == 0 || pb->n_config == 0 || pb->n_config > RAFT_SERVERS_MAX) {
            rv = bad(err, errlen, "snapshot index %llu with %zu servers",
                     (unsigned long long)pb->index, pb->n_config);
            goto fail;
        }
        w->config.n = (unsigned)pb->n_config;
        for (size_t i = 0; i < pb->n_config; i++) {
            const Drover__RaftServer *s = pb->config[i];
            if (s->id == 0 || (s->role != RAFT_VOTER && s->role != RAFT_LEARNER)) {
                rv = bad(err, errlen, "snapshot config server %zu: id %llu role %u", i,
                         (unsigned long long)s->id, s->role);
                goto fail;
            }
            for (size_t j = 0; j < i; j++)
                if (pb->config[j]->id == s->id) {
                    rv = bad(err, errlen, "snapshot config lists server %llu twice",
                             (unsigned long long)s->id);
                    goto fail;
                }
            w->config.servers[i] = (struct raft_server){.id = s->id, .role = (uint8_t)s->role};
        }
    }
    struct raft_message *m = &w->m;
    m->type = (uint8_t)t;
    m->from = pb->from;
    m->to = pb->to;
    m->term = pb->term;
    m->index = pb->index;
    m->log_term = pb->log_term;
    m->commit = pb->commit;
    m->hint = pb->hint;
    m->stamp = pb->stamp;
    m->reject = pb->reject;
    m->pre_vote = pb->pre_vote;
    m->transfer = pb->transfer;
    m->n_entries = (uint32_t)pb->n_entries;
    m->entries = w->entries;
    m->snapshot.offset = pb->snap_offset;
    m->snapshot.size = pb->snap_size;
    m->snapshot.len = (uint32_t)pb->snap_data.len;
    m->snapshot.done = pb->snap_done;
    m->snapshot.data = pb->snap_data.data;
    m->config = snap ? &w->config : NULL;
    w->pb = pb;
    return 0;
fail:
    free(w->entries);
    w->entries = NULL;
    drover__raft_message__free_unpacked(pb, NULL);
    return rv;
}

void raft_wire_free(struct raft_wire *w)
{
    if (!w)
        return;
    free(w->entries);
    if (w->pb)
        drover__raft_message__free_unpacked(w->pb, NULL);
    memset(w, 0, sizeof(*w));
}
