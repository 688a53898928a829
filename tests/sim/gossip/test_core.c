/* test_core.c — unit tests of the gossip core's contract and of its codec:
 * error codes, derived bounds, refutation, leave, determinism, and a decoder that
 * survives garbage (mutated valid encodings fed through gsp_step). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "gsim.h"
#include "internal.h"   /* white-box: the suspicion deadline itself */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gsp *mk(uint32_t idx)
{
	struct gsp_config c;
	gsp_config_default(&c);
	c.seed = idx;
	char addr[GSP_ADDR_MAX];
	snprintf(addr, sizeof(addr), "sim://%u", idx);
	gsp *g = NULL;
	assert_int_equal(gsp_new(&c, gsim_id(idx), addr, 0, &g), 0);
	return g;
}

static void test_bounds(void **st)
{
	(void)st;
	struct gsp_config c;
	gsp_config_default(&c);
	/* [LG 4.4] min = alpha * max(1, log10 N) * interval */
	assert_int_equal(gsp_suspicion_min_ms(&c, 5), 4 * 200);
	assert_int_equal(gsp_suspicion_min_ms(&c, 100), 4 * 2 * 200);
	assert_int_equal(gsp_suspicion_max_ms(&c, 100), 6 * 4 * 2 * 200);
	/* [SWIM 4.1] lambda * ceil(log10(N+1)) */
	assert_int_equal(gsp_retransmit_limit(&c, 9), 4);
	assert_int_equal(gsp_retransmit_limit(&c, 256), 12);
}

/* [LG 4.4]: the deadline starts at max, each independent confirmation shortens it by
 * (max - min) * log(C+1) / log(K+1), the same accuser twice counts once, and K
 * confirmations bring it to min. */
static void test_suspicion_confirmations(void **st)
{
	(void)st;
	gsp *g = mk(1);
	struct gsp_update ups[6];
	memset(ups, 0, sizeof(ups));
	for (uint32_t i = 0; i < 6; i++) {
		ups[i].kind = GSP_UPD_ALIVE;
		ups[i].subject = gsim_id(2 + i);
		snprintf(ups[i].addr, GSP_ADDR_MAX, "sim://%u", 2 + i);
	}
	struct gsp_msg m = {.type = GSP_MSG_GOSSIP, .from = gsim_id(2), .n_updates = 6, .updates = ups};
	struct gsp_event ev = {.type = GSP_EV_RECV, .now_ms = 0, .msg = &m};
	struct gsp_out out;
	assert_int_equal(gsp_step(g, &ev, &out), 0);
	assert_int_equal(gsp_alive_count(g), 7);
	uint64_t lo = gsp_suspicion_min_ms(&g->cfg, 7), hi = gsp_suspicion_max_ms(&g->cfg, 7);
	assert_int_equal(lo, 800);
	assert_int_equal(hi, 4800);
	uint32_t b = gsp__find(g, gsim_id(2));
	gsp__suspect(g, b, 0, gsim_id(3), 1000);
	assert_int_equal(g->members[b].state, GSP_SUSPECT);
	assert_int_equal(gsp__suspicion_deadline(g, &g->members[b]), 1000 + hi);
	gsp__suspect(g, b, 0, gsim_id(3), 1100);   /* the first accuser again: no change */
	assert_int_equal(gsp__suspicion_deadline(g, &g->members[b]), 1000 + hi);
	gsp__suspect(g, b, 0, gsim_id(4), 1200);   /* C = 1: max - (max-min)/2 */
	assert_int_equal(gsp__suspicion_deadline(g, &g->members[b]), 1000 + 2800);
	gsp__suspect(g, b, 0, gsim_id(5), 1300);
	gsp__suspect(g, b, 0, gsim_id(6), 1400);   /* C = K = 3: min */
	assert_int_equal(gsp__suspicion_deadline(g, &g->members[b]), 1000 + lo);
	gsp__suspect(g, b, 0, gsim_id(7), 1500);   /* beyond K: still min */
	assert_int_equal(gsp__suspicion_deadline(g, &g->members[b]), 1000 + lo);
	gsp_free(g);
}

