/*
 * plan.c — storage shared by the planners: growable move/unplaced lists.
 *
 * Plans own their arrays (freed by plc_plan_free); growth doubles so a
 * 10 000-VM plan costs a handful of reallocations.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "placement_int.h"

#define PLC_PLAN_CAP_MIN 16u

static int grow(const plc_allocator *a, void **arr, uint32_t *cap, uint32_t n, size_t size)
{
	if (n < *cap)
		return 0;
	uint32_t ncap = *cap ? *cap * 2 : PLC_PLAN_CAP_MIN;
	void *p = plc__realloc(a, *arr, ncap, size);
	if (p == NULL)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

int plc__plan_add_move(plc_plan *plan, uint32_t *cap, const plc_move *m)
{
	void *arr = plan->moves;
	int rc = grow(plan->alloc, &arr, cap, plan->n_moves, sizeof(*m));
	plan->moves = arr;
	if (rc == 0)
		plan->moves[plan->n_moves++] = *m;
	return rc;
}

int plc__plan_add_unplaced(plc_plan *plan, uint32_t *cap, const plc_unplaced *u)
{
	void *arr = plan->unplaced;
	int rc = grow(plan->alloc, &arr, cap, plan->n_unplaced, sizeof(*u));
	plan->unplaced = arr;
	if (rc == 0)
		plan->unplaced[plan->n_unplaced++] = *u;
	return rc;
}

int plc__plan_add_skipped(plc_plan *plan, uint32_t *cap, uint32_t vm)
{
	void *arr = plan->skipped;
	int rc = grow(plan->alloc, &arr, cap, plan->n_skipped, sizeof(vm));
	plan->skipped = arr;
	if (rc == 0)
		plan->skipped[plan->n_skipped++] = vm;
	return rc;
}

void plc_plan_free(plc_plan *plan)
{
	const plc_allocator *a = plan->alloc;
	plc__free(a, plan->moves);
	plc__free(a, plan->unplaced);
	plc__free(a, plan->skipped);
	memset(plan, 0, sizeof(*plan));
	plan->alloc = a;
}
