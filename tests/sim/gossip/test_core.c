/* test_core.c — unit tests of the gossip core's contract and of its codec:
 * error codes, derived bounds, refutation, leave, determinism, a decoder that
 * survives garbage (mutated valid encodings fed through gsp_step), and the signature
 * rules of issue 12 (forged status records, incarnations and leaves refused and
 * counted; incarnations saturate). */
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

static void config(struct gsp_config *c)
{
	gsp_config_default(c);
	c->auth = gsim_auth();
}

static gsp *mk_inc(uint32_t idx, uint32_t inc)
{
	struct gsp_config c;
	config(&c);
	c.seed = idx;
	char addr[GSP_ADDR_MAX];
	snprintf(addr, sizeof(addr), "sim://%u", idx);
	gsp *g = NULL;
	assert_int_equal(gsp_new(&c, gsim_id(idx), addr, inc, &g), 0);
	return g;
}

static gsp *mk(uint32_t idx)
{
	return mk_inc(idx, 0);
}

/* ALIVE(idx, inc) signed by idx itself, as idx would spread it. */
static struct gsp_update alive_of(uint32_t idx, uint32_t inc)
{
	struct gsp_update u = {.kind = GSP_UPD_ALIVE, .subject = gsim_id(idx), .incarnation = inc,
	                       .has_sig = 1};
	snprintf(u.addr, GSP_ADDR_MAX, "sim://%u", idx);
	gsim_sign(u.subject, inc, GSP_ALIVE, u.sig);
	return u;
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
	for (uint32_t i = 0; i < 6; i++)
		ups[i] = alive_of(2 + i, 0);
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
	config(&c);
	c.members_max = 3;
	gsp *g = NULL;
	assert_int_equal(gsp_new(&c, gsim_id(1), "sim://1", 0, &g), 0);
	struct gsp_update ups[5];
	for (uint32_t i = 0; i < 5; i++)
		ups[i] = alive_of(2 + i, 0);
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
	assert_int_equal(gsp_new(&c, gsim_id(1), "sim://1", 0, &g), -EINVAL);   /* no auth */
	c.auth = gsim_auth();
	assert_int_equal(gsp_new(&c, gsim_id(1), "", 0, &g), -EINVAL);
	c.probe_timeout_ms = c.probe_interval_ms + 1;
	assert_int_equal(gsp_new(&c, gsim_id(1), "sim://1", 0, &g), -EINVAL);
	g = mk(1);
	struct gsp_out out;
	uint8_t body[4] = {1, 2, 3, 4}, rec[4 + GSIM_SEAL_LEN];
	uint32_t len = gsim_seal(gsim_id(1), 5, body, 4, rec);
	struct gsp_event ev = {.type = GSP_EV_STATUS, .now_ms = 0, .status_version = 5,
	                       .status = rec, .status_len = len};
	assert_int_equal(gsp_step(g, &ev, &out), 0);
	assert_int_equal(gsp_step(g, &ev, &out), -ESTALE);
	ev.status_version = 6;   /* the record says 5 */
	assert_int_equal(gsp_step(g, &ev, &out), -EINVAL);
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
	struct gsp_update alive = alive_of(2, 0);
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
	assert_int_equal(gsim_refused(gs), 0);   /* honest members refuse nothing */
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
	assert_int_equal(gsim_refused(gs), 0);
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
	ups[0].has_sig = 1;
	for (size_t i = 0; i < GSP_SIG_LEN; i++)
		ups[0].sig[i] = (uint8_t)(0xa0 + i);
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
	assert_true(d->msg.updates[0].has_sig && !d->msg.updates[1].has_sig);
	assert_memory_equal(d->msg.updates[0].sig, ups[0].sig, GSP_SIG_LEN);
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
		alive_of(5, 9),
		{.kind = GSP_UPD_SUSPECT, .subject = gsim_id(1), .from = gsim_id(5), .incarnation = 0},
	};
	struct gsp_msg m = {.type = GSP_MSG_PING, .from = gsim_id(5), .to = gsim_id(1), .seq = 1,
	                    .n_updates = 2, .updates = ups};
	uint8_t buf[1024], mut[1024];
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

/* ---- issue 12: who may raise what ---- */

static void recv_updates(gsp *g, uint32_t from, uint64_t now, const struct gsp_update *ups, size_t n)
{
	struct gsp_msg m = {.type = GSP_MSG_GOSSIP, .from = gsim_id(from), .n_updates = n,
	                    .updates = ups};
	struct gsp_event ev = {.type = GSP_EV_RECV, .now_ms = now, .msg = &m};
	struct gsp_out out;
	assert_int_equal(gsp_step(g, &ev, &out), 0);
}

