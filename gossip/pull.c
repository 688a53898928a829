/* pull.c — status bodies travel on demand.
 *
 * Infection-style dissemination sends every update lambda*log(N) times from every
 * member.  That is fine for a 50-byte membership fact, but a signed status record is
 * ~350 bytes and hosts refresh theirs all the time, so broadcast.c spreads only
 * (host, version) announcements.  A member that hears of a version newer than its own
 * asks the announcer for the body (STATUS_PULL) and, once it has it, announces it in
 * turn.  Each member thus receives each body about once.
 *
 * Pulls can be lost like anything else, and announcements stop after their retransmit
 * limit; so an outstanding pull is remembered and re-sent to the same announcer (who
 * surely holds that version or a newer one) after one probe timeout, a few times.  If
 * all of that fails, push-pull anti-entropy still brings the body eventually.
 */
#include "internal.h"

#include <string.h>

static void send_pull(struct gsp *g, uint32_t to, uint32_t member, uint64_t version)
{
	if (!gsp__send_new(g, to, NULL, GSP_MSG_STATUS_PULL))
		return;
	struct gsp_update *u = gsp__upd_new(g);
	if (!u)
		return;
	u->kind = GSP_UPD_STATUS_HAVE;
	u->subject = g->members[member].id;
	u->status_version = version;
}

static void remember(struct gsp *g, uint32_t member, uint32_t from, uint64_t version, uint64_t now)
{
	struct gsp__pull *slot = NULL;
	for (uint32_t i = 0; i < GSP__PULLS_MAX; i++) {
		struct gsp__pull *p = &g->pulls[i];
		if (p->used && p->member == member) {
			slot = p;   /* a newer version replaces the older want */
			break;
		}
		if (!p->used && !slot)
			slot = p;
	}
	if (!slot)
		return;
	slot->used = true;
	slot->tries = 0;
	slot->member = member;
	slot->from = from;
	slot->version = version;
	slot->deadline_ms = now + g->cfg.probe_timeout_ms;
}

/* want[] indexes msg->updates: HAVE entries that members.c decided to pull. */
void gsp__pull_request(struct gsp *g, uint32_t from, const struct gsp_msg *msg,
                       const uint32_t *want, uint32_t n_want, uint64_t now)
{
	if (!gsp__send_new(g, from, NULL, GSP_MSG_STATUS_PULL))
		return;
	for (uint32_t k = 0; k < n_want; k++) {
		const struct gsp_update *h = &msg->updates[want[k]];
		struct gsp_update *u = gsp__upd_new(g);
		if (!u)
			return;
		u->kind = GSP_UPD_STATUS_HAVE;
		u->subject = h->subject;
		u->status_version = h->status_version;
	}
	for (uint32_t k = 0; k < n_want; k++) {
		const struct gsp_update *h = &msg->updates[want[k]];
		uint32_t m = gsp__find(g, h->subject);
		if (m != GSP__NONE)
			remember(g, m, from, h->status_version, now);
	}
}

void gsp__pull_tick(struct gsp *g, uint64_t now)
{
	for (uint32_t i = 0; i < GSP__PULLS_MAX; i++) {
		struct gsp__pull *p = &g->pulls[i];
		if (!p->used || now < p->deadline_ms)
			continue;
		if (g->members[p->member].status_version >= p->version || p->tries >= GSP__PULL_RETRIES ||
		    !gsp__is_live(&g->members[p->from])) {
			p->used = false;
			continue;
		}
		p->tries++;
		p->deadline_ms = now + g->cfg.probe_timeout_ms;
		g->members[p->member].pull_at_ms = now;
		send_pull(g, p->from, p->member, p->version);
	}
}

uint64_t gsp__pull_next(const struct gsp *g)
{
	uint64_t t = UINT64_MAX;
	for (uint32_t i = 0; i < GSP__PULLS_MAX; i++)
		if (g->pulls[i].used && g->pulls[i].deadline_ms < t)
			t = g->pulls[i].deadline_ms;
	return t;
}
