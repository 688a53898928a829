/* test_simnet.c — the simulated network keeps its promises: same seed, same run; cuts are
 * directional; paused nodes get their traffic late but in order; crashed nodes lose it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "simnet.h"

#include <stdio.h>
#include <string.h>

static struct sim *mk(uint32_t n, uint64_t seed, double loss)
{
	struct sim_config c = {.n_nodes = n, .seed = seed, .delay_min_ms = 1, .delay_max_ms = 20,
	                       .loss = loss, .dup = 0.1, .reorder = 0.1, .reorder_extra_ms = 50};
	struct sim *s = NULL;
	assert_int_equal(sim_new(&c, &s), 0);
	return s;
}

/* A trace of (time, receiver, first byte) for 1000 random sends. */
static uint64_t trace_hash(uint64_t seed)
{
	struct sim *s = mk(8, seed, 0.2);
	for (uint32_t i = 0; i < 1000; i++) {
		uint8_t b = (uint8_t)i;
		assert_int_equal(sim_send(s, i % 8, sim_rand_below(s, 8), &b, 1), 0);
	}
	uint64_t h = 1469598103934665603ULL;
	struct sim_ev ev;
	while (sim_next(s, UINT64_MAX, &ev))
		h = (h ^ (ev.at_ms * 131 + ev.node * 7 + ev.data[0])) * 1099511628211ULL;
	sim_free(s);
	return h;
}

static void test_deterministic(void **st)
{
	(void)st;
	assert_true(trace_hash(42) == trace_hash(42));
	assert_true(trace_hash(42) != trace_hash(43));
}

static void test_asymmetric_cut(void **st)
{
	(void)st;
	struct sim *s = mk(2, 1, 0);
	sim_link_set(s, 0, 1, false);
	uint8_t b = 1;
	sim_send(s, 0, 1, &b, 1);
	sim_send(s, 1, 0, &b, 1);
	struct sim_ev ev;
	int got0 = 0, got1 = 0;
	while (sim_next(s, UINT64_MAX, &ev))
		*(ev.node == 0 ? &got0 : &got1) += 1;
	assert_true(got0 >= 1);
	assert_int_equal(got1, 0);
	assert_int_equal(sim_stats(s)->cut, 1);
	sim_free(s);
}

static void test_pause_keeps_order(void **st)
{
	(void)st;
	struct sim_config c = {.n_nodes = 2, .seed = 3, .delay_min_ms = 5, .delay_max_ms = 5};
	struct sim *s = NULL;
	assert_int_equal(sim_new(&c, &s), 0);
	sim_pause(s, 1, 1000);
	for (uint8_t i = 0; i < 10; i++)
		sim_send(s, 0, 1, &i, 1);
	struct sim_ev ev;
	for (uint8_t i = 0; i < 10; i++) {
		assert_int_equal(sim_next(s, UINT64_MAX, &ev), 1);
		assert_int_equal(ev.at_ms, 1000);
		assert_int_equal(ev.data[0], i);
	}
	sim_free(s);
}

static void test_crash_drops(void **st)
{
	(void)st;
	struct sim *s = mk(2, 5, 0);
	uint8_t b = 0;
	sim_send(s, 0, 1, &b, 1);
	sim_timer_set(s, 1, 10);
	sim_crash(s, 1);
	sim_restart(s, 1);
	struct sim_ev ev;
	assert_int_equal(sim_next(s, UINT64_MAX, &ev), 0);
	assert_true(sim_stats(s)->to_crashed >= 1);
	sim_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_asymmetric_cut),
		cmocka_unit_test(test_pause_keeps_order),
		cmocka_unit_test(test_crash_drops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