static struct gsp_stats stats(const gsp *g)
{
	struct gsp_stats st;
	gsp_stats_get(g, &st);
	return st;
}

static struct gsp_member_info info_of(const gsp *g, uint32_t idx)
{
	struct gsp_member_info mi;
	assert_int_equal(gsp_member_find(g, gsim_id(idx), &mi), 0);
	return mi;
}

/* 1 knows 2 and 3 at incarnation 0. */
static gsp *trio(void)
{
	gsp *g = mk(1);
	struct gsp_update ups[2] = {alive_of(2, 0), alive_of(3, 0)};
	recv_updates(g, 2, 0, ups, 2);
	assert_int_equal(gsp_alive_count(g), 3);
	return g;
}

/* Item 5 of the issue: STATUS(h2, UINT64_MAX, garbage) froze h2's record everywhere.
 * Now the version comes from the signed body: a record that does not open, or opens
 * to another version, is refused and counted, and the kept record is untouched. */
static void test_forged_status(void **st)
{
	(void)st;
	gsp *g = trio();
	uint8_t body[8] = "h2-facts", rec[sizeof(body) + GSIM_SEAL_LEN];
	uint32_t len = gsim_seal(gsim_id(2), 5, body, sizeof(body), rec);
	struct gsp_update u = {.kind = GSP_UPD_STATUS, .subject = gsim_id(2), .from = gsim_id(2),
	                       .status_version = 5, .status_len = len, .status = rec};
	recv_updates(g, 2, 1, &u, 1);
	assert_int_equal(info_of(g, 2).status_version, 5);

	/* member 3 relays garbage at the highest version */
	uint8_t junk[40];
	memset(junk, 0xee, sizeof(junk));
	struct gsp_update forged = {.kind = GSP_UPD_STATUS, .subject = gsim_id(2), .from = gsim_id(3),
	                            .status_version = UINT64_MAX, .status_len = sizeof(junk),
	                            .status = junk};
	recv_updates(g, 3, 2, &forged, 1);
	struct gsp_member_info mi = info_of(g, 2);
	assert_int_equal(mi.status_version, 5);
	assert_int_equal(mi.status_len, len);
	assert_memory_equal(mi.status, rec, len);
	assert_int_equal(stats(g).refused_status_bad_sig, 1);

	/* h2's own record under a wrapper claiming another version */
	forged.status = rec;
	forged.status_len = len;
	recv_updates(g, 3, 3, &forged, 1);
	forged.status_version = 6;
	recv_updates(g, 3, 4, &forged, 1);
	assert_int_equal(info_of(g, 2).status_version, 5);
	assert_int_equal(stats(g).refused_status_version, 2);

	/* not frozen: h2's next record is taken */
	len = gsim_seal(gsim_id(2), 6, body, sizeof(body), rec);
	u.status_version = 6;
	u.status_len = len;
	recv_updates(g, 2, 5, &u, 1);
	assert_int_equal(info_of(g, 2).status_version, 6);
	/* a record signed for 3 is not a record of 2 */
	len = gsim_seal(gsim_id(3), 9, body, sizeof(body), rec);
	forged.status_version = 9;
	forged.status_len = len;
	recv_updates(g, 3, 6, &forged, 1);
	assert_int_equal(info_of(g, 2).status_version, 6);
	assert_int_equal(stats(g).refused_status_bad_sig, 2);
	gsp_free(g);
}

/* Item 6: DEAD(h3, 0xFFFFFFFF) killed h3 for good.  A raise needs h3's signature. */
static void test_forged_dead_max(void **st)
{
	(void)st;
	gsp *g = trio();
	struct gsp_update dead = {.kind = GSP_UPD_DEAD, .subject = gsim_id(3), .from = gsim_id(2),
	                          .incarnation = GSP_INC_MAX};
	recv_updates(g, 2, 1, &dead, 1);
	assert_int_equal(info_of(g, 3).state, GSP_ALIVE);
	assert_int_equal(info_of(g, 3).incarnation, 0);
	assert_int_equal(stats(g).refused_inc_unsigned, 1);
	/* with a signature that is not 3's (2 signed it) */
	dead.has_sig = 1;
	gsim_sign(gsim_id(2), GSP_INC_MAX, GSP_ALIVE, dead.sig);
	recv_updates(g, 2, 2, &dead, 1);
	dead.kind = GSP_UPD_SUSPECT;
	recv_updates(g, 2, 3, &dead, 1);
	assert_int_equal(info_of(g, 3).state, GSP_ALIVE);
	assert_int_equal(info_of(g, 3).incarnation, 0);
	assert_int_equal(stats(g).refused_inc_bad_sig, 2);
	/* an accusation at the incarnation we hold needs no signature: SWIM as before */
	struct gsp_update sus = {.kind = GSP_UPD_SUSPECT, .subject = gsim_id(3), .from = gsim_id(2),
	                         .incarnation = 0};
	recv_updates(g, 2, 4, &sus, 1);
	assert_int_equal(info_of(g, 3).state, GSP_SUSPECT);
	gsp_free(g);
}

