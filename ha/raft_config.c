/* raft_config.c — cluster membership: encoding, the effective configuration, quorums
 * and single-server changes.
 *
 * Diss. §4.1: a server uses the latest configuration in its log, committed or not, and
 * a leader allows only one uncommitted change at a time; adding or removing one voter
 * at a time keeps every old and new majority overlapping, so no joint consensus is
 * needed. Ongaro's later erratum (raft-dev, 2015) adds: a new leader must commit an
 * entry of its own term before it appends a change, or two leaders' concurrent changes
 * could lose a committed one. Learners (diss. §4.2.1) are listed in the configuration
 * but never counted. Because the effective configuration can move backwards when a
 * follower truncates an uncommitted config entry, it is recomputed by scanning the log
 * back to the newest config entry (or the snapshot's) instead of being patched.
 */
#include <string.h>

#include "raft_internal.h"

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

size_t raft_config_encode(const struct raft_configuration *c, uint8_t *buf)
{
    put_u32(buf, c->n);
    for (unsigned i = 0; i < c->n; i++) {
        put_u64(buf + 4 + 9 * i, c->servers[i].id);
        buf[4 + 9 * i + 8] = c->servers[i].role;
    }
    return 4 + 9 * (size_t)c->n;
}

int raft_config_decode(const uint8_t *buf, size_t len, struct raft_configuration *c)
{
    if (len < 4)
        return RAFT_ECORRUPT;
    uint32_t n = get_u32(buf);
    if (n > RAFT_SERVERS_MAX || len != 4 + 9 * (size_t)n)
        return RAFT_ECORRUPT;
    c->n = n;
    for (unsigned i = 0; i < n; i++) {
        c->servers[i].id = get_u64(buf + 4 + 9 * i);
        c->servers[i].role = buf[4 + 9 * i + 8];
        if (c->servers[i].id == 0 ||
            (c->servers[i].role != RAFT_VOTER && c->servers[i].role != RAFT_LEARNER))
            return RAFT_ECORRUPT;
        for (unsigned j = 0; j < i; j++)
            if (c->servers[j].id == c->servers[i].id)
                return RAFT_ECORRUPT;
    }
    return 0;
}

const struct raft_server *raft_config_get(const struct raft_configuration *c, raft_id id)
{
    for (unsigned i = 0; i < c->n; i++)
        if (c->servers[i].id == id)
            return &c->servers[i];
    return NULL;
}

unsigned raft_config_voters(const struct raft_configuration *c)
{
    unsigned v = 0;
    for (unsigned i = 0; i < c->n; i++)
        v += c->servers[i].role == RAFT_VOTER;
    return v;
}

bool raft__is_voter(const struct raft_configuration *c, raft_id id)
{
    const struct raft_server *s = raft_config_get(c, id);
    return s && s->role == RAFT_VOTER;
}

/* A sender's role as this server can tell it: its role in the latest configuration,
 * or, while that configuration is not known committed, the stronger of that and its
 * role in the one before (a leader that is removing itself, or an old voter whose
 * removal may still be truncated away). 0 = member of neither. */
uint8_t raft__sender_role(const struct raft *r, raft_id id)
{
    const struct raft_server *s = raft_config_get(&r->conf, id);
    uint8_t role = s ? s->role : 0;
    if (role != RAFT_VOTER && r->conf_index > r->commit) {
        const struct raft_server *p = raft_config_get(&r->conf_prev, id);
        if (p && (p->role == RAFT_VOTER || role == 0))
            role = p->role;
    }
    return role;
}

unsigned raft__quorum(const struct raft *r)
{
    return raft_config_voters(&r->conf) / 2 + 1;
}

/* Newest configuration at or before index i (log entry or snapshot). */
int raft__config_at(const struct raft *r, raft_index i, struct raft_configuration *out)
{
    raft_index last = raft__last_index(r);
    if (i > last)
        i = last;
    for (raft_index k = i; k > r->log.offset; k--) {
        const struct raft_entry *e = raft__entry(r, k);
        if (e->type == RAFT_ENTRY_CONFIG)
            return raft_config_decode(e->buf, e->len, out);
    }
    *out = r->snap.config;
    return 0;
}

int raft__config_recompute(struct raft *r)
{
    for (raft_index k = raft__last_index(r); k > r->log.offset; k--) {
        const struct raft_entry *e = raft__entry(r, k);
        if (e->type == RAFT_ENTRY_CONFIG) {
            int rv = raft_config_decode(e->buf, e->len, &r->conf);
            if (rv == 0)
                rv = raft__config_at(r, k - 1, &r->conf_prev);
            if (rv != 0) {
                r->anomalies++;
                return rv;
            }
            r->conf_index = k;
            goto done;
        }
    }
    r->conf = r->snap.config;
    r->conf_prev = r->snap.config; /* a snapshot's configuration is committed */
    r->conf_index = r->snap.index;
done:
    if (r->role == RAFT_LEADER)
        raft__progress_rebuild(r);
    return 0;
}

struct raft__progress *raft__progress(struct raft *r, raft_id id)
{
    for (unsigned i = 0; i < r->n_prog; i++)
        if (r->prog[i].id == id)
            return &r->prog[i];
    return NULL;
}

/* Keep the progress of servers that stay; new ones start probing at the end of our log
 * (paper §5.3: nextIndex initialized to leader last log index + 1). New servers count
 * as recently active so check-quorum gives them one full round. */
void raft__progress_rebuild(struct raft *r)
{
    struct raft__progress next[RAFT_SERVERS_MAX];
    unsigned n = 0;
    for (unsigned i = 0; i < r->conf.n; i++) {
        raft_id id = r->conf.servers[i].id;
        if (id == r->o.id)
            continue;
        struct raft__progress *old = raft__progress(r, id);
        if (old) {
            next[n++] = *old;
        } else {
            next[n++] = (struct raft__progress){.id = id,
                                                .next = raft__last_index(r) + 1,
                                                .mode = RAFT__PROBE,
                                                .recent_active = true,
                                                .last_ack_ms = 0};
        }
    }
    memcpy(r->prog, next, n * sizeof(next[0]));
    r->n_prog = n;
}

int raft__change(struct raft *r, raft_id id, uint8_t role)
{
    if (r->role != RAFT_LEADER)
        return RAFT_ENOTLEADER;
    if (id == 0 || (role != 0 && role != RAFT_VOTER && role != RAFT_LEARNER))
        return RAFT_EINVAL;
    /* one change at a time, and only once this term's barrier is committed */
    if (r->conf_index > r->commit || r->commit < r->term_first_index)
        return RAFT_ECHANGE;
    struct raft_configuration c = r->conf;
    unsigned pos = c.n;
    for (unsigned i = 0; i < c.n; i++)
        if (c.servers[i].id == id)
            pos = i;
    if (role == 0) {
        if (pos == c.n)
            return RAFT_ENOTFOUND;
        c.servers[pos] = c.servers[c.n - 1];
        c.n--;
    } else if (pos == c.n) {
        if (c.n == RAFT_SERVERS_MAX)
            return RAFT_ETOOBIG;
        c.servers[c.n++] = (struct raft_server){.id = id, .role = role};
    } else {
        c.servers[pos].role = role;
    }
    if (raft_config_voters(&c) == 0)
        return RAFT_EINVAL;
    uint8_t buf[RAFT_CONFIG_ENCODED_MAX];
    size_t len = raft_config_encode(&c, buf);
    return raft__propose(r, RAFT_ENTRY_CONFIG, buf, (uint32_t)len);
}
