/* gossip.c — the gsp handle: lifecycle, event dispatch and output building.
 *
 * Design.  A gsp is a single-threaded state machine.  Everything that happens to it is an
 * event with a timestamp; everything it wants done is listed in the gsp_out it returns.
 * There are no callbacks: a callback would let the caller re-enter the core in the middle
 * of a state change, and the deterministic simulator would have to reason about that.
 * The one exception is the signature seam (gsp_auth, gossip.h): sign and verify are pure
 * functions of the caller's keys that must not touch the gsp, so nothing re-enters.
 *
 * Time is only ever compared, never read.  Each timer is a deadline in the caller's
 * monotonic milliseconds (next probe, end of the current probe, relay nack deadlines,
 * suspicion deadlines, next gossip round, next push-pull); out.next_tick_ms is the
 * earliest of them, so a simulator can jump straight to it and a real agent can sleep
 * until it.  Ticking early or late is harmless: late ticks only make us slower, which is
 * exactly the situation Lifeguard's local health multiplier is for.
 *
 * Memory.  The member table, the hash index and the work lists grow on demand up to
 * members_max; output arrays are reused between steps.  When an allocation fails in the
 * middle of a step, the step finishes with what it had and returns -ENOMEM; the state is
 * still consistent (every structure is updated only after its allocation succeeded).
 * Status buffers replaced during a step go to a graveyard freed at the start of the next
 * step, because messages already built in this step may still point at them.
 *
 * Files: members.c (table, merge rules, refutation), suspicion.c [LG 4.4], probe.c
 * [SWIM 3.1, LG 4.3], broadcast.c [SWIM 4.1], pull.c (status bodies on demand),
 * pushpull.c (anti-entropy), rng.c,
 * config.c (defaults and derived bounds), codec.c (protobuf-c mapping; not core).
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return true;
	size_t n = *cap ? *cap : 8;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (!q)
		return false;
	*p = q;
	*cap = n;
	return true;
}

int gsp_id_eq(gsp_id a, gsp_id b)
{
	return memcmp(a.b, b.b, GSP_ID_LEN) == 0;
}

int gsp_id_is_zero(gsp_id a)
{
	static const gsp_id zero;
	return gsp_id_eq(a, zero);
}

const char *gsp_state_name(enum gsp_state s)
{
	switch (s) {
	case GSP_ALIVE: return "alive";
	case GSP_SUSPECT: return "suspect";
	case GSP_DEAD: return "dead";
	case GSP_LEFT: return "left";
	}
	return "unknown";
}

bool gsp__is_live(const struct gsp__member *mb)
{
	return mb->state == GSP_ALIVE || mb->state == GSP_SUSPECT;
}

/* A uniformly random live member other than the two excluded, or GSP__NONE.  Tries random
 * picks first (cheap when most members are live), then falls back to a scan so that a
 * mostly-dead table still finds the few live ones. */
uint32_t gsp__random_live(struct gsp *g, uint32_t exclude1, uint32_t exclude2)
{
	if (g->n_members == 0)
		return GSP__NONE;
	for (int tries = 0; tries < 8; tries++) {
		uint32_t m = gsp__rng_below(&g->rng, g->n_members);
		if (m != exclude1 && m != exclude2 && m != g->self && gsp__is_live(&g->members[m]))
			return m;
	}
	uint32_t start = gsp__rng_below(&g->rng, g->n_members);
	for (uint32_t i = 0; i < g->n_members; i++) {
		uint32_t m = (start + i) % g->n_members;
		if (m != exclude1 && m != exclude2 && m != g->self && gsp__is_live(&g->members[m]))
			return m;
	}
	return GSP__NONE;
}

