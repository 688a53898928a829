/* broadcast.c — infection-style dissemination [SWIM 4.1].
 *
 * Every fact we learn (a member's state at an incarnation, or a status record) is queued
 * and then piggybacked on the messages we send anyway (pings, acks, nacks), plus on
 * small GOSSIP messages to gossip_fanout random members every gossip_interval_ms while
 * something is queued.  Each fact is sent at most lambda * ceil(log10(N+1)) times; SWIM
 * shows that this reaches every member with probability 1 - O(N^-c) in O(log N) rounds.
 *
 * The queue is the member table itself: each member has at most one pending membership
 * fact and one pending status record, always the newest (a newer fact about the same
 * member replaces the older one and restarts its count, as memberlist's invalidation
 * does).  So the queue is bounded by 2 * members_max and never holds stale news.  The
 * `active` list names the members with something pending, so a message does not scan
 * the whole table.  Least-sent facts go first: fresh news spreads fastest.
 *
 * Buddy system [LG 4.5]: a message to a member we suspect always carries that
 * suspicion, so the suspect learns it must refute at the first probe, rather than
 * whenever random gossip happens to reach it.
 */
#include "internal.h"

#include <string.h>

/* Wire-size estimates used only for budgeting (the real encoder is codec.c): field tags
 * and lengths cost about 2 bytes each; a HAVE announcement is an id and a version; a
 * membership fact carries its subject's signature (members.c), 66 of its bytes. */
#define GSP__FACT_BYTES_EST (44u + GSP_SIG_LEN + 2u)
#define GSP__STATUS_BYTES_EST 30u
/* Running suspicions carried by every message besides the queue: 2 keeps the cost at
 * ~100 bytes per message while a handful of suspicions cycle through within a few
 * messages. */
#define GSP__SUSPECTS_CARRIED 2u
/* Upper bound on piggyback_max (the selection array lives on the stack); 64 updates
 * is far above any useful message size. */
#define GSP__PIGGYBACK_MAX 64u
/* Upper bound on the gossip fanout: beyond 8 the extra copies add load, not speed. */
#define GSP__FANOUT_MAX 8u

static void activate(struct gsp *g, uint32_t m)
{
	struct gsp__member *mb = &g->members[m];
	if (!mb->in_active) {
		mb->in_active = true;
		g->active[g->n_active++] = m;
	}
}

void gsp__bc_member(struct gsp *g, uint32_t m)
{
	g->members[m].bc_pending = true;
	g->members[m].bc_tx = 0;
	activate(g, m);
}

void gsp__bc_status(struct gsp *g, uint32_t m)
{
	g->members[m].st_pending = true;
	g->members[m].st_tx = 0;
	activate(g, m);
	if (g->cfg.status_hot_ms) {
		uint32_t slot = g->hot_next++ % GSP__HOT_MAX;
		g->hot[slot] = m;
		g->hot_until[slot] = g->now + g->cfg.status_hot_ms;
	}
}

/* One fresh status announcement for a probe or its ack (see config.c, status_hot_ms). */
static size_t carry_hot(struct gsp *g, uint32_t dest, uint32_t round, uint32_t *budget)
{
	for (uint32_t k = 0; k < GSP__HOT_MAX; k++) {
		uint32_t slot = g->hot_cursor++ % GSP__HOT_MAX;
		if (g->hot_until[slot] <= g->now)
			continue;
		struct gsp__member *mb = &g->members[g->hot[slot]];
		if (g->hot[slot] == dest || mb->st_stamp == round || *budget < GSP__STATUS_BYTES_EST)
			continue;
		struct gsp_update *u = gsp__upd_new(g);
		if (!u)
			return 0;
		u->kind = GSP_UPD_STATUS_HAVE;
		u->subject = mb->id;
		u->from = g->members[g->self].id;
		u->status_version = mb->status_version;
		mb->st_stamp = round;
		*budget -= GSP__STATUS_BYTES_EST;
		return 1;
	}
	return 0;
}

