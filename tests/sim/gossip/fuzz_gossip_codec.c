/* fuzz_gossip_codec.c — libFuzzer target: bytes from the network -> gsp_codec_decode ->
 * (if accepted) re-encode, decode again and compare, then feed the message to a core
 * that already knows the claimed sender, so the update merge rules, probe handling,
 * pulls and push-pull all see hostile input.  Build: -DDROVER_FUZZ=ON with clang;
 * run: fuzz_gossip_codec -max_total_time=60 */
#include "codec.h"
#include "gossip.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t buf[GSP_CODEC_MSG_MAX];

/* Permissive signatures: every present signature verifies and a record's first 8 bytes
 * are its version, so the fuzzer reaches the merge rules behind the checks (the checks
 * themselves are unit-tested in test_core.c). */
static void fz_sign(void *ctx, gsp_id id, uint32_t inc, enum gsp_state s, uint8_t sig[GSP_SIG_LEN])
{
	(void)ctx; (void)id; (void)inc; (void)s;
	memset(sig, 0x5a, GSP_SIG_LEN);
}

static int fz_verify(void *ctx, gsp_id id, uint32_t inc, enum gsp_state s,
                     const uint8_t sig[GSP_SIG_LEN])
{
	(void)ctx; (void)id; (void)inc; (void)s;
	return sig[0] & 1;   /* half of the fuzzed signatures fail: both paths run */
}

static int fz_status(void *ctx, gsp_id id, const uint8_t *rec, uint32_t len, uint64_t *v)
{
	(void)ctx; (void)id;
	if (!rec || len < 8)
		return -1;
	memcpy(v, rec, 8);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gsp_codec_msg *m = NULL;
	if (gsp_codec_decode(data, size, &m, NULL) != 0)
		return 0;
	size_t len = 0;
	if (gsp_codec_encode(&m->msg, buf, sizeof(buf), &len) == 0) {
		struct gsp_codec_msg *m2 = NULL;
		if (gsp_codec_decode(buf, len, &m2, NULL) != 0 || m2->msg.n_updates != m->msg.n_updates ||
		    m2->msg.type != m->msg.type || m2->msg.seq != m->msg.seq)
			abort();
		gsp_codec_free(m2);
	}
	struct gsp_config c;
	gsp_config_default(&c);
	c.auth.sign_inc = fz_sign;
	c.auth.verify_inc = fz_verify;
	c.auth.status_version = fz_status;
	gsp_id self = {{0xd0, 1}};
	gsp *g = NULL;
	if (gsp_new(&c, self, "fuzz://self", 0, &g) == 0) {
		/* Introduce the sender so its messages are not ignored as from a stranger. */
		struct gsp_update intro = {.kind = GSP_UPD_ALIVE, .subject = m->msg.from, .incarnation = 0,
		                           .has_sig = 1};
		strcpy(intro.addr, "fuzz://peer");
		struct gsp_msg gm = {.type = GSP_MSG_GOSSIP, .from = m->msg.from, .n_updates = 1,
		                     .updates = &intro};
		struct gsp_out out;
		struct gsp_event ev = {.type = GSP_EV_RECV, .now_ms = 1, .msg = &gm};
		(void)gsp_step(g, &ev, &out);
		ev.msg = &m->msg;
		ev.now_ms = 2;
		(void)gsp_step(g, &ev, &out);
		struct gsp_event tick = {.type = GSP_EV_TICK, .now_ms = 100000};
		(void)gsp_step(g, &tick, &out);
		gsp_free(g);
	}
	gsp_codec_free(m);
	return 0;
}