struct gsp__send_b *gsp__send_new(struct gsp *g, uint32_t dest, const char *addr,
                                  enum gsp_msg_type type)
{
	if (!grow((void **)&g->out_send, &g->cap_out_send, g->n_out_send + 1, sizeof(*g->out_send))) {
		g->oom = true;
		return NULL;
	}
	struct gsp__send_b *b = &g->out_send[g->n_out_send++];
	memset(b, 0, sizeof(*b));
	if (dest != GSP__NONE) {
		b->s.to = g->members[dest].id;
		memcpy(b->s.addr, g->members[dest].addr, GSP_ADDR_MAX);
		b->s.msg.to = g->members[dest].id;
	} else if (addr) {
		strncpy(b->s.addr, addr, GSP_ADDR_MAX - 1);
	}
	b->s.msg.type = type;
	b->s.msg.from = g->members[g->self].id;
	b->upd_off = g->n_upd;
	return b;
}

/* Appends one update to the most recently created message. */
struct gsp_update *gsp__upd_new(struct gsp *g)
{
	if (!grow((void **)&g->upd, &g->cap_upd, g->n_upd + 1, sizeof(*g->upd))) {
		g->oom = true;
		return NULL;
	}
	struct gsp_update *u = &g->upd[g->n_upd++];
	memset(u, 0, sizeof(*u));
	g->out_send[g->n_out_send - 1].s.msg.n_updates++;
	return u;
}

void gsp__emit(struct gsp *g, enum gsp_mevent_type t, uint32_t m)
{
	if (!grow((void **)&g->ev, &g->cap_ev, g->n_ev + 1, sizeof(*g->ev))) {
		g->oom = true;
		return;
	}
	const struct gsp__member *mb = &g->members[m];
	struct gsp_member_event *e = &g->ev[g->n_ev++];
	e->type = t;
	e->id = mb->id;
	e->state = (enum gsp_state)mb->state;
	e->incarnation = mb->inc;
	e->status_version = mb->status_version;
}

int gsp_new(const struct gsp_config *cfg, gsp_id self, const char *addr, uint32_t incarnation,
            gsp **out)
{
	if (!cfg || !addr || !out || strlen(addr) == 0 || strlen(addr) >= GSP_ADDR_MAX)
		return -EINVAL;
	if (cfg->probe_interval_ms == 0 || cfg->probe_timeout_ms == 0 ||
	    cfg->probe_timeout_ms > cfg->probe_interval_ms || cfg->gossip_interval_ms == 0 ||
	    cfg->suspicion_alpha == 0 || cfg->suspicion_beta == 0 || cfg->lhm_max == 0 ||
	    cfg->members_max < 2 || cfg->piggyback_max == 0 || cfg->piggyback_max > 64 || cfg->retransmit_mult == 0 ||
	    cfg->push_pull_interval_ms == 0 || cfg->nack_percent > 100 || cfg->relay_max == 0 ||
	    cfg->reconnect_interval_ms == 0 || cfg->push_pull_scale_n == 0 ||
	    !cfg->auth.sign_inc || !cfg->auth.verify_inc || !cfg->auth.status_version)
		return -EINVAL;
	struct gsp *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->cfg = *cfg;
	gsp__rng_seed(&g->rng, cfg->seed);
	g->relays = calloc(cfg->relay_max, sizeof(*g->relays));
	if (!g->relays)
		goto err_after_alloc;
	uint32_t m = gsp__add(g, self, addr, incarnation, NULL, 0);
	if (m == GSP__NONE)
		goto err_after_alloc;
	g->self = m;
	gsp__sign_self(g);
	*out = g;
	return 0;

err_after_alloc:
	gsp_free(g);
	return -ENOMEM;
}

void gsp_free(gsp *g)
{
	if (!g)
		return;
	for (uint32_t i = 0; i < g->n_members; i++) {
		free(g->members[i].status);
		free(g->members[i].susp_confirmers);
	}
	for (size_t i = 0; i < g->n_grave; i++)
		free(g->graveyard[i]);
	free(g->graveyard);
	free(g->members);
	free(g->hash);
	free(g->order);
	free(g->active);
	free(g->suspects);
	free(g->relays);
	free(g->out_send);
	free(g->upd);
	free(g->ev);
	free(g->sends_final);
	free(g);
}

