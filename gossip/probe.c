/* probe.c — failure detection: direct and indirect probes [SWIM 3.1], nacks and the
 * local health multiplier [LG 4.3], round-robin target order [SWIM 4.3].
 *
 * One probe round per probe interval.  The target is the next live member of a shuffled
 * list; when the list is exhausted it is reshuffled, and new members are inserted at a
 * random position after the cursor.  This bounds the time until any given member is
 * probed by one list length (SWIM 4.3) instead of leaving it to chance.
 *
 *   t0                 PING(seq) -> target
 *   t0 + timeout       no ACK: PING_REQ(seq, target) -> k random live members; each
 *                      relays a PING and answers ACK (target answered) or, after
 *                      nack_percent of the timeout, NACK (target silent)
 *   t0 + interval      no ACK: the probe failed -> suspect the target
 *
 * Local health [LG 4.3]: a score in [0, lhm_max-1] multiplies the probe interval and
 * timeout.  It goes up when we miss nacks that relays should have sent (so the problem
 * is on our side: we are slow to receive or process), when a probe fails with no relay
 * to ask, and when we have to refute a suspicion of ourselves; it goes down with each
 * successful probe.  A slow host thus probes less aggressively and waits longer before
 * accusing, which is what removes most false positives under CPU or network overload.
 */
#include "internal.h"

#include <string.h>

/* Upper bound on k: more relays than this only multiply load on an already sick
 * network; the config value is clamped to it. */
#define GSP__INDIRECT_MAX 8u

uint64_t gsp__scaled(const struct gsp *g, uint32_t ms)
{
	return (uint64_t)ms * (g->lhm_score + 1);
}

static void lhm_apply(struct gsp *g, int delta)
{
	int s = (int)g->lhm_score + delta;
	int hi = (int)g->cfg.lhm_max - 1;
	g->lhm_score = (uint32_t)(s < 0 ? 0 : (s > hi ? hi : s));
}

void gsp__order_insert(struct gsp *g, uint32_t m)
{
	g->order[g->n_order++] = m;
	uint32_t span = g->n_order - g->order_pos;
	uint32_t j = g->order_pos + gsp__rng_below(&g->rng, span);
	uint32_t t = g->order[j];
	g->order[j] = g->order[g->n_order - 1];
	g->order[g->n_order - 1] = t;
}

static uint32_t next_target(struct gsp *g)
{
	bool reshuffled = false;
	for (;;) {
		if (g->order_pos >= g->n_order) {
			if (reshuffled || g->n_order == 0)
				return GSP__NONE;
			for (uint32_t i = g->n_order - 1; i > 0; i--) {
				uint32_t j = gsp__rng_below(&g->rng, i + 1);
				uint32_t t = g->order[i];
				g->order[i] = g->order[j];
				g->order[j] = t;
			}
			g->order_pos = 0;
			reshuffled = true;
		}
		uint32_t m = g->order[g->order_pos++];
		if (m != g->self && gsp__is_live(&g->members[m]))
			return m;
	}
}

static void send_ping(struct gsp *g, uint32_t dest, gsp_id to, const char *addr, uint32_t seq)
{
	struct gsp__send_b *b = gsp__send_new(g, dest, addr, GSP_MSG_PING);
	if (!b)
		return;
	b->s.to = to;
	b->s.msg.to = to;
	b->s.msg.seq = seq;
	gsp__piggyback(g, dest);
}

static void send_indirect(struct gsp *g, uint64_t now)
{
	struct gsp__probe *p = &g->probe;
	const struct gsp__member *t = &g->members[p->member];
	p->indirect_sent = true;
	(void)now;
	if (!gsp__is_live(t))
		return;
	/* k distinct random relays; a few extra draws cover collisions, and a table with
	 * fewer than k other live members simply gets fewer relays. */
	uint32_t chosen[GSP__INDIRECT_MAX];
	uint32_t k = g->cfg.indirect_probes < GSP__INDIRECT_MAX ? g->cfg.indirect_probes
	                                                        : GSP__INDIRECT_MAX;
	uint32_t n = 0;
	for (uint32_t attempt = 0; attempt < 4 * k && n < k; attempt++) {
		uint32_t r = gsp__random_live(g, p->member, GSP__NONE);
		if (r == GSP__NONE)
			break;
		bool dup = false;
		for (uint32_t j = 0; j < n; j++)
			dup = dup || chosen[j] == r;
		if (dup)
			continue;
		chosen[n++] = r;
		struct gsp__send_b *b = gsp__send_new(g, r, NULL, GSP_MSG_PING_REQ);
		if (!b)
			return;
		b->s.msg.seq = p->seq;
		b->s.msg.target = t->id;
		memcpy(b->s.msg.target_addr, t->addr, GSP_ADDR_MAX);
		gsp__piggyback(g, r);
		p->expected_nacks++;
		g->st.indirect_sent++;
	}
}

