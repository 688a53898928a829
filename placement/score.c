/*
 * score.c — ranking the hosts that passed every filter.
 *
 * The score is how empty the host would be *after* taking the VM: memory
 * and CPU utilisation (in parts per million of capacity, overcommit
 * included) are blended with configurable weights and subtracted from
 * PLC_SCORE_MAX, and each migration already touching the host costs
 * busy_penalty points — so a drain spreads over hosts instead of queueing
 * on the emptiest one, and a host that is busy copying memory is not asked
 * to also receive.  Placing on the emptiest host is the "spread" policy of
 * vSphere DRS / Nomad's spread scoring: it keeps headroom everywhere, which
 * is what restarts after a failure need.
 *
 * Everything is integer arithmetic, and equal scores are ordered by host
 * name, never by array position or memory address: two agents with the same
 * view rank identically.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "placement_int.h"

#define PLC_PPM 1000000u

static uint64_t ppm(uint64_t used, uint64_t cap)
{
	if (cap == 0)
		return PLC_PPM;
	return used * PLC_PPM / cap;
}

void plc__load(const plc__state *st, uint32_t vm, uint32_t host, uint64_t *mem_ppm,
	       uint64_t *cpu_ppm)
{
	const plc_config *cfg = &st->view->cfg;
	const plc_host *h = &st->view->hosts[host];
	const plc_vm *v = &st->view->vms[vm];
	*mem_ppm = ppm(st->mem_used[host] + v->mem_mib, plc__mem_cap(cfg, h));
	*cpu_ppm = ppm(st->vcpu_used[host] + v->vcpus, plc__vcpu_cap(cfg, h));
}

int64_t plc__score(const plc__state *st, uint32_t vm, uint32_t host)
{
	const plc_config *cfg = &st->view->cfg;
	uint64_t m, c;
	plc__load(st, vm, host, &m, &c);
	uint64_t wsum = (uint64_t)cfg->weight_mem + cfg->weight_cpu;
	uint64_t load = wsum ? (cfg->weight_mem * m + cfg->weight_cpu * c) / wsum : 0;
	return (int64_t)PLC_SCORE_MAX - (int64_t)load -
	       (int64_t)cfg->busy_penalty * (int64_t)st->mig[host];
}

static bool better(const plc_view *view, int64_t s1, uint32_t h1, int64_t s2, uint32_t h2)
{
	if (s1 != s2)
		return s1 > s2;
	int by_name = strcmp(view->hosts[h1].name, view->hosts[h2].name);
	return by_name < 0 || (by_name == 0 && h1 < h2);
}

static int why_cmp(const void *a, const void *b)
{
	const plc_why *x = a, *y = b;
	if (x->hosts != y->hosts)
		return x->hosts > y->hosts ? -1 : 1;
	return strcmp(x->code, y->code);
}

int32_t plc__best(const plc__state *st, plc_kind kind, uint32_t vm, int32_t src,
		  int64_t *score, plc_unplaced *why)
{
	const plc_view *view = st->view;
	int32_t best = -1;
	int64_t best_score = 0;
	for (uint32_t h = 0; h < view->n_hosts; h++) {
		if (kind == PLC_KIND_MIGRATE && (int32_t)h == src)
			continue;
		if (plc__check(st, kind, vm, src, h, NULL) != NULL)
			continue;
		int64_t s = plc__score(st, vm, h);
		if (best < 0 || better(view, s, h, best_score, (uint32_t)best)) {
			best = (int32_t)h;
			best_score = s;
		}
	}
	if (best >= 0) {
		*score = best_score;
		return best;
	}
	if (why == NULL)
		return -1;
	/* Nothing fits: say why, per code, and give one reason in full.  Down
	 * hosts (the failed ones, for a restart) explain nothing and are only
	 * counted when no live host exists. */
	memset(why, 0, sizeof(*why));
	why->vm = vm;
	int32_t example = -1;
	uint32_t down = 0;
	for (uint32_t h = 0; h < view->n_hosts; h++) {
		if (kind == PLC_KIND_MIGRATE && (int32_t)h == src)
			continue;
		if (st->down[h]) {
			down++;
			continue;
		}
		const char *code = plc__check(st, kind, vm, src, h, NULL);
		uint32_t i;
		for (i = 0; i < why->n_why; i++)
			if (strcmp(why->why[i].code, code) == 0)
				break;
		if (i == why->n_why && why->n_why < PLC_WHY_MAX)
			why->why[why->n_why++] = (plc_why){.code = code, .hosts = 0};
		if (i < why->n_why)
			why->why[i].hosts++;
		if (example < 0 || strcmp(view->hosts[h].name, view->hosts[example].name) < 0)
			example = (int32_t)h;
	}
	if (why->n_why == 0 && down > 0)
		why->why[why->n_why++] = (plc_why){.code = "host.down", .hosts = down};
	qsort(why->why, why->n_why, sizeof(why->why[0]), why_cmp);
	if (example >= 0) {
		plc_report r;
		plc__check(st, kind, vm, src, (uint32_t)example, &r);
		for (uint32_t i = 0; i < r.n; i++)
			if (r.items[i].blocking) {
				memcpy(why->example, r.items[i].reason, sizeof(why->example));
				break;
			}
	} else {
		strcpy(why->example, "no live host in the cluster view");
	}
	return -1;
}

