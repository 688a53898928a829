/* members.c — the member table and the rules that merge what others tell us into it.
 *
 * Merge rules [SWIM 4.2], the same precedence memberlist uses:
 *   ALIVE(i)   wins over anything we hold at incarnation < i, and adds unknown members;
 *   SUSPECT(i) wins over ALIVE at incarnation <= i (and confirms a running suspicion);
 *   DEAD(i)/LEFT(i) win over ALIVE or SUSPECT at incarnation <= i.
 * Only the member itself ever raises its incarnation: hearing SUSPECT/DEAD about
 * ourselves (or an ALIVE from a previous life with a higher number) makes us refute with
 * a higher incarnation, which then overrides the accusation everywhere.  Refuting also
 * raises our LHM [LG 4.3]: being suspected is a hint that we are the slow one.
 *
 * "Only the member itself" is enforced, not assumed (issue 12): each row keeps the
 * member's own signature of its incarnation, every fact we spread carries it, and an
 * update that would raise the incarnation we hold (or says LEFT, which only the member
 * says of itself) is applied only when it carries a valid one (vouched()).  So DEAD(X,
 * 0xFFFFFFFF) from a liar is refused, while SUSPECT(X, i) from an honest prober who has
 * seen X's signed i is accepted even by a member still holding i-1: the signature it
 * carries proves that i exists.  Updates at or below the held incarnation need no
 * signature; SWIM's precedence alone decides them, as before.  Incarnations saturate at
 * GSP_INC_MAX (refute, do_leave) rather than wrap to 0, which every member would read
 * as older than anything.
 *
 * A status record replaces the one we hold only when its signed body opens to exactly
 * the version the update names (status_vouched()): the version that orders records is
 * the signed one, never a relay's say-so.
 *
 * Members are never removed: a dead host keeps its row so that late messages about it
 * are recognised as stale and so that reconnect attempts can heal partitions.  The table
 * is bounded by members_max; beyond it, new members are refused and counted.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint32_t id_hash(gsp_id id)
{
	uint64_t a, b;
	memcpy(&a, id.b, 8);
	memcpy(&b, id.b + 8, 8);
	/* Real ids are hashes already, but simulator and test ids differ in a few bytes
	 * only: run both halves through a full 64-bit finalizer (murmur3's fmix64) so the
	 * probe chains stay short either way. */
	uint64_t h = a ^ (b * 0x9e3779b97f4a7c15ULL);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (uint32_t)h;
}

uint32_t gsp__find(const struct gsp *g, gsp_id id)
{
	if (!g->hash_cap)
		return GSP__NONE;
	uint32_t mask = g->hash_cap - 1;
	for (uint32_t i = id_hash(id) & mask;; i = (i + 1) & mask) {
		uint32_t m = g->hash[i];
		if (m == GSP__NONE)
			return GSP__NONE;
		if (gsp_id_eq(g->members[m].id, id))
			return m;
	}
}

static void hash_put(uint32_t *tab, uint32_t cap, const struct gsp__member *members, uint32_t m)
{
	uint32_t mask = cap - 1;
	uint32_t i = id_hash(members[m].id) & mask;
	while (tab[i] != GSP__NONE)
		i = (i + 1) & mask;
	tab[i] = m;
}

static bool reserve(struct gsp *g, uint32_t need)
{
	if (need <= g->cap_members)
		return true;
	uint32_t cap = g->cap_members ? g->cap_members * 2 : 16;
	if (cap > g->cfg.members_max)
		cap = g->cfg.members_max;
	if (cap < need)
		return false;
	struct gsp__member *mem = realloc(g->members, cap * sizeof(*mem));
	if (!mem)
		return false;
	g->members = mem;
	uint32_t *order = realloc(g->order, cap * sizeof(*order));
	if (!order)
		return false;
	g->order = order;
	uint32_t *active = realloc(g->active, cap * sizeof(*active));
	if (!active)
		return false;
	g->active = active;
	uint32_t *susp = realloc(g->suspects, cap * sizeof(*susp));
	if (!susp)
		return false;
	g->suspects = susp;
	uint32_t hcap = 16;
	while (hcap < 2 * cap)
		hcap *= 2;
	uint32_t *tab = malloc(hcap * sizeof(*tab));
	if (!tab)
		return false;
	memset(tab, 0xff, hcap * sizeof(*tab));
	for (uint32_t m = 0; m < g->n_members; m++)
		hash_put(tab, hcap, g->members, m);
	free(g->hash);
	g->hash = tab;
	g->hash_cap = hcap;
	g->cap_members = cap;
	return true;
}