static void start_timers(struct gsp *g, uint64_t now)
{
	if (g->started)
		return;
	g->started = true;
	/* Spread the first probe over one interval so that hosts started together do not
	 * probe in lock step. */
	g->next_probe_ms = now + gsp__rng_below(&g->rng, g->cfg.probe_interval_ms);
	g->next_gossip_ms = now + g->cfg.gossip_interval_ms;
	g->next_push_pull_ms = now + g->cfg.push_pull_interval_ms +
	                       gsp__rng_below(&g->rng, g->cfg.push_pull_interval_ms);
	g->next_reconnect_ms = now + g->cfg.reconnect_interval_ms +
	                       gsp__rng_below(&g->rng, g->cfg.reconnect_interval_ms);
}

static void graveyard_free(struct gsp *g)
{
	for (size_t i = 0; i < g->n_grave; i++)
		free(g->graveyard[i]);
	g->n_grave = 0;
}

static int set_status(struct gsp *g, const struct gsp_event *ev)
{
	if (ev->status_len > GSP_STATUS_MAX || (ev->status_len && !ev->status))
		return -EINVAL;
	struct gsp__member *me = &g->members[g->self];
	if (ev->status_version <= me->status_version)
		return -ESTALE;
	/* Others order records by the signed version (members.c): ours must carry it too. */
	uint64_t signed_version = 0;
	if (g->cfg.auth.status_version(g->cfg.auth.ctx, me->id, ev->status, ev->status_len,
	                               &signed_version) != 0 ||
	    signed_version != ev->status_version)
		return -EINVAL;
	uint8_t *copy = malloc(ev->status_len ? ev->status_len : 1);
	if (!copy)
		return -ENOMEM;
	if (!grow((void **)&g->graveyard, &g->cap_grave, g->n_grave + 1, sizeof(*g->graveyard))) {
		free(copy);
		return -ENOMEM;
	}
	if (ev->status_len)
		memcpy(copy, ev->status, ev->status_len);
	if (me->status)
		g->graveyard[g->n_grave++] = me->status;
	me->status = copy;
	me->status_len = ev->status_len;
	me->status_version = ev->status_version;
	gsp__bc_status(g, g->self);
	return 0;
}

static int do_join(struct gsp *g, const struct gsp_event *ev)
{
	if (ev->n_seeds && !ev->seeds)
		return -EINVAL;
	for (size_t i = 0; i < ev->n_seeds; i++)
		if (!ev->seeds[i] || strlen(ev->seeds[i]) == 0 || strlen(ev->seeds[i]) >= GSP_ADDR_MAX)
			return -EINVAL;
	for (size_t i = 0; i < ev->n_seeds; i++) {
		if (strcmp(ev->seeds[i], g->members[g->self].addr) == 0)
			continue;
		gsp__push_pull_send(g, GSP__NONE, ev->seeds[i], 1, GSP_MSG_PUSH_PULL, NULL);
	}
	return 0;
}

static void do_leave(struct gsp *g, uint64_t now)
{
	struct gsp__member *me = &g->members[g->self];
	g->leaving = true;
	/* A higher incarnation makes LEFT beat any ALIVE about us still in flight; at the
	 * maximum, LEFT still beats ALIVE at the same incarnation (members.c). */
	if (me->inc < GSP_INC_MAX)
		me->inc++;
	me->bc_from = me->id;
	gsp__set_state(g, g->self, GSP_LEFT, now);
	gsp__sign_self(g);
	gsp__bc_member(g, g->self);
	/* Tell a few members right now instead of waiting for the next gossip round: the
	 * caller may stop ticking us soon. */
	for (uint32_t i = 0; i < g->cfg.gossip_fanout; i++) {
		uint32_t m = gsp__random_live(g, GSP__NONE, GSP__NONE);
		if (m == GSP__NONE)
			break;
		if (gsp__send_new(g, m, NULL, GSP_MSG_GOSSIP))
			gsp__piggyback(g, m);
	}
}