/* qsort has no context argument in C11; ranking sorts a private copy that
 * carries what the comparison needs. */
typedef struct rank_key {
	const plc_view *view;
	plc_rank_entry *e;
} rank_key;

static int rank_cmp(const void *a, const void *b)
{
	const rank_key *x = a, *y = b;
	bool xc = x->e->report.n_blocking == 0, yc = y->e->report.n_blocking == 0;
	if (xc != yc)
		return xc ? -1 : 1;
	if (xc && x->e->score != y->e->score)
		return x->e->score > y->e->score ? -1 : 1;
	int by_name = strcmp(x->view->hosts[x->e->host].name, y->view->hosts[y->e->host].name);
	if (by_name != 0)
		return by_name;
	return x->e->host < y->e->host ? -1 : x->e->host > y->e->host;
}

int plc_rank_kind(const plc_view *view, plc_kind kind, uint32_t vm, plc_ranking *ranking)
{
	if (view == NULL || ranking == NULL || vm >= view->n_vms)
		return -EINVAL;
	memset(ranking, 0, sizeof(*ranking));
	plc__state st;
	int rc = plc__state_init(&st, view);
	if (rc < 0)
		return rc;
	int32_t src = st.pos[vm];
	if (kind == PLC_KIND_RESTART) {
		/* The VM's host is gone, and with it the VMs it ran: protected
		 * ones are being restarted too and bind nobody yet. */
		if (src >= 0)
			plc__state_fail_host(&st, (uint32_t)src);
		plc__state_move(&st, vm, PLC__PENDING);
	}
	if (kind != PLC_KIND_MIGRATE)
		src = -1;
	uint32_t n = view->n_hosts;
	const plc_allocator *a = view->alloc;
	plc_rank_entry *entries = plc__calloc(a, n, sizeof(*entries));
	rank_key *keys = plc__calloc(a, n, sizeof(*keys));
	plc_rank_entry *sorted = plc__calloc(a, n, sizeof(*sorted));
	if (!entries || !keys || !sorted) {
		plc__free(a, entries);
		plc__free(a, keys);
		plc__free(a, sorted);
		plc__state_free(&st);
		return -ENOMEM;
	}
	uint32_t k = 0;
	for (uint32_t h = 0; h < n; h++) {
		if (kind == PLC_KIND_MIGRATE && (int32_t)h == src)
			continue;
		plc_rank_entry *e = &entries[k];
		e->host = h;
		plc__check(&st, kind, vm, src, h, &e->report);
		if (e->report.n_blocking == 0) {
			uint64_t m, c;
			plc__load(&st, vm, h, &m, &c);
			e->mem_ppm = (uint32_t)(m > UINT32_MAX ? UINT32_MAX : m);
			e->cpu_ppm = (uint32_t)(c > UINT32_MAX ? UINT32_MAX : c);
			e->score = plc__score(&st, vm, h);
			ranking->n_candidates++;
		}
		keys[k] = (rank_key){.view = view, .e = e};
		k++;
	}
	qsort(keys, k, sizeof(keys[0]), rank_cmp);
	for (uint32_t i = 0; i < k; i++)
		sorted[i] = *keys[i].e;
	plc__free(a, keys);
	plc__free(a, entries);
	plc__state_free(&st);
	ranking->entries = sorted;
	ranking->alloc = a;
	ranking->n = k;
	return 0;
}

int plc_rank(const plc_view *view, uint32_t vm, plc_ranking *ranking)
{
	if (view == NULL || vm >= view->n_vms)
		return -EINVAL;
	plc_kind kind = view->vms[vm].host >= 0 ? PLC_KIND_MIGRATE : PLC_KIND_START;
	return plc_rank_kind(view, kind, vm, ranking);
}

void plc_ranking_free(plc_ranking *ranking)
{
	plc__free(ranking->alloc, ranking->entries);
	memset(ranking, 0, sizeof(*ranking));
}