uint32_t gsp__add(struct gsp *g, gsp_id id, const char *addr, uint32_t inc,
                  const uint8_t sig[GSP_SIG_LEN], uint64_t now)
{
	if (gsp_id_is_zero(id) || strlen(addr) >= GSP_ADDR_MAX)
		return GSP__NONE;
	if (!reserve(g, g->n_members + 1)) {
		g->st.members_full++;
		return GSP__NONE;
	}
	uint32_t m = g->n_members++;
	struct gsp__member *mb = &g->members[m];
	memset(mb, 0, sizeof(*mb));
	mb->id = id;
	strncpy(mb->addr, addr, GSP_ADDR_MAX - 1);
	mb->state = GSP_ALIVE;
	mb->inc = inc;
	if (sig)
		memcpy(mb->sig, sig, GSP_SIG_LEN);
	mb->since_ms = now;
	mb->bc_from = id;
	hash_put(g->hash, g->hash_cap, g->members, m);
	g->n_live++;
	if (g->n_members > 1)       /* index 0 is ourselves */
		gsp__order_insert(g, m);
	return m;
}

void gsp__set_state(struct gsp *g, uint32_t m, enum gsp_state s, uint64_t now)
{
	struct gsp__member *mb = &g->members[m];
	bool was = gsp__is_live(mb);
	mb->state = (uint8_t)s;
	mb->since_ms = now;
	bool is = gsp__is_live(mb);
	if (was && !is)
		g->n_live--;
	else if (!was && is)
		g->n_live++;
}

void gsp__fill_fact(const struct gsp *g, uint32_t m, struct gsp_update *u)
{
	const struct gsp__member *mb = &g->members[m];
	static const enum gsp_upd_kind kinds[] = {GSP_UPD_ALIVE, GSP_UPD_SUSPECT, GSP_UPD_DEAD,
	                                          GSP_UPD_LEFT};
	u->kind = kinds[mb->state];
	u->subject = mb->id;
	u->from = mb->bc_from;
	u->incarnation = mb->inc;
	u->has_sig = 1;
	memcpy(u->sig, mb->sig, GSP_SIG_LEN);
	if (u->kind == GSP_UPD_ALIVE)
		memcpy(u->addr, mb->addr, GSP_ADDR_MAX);
}

/* Our row's signature for our current incarnation and state (ALIVE or LEFT). */
void gsp__sign_self(struct gsp *g)
{
	struct gsp__member *me = &g->members[g->self];
	g->cfg.auth.sign_inc(g->cfg.auth.ctx, me->id, me->inc,
	                     me->state == GSP_LEFT ? GSP_LEFT : GSP_ALIVE, me->sig);
}

/* inc_seen is an incarnation of ours that we signed (vouched() checked it).  At
 * GSP_INC_MAX there is nothing higher to refute with: we re-spread ALIVE at the maximum
 * (it still beats older accusations) and count it. */
void gsp__refute(struct gsp *g, uint32_t inc_seen)
{
	struct gsp__member *me = &g->members[g->self];
	uint32_t top = inc_seen > me->inc ? inc_seen : me->inc;
	if (top == GSP_INC_MAX)
		g->st.inc_saturated++;
	me->inc = top == GSP_INC_MAX ? GSP_INC_MAX : top + 1;
	me->bc_from = me->id;
	gsp__sign_self(g);
	gsp__bc_member(g, g->self);
	if (g->lhm_score + 1 < g->cfg.lhm_max)
		g->lhm_score++;
	g->st.refutations++;
}

/* May u raise the incarnation we hold for member m (GSP__NONE: introduce it), or, a
 * LEFT, speak for m at all?  Only with m's own signature of exactly that statement.
 * Updates that raise nothing pass unchecked.  Refusals are counted by reason; after one,
 * the rest of the message is refused without spending a verification on each. */
/* The verdict of an auth hook: a forgery counts under `bad` and taints the rest of the
 * message; an unknown subject is counted apart and taints nothing. */
static bool auth_ok(struct gsp *g, int rc, uint64_t *bad)
{
	if (rc == 0)
		return true;
	if (rc == -ENOENT) {
		g->st.refused_unknown_subject++;
		return false;
	}
	g->refused_in_msg = true;
	(*bad)++;
	return false;
}