/* The member table is bounded: beyond members_max, strangers are refused and counted. */
static void test_members_max(void **st)
{
	(void)st;
	struct gsp_config c;
	gsp_config_default(&c);
	c.members_max = 3;
	gsp *g = NULL;
	assert_int_equal(gsp_new(&c, gsim_id(1), "sim://1", 0, &g), 0);
	struct gsp_update ups[5];
	memset(ups, 0, sizeof(ups));
	for (uint32_t i = 0; i < 5; i++) {
		ups[i].kind = GSP_UPD_ALIVE;
		ups[i].subject = gsim_id(2 + i);
		snprintf(ups[i].addr, GSP_ADDR_MAX, "sim://%u", 2 + i);
	}
	struct gsp_msg m = {.type = GSP_MSG_GOSSIP, .from = gsim_id(2), .n_updates = 5, .updates = ups};
	struct gsp_event ev = {.type = GSP_EV_RECV, .now_ms = 0, .msg = &m};
	struct gsp_out out;
	assert_int_equal(gsp_step(g, &ev, &out), 0);
	assert_int_equal(gsp_member_count(g), 3);
	struct gsp_stats stt;
	gsp_stats_get(g, &stt);
	assert_int_equal(stt.members_full, 3);
	gsp_free(g);
}

static void test_errors(void **st)
{
	(void)st;
	struct gsp_config c;
	gsp_config_default(&c);
	gsp *g = NULL;
	assert_int_equal(gsp_new(&c, gsim_id(1), "", 0, &g), -EINVAL);
	c.probe_timeout_ms = c.probe_interval_ms + 1;
	assert_int_equal(gsp_new(&c, gsim_id(1), "sim://1", 0, &g), -EINVAL);
	g = mk(1);
	struct gsp_out out;
	uint8_t rec[4] = {1, 2, 3, 4};
	struct gsp_event ev = {.type = GSP_EV_STATUS, .now_ms = 0, .status_version = 5,
	                       .status = rec, .status_len = 4};
	assert_int_equal(gsp_step(g, &ev, &out), 0);
	assert_int_equal(gsp_step(g, &ev, &out), -ESTALE);
	ev.status_version = 6;
	ev.status_len = GSP_STATUS_MAX + 1;
	assert_int_equal(gsp_step(g, &ev, &out), -EINVAL);
	struct gsp_msg bad = {.type = 99, .from = gsim_id(2)};
	struct gsp_event rev = {.type = GSP_EV_RECV, .now_ms = 1, .msg = &bad};
	assert_int_equal(gsp_step(g, &rev, &out), -EINVAL);
	struct gsp_event lev = {.type = GSP_EV_LEAVE, .now_ms = 2};
	assert_int_equal(gsp_step(g, &lev, &out), 0);
	assert_int_equal(gsp_step(g, &lev, &out), -EPERM);
	gsp_free(g);
}

/* Hearing SUSPECT about ourselves raises our incarnation and spreads ALIVE [SWIM 4.2]. */
static void test_refutation(void **st)
{
	(void)st;
	gsp *a = mk(1);
	struct gsp_out out;
	struct gsp_update alive = {.kind = GSP_UPD_ALIVE, .subject = gsim_id(2), .incarnation = 0};
	strcpy(alive.addr, "sim://2");
	struct gsp_update sus = {.kind = GSP_UPD_SUSPECT, .subject = gsim_id(1), .from = gsim_id(2),
	                         .incarnation = 0};
	struct gsp_update ups[2] = {alive, sus};
	struct gsp_msg m = {.type = GSP_MSG_PING, .from = gsim_id(2), .to = gsim_id(1), .seq = 7,
	                    .n_updates = 2, .updates = ups};
	struct gsp_event ev = {.type = GSP_EV_RECV, .now_ms = 10, .msg = &m};
	assert_int_equal(gsp_step(a, &ev, &out), 0);
	assert_int_equal(gsp_incarnation(a), 1);
	/* The ack goes back with our refutation on it. */
	int found = 0;
	for (size_t i = 0; i < out.n_send; i++) {
		if (out.send[i].msg.type != GSP_MSG_ACK || out.send[i].msg.seq != 7)
			continue;
		for (size_t k = 0; k < out.send[i].msg.n_updates; k++) {
			const struct gsp_update *u = &out.send[i].msg.updates[k];
			if (u->kind == GSP_UPD_ALIVE && gsp_id_eq(u->subject, gsim_id(1)) && u->incarnation == 1)
				found = 1;
		}
	}
	assert_true(found);
	gsp_free(a);
}

