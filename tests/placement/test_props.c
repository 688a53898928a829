/*
 * test_props.c — planner invariants over many random clusters (seeded).
 *
 * Golden scenarios pin exact answers on small cases; this checks what must
 * hold for every cluster: a plan never sends a VM to a down, non-active or
 * over-full host, never puts two anti-affinity members together, accounts
 * for every VM of the host (moved, unplaced or skipped), respects the
 * migration limits in every wave, keeps failure-domain spread, and is identical when computed twice.
 * A failure prints the seed; PLC_PROP_SEEDS bounds the loop.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement.h"

#define PLC_PROP_SEEDS 300
#define PROP_HOSTS_MAX 12
#define PROP_VMS_MAX 80

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 2685821657736338717ULL) >> 33) % n;
}

typedef struct cluster {
	plc_view view;
	plc_host hosts[PROP_HOSTS_MAX];
	plc_vm vms[PROP_VMS_MAX];
} cluster;

static uint64_t mem_used(const plc_view *v, uint32_t h)
{
	uint64_t m = v->hosts[h].mem_reserved_mib;
	for (uint32_t i = 0; i < v->n_vms; i++)
		if (v->vms[i].host == (int32_t)h)
			m += v->vms[i].mem_mib;
	return m;
}

static bool anti_ok(const plc_view *v, uint32_t h)
{
	for (uint32_t i = 0; i < v->n_vms; i++)
		for (uint32_t j = i + 1; j < v->n_vms; j++) {
			const plc_vm *a = &v->vms[i], *b = &v->vms[j];
			if (a->host != (int32_t)h || b->host != (int32_t)h)
				continue;
			for (size_t w = 0; w < PLC_SET_WORDS; w++)
				if ((a->anti_affinity.w[w] | a->affinity.w[w]) & b->anti_affinity.w[w] ||
				    (b->anti_affinity.w[w] | b->affinity.w[w]) & a->anti_affinity.w[w])
					return false;
		}
	return true;
}

/* No two anti_domain members share the failure domain of host H. */
static bool domain_ok(const plc_view *v, uint32_t h)
{
	uint32_t d = v->hosts[h].domain;
	for (uint32_t i = 0; i < v->n_vms; i++)
		for (uint32_t j = i + 1; j < v->n_vms; j++) {
			const plc_vm *a = &v->vms[i], *b = &v->vms[j];
			if (a->host < 0 || b->host < 0 || v->hosts[a->host].domain != d ||
			    v->hosts[b->host].domain != d)
				continue;
			for (size_t w = 0; w < PLC_SET_WORDS; w++)
				if (a->anti_domain.w[w] & b->anti_domain.w[w])
					return false;
		}
	return true;
}

static void build(cluster *c)
{
	plc_view *v = &c->view;
	plc_view_init(v);
	v->hosts = c->hosts;
	v->vms = c->vms;
	v->cfg.reserve_pct = rnd(3) * 10;
	v->cfg.max_out_per_host = 1 + rnd(3);
	v->cfg.max_in_per_host = 1 + rnd(3);
	v->cfg.max_cluster = 1 + rnd(6);
	static const char *const feats[] = {"sse4_2", "avx2", "avx512f"};
	static const char *const groups[] = {"g0", "g1", "g2"};
	static const char *const racks[] = {"r0", "r1", "r2"};
	v->n_hosts = 3 + rnd(PROP_HOSTS_MAX - 2);
	/* unique names in an order unrelated to the arrays' (37 is coprime to
	 * 100 and there are fewer than 100 of each) */
	uint32_t host_off = rnd(100), vm_off = rnd(100);
	for (uint32_t h = 0; h < v->n_hosts; h++) {
		plc_host *host = &c->hosts[h];
		plc_host_init(host);
		snprintf(host->name, sizeof(host->name), "h%02u", (h * 37 + host_off) % 100);
		host->mem_mib = 8192u * (1 + rnd(8));
		host->mem_reserved_mib = 512 * rnd(3);
		host->cpus = 4u * (1 + rnd(4));
		strcpy(host->cpu_vendor, "Intel");
		for (uint32_t f = 0; f < 3; f++)
			if (rnd(4))
				plc_set_add(&host->cpu_features,
					    (uint32_t)plc_view_intern(v, PLC_T_FEATURE, feats[f]));
		int r = (int)rnd(10);
		host->admin = r == 0 ? PLC_ADMIN_CORDONED : r == 1 ? PLC_ADMIN_MAINTENANCE
							   : PLC_ADMIN_ACTIVE;
		host->health = rnd(10) == 0 ? PLC_HEALTH_DEGRADED : PLC_HEALTH_OK;
		host->migrations_in = rnd(3) == 0 ? 1 : 0;
		host->migrations_out = rnd(3) == 0 ? 1 : 0;
		host->domain = (uint32_t)plc_view_intern(v, PLC_T_DOMAIN, racks[rnd(3)]);
	}
	uint32_t n = 5 + rnd(PROP_VMS_MAX - 5);
	v->n_vms = 0;
	for (uint32_t i = 0; i < n; i++) {
		plc_vm *vm = &c->vms[v->n_vms];
		plc_vm_init(vm);
		snprintf(vm->name, sizeof(vm->name), "vm%02u", (v->n_vms * 37 + vm_off) % 100);
		vm->mem_mib = 512u * (1 + rnd(16));
		vm->vcpus = 1 + rnd(4);
		vm->priority = (int32_t)rnd(3);
		vm->restart_order = (int32_t)rnd(2);
		vm->protected_ = rnd(4) != 0;
		if (rnd(4) == 0)
			plc_set_add(&vm->cpu_features,
				    (uint32_t)plc_view_intern(v, PLC_T_FEATURE, feats[rnd(3)]));
		if (rnd(5) == 0)
			plc_set_add(&vm->anti_affinity,
				    (uint32_t)plc_view_intern(v, PLC_T_GROUP, groups[rnd(3)]));
		if (rnd(6) == 0)
			plc_set_add(&vm->anti_domain,
				    (uint32_t)plc_view_intern(v, PLC_T_GROUP, groups[rnd(3)]));
		/* place it only where it fits and breaks no rule, so the
		 * starting cluster is valid */
		uint32_t h = rnd(v->n_hosts);
		vm->host = (int32_t)h;
		v->n_vms++;
		if (mem_used(v, h) > c->hosts[h].mem_mib || !anti_ok(v, h) || !domain_ok(v, h))
			vm->host = -1;
	}
}