static uint32_t fact_bytes(const struct gsp__member *mb)
{
	return GSP__FACT_BYTES_EST + (mb->state == GSP_ALIVE ? (uint32_t)strlen(mb->addr) : 0);
}

/* Appends piggybacked updates to the message just created for `dest`; returns how many. */
size_t gsp__piggyback(struct gsp *g, uint32_t dest)
{
	size_t n = 0;
	uint32_t budget = g->cfg.msg_budget_bytes;
	uint32_t limit = gsp_retransmit_limit(&g->cfg, g->n_live);
	uint32_t round = ++g->pb_round;
	if (dest != GSP__NONE && g->members[dest].state == GSP_SUSPECT) {
		struct gsp_update *u = gsp__upd_new(g);
		if (!u)
			return n;
		gsp__fill_fact(g, dest, u);
		n++;
		budget -= budget < fact_bytes(&g->members[dest]) ? budget : fact_bytes(&g->members[dest]);
	}
	/* Our running suspicions ride along (a few per message, rotating) until they are
	 * resolved, not just for their first transmissions: whoever holds a refutation we
	 * missed then corrects us at once (members.c, stale_accusation), and whoever missed
	 * the suspicion (or a confirmation) hears it. */
	for (uint32_t k = 0; k < GSP__SUSPECTS_CARRIED && k < g->n_suspects &&
	                     n < g->cfg.piggyback_max; k++) {
		uint32_t m = g->suspects[g->susp_cursor++ % g->n_suspects];
		struct gsp__member *mb = &g->members[m];
		if (m == dest || mb->bc_stamp == round || fact_bytes(mb) > budget)
			continue;
		struct gsp_update *u = gsp__upd_new(g);
		if (!u)
			return n;
		gsp__fill_fact(g, m, u);
		mb->bc_stamp = round;
		n++;
		budget -= fact_bytes(mb);
	}
	enum gsp_msg_type type = g->out_send[g->n_out_send - 1].s.msg.type;
	if ((type == GSP_MSG_PING || type == GSP_MSG_ACK) && n < g->cfg.piggyback_max)
		n += carry_hot(g, dest, round, &budget);
	/* One pass over the queue keeps the least-sent candidates (insertion into a small
	 * sorted array): O(queue * piggyback_max) at worst, O(queue) in the common case,
	 * which matters after a mass join when every member has every other one queued. */
	struct cand {
		uint32_t m, tx;
		bool status;
	} cand[GSP__PIGGYBACK_MAX];
	uint32_t want = g->cfg.piggyback_max - (uint32_t)n;
	if (want > GSP__PIGGYBACK_MAX)
		want = GSP__PIGGYBACK_MAX;
	uint32_t n_c = 0;
	for (uint32_t i = 0; i < g->n_active && want > 0; i++) {
		uint32_t m = g->active[i];
		struct gsp__member *mb = &g->members[m];
		for (int kind = 0; kind < 2; kind++) {
			bool st = kind == 1;
			if (st ? !mb->st_pending : !mb->bc_pending)
				continue;
			uint32_t tx = st ? mb->st_tx : mb->bc_tx;
			if (tx >= limit) {   /* the limit shrank with N: done */
				if (st)
					mb->st_pending = false;
				else
					mb->bc_pending = false;
				continue;
			}
			if ((st ? mb->st_stamp : mb->bc_stamp) == round ||
			    (!st && m == dest && mb->state == GSP_SUSPECT))
				continue;
			if (n_c == want && tx >= cand[n_c - 1].tx)
				continue;
			uint32_t j = n_c < want ? n_c++ : n_c - 1;
			while (j > 0 && cand[j - 1].tx > tx) {
				cand[j] = cand[j - 1];
				j--;
			}
			cand[j].m = m;
			cand[j].tx = tx;
			cand[j].status = st;
		}
	}
	for (uint32_t k = 0; k < n_c; k++) {
		struct gsp__member *mb = &g->members[cand[k].m];
		uint32_t sz = cand[k].status ? GSP__STATUS_BYTES_EST : fact_bytes(mb);
		if (sz > budget)
			continue;
		struct gsp_update *u = gsp__upd_new(g);
		if (!u)
			return n;
		n++;
		budget -= sz;
		if (!cand[k].status) {
			gsp__fill_fact(g, cand[k].m, u);
			mb->bc_stamp = round;
			if (++mb->bc_tx >= limit)
				mb->bc_pending = false;
		} else {
			u->kind = GSP_UPD_STATUS_HAVE;
			u->subject = mb->id;
			u->from = g->members[g->self].id;
			u->status_version = mb->status_version;
			mb->st_stamp = round;
			if (++mb->st_tx >= limit)
				mb->st_pending = false;
		}
	}
	/* Drop members whose facts have been sent enough times. */
	uint32_t w = 0;
	for (uint32_t i = 0; i < g->n_active; i++) {
		uint32_t m = g->active[i];
		struct gsp__member *mb = &g->members[m];
		if (mb->bc_pending || mb->st_pending)
			g->active[w++] = m;
		else
			mb->in_active = false;
	}
	g->n_active = w;
	return n;
}

