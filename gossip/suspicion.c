/* suspicion.c — Lifeguard's dynamic suspicion timeout [LG 4.4].
 *
 * A suspected member gets time to refute before it is declared dead.  SWIM used a fixed
 * timeout; Lifeguard starts from a long one (max) and shortens it each time another
 * member independently reports the same suspicion, down to min after K confirmations:
 *
 *     timeout(C) = max(min, max - (max - min) * log(C + 1) / log(K + 1))
 *     min = alpha * max(1, log10 N) * probe_interval,   max = beta * min
 *
 * The logarithm makes the first confirmations count most: one other member seeing the
 * same silence is strong evidence that the suspect (and not the first accuser) is sick.
 * A lone accuser that is itself overloaded therefore cannot kill anybody quickly, while a
 * member that really crashed is confirmed by several probers within a few periods.
 * N, min and max are fixed when the suspicion starts, as in memberlist, so that late
 * membership changes do not move a running deadline.
 *
 * Confirmations are counted per distinct accuser (the first accuser does not count);
 * each new one is re-broadcast so that others can shorten their timers too.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>

uint64_t gsp__suspicion_deadline(const struct gsp *g, const struct gsp__member *mb)
{
	uint32_t k = g->cfg.suspicion_k;
	uint64_t lo = mb->susp_min_ms, hi = mb->susp_max_ms;
	if (k == 0 || hi <= lo)
		return mb->susp_start_ms + lo;
	double frac = log((double)mb->susp_n + 1.0) / log((double)k + 1.0);
	double t = (double)hi - frac * (double)(hi - lo);
	uint64_t timeout = t < (double)lo ? lo : (uint64_t)t;
	return mb->susp_start_ms + timeout;
}

void gsp__suspicion_clear(struct gsp *g, uint32_t m)
{
	struct gsp__member *mb = &g->members[m];
	if (!mb->susp_confirmers)
		return;
	free(mb->susp_confirmers);
	mb->susp_confirmers = NULL;
	mb->susp_n = 0;
	for (uint32_t i = 0; i < g->n_suspects; i++) {
		if (g->suspects[i] == m) {
			g->suspects[i] = g->suspects[--g->n_suspects];
			break;
		}
	}
}

static void confirm(struct gsp *g, uint32_t m, gsp_id from)
{
	struct gsp__member *mb = &g->members[m];
	for (uint32_t i = 0; i <= mb->susp_n; i++)
		if (gsp_id_eq(mb->susp_confirmers[i], from))
			return;
	if (mb->susp_n >= g->cfg.suspicion_k)
		return;
	mb->susp_confirmers[++mb->susp_n] = from;
	mb->bc_from = from;
	gsp__bc_member(g, m);
}

void gsp__suspect(struct gsp *g, uint32_t m, uint32_t inc, gsp_id from, uint64_t now)
{
	struct gsp__member *mb = &g->members[m];
	if (mb->state == GSP_DEAD || mb->state == GSP_LEFT || inc < mb->inc)
		return;
	if (mb->state == GSP_SUSPECT && inc == mb->inc && mb->susp_confirmers) {
		confirm(g, m, from);
		return;
	}
	gsp_id *conf = calloc((size_t)g->cfg.suspicion_k + 1, sizeof(*conf));
	if (!conf) {
		g->oom = true;
		return;
	}
	gsp__suspicion_clear(g, m);
	mb->inc = inc;
	mb->susp_confirmers = conf;
	mb->susp_confirmers[0] = from;
	mb->susp_n = 0;
	mb->susp_start_ms = now;
	mb->susp_min_ms = gsp_suspicion_min_ms(&g->cfg, g->n_live);
	mb->susp_max_ms = gsp_suspicion_max_ms(&g->cfg, g->n_live);
	g->suspects[g->n_suspects++] = m;
	mb->bc_from = from;
	if (mb->state != GSP_SUSPECT) {
		gsp__set_state(g, m, GSP_SUSPECT, now);
		gsp__emit(g, GSP_ME_STATE, m);
	}
	gsp__bc_member(g, m);
	g->st.updates_applied++;
}

void gsp__suspicion_tick(struct gsp *g, uint64_t now)
{
	for (uint32_t i = 0; i < g->n_suspects;) {
		uint32_t m = g->suspects[i];
		struct gsp__member *mb = &g->members[m];
		if (now < gsp__suspicion_deadline(g, mb)) {
			i++;
			continue;
		}
		gsp__suspicion_clear(g, m);   /* swaps the last suspect into slot i */
		mb->bc_from = g->members[g->self].id;
		gsp__set_state(g, m, GSP_DEAD, now);
		gsp__emit(g, GSP_ME_STATE, m);
		gsp__bc_member(g, m);
	}
}