/* A suspicion of an incarnation 3 signed reaches a member that has not seen it yet
 * (SWIM needs suspicions at the current incarnation to spread). */
static void test_signed_suspicion_spreads(void **st)
{
	(void)st;
	gsp *g = trio();
	struct gsp_update sus = {.kind = GSP_UPD_SUSPECT, .subject = gsim_id(3), .from = gsim_id(2),
	                         .incarnation = 4, .has_sig = 1};
	gsim_sign(gsim_id(3), 4, GSP_ALIVE, sus.sig);
	recv_updates(g, 2, 1, &sus, 1);
	struct gsp_member_info mi = info_of(g, 3);
	assert_int_equal(mi.state, GSP_SUSPECT);
	assert_int_equal(mi.incarnation, 4);
	/* and the proof travels on: our next fact about 3 carries 3's signature of 4 */
	struct gsp_update a4 = alive_of(3, 4);
	struct gsp_update fact;
	gsp__fill_fact(g, gsp__find(g, gsim_id(3)), &fact);
	assert_true(fact.has_sig);
	assert_memory_equal(fact.sig, a4.sig, GSP_SIG_LEN);
	gsp_free(g);
}

/* Only the subject raises its incarnation: ALIVE(2, 7) needs 2's signature. */
static void test_forged_alive(void **st)
{
	(void)st;
	gsp *g = trio();
	struct gsp_update dead = {.kind = GSP_UPD_DEAD, .subject = gsim_id(2), .from = gsim_id(3),
	                          .incarnation = 0};
	recv_updates(g, 3, 1, &dead, 1);
	assert_int_equal(info_of(g, 2).state, GSP_DEAD);
	struct gsp_update a = alive_of(2, 7);
	a.has_sig = 0;                                    /* unsigned */
	recv_updates(g, 3, 2, &a, 1);
	gsim_sign(gsim_id(3), 7, GSP_ALIVE, a.sig);       /* signed by the wrong member */
	a.has_sig = 1;
	recv_updates(g, 3, 3, &a, 1);
	a = alive_of(2, 7);
	a.sig[10] ^= 1;                                   /* tampered */
	recv_updates(g, 3, 4, &a, 1);
	gsim_sign(gsim_id(2), 7, GSP_LEFT, a.sig);        /* 2's signature of another statement */
	recv_updates(g, 3, 5, &a, 1);
	assert_int_equal(info_of(g, 2).state, GSP_DEAD);
	assert_int_equal(info_of(g, 2).incarnation, 0);
	assert_int_equal(stats(g).refused_inc_unsigned, 1);
	assert_int_equal(stats(g).refused_inc_bad_sig, 3);
	/* strangers too: no signature, no row */
	struct gsp_update stranger = alive_of(9, 0);
	stranger.sig[0] ^= 1;
	recv_updates(g, 3, 6, &stranger, 1);
	struct gsp_member_info none;
	assert_int_equal(gsp_member_find(g, gsim_id(9), &none), -ENOENT);
	/* 2's real refutation is taken */
	a = alive_of(2, 7);
	recv_updates(g, 3, 7, &a, 1);
	assert_int_equal(info_of(g, 2).state, GSP_ALIVE);
	assert_int_equal(info_of(g, 2).incarnation, 7);
	gsp_free(g);
}