void gsp__gossip_tick(struct gsp *g, uint64_t now)
{
	if (now < g->next_gossip_ms)
		return;
	g->next_gossip_ms = now + g->cfg.gossip_interval_ms;
	uint32_t sent[GSP__FANOUT_MAX];
	uint32_t fanout = g->cfg.gossip_fanout < GSP__FANOUT_MAX ? g->cfg.gossip_fanout
	                                                         : GSP__FANOUT_MAX;
	uint32_t n = 0;
	for (uint32_t attempt = 0; attempt < 2 * fanout && n < fanout && g->n_active; attempt++) {
		uint32_t m = gsp__random_live(g, GSP__NONE, GSP__NONE);
		if (m == GSP__NONE)
			break;
		bool dup = false;
		for (uint32_t j = 0; j < n; j++)
			dup = dup || sent[j] == m;
		if (dup)
			continue;
		sent[n++] = m;
		if (!gsp__send_new(g, m, NULL, GSP_MSG_GOSSIP))
			return;
		if (gsp__piggyback(g, m) == 0) {
			g->n_out_send--;
			break;
		}
	}
}

/* Answer a STATUS_PULL with the bodies we hold at (at least) the versions asked for.
 * Bodies we no longer hold at that version are skipped: the asker will pull again from
 * the next announcer. */
void gsp__on_status_pull(struct gsp *g, const struct gsp_msg *msg)
{
	uint32_t asker = gsp__find(g, msg->from);
	if (asker == GSP__NONE) {
		g->st.msgs_ignored++;
		return;
	}
	struct gsp__send_b *b = NULL;
	size_t n = msg->n_updates < GSP__PULL_MAX ? msg->n_updates : GSP__PULL_MAX;
	for (size_t i = 0; i < n; i++) {
		const struct gsp_update *want = &msg->updates[i];
		uint32_t m = gsp__find(g, want->subject);
		if (want->kind != GSP_UPD_STATUS_HAVE || m == GSP__NONE)
			continue;
		const struct gsp__member *mb = &g->members[m];
		if (!mb->status || mb->status_version < want->status_version)
			continue;
		if (!b && !(b = gsp__send_new(g, asker, NULL, GSP_MSG_GOSSIP)))
			return;
		struct gsp_update *u = gsp__upd_new(g);
		if (!u)
			return;
		u->kind = GSP_UPD_STATUS;
		u->subject = mb->id;
		u->from = g->members[g->self].id;
		u->status_version = mb->status_version;
		u->status_len = mb->status_len;
		u->status = mb->status;
	}
}