static bool vouched(struct gsp *g, const struct gsp_update *u, uint32_t m)
{
	enum gsp_state said = u->kind == GSP_UPD_LEFT ? GSP_LEFT : GSP_ALIVE;
	if (said == GSP_ALIVE && m != GSP__NONE && u->incarnation <= g->members[m].inc)
		return true;
	if (!u->has_sig) {
		g->st.refused_inc_unsigned++;
		return false;
	}
	if (g->refused_in_msg) {
		g->st.refused_inc_bad_sig++;
		return false;
	}
	return auth_ok(g, g->cfg.auth.verify_inc(g->cfg.auth.ctx, u->subject, u->incarnation, said,
	                                         u->sig), &g->st.refused_inc_bad_sig);
}

/* Does the record in u open, as its subject's, to the version u names? */
static bool status_vouched(struct gsp *g, const struct gsp_update *u)
{
	uint64_t v = 0;
	if (g->refused_in_msg) {
		g->st.refused_status_bad_sig++;
		return false;
	}
	if (!auth_ok(g, g->cfg.auth.status_version(g->cfg.auth.ctx, u->subject, u->status,
	                                           u->status_len, &v), &g->st.refused_status_bad_sig))
		return false;
	if (v != u->status_version) {
		g->refused_in_msg = true;
		g->st.refused_status_version++;
		return false;
	}
	return true;
}

static void apply_status(struct gsp *g, const struct gsp_update *u)
{
	uint32_t m = gsp__find(g, u->subject);
	if (m == GSP__NONE || m == g->self)
		return;   /* unknown: push-pull brings it with the member; ours: we are the source */
	struct gsp__member *mb = &g->members[m];
	if (u->status_version <= mb->status_version)
		return;
	if (!status_vouched(g, u)) {
		/* a forged announcement of this version made us pull it: forget that want */
		mb->pull_version = mb->status_version;
		return;
	}
	uint8_t *copy = malloc(u->status_len ? u->status_len : 1);
	if (!copy) {
		g->oom = true;
		return;
	}
	if (mb->status) {
		uint8_t **gy = realloc(g->graveyard, (g->n_grave + 1) * sizeof(*gy));
		if (!gy) {
			free(copy);
			g->oom = true;
			return;
		}
		g->graveyard = gy;
		g->cap_grave = g->n_grave + 1;
		g->graveyard[g->n_grave++] = mb->status;
	}
	if (u->status_len)
		memcpy(copy, u->status, u->status_len);
	mb->status = copy;
	mb->status_len = u->status_len;
	mb->status_version = u->status_version;
	gsp__emit(g, GSP_ME_STATUS, m);
	gsp__bc_status(g, m);
	g->st.updates_applied++;
}

static void apply_alive(struct gsp *g, const struct gsp_update *u, uint32_t m, uint64_t now)
{
	if (m == GSP__NONE) {
		if (u->addr[0] == 0 || !vouched(g, u, m))
			return;
		m = gsp__add(g, u->subject, u->addr, u->incarnation, u->sig, now);
		if (m == GSP__NONE)
			return;
		gsp__emit(g, GSP_ME_STATE, m);
		gsp__bc_member(g, m);
		g->st.updates_applied++;
		return;
	}
	if (m == g->self) {
		/* Somebody remembers a previous life of ours with a higher number (which we
		 * signed then: a number nobody signed must not push ours up). */
		if (u->incarnation > g->members[m].inc && !g->leaving && vouched(g, u, m))
			gsp__refute(g, u->incarnation);
		return;
	}
	struct gsp__member *mb = &g->members[m];
	if (u->incarnation <= mb->inc || !vouched(g, u, m))
		return;
	mb->inc = u->incarnation;
	memcpy(mb->sig, u->sig, GSP_SIG_LEN);
	mb->bc_from = mb->id;
	if (u->addr[0])
		memcpy(mb->addr, u->addr, GSP_ADDR_MAX);
	if (mb->state != GSP_ALIVE) {
		gsp__suspicion_clear(g, m);
		gsp__set_state(g, m, GSP_ALIVE, now);
		gsp__emit(g, GSP_ME_STATE, m);
	}
	gsp__bc_member(g, m);
	g->st.updates_applied++;
}

