/* raft_log.c — the in-memory copy of the log.
 *
 * The core keeps every entry after the last compaction point in one growable array of
 * entries whose payloads it owns (copied on append). Durability is the caller's job;
 * this copy is what the core reasons about and what updates point into. A contiguous
 * array lets an update hand out "entries a..b" as one pointer, which is how batches
 * reach the caller and the wire without copying. Compaction (paper §7) shifts the
 * array; it happens once per snapshot, so the memmove cost is amortized over
 * snapshot_threshold entries.
 */
#include <stdlib.h>
#include <string.h>

#include "raft_internal.h"

raft_index raft__last_index(const struct raft *r)
{
    return r->log.offset + r->log.n;
}

raft_term raft__last_term(const struct raft *r)
{
    return r->log.n ? r->log.e[r->log.n - 1].term : r->log.offset_term;
}

raft_term raft__term_at(const struct raft *r, raft_index i)
{
    if (i == 0)
        return 0;
    if (i == r->log.offset)
        return r->log.offset_term;
    if (i == r->snap.index && r->snap.index != 0)
        return r->snap.term;
    if (i < r->log.offset || i > raft__last_index(r))
        return 0;
    return r->log.e[i - r->log.offset - 1].term;
}

struct raft_entry *raft__entry(const struct raft *r, raft_index i)
{
    if (i <= r->log.offset || i > raft__last_index(r))
        return NULL;
    return &r->log.e[i - r->log.offset - 1];
}

static void mark_dirty(struct raft *r, raft_index i)
{
    if (r->dirty_from == 0 || i < r->dirty_from)
        r->dirty_from = i;
}

int raft__append(struct raft *r, raft_term term, uint8_t type, const void *buf, uint32_t len)
{
    struct raft__log *l = &r->log;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct raft_entry *e = realloc(l->e, cap * sizeof(*e));
        if (!e)
            return RAFT_ENOMEM;
        l->e = e;
        l->cap = cap;
    }
    void *copy = NULL;
    if (len) {
        copy = malloc(len);
        if (!copy)
            return RAFT_ENOMEM;
        memcpy(copy, buf, len);
    }
    l->e[l->n] = (struct raft_entry){.term = term, .type = type, .len = len, .buf = copy};
    l->n++;
    mark_dirty(r, raft__last_index(r));
    return 0;
}

void raft__truncate(struct raft *r, raft_index from)
{
    struct raft__log *l = &r->log;
    if (from <= l->offset || from > raft__last_index(r))
        return;
    size_t keep = (size_t)(from - l->offset - 1);
    for (size_t i = keep; i < l->n; i++)
        free((void *)l->e[i].buf);
    l->n = keep;
    mark_dirty(r, from);
    r->truncated = true;
    if (r->durable >= from)
        r->durable = from - 1;
}

void raft__compact(struct raft *r, raft_index upto)
{
    struct raft__log *l = &r->log;
    if (upto <= l->offset)
        return;
    if (upto > raft__last_index(r))
        upto = raft__last_index(r);
    size_t drop = (size_t)(upto - l->offset);
    raft_term t = l->e[drop - 1].term;
    for (size_t i = 0; i < drop; i++)
        free((void *)l->e[i].buf);
    memmove(l->e, l->e + drop, (l->n - drop) * sizeof(*l->e));
    l->n -= drop;
    l->offset = upto;
    l->offset_term = t;
}

void raft__log_clear(struct raft *r, raft_index offset, raft_term offset_term)
{
    struct raft__log *l = &r->log;
    for (size_t i = 0; i < l->n; i++)
        free((void *)l->e[i].buf);
    l->n = 0;
    l->offset = offset;
    l->offset_term = offset_term;
}

void raft__log_free(struct raft__log *l)
{
    for (size_t i = 0; i < l->n; i++)
        free((void *)l->e[i].buf);
    free(l->e);
    memset(l, 0, sizeof(*l));
}