static void run_cluster(uint64_t seed, uint64_t *bytes, uint8_t *view_hash)
{
	struct gsim_config c;
	memset(&c, 0, sizeof(c));
	c.n = 16;
	c.seed = seed;
	gsp_config_default(&c.gossip);
	c.net.delay_min_ms = 1;
	c.net.delay_max_ms = 5;
	c.net.loss = 0.05;
	c.join_spread_ms = 500;
	struct gsim *gs = NULL;
	assert_int_equal(gsim_new(&c, &gs), 0);
	gsim_run_until(gs, 5000);
	gsim_kill(gs, 3);
	gsim_run_until(gs, 15000);
	*bytes = sim_stats(gs->net)->bytes_sent;
	uint8_t h = 0;
	for (size_t i = 0; i < 16 * 16; i++)
		h = (uint8_t)(h * 31 + gs->view[i]);
	*view_hash = h;
	gsim_free(gs);
}

static void test_deterministic(void **st)
{
	(void)st;
	uint64_t b1, b2, b3;
	uint8_t h1, h2, h3;
	run_cluster(11, &b1, &h1);
	run_cluster(11, &b2, &h2);
	run_cluster(12, &b3, &h3);
	assert_true(b1 == b2 && h1 == h2);
	assert_true(b1 != b3);
}

/* A member that leaves is LEFT everywhere, never DEAD. */
static void test_leave(void **st)
{
	(void)st;
	struct gsim_config c;
	memset(&c, 0, sizeof(c));
	c.n = 12;
	c.seed = 3;
	gsp_config_default(&c.gossip);
	c.net.delay_min_ms = 1;
	c.net.delay_max_ms = 5;
	c.join_spread_ms = 500;
	struct gsim *gs = NULL;
	assert_int_equal(gsim_new(&c, &gs), 0);
	gsim_run_until(gs, 5000);
	assert_true(gsim_converged(gs, 0));
	gsim_leave(gs, 4);
	gsim_run_until(gs, 6000);   /* the agent keeps gossiping briefly before exiting */
	gsim_kill(gs, 4);
	gsim_run_until(gs, 30000);
	for (uint32_t i = 0; i < 12; i++)
		if (i != 4)
			assert_int_equal(gsim_view(gs, i, 4), GSP_LEFT);
	gsim_free(gs);
}

static void test_codec_roundtrip(void **st)
{
	(void)st;
	uint8_t body[300];
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)i;
	struct gsp_update ups[3] = {
		{.kind = GSP_UPD_ALIVE, .subject = gsim_id(5), .incarnation = 9},
		{.kind = GSP_UPD_DEAD, .subject = gsim_id(6), .from = gsim_id(7), .incarnation = 2},
		{.kind = GSP_UPD_STATUS, .subject = gsim_id(8), .status_version = 77,
		 .status_len = sizeof(body), .status = body},
	};
	strcpy(ups[0].addr, "tcp://127.0.0.5:7946");
	struct gsp_msg m = {.type = GSP_MSG_PING_REQ, .from = gsim_id(1), .to = gsim_id(2), .seq = 42,
	                    .target = gsim_id(3), .n_updates = 3, .updates = ups};
	strcpy(m.target_addr, "tcp://127.0.0.3:7946");
	uint8_t buf[2048];
	size_t len = 0;
	assert_int_equal(gsp_codec_encode(&m, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, gsp_codec_size(&m));
	assert_int_equal(gsp_codec_encode(&m, buf, len - 1, &len), -EMSGSIZE);
	struct gsp_codec_msg *d = NULL;
	assert_int_equal(gsp_codec_decode(buf, gsp_codec_size(&m), &d, NULL), 0);
	assert_int_equal(d->msg.type, GSP_MSG_PING_REQ);
	assert_int_equal(d->msg.seq, 42);
	assert_true(gsp_id_eq(d->msg.target, gsim_id(3)));
	assert_string_equal(d->msg.target_addr, "tcp://127.0.0.3:7946");
	assert_int_equal(d->msg.n_updates, 3);
	assert_string_equal(d->msg.updates[0].addr, "tcp://127.0.0.5:7946");
	assert_true(gsp_id_eq(d->msg.updates[1].from, gsim_id(7)));
	assert_int_equal(d->msg.updates[2].status_len, sizeof(body));
	assert_memory_equal(d->msg.updates[2].status, body, sizeof(body));
	gsp_codec_free(d);
}