static void apply_down(struct gsp *g, const struct gsp_update *u, uint32_t m, uint64_t now)
{
	struct gsp__member *mb = &g->members[m];
	if (mb->state == GSP_DEAD || mb->state == GSP_LEFT || u->incarnation < mb->inc ||
	    !vouched(g, u, m))
		return;
	/* The row keeps the signature of what it now says: the LEFT one, or, raised, the
	 * ALIVE one the accusation carried (vouched() checked whichever applies). */
	if (u->kind == GSP_UPD_LEFT || u->incarnation > mb->inc)
		memcpy(mb->sig, u->sig, GSP_SIG_LEN);
	mb->inc = u->incarnation;
	mb->bc_from = u->from;
	gsp__suspicion_clear(g, m);
	gsp__set_state(g, m, u->kind == GSP_UPD_LEFT ? GSP_LEFT : GSP_DEAD, now);
	gsp__emit(g, GSP_ME_STATE, m);
	gsp__bc_member(g, m);
	g->st.updates_applied++;
}

/* A HAVE announcement of a version newer than ours: pull it, unless we asked for this
 * version (or a newer one) less than one probe timeout ago; a pull is one round trip,
 * like a probe, so after that long the request or its answer was lost. */
static bool want_status(struct gsp *g, const struct gsp_update *u, uint64_t now)
{
	uint32_t m = gsp__find(g, u->subject);
	if (m == GSP__NONE || m == g->self)
		return false;
	struct gsp__member *mb = &g->members[m];
	if (u->status_version <= mb->status_version)
		return false;
	if (mb->pull_version >= u->status_version && now < mb->pull_at_ms + g->cfg.probe_timeout_ms)
		return false;
	mb->pull_version = u->status_version;
	mb->pull_at_ms = now;
	return true;
}

/* True when u accuses a member (or us) at an incarnation older than the one we hold
 * for it: the sender missed a refutation.  We then spread our fresher fact again
 * (restarting its transmit count) and the caller answers the sender directly, so one
 * member that missed every copy of a refutation [SWIM 4.1 is only probabilistic] is
 * corrected by the next member it talks to instead of burying a live host. */
static bool stale_accusation(struct gsp *g, const struct gsp_update *u, uint32_t m)
{
	if (m == GSP__NONE || u->kind == GSP_UPD_ALIVE || u->kind == GSP_UPD_STATUS)
		return false;
	const struct gsp__member *mb = &g->members[m];
	if (mb->state != GSP_ALIVE || u->incarnation >= mb->inc)
		return false;
	if (!mb->bc_pending)
		gsp__bc_member(g, m);
	return true;
}

/* from_push_pull: a full-state digest is older news than a broadcast, so a DEAD in it
 * only starts a suspicion here (memberlist does the same): if the member is in fact
 * alive it gets the chance to refute instead of being buried on hearsay.
 * Returns true when the update was a stale accusation (see stale_accusation). */
enum gsp__applied gsp__apply(struct gsp *g, const struct gsp_update *u, uint64_t now,
                             bool from_push_pull)
{
	if (u->kind == GSP_UPD_STATUS) {
		apply_status(g, u);
		return GSP__APPLIED;
	}
	if (u->kind == GSP_UPD_STATUS_HAVE)
		return want_status(g, u, now) ? GSP__WANT : GSP__APPLIED;
	uint32_t m = gsp__find(g, u->subject);
	if (u->kind == GSP_UPD_ALIVE) {
		apply_alive(g, u, m, now);
		return GSP__APPLIED;
	}
	if (m == GSP__NONE)
		return GSP__APPLIED;   /* accusations about strangers carry no address */
	if (stale_accusation(g, u, m))
		return GSP__STALE;
	if (m == g->self) {
		/* An accusation of a number we never signed, or a LEFT we did not sign, is a
		 * lie nobody else believes either: no refutation (it would spend numbers). */
		if (!g->leaving && u->incarnation >= g->members[m].inc && vouched(g, u, m))
			gsp__refute(g, u->incarnation);
		return GSP__APPLIED;
	}
	if (u->kind == GSP_UPD_SUSPECT || (from_push_pull && u->kind == GSP_UPD_DEAD)) {
		struct gsp__member *mb = &g->members[m];
		if (mb->state == GSP_DEAD || mb->state == GSP_LEFT || u->incarnation < mb->inc ||
		    !vouched(g, u, m))
			return GSP__APPLIED;
		uint32_t before = mb->inc;
		gsp__suspect(g, m, u->incarnation, u->from, now);
		if (mb->inc != before)   /* raised to u's incarnation: keep the proof of it */
			memcpy(mb->sig, u->sig, GSP_SIG_LEN);
		return GSP__APPLIED;
	}
	apply_down(g, u, m, now);
	return GSP__APPLIED;
}
