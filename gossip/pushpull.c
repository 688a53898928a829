/* pushpull.c — anti-entropy: full-state exchange with one random member.
 *
 * Piggybacked gossip is fast but lossy by design (each fact is sent a bounded number of
 * times).  Push-pull repairs what it missed, as in memberlist: periodically, and when
 * joining, a member sends its whole digest (every member's state, incarnation, address
 * and the status version it holds), the peer merges it and answers with its own digest
 * plus the status records the sender lacks; the sender merges that and finally pushes
 * the status records the peer lacks.  Status bodies travel only where a version differs,
 * so the periodic cost is one digest each way (~60 bytes per member).
 *
 * The period grows above push_pull_scale_n members by ceil(log2(N / scale_n)) + 1 (the
 * memberlist rule) so the bytes per host per second stay nearly flat as N grows.
 *
 * Signatures (members.c): a digest entry carries its subject's signature of the
 * incarnation only where the receiver may need it, i.e. always in a first PUSH_PULL (we
 * do not know the peer's view) and, in a reply, where the peer's digest shows an older
 * incarnation or a different LEFT state.  They count against the body budget, so a
 * reply to a joiner that knows nobody (all 66-byte signatures) still fits the codec.
 *
 * Healing partitions: after a long enough cut, each side has declared the other dead
 * and nobody probes or gossips to dead members.  Every reconnect_interval_ms we therefore
 * push-pull with one random dead (not left) member; if it is in fact alive it sees
 * itself reported dead in our digest, refutes with a higher incarnation, and its answer
 * carries that refutation back; the rest follows by gossip and further push-pulls.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Status bodies per push-pull message: 512 KiB keeps a full exchange well under the
 * codec's 1 MiB limit (the digest of 4096 members is ~250 KiB); the rest is pulled. */
#define GSP__PP_BODY_BUDGET (512u * 1024u)

static uint64_t push_pull_period(const struct gsp *g)
{
	uint64_t base = g->cfg.push_pull_interval_ms;
	if (g->n_live <= g->cfg.push_pull_scale_n)
		return base;
	double mult = ceil(log2((double)g->n_live) - log2((double)g->cfg.push_pull_scale_n)) + 1.0;
	return (uint64_t)((double)base * mult);
}

static uint32_t random_dead(struct gsp *g)
{
	if (g->n_members < 2)
		return GSP__NONE;
	uint32_t start = gsp__rng_below(&g->rng, g->n_members);
	for (uint32_t i = 0; i < g->n_members; i++) {
		uint32_t m = (start + i) % g->n_members;
		if (m != g->self && g->members[m].state == GSP_DEAD)
			return m;
	}
	return GSP__NONE;
}

void gsp__push_pull_tick(struct gsp *g, uint64_t now)
{
	if (now >= g->next_push_pull_ms) {
		g->next_push_pull_ms = now + push_pull_period(g);
		uint32_t m = gsp__random_live(g, GSP__NONE, GSP__NONE);
		if (m != GSP__NONE)
			gsp__push_pull_send(g, m, NULL, 0, GSP_MSG_PUSH_PULL, NULL);
	}
	if (now >= g->next_reconnect_ms) {
		g->next_reconnect_ms = now + g->cfg.reconnect_interval_ms;
		uint32_t m = random_dead(g);
		if (m != GSP__NONE)
			gsp__push_pull_send(g, m, NULL, 0, GSP_MSG_PUSH_PULL, NULL);
	}
}

/* type PUSH_PULL / PUSH_PULL_REPLY: digest + status records newer than `peer`'s digest
 * (none when peer is NULL: the peer will ask by answering); type GOSSIP: only the status
 * records newer than `peer`'s digest, the last leg of an exchange we started. */