static bool msg_valid(const struct gsp_msg *m)
{
	if (m->type < GSP_MSG_PING || m->type > GSP_MSG_STATUS_PULL)
		return false;
	if (m->n_updates && !m->updates)
		return false;
	if (memchr(m->target_addr, 0, GSP_ADDR_MAX) == NULL)
		return false;
	for (size_t i = 0; i < m->n_updates; i++) {
		const struct gsp_update *u = &m->updates[i];
		if (u->kind > GSP_UPD_STATUS_HAVE || memchr(u->addr, 0, GSP_ADDR_MAX) == NULL)
			return false;
		if (u->kind == GSP_UPD_STATUS &&
		    (u->status_len > GSP_STATUS_MAX || (u->status_len && !u->status)))
			return false;
		if (gsp_id_is_zero(u->subject))
			return false;
	}
	return !gsp_id_is_zero(m->from);
}

static void on_recv(struct gsp *g, const struct gsp_msg *msg, uint64_t now)
{
	if (!gsp_id_is_zero(msg->to) && !gsp_id_eq(msg->to, g->members[g->self].id)) {
		g->st.msgs_ignored++;   /* meant for a previous owner of this address */
		return;
	}
	bool pp = msg->type == GSP_MSG_PUSH_PULL || msg->type == GSP_MSG_PUSH_PULL_REPLY;
	if (pp) {
		gsp__on_push_pull(g, msg, now);
		return;
	}
	if (msg->type == GSP_MSG_STATUS_PULL) {
		gsp__on_status_pull(g, msg);
		return;
	}
	bool stale = false;
	uint32_t want[GSP__PULL_MAX];
	uint32_t n_want = 0;
	for (size_t i = 0; i < msg->n_updates; i++) {
		enum gsp__applied a = gsp__apply(g, &msg->updates[i], now, false);
		stale |= a == GSP__STALE;
		if (a == GSP__WANT && n_want < GSP__PULL_MAX)
			want[n_want++] = (uint32_t)i;
	}
	uint32_t sender = gsp__find(g, msg->from);
	if (n_want && sender != GSP__NONE)
		gsp__pull_request(g, sender, msg, want, n_want, now);
	if (stale && msg->type != GSP_MSG_PING) {
		/* The sender holds an accusation we know to be outdated; tell it now (a PING
		 * gets the correction on its ACK instead). */
		uint32_t m = gsp__find(g, msg->from);
		if (m != GSP__NONE && gsp__send_new(g, m, NULL, GSP_MSG_GOSSIP))
			gsp__piggyback(g, m);
	}
	switch (msg->type) {
	case GSP_MSG_PING: gsp__on_ping(g, msg, now); break;
	case GSP_MSG_PING_REQ: gsp__on_ping_req(g, msg, now); break;
	case GSP_MSG_ACK: gsp__on_ack(g, msg, now); break;
	case GSP_MSG_NACK: gsp__on_nack(g, msg); break;
	default: break;
	}
}

static uint64_t next_tick(const struct gsp *g)
{
	uint64_t t = UINT64_MAX;
#define MIN_T(x) do { if ((x) < t) t = (x); } while (0)
	if (!g->leaving) {
		MIN_T(g->next_probe_ms);
		if (g->probe.active)
			MIN_T(g->probe.indirect_sent ? g->probe.end_ms : g->probe.indirect_at_ms);
		MIN_T(g->next_push_pull_ms);
		MIN_T(g->next_reconnect_ms);
	}
	if (g->n_active)
		MIN_T(g->next_gossip_ms);
	for (uint32_t i = 0; i < g->cfg.relay_max; i++)
		if (g->relays[i].used)
			MIN_T(g->relays[i].nack_at_ms);
	for (uint32_t i = 0; i < g->n_suspects; i++)
		MIN_T(gsp__suspicion_deadline(g, &g->members[g->suspects[i]]));
	MIN_T(gsp__pull_next(g));
#undef MIN_T
	return t;
}

static void finish(struct gsp *g, struct gsp_out *out)
{
	if (g->cap_sends_final < g->n_out_send) {
		struct gsp_send *p = realloc(g->sends_final, g->n_out_send * sizeof(*p));
		if (!p) {
			g->oom = true;
			g->n_out_send = 0;
		} else {
			g->sends_final = p;
			g->cap_sends_final = g->n_out_send;
		}
	}
	for (size_t i = 0; i < g->n_out_send; i++) {
		g->sends_final[i] = g->out_send[i].s;
		g->sends_final[i].msg.updates =
			g->sends_final[i].msg.n_updates ? &g->upd[g->out_send[i].upd_off] : NULL;
	}
	out->n_send = g->n_out_send;
	out->send = g->sends_final;
	out->n_events = g->n_ev;
	out->events = g->ev;
	out->next_tick_ms = next_tick(g);
}

