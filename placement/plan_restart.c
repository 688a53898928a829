/*
 * plan_restart.c — where the protected VMs of failed hosts start again.
 *
 * Called by the coordinator only after the failed hosts' leases have surely
 * expired (DESIGN.md "Never twice"); this file only decides *where*.
 * Order: restart_order (lower first: a database before the application
 * that needs it, like vSphere's restart priority tiers and Pacemaker's
 * ordering constraints), then priority, then memory (large first), then
 * name.  Each VM takes the best-scored host and consumes its capacity
 * before the next is placed; the failover reserve is there to be used now;
 * affinity binds to members already placed (still-pending members do not
 * bind, so a group lands together on the first member's host).  Moves
 * carry wave = the index of their restart_order tier.
 *
 * Unprotected VMs are listed as skipped, never placed: HA only restarts
 * what the operator asked it to protect.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "placement_int.h"

typedef struct order_key {
	const plc_view *view;
	uint32_t vm;
} order_key;

static int restart_cmp(const void *a, const void *b)
{
	const order_key *x = a, *y = b;
	const plc_vm *p = &x->view->vms[x->vm], *q = &y->view->vms[y->vm];
	if (p->restart_order != q->restart_order)
		return p->restart_order < q->restart_order ? -1 : 1;
	if (p->priority != q->priority)
		return p->priority > q->priority ? -1 : 1;
	if (p->mem_mib != q->mem_mib)
		return p->mem_mib > q->mem_mib ? -1 : 1;
	int by_name = strcmp(p->name, q->name);
	if (by_name != 0)
		return by_name;
	return x->vm < y->vm ? -1 : x->vm > y->vm; /* duplicate names: still total */
}

int plc__restart_on(plc__state *st, const uint32_t *failed, uint32_t n_failed,
		    const uint32_t *victims, uint32_t n_victims, int32_t extra, plc_plan *plan)
{
	const plc_view *view = st->view;
	uint32_t n = 0, cap_moves = 0, cap_unplaced = 0, cap_skipped = 0;
	int rc = 0;
	memset(plan, 0, sizeof(*plan));
	plan->alloc = view->alloc;
	order_key *order = plc__calloc(view->alloc, n_victims, sizeof(*order));
	int32_t *from = plc__calloc(view->alloc, n_victims, sizeof(*from));
	if (order == NULL || from == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < n_failed; i++)
		st->down[failed[i]] = true;
	for (uint32_t i = 0; i < n_victims && rc == 0; i++) {
		uint32_t v = victims[i];
		if (view->vms[v].protected_ || (int32_t)v == extra)
			order[n++] = (order_key){.view = view, .vm = v};
		else
			rc = plc__plan_add_skipped(plan, &cap_skipped, v);
	}
	if (rc < 0)
		goto out;
	qsort(order, n, sizeof(*order), restart_cmp);
	for (uint32_t i = 0; i < n; i++) {
		from[i] = st->pos[order[i].vm];
		plc__state_move(st, order[i].vm, PLC__PENDING);
	}
	/* Skipped VMs are gone with their host: they no longer bind anyone. */
	for (uint32_t i = 0; i < plan->n_skipped; i++)
		plc__state_move(st, plan->skipped[i], PLC__NOWHERE);

	uint32_t tier = 0;
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		uint32_t vm = order[i].vm;
		if (i > 0 && view->vms[vm].restart_order != view->vms[order[i - 1].vm].restart_order)
			tier++;
		int64_t score = 0;
		plc_unplaced why;
		int32_t to = plc__best(st, PLC_KIND_RESTART, vm, -1, &score, &why);
		if (to < 0) {
			plc__state_move(st, vm, PLC__NOWHERE);
			rc = plc__plan_add_unplaced(plan, &cap_unplaced, &why);
			continue;
		}
		plc__state_move(st, vm, to);
		plc_move m = {.vm = vm, .from = (uint32_t)from[i], .to = (uint32_t)to,
			      .score = score, .wave = tier};
		rc = plc__plan_add_move(plan, &cap_moves, &m);
	}
	plan->n_waves = plan->n_moves ? plan->moves[plan->n_moves - 1].wave + 1 : 0;
out:
	plc__free(view->alloc, order);
	plc__free(view->alloc, from);
	if (rc < 0)
		plc_plan_free(plan);
	return rc;
}

int plc__plan_restart(const plc_view *view, const uint32_t *failed, uint32_t n_failed,
		      int32_t extra, plc_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	plan->alloc = view->alloc;
	for (uint32_t i = 0; i < n_failed; i++)
		if (failed[i] >= view->n_hosts)
			return -EINVAL;
	plc__state st;
	int rc = plc__state_init(&st, view);
	if (rc < 0)
		return rc;
	/* Only the VMs of the hosts named as failed are planned; VMs on other
	 * hosts already down keep their place (conservative for anti-affinity;
	 * they get their own restart plan). */
	uint32_t *victims = plc__calloc(view->alloc, view->n_vms, sizeof(*victims));
	bool *failing = plc__calloc(view->alloc, view->n_hosts, sizeof(*failing));
	if (victims == NULL || failing == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < n_failed; i++)
		failing[failed[i]] = true;
	uint32_t n = 0;
	for (uint32_t v = 0; v < view->n_vms; v++)
		if (st.pos[v] >= 0 && failing[st.pos[v]])
			victims[n++] = v;
	rc = plc__restart_on(&st, failed, n_failed, victims, n, extra, plan);
out:
	plc__free(view->alloc, victims);
	plc__free(view->alloc, failing);
	plc__state_free(&st);
	return rc;
}

int plc_plan_restart(const plc_view *view, const uint32_t *failed, uint32_t n_failed,
		     plc_plan *plan)
{
	if (view == NULL || plan == NULL || (failed == NULL && n_failed > 0))
		return -EINVAL;
	return plc__plan_restart(view, failed, n_failed, -1, plan);
}