static void probe_failed(struct gsp *g, uint64_t now)
{
	struct gsp__probe *p = &g->probe;
	g->st.probes_failed++;
	int delta = 0;
	if (p->expected_nacks == 0)
		delta = 1;
	else if (p->nacks < p->expected_nacks)
		delta = (int)(p->expected_nacks - p->nacks);
	lhm_apply(g, delta);
	struct gsp__member *t = &g->members[p->member];
	if (gsp__is_live(t))
		gsp__suspect(g, p->member, t->inc, g->members[g->self].id, now);
}

void gsp__probe_tick(struct gsp *g, uint64_t now)
{
	struct gsp__probe *p = &g->probe;
	if (p->active && !p->indirect_sent && now >= p->indirect_at_ms)
		send_indirect(g, now);
	if (p->active && now >= p->end_ms) {
		p->active = false;
		probe_failed(g, now);
	}
	if (p->active || now < g->next_probe_ms)
		return;
	uint32_t m = next_target(g);
	if (m == GSP__NONE) {
		g->next_probe_ms = now + g->cfg.probe_interval_ms;
		return;
	}
	memset(p, 0, sizeof(*p));
	p->active = true;
	p->member = m;
	p->seq = ++g->seq;
	p->start_ms = now;
	p->indirect_at_ms = now + gsp__scaled(g, g->cfg.probe_timeout_ms);
	p->end_ms = now + gsp__scaled(g, g->cfg.probe_interval_ms);
	g->next_probe_ms = p->end_ms;
	g->st.probes++;
	send_ping(g, m, g->members[m].id, NULL, p->seq);
}

void gsp__on_ping(struct gsp *g, const struct gsp_msg *msg, uint64_t now)
{
	(void)now;
	uint32_t m = gsp__find(g, msg->from);
	/* A sender we do not know yet (its ALIVE is still spreading) gets its ack anyway,
	 * addressed by id only: the transport answers on the connection the ping came in on.
	 * Not answering would make the prober suspect us for its own news being late. */
	struct gsp__send_b *b = gsp__send_new(g, m, NULL, GSP_MSG_ACK);
	if (!b)
		return;
	if (m == GSP__NONE) {
		b->s.to = msg->from;
		b->s.msg.to = msg->from;
	}
	b->s.msg.seq = msg->seq;
	gsp__piggyback(g, m);
}

void gsp__on_ping_req(struct gsp *g, const struct gsp_msg *msg, uint64_t now)
{
	if (gsp__find(g, msg->from) == GSP__NONE || gsp_id_is_zero(msg->target) ||
	    msg->target_addr[0] == 0) {
		g->st.msgs_ignored++;
		return;
	}
	struct gsp__relay *r = NULL;
	for (uint32_t i = 0; i < g->cfg.relay_max && !r; i++)
		if (!g->relays[i].used)
			r = &g->relays[i];
	if (!r) {
		g->st.relays_dropped++;
		return;
	}
	r->used = true;
	r->local_seq = ++g->seq;
	r->req_seq = msg->seq;
	r->requester = msg->from;
	r->nack_at_ms = now + (uint64_t)g->cfg.probe_timeout_ms * g->cfg.nack_percent / 100;
	uint32_t t = gsp__find(g, msg->target);
	send_ping(g, t, msg->target, t == GSP__NONE ? msg->target_addr : NULL, r->local_seq);
}

void gsp__on_ack(struct gsp *g, const struct gsp_msg *msg, uint64_t now)
{
	(void)now;
	struct gsp__probe *p = &g->probe;
	if (p->active && msg->seq == p->seq) {
		p->active = false;
		lhm_apply(g, -1);
		return;
	}
	for (uint32_t i = 0; i < g->cfg.relay_max; i++) {
		struct gsp__relay *r = &g->relays[i];
		if (r->used && r->local_seq == msg->seq) {
			r->used = false;
			uint32_t m = gsp__find(g, r->requester);
			if (m == GSP__NONE)
				return;
			struct gsp__send_b *b = gsp__send_new(g, m, NULL, GSP_MSG_ACK);
			if (b) {
				b->s.msg.seq = r->req_seq;
				gsp__piggyback(g, m);
			}
			return;
		}
	}
	g->st.msgs_ignored++;   /* late or duplicated */
}

void gsp__on_nack(struct gsp *g, const struct gsp_msg *msg)
{
	struct gsp__probe *p = &g->probe;
	if (p->active && msg->seq == p->seq && p->nacks < p->expected_nacks) {
		p->nacks++;
		g->st.nacks_received++;
		return;
	}
	g->st.msgs_ignored++;
}