void gsp__push_pull_send(struct gsp *g, uint32_t dest, const char *addr, int join,
                         enum gsp_msg_type type, const struct gsp_msg *peer)
{
	uint64_t *peer_ver = NULL;
	struct peer_fact {
		bool known, left;
		uint32_t inc;
	} *peer_fact = NULL;
	if (peer) {
		peer_ver = calloc(g->n_members, sizeof(*peer_ver));
		peer_fact = calloc(g->n_members, sizeof(*peer_fact));
		if (!peer_ver || !peer_fact) {
			free(peer_ver);
			free(peer_fact);
			g->oom = true;
			return;
		}
		for (size_t i = 0; i < peer->n_updates; i++) {
			const struct gsp_update *u = &peer->updates[i];
			if (u->kind == GSP_UPD_STATUS)
				continue;
			uint32_t m = gsp__find(g, u->subject);
			if (m == GSP__NONE)
				continue;
			peer_ver[m] = u->status_version;
			if (u->kind != GSP_UPD_STATUS_HAVE) {
				peer_fact[m].known = true;
				peer_fact[m].left = u->kind == GSP_UPD_LEFT;
				peer_fact[m].inc = u->incarnation;
			}
		}
	}
	size_t sig_bytes = 0;
	struct gsp__send_b *b = gsp__send_new(g, dest, addr, type);
	if (!b)
		goto out;
	b->s.msg.join = join;
	if (type != GSP_MSG_GOSSIP) {
		for (uint32_t m = 0; m < g->n_members; m++) {
			struct gsp_update *u = gsp__upd_new(g);
			if (!u)
				goto out;
			gsp__fill_fact(g, m, u);
			memcpy(u->addr, g->members[m].addr, GSP_ADDR_MAX);
			u->status_version = g->members[m].status_version;
			const struct peer_fact *pf = peer_fact ? &peer_fact[m] : NULL;
			if (pf && pf->known && pf->inc >= u->incarnation &&
			    (u->kind != GSP_UPD_LEFT || pf->left))
				u->has_sig = 0;   /* the peer holds this incarnation already */
			else
				sig_bytes += GSP_SIG_LEN + 2;
		}
	}
	if (peer) {
		size_t body_bytes = sig_bytes;
		for (uint32_t m = 0; m < g->n_members; m++) {
			const struct gsp__member *mb = &g->members[m];
			if (!mb->status || mb->status_version <= peer_ver[m])
				continue;
			/* The peer pulls whatever does not fit (gsp__on_push_pull). */
			body_bytes += mb->status_len;
			if (body_bytes > GSP__PP_BODY_BUDGET)
				break;
			struct gsp_update *u = gsp__upd_new(g);
			if (!u)
				goto out;
			u->kind = GSP_UPD_STATUS;
			u->subject = mb->id;
			u->from = g->members[g->self].id;
			u->status_version = mb->status_version;
			u->status_len = mb->status_len;
			u->status = mb->status;
		}
	}
	if (type == GSP_MSG_GOSSIP && b->s.msg.n_updates == 0)
		g->n_out_send--;
	else
		g->st.push_pulls++;
out:
	free(peer_ver);
	free(peer_fact);
}

void gsp__on_push_pull(struct gsp *g, const struct gsp_msg *msg, uint64_t now)
{
	for (size_t i = 0; i < msg->n_updates; i++)
		gsp__apply(g, &msg->updates[i], now, true);
	uint32_t m = gsp__find(g, msg->from);
	if (m == GSP__NONE || m == g->self) {
		g->st.msgs_ignored++;   /* a digest without its sender's own entry */
		return;
	}
	/* Digest entries of a reply naming a status version newer than ours whose body did
	 * not fit in it (body budget): pull them from the sender, a batch per exchange.
	 * (The other side gets ours in the last leg, below.) */
	uint32_t want[GSP__PULL_MAX];
	uint32_t n_want = 0;
	for (size_t i = 0; msg->type == GSP_MSG_PUSH_PULL_REPLY && i < msg->n_updates &&
	                   n_want < GSP__PULL_MAX; i++) {
		const struct gsp_update *u = &msg->updates[i];
		if (u->kind == GSP_UPD_STATUS || u->kind == GSP_UPD_STATUS_HAVE || !u->status_version)
			continue;
		uint32_t s = gsp__find(g, u->subject);
		if (s != GSP__NONE && s != g->self && u->status_version > g->members[s].status_version)
			want[n_want++] = (uint32_t)i;
	}
	if (n_want)
		gsp__pull_request(g, m, msg, want, n_want, now);
	if (msg->type == GSP_MSG_PUSH_PULL)
		gsp__push_pull_send(g, m, NULL, 0, GSP_MSG_PUSH_PULL_REPLY, msg);
	else
		gsp__push_pull_send(g, m, NULL, 0, GSP_MSG_GOSSIP, msg);
}
