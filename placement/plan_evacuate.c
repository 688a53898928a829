/*
 * plan_evacuate.c — emptying a host (drain, maintenance, degradation).
 *
 * Order: the most important VMs first (priority, high first), then the
 * largest (memory, large first) — big VMs are the hardest to fit, so they
 * choose while the cluster is emptiest (first-fit decreasing, the classic
 * bin-packing heuristic), then by name for a stable order.  Each VM takes
 * its best-scored candidate, and the state is updated before the next one,
 * so capacity is consumed and affinity groups follow the first member to
 * move (members still on an emptied host do not hold the group there, but
 * do keep anti-affinity peers away: any of them may end up staying).
 *
 * Several hosts can be emptied in one plan (a rack, a rolling-upgrade batch):
 * their VMs are ordered together and none of them is a destination, even
 * before its admin state says so.
 *
 * The moves are then cut into waves: a move joins the earliest wave where
 * its source has fewer than max_out_per_host outbound, the destination
 * fewer than max_in_per_host inbound and the cluster fewer than max_cluster
 * migrations (KubeVirt: 2 per node, 5 per cluster).  Migrations already in
 * flight count against wave 0.  Limits of 0 are read as 1 so a plan always
 * ends.  Cost: O(VMs log VMs + VMs_on_host × hosts).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "placement_int.h"

typedef struct order_key {
	const plc_view *view;
	uint32_t vm;
} order_key;

static int evac_cmp(const void *a, const void *b)
{
	const order_key *x = a, *y = b;
	const plc_vm *p = &x->view->vms[x->vm], *q = &y->view->vms[y->vm];
	if (p->priority != q->priority)
		return p->priority > q->priority ? -1 : 1;
	if (p->mem_mib != q->mem_mib)
		return p->mem_mib > q->mem_mib ? -1 : 1;
	int by_name = strcmp(p->name, q->name);
	if (by_name != 0)
		return by_name;
	return x->vm < y->vm ? -1 : x->vm > y->vm; /* duplicate names: still total */
}

static uint32_t at_least_one(uint32_t v)
{
	return v ? v : 1;
}

static int assign_waves(const plc_view *view, plc_plan *plan)
{
	const plc_config *cfg = &view->cfg;
	uint32_t nm = plan->n_moves, nh = view->n_hosts, nw = nm + 1;
	const plc_allocator *a = view->alloc;
	uint32_t *out = plc__calloc(a, (size_t)nw * nh, sizeof(*out));
	uint32_t *all = plc__calloc(a, nw, sizeof(*all));
	uint32_t *in = plc__calloc(a, (size_t)nw * nh, sizeof(*in));
	int rc = 0;
	if (!out || !all || !in) {
		rc = -ENOMEM;
		goto out;
	}
	uint32_t max_out = at_least_one(cfg->max_out_per_host);
	uint32_t max_in = at_least_one(cfg->max_in_per_host);
	uint32_t max_all = at_least_one(cfg->max_cluster);
	for (uint32_t h = 0; h < nh; h++) {
		all[0] += view->hosts[h].migrations_out;
		out[h] = view->hosts[h].migrations_out;
		in[h] = view->hosts[h].migrations_in;
	}
	plan->n_waves = 0;
	for (uint32_t i = 0; i < nm; i++) {
		plc_move *m = &plan->moves[i];
		uint32_t w = 0;
		while (w + 1 < nw && (out[(size_t)w * nh + m->from] >= max_out || all[w] >= max_all ||
				      in[(size_t)w * nh + m->to] >= max_in))
			w++;
		out[(size_t)w * nh + m->from]++;
		all[w]++;
		in[(size_t)w * nh + m->to]++;
		m->wave = w;
		if (w + 1 > plan->n_waves)
			plan->n_waves = w + 1;
	}
out:
	plc__free(a, out);
	plc__free(a, all);
	plc__free(a, in);
	return rc;
}

int plc_plan_evacuate_hosts(const plc_view *view, const uint32_t *hosts, uint32_t n_hosts,
			    plc_plan *plan)
{
	if (view == NULL || plan == NULL || (hosts == NULL && n_hosts > 0))
		return -EINVAL;
	for (uint32_t i = 0; i < n_hosts; i++)
		if (hosts[i] >= view->n_hosts)
			return -EINVAL;
	memset(plan, 0, sizeof(*plan));
	plan->alloc = view->alloc;
	plc__state st;
	int rc = plc__state_init(&st, view);
	if (rc < 0)
		return rc;
	uint32_t n = 0, cap_moves = 0, cap_unplaced = 0;
	order_key *order = plc__calloc(view->alloc, view->n_vms, sizeof(*order));
	if (order == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < n_hosts; i++)
		plc__state_leave(&st, hosts[i]);
	for (uint32_t v = 0; v < view->n_vms; v++)
		if (st.pos[v] >= 0 && st.leaving[st.pos[v]])
			order[n++] = (order_key){.view = view, .vm = v};
	qsort(order, n, sizeof(*order), evac_cmp);

	/* VMs stay on their source until placed: an unplaced one really stays,
	 * and anti-affinity must keep counting it there. */
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		uint32_t vm = order[i].vm;
		int32_t src = st.pos[vm];
		int64_t score = 0;
		plc_unplaced why;
		int32_t to = plc__best(&st, PLC_KIND_MIGRATE, vm, src, &score, &why);
		if (to < 0) {
			rc = plc__plan_add_unplaced(plan, &cap_unplaced, &why);
			continue;
		}
		plc__state_move(&st, vm, to);
		st.mig[to]++;
		st.mig[src]++;
		plc_move m = {.vm = vm, .from = (uint32_t)src, .to = (uint32_t)to, .score = score};
		rc = plc__plan_add_move(plan, &cap_moves, &m);
	}
	if (rc == 0)
		rc = assign_waves(view, plan);
out:
	plc__free(view->alloc, order);
	plc__state_free(&st);
	if (rc < 0)
		plc_plan_free(plan);
	return rc;
}

int plc_plan_evacuate(const plc_view *view, uint32_t host, plc_plan *plan)
{
	return plc_plan_evacuate_hosts(view, &host, 1, plan);
}