int gsp_step(gsp *g, const struct gsp_event *ev, struct gsp_out *out)
{
	if (!g || !ev || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	g->n_out_send = 0;
	g->n_upd = 0;
	g->n_ev = 0;
	g->oom = false;
	g->refused_in_msg = false;
	graveyard_free(g);
	if (ev->type == GSP_EV_RECV && (!ev->msg || !msg_valid(ev->msg)))
		return -EINVAL;
	if (g->leaving && (ev->type == GSP_EV_JOIN || ev->type == GSP_EV_STATUS ||
	                   ev->type == GSP_EV_LEAVE))
		return -EPERM;
	start_timers(g, ev->now_ms);
	int rc = 0;
	uint64_t now = ev->now_ms;
	g->now = now;
	switch (ev->type) {
	case GSP_EV_TICK:
		break;
	case GSP_EV_RECV:
		on_recv(g, ev->msg, now);
		break;
	case GSP_EV_JOIN:
		rc = do_join(g, ev);
		break;
	case GSP_EV_STATUS:
		rc = set_status(g, ev);
		break;
	case GSP_EV_LEAVE:
		do_leave(g, now);
		break;
	default:
		return -EINVAL;
	}
	/* Timers run on every event, not just ticks: a busy host that receives a lot but is
	 * ticked late still keeps its deadlines. */
	for (uint32_t i = 0; i < g->cfg.relay_max; i++) {
		struct gsp__relay *r = &g->relays[i];
		if (r->used && now >= r->nack_at_ms) {
			r->used = false;
			uint32_t m = gsp__find(g, r->requester);
			if (m != GSP__NONE && gsp__is_live(&g->members[m])) {
				struct gsp__send_b *b = gsp__send_new(g, m, NULL, GSP_MSG_NACK);
				if (b) {
					b->s.msg.seq = r->req_seq;
					g->st.nacks_sent++;
				}
			}
		}
	}
	if (!g->leaving) {
		gsp__probe_tick(g, now);
		gsp__push_pull_tick(g, now);
	}
	gsp__suspicion_tick(g, now);
	gsp__pull_tick(g, now);
	gsp__gossip_tick(g, now);
	finish(g, out);
	if (rc == 0 && g->oom)
		rc = -ENOMEM;
	return rc;
}

size_t gsp_member_count(const gsp *g)
{
	return g->n_members;
}

size_t gsp_alive_count(const gsp *g)
{
	return g->n_live;
}

static void info_fill(const struct gsp__member *mb, struct gsp_member_info *info)
{
	info->id = mb->id;
	memcpy(info->addr, mb->addr, GSP_ADDR_MAX);
	info->state = (enum gsp_state)mb->state;
	info->incarnation = mb->inc;
	info->state_since_ms = mb->since_ms;
	info->status_version = mb->status_version;
	info->status_len = mb->status_len;
	info->status = mb->status;
}

int gsp_member_get(const gsp *g, size_t i, struct gsp_member_info *info)
{
	if (i >= g->n_members)
		return -ERANGE;
	info_fill(&g->members[i], info);
	return 0;
}

int gsp_member_find(const gsp *g, gsp_id id, struct gsp_member_info *info)
{
	uint32_t m = gsp__find(g, id);
	if (m == GSP__NONE)
		return -ENOENT;
	info_fill(&g->members[m], info);
	return 0;
}

uint32_t gsp_incarnation(const gsp *g)
{
	return g->members[g->self].inc;
}

uint32_t gsp_lhm(const gsp *g)
{
	return g->lhm_score + 1;
}

void gsp_stats_get(const gsp *g, struct gsp_stats *st)
{
	*st = g->st;
}
