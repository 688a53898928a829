/* autopilot.c — see autopilot.h for the rules and why they are in this order: membership
 * first (a removed host must stop counting at once), then health, then the count. */
#include "autopilot.h"

#include <string.h>

static const struct ha_ap_member *find(const struct ha_ap_member *m, size_t n, raft_id id)
{
    for (size_t i = 0; i < n; i++)
        if (m[i].id == id)
            return &m[i];
    return NULL;
}

static int healthy(const struct ha_ap_member *m)
{
    return m && m->alive;
}

static int dead_long(const struct ha_ap_member *m, uint64_t grace_ms, uint64_t now_ms)
{
    return m && !m->alive && now_ms >= m->dead_since_ms && now_ms - m->dead_since_ms > grace_ms;
}

static int domain_has_voter(const struct raft_configuration *c, const struct ha_ap_member *m,
                            size_t n, const char *domain)
{
    if (!domain[0])
        return 0;
    for (unsigned i = 0; i < c->n; i++) {
        const struct ha_ap_member *x = find(m, n, c->servers[i].id);
        if (c->servers[i].role == RAFT_VOTER && x && x->alive && strcmp(x->domain, domain) == 0)
            return 1;
    }
    return 0;
}

int ha_autopilot(const struct raft_configuration *conf, raft_id self,
                 const struct ha_ap_member *members, size_t n, unsigned voters_wanted,
                 uint64_t grace_ms, uint64_t now_ms, struct ha_ap_change *out)
{
    /* 1. configuration entries without a member record */
    for (unsigned i = 0; i < conf->n; i++) {
        if (conf->servers[i].id != self && !find(members, n, conf->servers[i].id)) {
            *out = (struct ha_ap_change){conf->servers[i].id, 0, "no longer a member"};
            return 1;
        }
    }
    /* 2. members missing from the configuration (lowest id first: deterministic) */
    raft_id add = 0;
    for (size_t i = 0; i < n; i++)
        if (!raft_config_get(conf, members[i].id) && (!add || members[i].id < add))
            add = members[i].id;
    if (add) {
        *out = (struct ha_ap_change){add, RAFT_LEARNER, "new member joins as a learner"};
        return 1;
    }
    /* a host counts until it has been dead for the grace period: a reboot or an agent
     * restart must not reshuffle the voters */
    unsigned voters = raft_config_voters(conf), healthy_members = 0, healthy_learners = 0;
    for (size_t i = 0; i < n; i++)
        healthy_members += dead_long(&members[i], grace_ms, now_ms) ? 0u : 1u;
    for (unsigned i = 0; i < conf->n; i++)
        if (conf->servers[i].role == RAFT_LEARNER && healthy(find(members, n, conf->servers[i].id)))
            healthy_learners++;
    unsigned want = voters_wanted;
    if (want > healthy_members)
        want = healthy_members;
    if (want == 0)
        want = 1;
    /* 3. a voter dead past the grace period */
    for (unsigned i = 0; i < conf->n; i++) {
        const struct raft_server *s = &conf->servers[i];
        if (s->role != RAFT_VOTER || s->id == self)
            continue;
        if (dead_long(find(members, n, s->id), grace_ms, now_ms) && (healthy_learners > 0 || voters > want)) {
            *out = (struct ha_ap_change){s->id, RAFT_LEARNER, "voter dead past the grace period"};
            return 1;
        }
    }
    /* 4. too few voters: promote the best healthy learner */
    if (voters < want) {
        const struct ha_ap_member *best = NULL;
        int best_new_domain = 0;
        for (unsigned i = 0; i < conf->n; i++) {
            const struct raft_server *s = &conf->servers[i];
            const struct ha_ap_member *m = find(members, n, s->id);
            if (s->role != RAFT_LEARNER || !healthy(m))
                continue;
            int new_domain = m->domain[0] && !domain_has_voter(conf, members, n, m->domain);
            if (!best || new_domain > best_new_domain || (new_domain == best_new_domain && m->id < best->id)) {
                best = m;
                best_new_domain = new_domain;
            }
        }
        if (best) {
            *out = (struct ha_ap_change){best->id, RAFT_VOTER,
                                         best_new_domain ? "promoted: a failure domain without a voter"
                                                         : "promoted: fewer voters than wanted"};
            return 1;
        }
    }
    /* 5. too many voters: demote one, dead ones first, then the highest id */
    if (voters > want) {
        const struct raft_server *pick = NULL;
        int pick_dead = 0;
        for (unsigned i = 0; i < conf->n; i++) {
            const struct raft_server *s = &conf->servers[i];
            if (s->role != RAFT_VOTER || s->id == self)
                continue;
            int dead = !healthy(find(members, n, s->id));
            if (!pick || dead > pick_dead || (dead == pick_dead && s->id > pick->id)) {
                pick = s;
                pick_dead = dead;
            }
        }
        if (pick) {
            *out = (struct ha_ap_change){pick->id, RAFT_LEARNER, "more voters than wanted"};
            return 1;
        }
    }
    return 0;
}