static void test_codec_garbage(void **st)
{
	(void)st;
	const char *why = NULL;
	struct gsp_codec_msg *d = NULL;
	const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12};
	assert_int_equal(gsp_codec_decode(junk, sizeof(junk), &d, &why), -EBADMSG);
	assert_non_null(why);
	assert_int_equal(gsp_codec_decode(junk, GSP_CODEC_MSG_MAX + 1, &d, &why), -EMSGSIZE);
	/* A well-formed protobuf with a 3-byte sender id. */
	const uint8_t short_id[] = {0x08, 0x01, 0x12, 0x03, 'a', 'b', 'c'};
	assert_int_equal(gsp_codec_decode(short_id, sizeof(short_id), &d, &why), -EBADMSG);
	assert_string_equal(why, "sender id is not 16 bytes");
	/* Type 0 (unspecified). */
	uint8_t t0[20] = {0x12, 0x10};
	memset(t0 + 2, 7, 16);
	assert_int_equal(gsp_codec_decode(t0, 18, &d, &why), -EBADMSG);
	assert_string_equal(why, "unknown message type");
}

/* Mutations of valid encodings: the decoder either rejects them or yields a message the
 * core accepts or refuses with -EINVAL; nothing crashes (run under ASan in CI). */
static void test_codec_mutations(void **st)
{
	(void)st;
	gsp *g = mk(1);
	struct gsp_update ups[2] = {
		{.kind = GSP_UPD_ALIVE, .subject = gsim_id(5), .incarnation = 9},
		{.kind = GSP_UPD_SUSPECT, .subject = gsim_id(1), .from = gsim_id(5), .incarnation = 0},
	};
	strcpy(ups[0].addr, "sim://5");
	struct gsp_msg m = {.type = GSP_MSG_PING, .from = gsim_id(5), .to = gsim_id(1), .seq = 1,
	                    .n_updates = 2, .updates = ups};
	uint8_t buf[512], mut[512];
	size_t len = 0;
	assert_int_equal(gsp_codec_encode(&m, buf, sizeof(buf), &len), 0);
	uint64_t x = 88172645463325252ULL;
	int accepted = 0, rejected = 0;
	for (int iter = 0; iter < 20000; iter++) {
		memcpy(mut, buf, len);
		size_t mlen = len;
		int flips = 1 + (int)(x % 4);
		for (int f = 0; f < flips; f++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			mut[x % mlen] = (uint8_t)(x >> 24);
		}
		if (x & 1)
			mlen = (size_t)(x >> 40) % len;
		struct gsp_codec_msg *d = NULL;
		if (gsp_codec_decode(mut, mlen, &d, NULL) != 0) {
			rejected++;
			continue;
		}
		accepted++;
		struct gsp_out out;
		struct gsp_event ev = {.type = GSP_EV_RECV, .now_ms = (uint64_t)iter, .msg = &d->msg};
		int rc = gsp_step(g, &ev, &out);
		assert_true(rc == 0 || rc == -EINVAL);
		gsp_codec_free(d);
	}
	assert_true(accepted > 0 && rejected > 0);
	gsp_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounds),          cmocka_unit_test(test_errors),
		cmocka_unit_test(test_suspicion_confirmations),
		cmocka_unit_test(test_members_max),
		cmocka_unit_test(test_refutation),      cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_leave),           cmocka_unit_test(test_codec_roundtrip),
		cmocka_unit_test(test_codec_garbage),   cmocka_unit_test(test_codec_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