/* FAILED >= 0: a restart plan; that host's VMs are gone unless moved. */
static void check_plan_common(const cluster *c, const plc_plan *p, uint32_t seed, int32_t failed)
{
	bool restart = failed >= 0;
	cluster *after = malloc(sizeof(*after));
	assert_non_null(after);
	*after = *c;
	after->view.hosts = after->hosts;
	after->view.vms = after->vms;
	for (uint32_t i = 0; i < c->view.n_vms && restart; i++)
		if (after->vms[i].host == failed)
			after->vms[i].host = -1;
	bool *touched = calloc(c->view.n_hosts, sizeof(*touched));
	assert_non_null(touched);
	for (uint32_t i = 0; i < p->n_moves; i++) {
		const plc_move *m = &p->moves[i];
		const plc_host *d = &c->hosts[m->to];
		if (m->to == m->from || d->admin != PLC_ADMIN_ACTIVE || d->health != PLC_HEALTH_OK)
			fail_msg("seed %u: move %u to unusable host %s", seed, i, d->name);
		after->vms[m->vm].host = (int32_t)m->to;
		touched[m->to] = true;
	}
	for (uint32_t h = 0; h < c->view.n_hosts; h++) {
		if (!touched[h])
			continue;
		uint64_t cap = c->hosts[h].mem_mib;
		if (!restart)
			cap = cap * (100 - c->view.cfg.reserve_pct) / 100;
		if (mem_used(&after->view, h) > cap)
			fail_msg("seed %u: host %s over capacity after plan", seed, c->hosts[h].name);
		if (!anti_ok(&after->view, h))
			fail_msg("seed %u: anti-affinity broken on %s", seed, c->hosts[h].name);
		if (!domain_ok(&after->view, h))
			fail_msg("seed %u: domain anti-affinity broken at %s", seed,
				 c->hosts[h].name);
	}
	free(touched);
	free(after);
}

static bool plans_equal(const plc_plan *a, const plc_plan *b)
{
	if (a->n_moves != b->n_moves || a->n_unplaced != b->n_unplaced ||
	    a->n_skipped != b->n_skipped || a->n_waves != b->n_waves)
		return false;
	for (uint32_t i = 0; i < a->n_moves; i++) {
		const plc_move *x = &a->moves[i], *y = &b->moves[i];
		if (x->vm != y->vm || x->from != y->from || x->to != y->to ||
		    x->score != y->score || x->wave != y->wave)
			return false;
	}
	return true;
}

