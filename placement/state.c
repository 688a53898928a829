/*
 * state.c — the working copy every check and plan runs against.
 *
 * A check needs, for one destination, its used memory and vCPUs, the
 * migrations touching it and which VM groups already live there.  Building
 * these sums is O(VMs) once; after that each (VM, host) test is O(1), and a
 * planner keeps them exact by routing every placement through
 * plc__state_move().  Group membership is counted per (host, group) so that
 * affinity ("all running members together") and anti-affinity ("none
 * together") are answered without scanning VMs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "placement_int.h"

uint64_t plc__mem_cap(const plc_config *cfg, const plc_host *h)
{
	return h->mem_mib * cfg->mem_overcommit_pct / 100u;
}

uint64_t plc__vcpu_cap(const plc_config *cfg, const plc_host *h)
{
	return (uint64_t)h->cpus * cfg->cpu_overcommit_pct / 100u;
}

uint32_t plc__domain(const plc__state *st, uint32_t host)
{
	if (st->view->tables[PLC_T_DOMAIN].n == 0)
		return host;
	uint32_t d = st->view->hosts[host].domain;
	return d < st->n_domains ? d : 0;
}

static void bump(uint32_t *counter, int sign)
{
	if (sign > 0)
		(*counter)++;
	else
		(*counter)--;
}

static void account(plc__state *st, uint32_t vm, int32_t pos, int sign)
{
	const plc_vm *v = &st->view->vms[vm];
	if (pos < 0)
		return;
	uint32_t h = (uint32_t)pos;
	if (sign > 0) {
		st->mem_used[h] += v->mem_mib;
		st->vcpu_used[h] += v->vcpus;
	} else {
		st->mem_used[h] -= v->mem_mib;
		st->vcpu_used[h] -= v->vcpus;
	}
	for (uint32_t w = 0; w < PLC_SET_WORDS; w++)
		for (uint64_t bits = v->affinity.w[w] | v->anti_affinity.w[w]; bits;
		     bits &= bits - 1) {
			uint32_t g = w * 64 + (uint32_t)__builtin_ctzll(bits);
			if (g >= st->n_groups)
				break;
			bump(&st->grp_on[(size_t)h * st->n_groups + g], sign);
			bump(&st->grp_placed[g], sign);
			if (st->leaving[h])
				bump(&st->grp_leaving[g], sign);
		}
	uint32_t d = plc__domain(st, h);
	for (uint32_t w = 0; w < PLC_SET_WORDS; w++)
		for (uint64_t bits = v->anti_domain.w[w]; bits; bits &= bits - 1) {
			uint32_t g = w * 64 + (uint32_t)__builtin_ctzll(bits);
			if (g >= st->n_groups)
				break;
			bump(&st->dom_on[(size_t)d * st->n_groups + g], sign);
		}
}

void plc__state_move(plc__state *st, uint32_t vm, int32_t pos)
{
	account(st, vm, st->pos[vm], -1);
	st->pos[vm] = pos;
	account(st, vm, pos, +1);
}

void plc__state_leave(plc__state *st, uint32_t host)
{
	if (st->leaving[host])
		return;
	/* account() keeps grp_leaving right from now on; catch up once. */
	for (uint32_t g = 0; g < st->n_groups; g++)
		st->grp_leaving[g] += st->grp_on[(size_t)host * st->n_groups + g];
	st->leaving[host] = true;
}

void plc__state_fail_host(plc__state *st, uint32_t host)
{
	st->down[host] = true;
	for (uint32_t v = 0; v < st->view->n_vms; v++)
		if (st->pos[v] == (int32_t)host)
			plc__state_move(st, v,
					st->view->vms[v].protected_ ? PLC__PENDING : PLC__NOWHERE);
}

void *plc__realloc(const plc_allocator *a, void *p, size_t n, size_t size)
{
	if (n == 0)
		n = 1;
	if (size && n > SIZE_MAX / size)
		return NULL;
	return a ? a->realloc(a->ctx, p, n * size) : realloc(p, n * size);
}

void *plc__calloc(const plc_allocator *a, size_t n, size_t size)
{
	void *p = plc__realloc(a, NULL, n, size);
	if (p)
		memset(p, 0, (n ? n : 1) * size);
	return p;
}

void plc__free(const plc_allocator *a, void *p)
{
	if (p == NULL)
		return;
	if (a)
		a->free(a->ctx, p);
	else
		free(p);
}

int plc__state_init(plc__state *st, const plc_view *view)
{
	uint32_t nh = view->n_hosts, nv = view->n_vms;
	memset(st, 0, sizeof(*st));
	st->view = view;
	st->n_groups = view->tables[PLC_T_GROUP].n;
	const plc_allocator *a = view->alloc;
	st->pos = plc__calloc(a, nv, sizeof(*st->pos));
	st->mem_used = plc__calloc(a, nh, sizeof(*st->mem_used));
	st->vcpu_used = plc__calloc(a, nh, sizeof(*st->vcpu_used));
	st->mig = plc__calloc(a, nh, sizeof(*st->mig));
	st->down = plc__calloc(a, nh, sizeof(*st->down));
	st->leaving = plc__calloc(a, nh, sizeof(*st->leaving));
	st->grp_on = plc__calloc(a, (size_t)nh * st->n_groups, sizeof(*st->grp_on));
	st->grp_placed = plc__calloc(a, st->n_groups, sizeof(*st->grp_placed));
	st->grp_leaving = plc__calloc(a, st->n_groups, sizeof(*st->grp_leaving));
	st->n_domains = view->tables[PLC_T_DOMAIN].n ? view->tables[PLC_T_DOMAIN].n : nh;
	st->dom_on = plc__calloc(a, (size_t)st->n_domains * st->n_groups, sizeof(*st->dom_on));
	if (!st->pos || !st->mem_used || !st->vcpu_used || !st->mig || !st->down || !st->leaving ||
	    !st->grp_on || !st->grp_placed || !st->grp_leaving || !st->dom_on) {
		plc__state_free(st);
		return -ENOMEM;
	}
	for (uint32_t h = 0; h < nh; h++) {
		const plc_host *host = &view->hosts[h];
		st->mem_used[h] = host->mem_reserved_mib;
		st->mig[h] = host->migrations_in + host->migrations_out;
		st->down[h] = host->health == PLC_HEALTH_DOWN;
	}
	for (uint32_t v = 0; v < nv; v++) {
		int32_t h = view->vms[v].host;
		st->pos[v] = (h >= 0 && (uint32_t)h < nh) ? h : PLC__NOWHERE;
		account(st, v, st->pos[v], +1);
	}
	return 0;
}

void plc__state_free(plc__state *st)
{
	const plc_allocator *a = st->view ? st->view->alloc : NULL;
	plc__free(a, st->pos);
	plc__free(a, st->mem_used);
	plc__free(a, st->vcpu_used);
	plc__free(a, st->mig);
	plc__free(a, st->down);
	plc__free(a, st->leaving);
	plc__free(a, st->grp_on);
	plc__free(a, st->grp_placed);
	plc__free(a, st->grp_leaving);
	plc__free(a, st->dom_on);
	memset(st, 0, sizeof(*st));
}