/* LEFT is said only by the subject, at any incarnation. */
static void test_forged_left(void **st)
{
	(void)st;
	gsp *g = trio();
	struct gsp_update left = {.kind = GSP_UPD_LEFT, .subject = gsim_id(3), .from = gsim_id(3),
	                          .incarnation = 0};
	recv_updates(g, 2, 1, &left, 1);
	left.has_sig = 1;
	gsim_sign(gsim_id(3), 0, GSP_ALIVE, left.sig);   /* 3's ALIVE is not its LEFT */
	recv_updates(g, 2, 2, &left, 1);
	assert_int_equal(info_of(g, 3).state, GSP_ALIVE);
	assert_int_equal(stats(g).refused_inc_unsigned, 1);
	assert_int_equal(stats(g).refused_inc_bad_sig, 1);
	gsim_sign(gsim_id(3), 1, GSP_LEFT, left.sig);
	left.incarnation = 1;
	recv_updates(g, 2, 3, &left, 1);
	assert_int_equal(info_of(g, 3).state, GSP_LEFT);
	gsp_free(g);
}

/* Lies about ourselves: no refutation (it would spend incarnations), nothing moves. */
static void test_forged_accusation_of_self(void **st)
{
	(void)st;
	gsp *g = trio();
	struct gsp_update ups[3] = {
		{.kind = GSP_UPD_DEAD, .subject = gsim_id(1), .from = gsim_id(2), .incarnation = GSP_INC_MAX},
		{.kind = GSP_UPD_LEFT, .subject = gsim_id(1), .from = gsim_id(2), .incarnation = 0},
		alive_of(2, 0),
	};
	ups[2].subject = gsim_id(1);   /* ALIVE(1, MAX) signed by nobody */
	ups[2].incarnation = GSP_INC_MAX;
	ups[2].has_sig = 0;
	recv_updates(g, 2, 1, ups, 3);
	assert_int_equal(gsp_incarnation(g), 0);
	assert_int_equal(stats(g).refutations, 0);
	assert_int_equal(stats(g).refused_inc_unsigned, 3);
	/* our own previous life's signature does count: refute above it */
	ups[0].incarnation = 5;
	ups[0].has_sig = 1;
	gsim_sign(gsim_id(1), 5, GSP_ALIVE, ups[0].sig);
	recv_updates(g, 2, 2, ups, 1);
	assert_int_equal(gsp_incarnation(g), 6);
	gsp_free(g);
}

/* After one refused signature, the rest of the message is refused unchecked. */
static void test_refusal_taints_message(void **st)
{
	(void)st;
	gsp *g = trio();
	struct gsp_update ups[2] = {alive_of(2, 3), alive_of(4, 0)};
	ups[0].sig[0] ^= 1;
	recv_updates(g, 2, 1, ups, 2);
	struct gsp_member_info none;
	assert_int_equal(gsp_member_find(g, gsim_id(4), &none), -ENOENT);
	assert_int_equal(stats(g).refused_inc_bad_sig, 2);
	recv_updates(g, 2, 2, &ups[1], 1);   /* alone, in the next message: taken */
	assert_int_equal(info_of(g, 4).state, GSP_ALIVE);
	gsp_free(g);
}

/* A subject whose key this host does not know yet (admitted after its table was built)
 * is refused apart from forgeries: counted as unknown, and the rest of the message is
 * still read (no verification was spent on it). */
static struct gsp_auth real_auth;
static int verify_9_unknown(void *ctx, gsp_id id, uint32_t inc, enum gsp_state state,
                            const uint8_t sig[GSP_SIG_LEN])
{
	if (gsp_id_eq(id, gsim_id(9)))
		return -ENOENT;
	return real_auth.verify_inc(ctx, id, inc, state, sig);
}

static void test_unknown_subject(void **st)
{
	(void)st;
	struct gsp_config c;
	config(&c);
	real_auth = c.auth;
	c.auth.verify_inc = verify_9_unknown;
	gsp *g = NULL;
	assert_int_equal(gsp_new(&c, gsim_id(1), "sim://1", 0, &g), 0);
	struct gsp_update ups[3] = {alive_of(2, 0), alive_of(9, 0), alive_of(3, 0)};
	recv_updates(g, 2, 0, ups, 3);
	struct gsp_member_info none;
	assert_int_equal(gsp_member_find(g, gsim_id(9), &none), -ENOENT);
	assert_int_equal(gsp_alive_count(g), 3);   /* 3, after the unknown one, is taken */
	assert_int_equal(stats(g).refused_unknown_subject, 1);
	assert_int_equal(stats(g).refused_inc_bad_sig, 0);
	gsp_free(g);
}