static void test_evacuation_invariants(void **state)
{
	(void)state;
	cluster *c = malloc(sizeof(*c));
	uint32_t moved = 0, stuck = 0, waves = 0;
	assert_non_null(c);
	for (uint32_t seed = 1; seed <= PLC_PROP_SEEDS; seed++) {
		rng = seed * 0x9E3779B97F4A7C15ULL;
		build(c);
		char err[256];
		if (plc_view_check(&c->view, err, sizeof(err)) != 0)
			fail_msg("seed %u: generated view is invalid: %s", seed, err);
		/* one source, or two (a rack) */
		uint32_t srcs[2] = {rnd(c->view.n_hosts), 0}, n_src = 1 + rnd(2), on_src = 0;
		srcs[1] = (srcs[0] + 1 + rnd(c->view.n_hosts - 1)) % c->view.n_hosts;
		for (uint32_t i = 0; i < c->view.n_vms; i++)
			on_src += c->vms[i].host == (int32_t)srcs[0] ||
				  (n_src == 2 && c->vms[i].host == (int32_t)srcs[1]);
		plc_plan p, q;
		assert_int_equal(plc_plan_evacuate_hosts(&c->view, srcs, n_src, &p), 0);
		assert_int_equal(plc_plan_evacuate_hosts(&c->view, srcs, n_src, &q), 0);
		if (!plans_equal(&p, &q))
			fail_msg("seed %u: two runs gave different plans", seed);
		if (p.n_moves + p.n_unplaced != on_src)
			fail_msg("seed %u: %u VMs on sources, %u moved + %u unplaced", seed, on_src,
				 p.n_moves, p.n_unplaced);
		for (uint32_t i = 0; i < p.n_moves; i++)
			if (p.moves[i].to == srcs[0] || (n_src == 2 && p.moves[i].to == srcs[1]))
				fail_msg("seed %u: a source receives a VM", seed);
		check_plan_common(c, &p, seed, -1);
		moved += p.n_moves;
		stuck += p.n_unplaced;
		waves += p.n_waves > 1;
		/* wave limits, counting what was in flight in wave 0 */
		const plc_config *cfg = &c->view.cfg;
		for (uint32_t w = 0; w < p.n_waves; w++) {
			uint32_t out[PROP_HOSTS_MAX] = {0}, in[PROP_HOSTS_MAX] = {0}, all = 0;
			for (uint32_t h = 0; h < c->view.n_hosts && w == 0; h++) {
				all += c->hosts[h].migrations_out;
				out[h] = c->hosts[h].migrations_out;
				in[h] = c->hosts[h].migrations_in;
			}
			for (uint32_t i = 0; i < p.n_moves; i++) {
				const plc_move *m = &p.moves[i];
				if (m->wave != w)
					continue;
				all++;
				if (++in[m->to] > cfg->max_in_per_host ||
				    ++out[m->from] > cfg->max_out_per_host || all > cfg->max_cluster)
					fail_msg("seed %u: wave %u over limits", seed, w);
			}
		}
		plc_plan_free(&p);
		plc_plan_free(&q);
	}
	free(c);
	/* the generator must exercise both outcomes and multi-wave plans */
	assert_true(moved > 100);
	assert_true(stuck > 10);
	assert_true(waves > 10);
}

static void test_restart_invariants(void **state)
{
	(void)state;
	cluster *c = malloc(sizeof(*c));
	uint32_t moved = 0, stuck = 0, broken = 0;
	assert_non_null(c);
	for (uint32_t seed = 1; seed <= PLC_PROP_SEEDS; seed++) {
		rng = seed * 0xD1B54A32D192ED03ULL;
		build(c);
		char err[256];
		if (plc_view_check(&c->view, err, sizeof(err)) != 0)
			fail_msg("seed %u: generated view is invalid: %s", seed, err);
		uint32_t failed = rnd(c->view.n_hosts), prot = 0, unprot = 0;
		for (uint32_t i = 0; i < c->view.n_vms; i++)
			if (c->vms[i].host == (int32_t)failed)
				c->vms[i].protected_ ? prot++ : unprot++;
		plc_plan p, q;
		assert_int_equal(plc_plan_restart(&c->view, &failed, 1, &p), 0);
		assert_int_equal(plc_plan_restart(&c->view, &failed, 1, &q), 0);
		if (!plans_equal(&p, &q))
			fail_msg("seed %u: two runs gave different plans", seed);
		if (p.n_moves + p.n_unplaced != prot || p.n_skipped != unprot)
			fail_msg("seed %u: accounting: %u protected, %u unprotected; plan %u/%u/%u",
				 seed, prot, unprot, p.n_moves, p.n_unplaced, p.n_skipped);
		for (uint32_t i = 0; i < p.n_moves; i++)
			if (p.moves[i].from != failed)
				fail_msg("seed %u: move from a host that did not fail", seed);
		/* restart order never goes backwards */
		for (uint32_t i = 1; i < p.n_moves; i++)
			if (c->vms[p.moves[i].vm].restart_order <
			    c->vms[p.moves[i - 1].vm].restart_order)
				fail_msg("seed %u: restart order not respected", seed);
		check_plan_common(c, &p, seed, (int32_t)failed);
		/* admission agrees with the planner for this failure */
		plc_admission a;
		assert_int_equal(plc_admission_check(&c->view, &a), 0);
		moved += p.n_moves;
		stuck += p.n_unplaced;
		broken += !a.ok;
		if (a.ok && p.n_unplaced > 0)
			fail_msg("seed %u: admission ok but restart of %s leaves VMs", seed,
				 c->hosts[failed].name);
		plc_plan_free(&p);
		plc_plan_free(&q);
	}
	free(c);
	assert_true(moved > 100);
	assert_true(stuck > 10);
	assert_true(broken > 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_evacuation_invariants),
		cmocka_unit_test(test_restart_invariants),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