/* Incarnations saturate: refuting at the maximum keeps the maximum, never 0. */
static void test_incarnation_saturates(void **st)
{
	(void)st;
	gsp *g = mk_inc(1, GSP_INC_MAX - 1);
	struct gsp_update ups[2] = {alive_of(2, 0),
		{.kind = GSP_UPD_SUSPECT, .subject = gsim_id(1), .from = gsim_id(2),
		 .incarnation = GSP_INC_MAX - 1}};
	recv_updates(g, 2, 1, ups, 2);
	assert_int_equal(gsp_incarnation(g), GSP_INC_MAX);
	assert_int_equal(stats(g).inc_saturated, 0);
	ups[1].incarnation = GSP_INC_MAX;
	recv_updates(g, 2, 2, &ups[1], 1);
	assert_int_equal(gsp_incarnation(g), GSP_INC_MAX);
	assert_int_equal(stats(g).inc_saturated, 1);
	/* what we spread is signed at the maximum */
	struct gsp_update fact, want = alive_of(1, GSP_INC_MAX);
	gsp__fill_fact(g, g->self, &fact);
	assert_int_equal(fact.incarnation, GSP_INC_MAX);
	assert_memory_equal(fact.sig, want.sig, GSP_SIG_LEN);
	/* leaving at the maximum stays there too, signed LEFT */
	struct gsp_event lev = {.type = GSP_EV_LEAVE, .now_ms = 3};
	struct gsp_out out;
	assert_int_equal(gsp_step(g, &lev, &out), 0);
	assert_int_equal(gsp_incarnation(g), GSP_INC_MAX);
	gsp__fill_fact(g, g->self, &fact);
	assert_int_equal(fact.kind, GSP_UPD_LEFT);
	gsim_sign(gsim_id(1), GSP_INC_MAX, GSP_LEFT, want.sig);
	assert_memory_equal(fact.sig, want.sig, GSP_SIG_LEN);
	gsp_free(g);

	/* a receiver holding the maximum never reads a wrapped 0 as newer */
	g = trio();
	struct gsp_update top = alive_of(3, GSP_INC_MAX), wrapped = alive_of(3, 0);
	recv_updates(g, 2, 1, &top, 1);
	struct gsp_update dead0 = {.kind = GSP_UPD_DEAD, .subject = gsim_id(3), .from = gsim_id(2),
	                           .incarnation = 0};
	struct gsp_update later[2] = {wrapped, dead0};
	recv_updates(g, 2, 2, later, 2);
	assert_int_equal(info_of(g, 3).incarnation, GSP_INC_MAX);
	assert_int_equal(info_of(g, 3).state, GSP_ALIVE);
	gsp_free(g);
}

/* Push-pull carries the signatures a peer needs: a digest from a member that heard of
 * 3's refutation brings 3's new incarnation to one that did not. */
static void test_push_pull_carries_signatures(void **st)
{
	(void)st;
	gsp *a = trio(), *b = mk(2);
	struct gsp_update ups[2] = {alive_of(1, 0), alive_of(3, 0)};
	recv_updates(b, 1, 0, ups, 2);
	struct gsp_update r = alive_of(3, 2);
	recv_updates(a, 3, 1, &r, 1);
	/* a's periodic push-pull to b, built by the internal sender */
	a->n_out_send = 0;
	a->n_upd = 0;
	gsp__push_pull_send(a, gsp__find(a, gsim_id(2)), NULL, 0, GSP_MSG_PUSH_PULL, NULL);
	assert_int_equal(a->n_out_send, 1);
	struct gsp_msg m = a->out_send[0].s.msg;
	m.updates = &a->upd[a->out_send[0].upd_off];
	struct gsp_event ev = {.type = GSP_EV_RECV, .now_ms = 2, .msg = &m};
	struct gsp_out out;
	assert_int_equal(gsp_step(b, &ev, &out), 0);
	assert_int_equal(info_of(b, 3).incarnation, 2);
	assert_int_equal(stats(b).refused_inc_unsigned + stats(b).refused_inc_bad_sig, 0);
	gsp_free(a);
	gsp_free(b);
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
		cmocka_unit_test(test_forged_status),   cmocka_unit_test(test_forged_dead_max),
		cmocka_unit_test(test_signed_suspicion_spreads),
		cmocka_unit_test(test_forged_alive),    cmocka_unit_test(test_forged_left),
		cmocka_unit_test(test_forged_accusation_of_self),
		cmocka_unit_test(test_refusal_taints_message),
		cmocka_unit_test(test_unknown_subject),
		cmocka_unit_test(test_incarnation_saturates),
		cmocka_unit_test(test_push_pull_carries_signatures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
