/* gsim.c — the gossip cluster simulator (see gsim.h).
 *
 * Each node is a real gsp; each message it emits is encoded with the real codec, carried
 * by simnet (with its loss, delay, partitions, pauses and crashes) and decoded on
 * arrival, so the simulated bytes are the bytes an agent would put in an envelope.
 * Everything is driven by one event loop over simnet's virtual clock, so a run is a pure
 * function of the seed.  Node i has id gsim_id(i) and address "sim://i".
 */
#include "gsim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GSIM_UNKNOWN 0xffu

gsp_id gsim_id(uint32_t node)
{
	gsp_id id = {{0}};
	id.b[0] = 0xd0;   /* never the all-zero id */
	id.b[12] = (uint8_t)(node >> 24);
	id.b[13] = (uint8_t)(node >> 16);
	id.b[14] = (uint8_t)(node >> 8);
	id.b[15] = (uint8_t)node;
	return id;
}

uint32_t gsim_index(gsp_id id)
{
	return (uint32_t)id.b[12] << 24 | (uint32_t)id.b[13] << 16 | (uint32_t)id.b[14] << 8 |
	       id.b[15];
}

/* ---- stand-in signatures ---- */

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t hash_bytes(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = mix64(h ^ p[i]);
	return h;
}

#define GSIM_KEY 0x5eed5eed5eed5eedULL   /* "the sim's private key" */

void gsim_sign(gsp_id id, uint32_t inc, enum gsp_state state, uint8_t sig[GSP_SIG_LEN])
{
	uint64_t h = hash_bytes(GSIM_KEY, id.b, GSP_ID_LEN);
	h = mix64(h ^ ((uint64_t)inc << 8 | (uint64_t)state));
	for (uint32_t k = 0; k < GSP_SIG_LEN / 8; k++) {
		uint64_t w = mix64(h + k);
		memcpy(sig + 8 * k, &w, 8);
	}
}

static void auth_sign(void *ctx, gsp_id id, uint32_t inc, enum gsp_state state,
                      uint8_t sig[GSP_SIG_LEN])
{
	(void)ctx;
	gsim_sign(id, inc, state, sig);
}

static int auth_verify(void *ctx, gsp_id id, uint32_t inc, enum gsp_state state,
                       const uint8_t sig[GSP_SIG_LEN])
{
	(void)ctx;
	uint8_t want[GSP_SIG_LEN];
	gsim_sign(id, inc, state, want);
	return memcmp(want, sig, GSP_SIG_LEN) == 0 ? 0 : -EPERM;
}

static uint64_t seal_tag(gsp_id id, uint64_t version, const uint8_t *body, uint32_t len)
{
	uint64_t h = hash_bytes(GSIM_KEY ^ 1, id.b, GSP_ID_LEN);
	h = mix64(h ^ version);
	return hash_bytes(h, body, len);
}

uint32_t gsim_seal(gsp_id id, uint64_t version, const uint8_t *body, uint32_t len, uint8_t *out)
{
	uint64_t tag = seal_tag(id, version, body, len);
	memcpy(out, &version, 8);
	memcpy(out + 8, &tag, 8);
	if (len)
		memcpy(out + GSIM_SEAL_LEN, body, len);
	return len + GSIM_SEAL_LEN;
}

static int auth_status(void *ctx, gsp_id id, const uint8_t *rec, uint32_t len, uint64_t *version)
{
	(void)ctx;
	uint64_t v, tag;
	if (!rec || len < GSIM_SEAL_LEN)
		return -EBADMSG;
	memcpy(&v, rec, 8);
	memcpy(&tag, rec + 8, 8);
	if (tag != seal_tag(id, v, rec + GSIM_SEAL_LEN, len - GSIM_SEAL_LEN))
		return -EPERM;
	*version = v;
	return 0;
}

struct gsp_auth gsim_auth(void)
{
	struct gsp_auth a = {.ctx = NULL, .sign_inc = auth_sign, .verify_inc = auth_verify,
	                     .status_version = auth_status};
	return a;
}

static uint64_t refused_of(const gsp *g)
{
	struct gsp_stats st;
	gsp_stats_get(g, &st);
	return st.refused_inc_unsigned + st.refused_inc_bad_sig + st.refused_status_bad_sig +
	       st.refused_status_version + st.refused_unknown_subject;
}

uint64_t gsim_refused(const struct gsim *gs)
{
	uint64_t r = gs->refused_past;
	for (uint32_t i = 0; i < gs->cfg.n; i++)
		if (gs->nodes[i])
			r += refused_of(gs->nodes[i]);
	return r;
}

static void addr_of(uint32_t node, char *buf)
{
	snprintf(buf, GSP_ADDR_MAX, "sim://%u", node);
}

static int index_of_addr(const char *addr, uint32_t n, uint32_t *out)
{
	unsigned v;
	if (sscanf(addr, "sim://%u", &v) != 1 || v >= n)
		return -1;
	*out = v;
	return 0;
}

static int make_node(struct gsim *gs, uint32_t i)
{
	struct gsp_config c = gs->cfg.gossip;
	c.seed = gs->cfg.seed * 1000003ULL + i * 7919ULL + gs->life[i] * 104729ULL;
	if (!c.auth.sign_inc)
		c.auth = gsim_auth();
	char addr[GSP_ADDR_MAX];
	addr_of(i, addr);
	if (gs->nodes[i])
		gs->refused_past += refused_of(gs->nodes[i]);
	gsp_free(gs->nodes[i]);
	gs->nodes[i] = NULL;
	int rc = gsp_new(&c, gsim_id(i), addr, 0, &gs->nodes[i]);
	if (rc)
		return rc;
	uint32_t n = gs->cfg.n;
	memset(gs->view + (size_t)i * n, GSIM_UNKNOWN, n);
	memset(gs->status_ver + (size_t)i * n, 0, n * sizeof(uint64_t));
	gs->view[(size_t)i * n + i] = GSP_ALIVE;
	return 0;
}

static void handle_out(struct gsim *gs, uint32_t i, const struct gsp_out *out)
{
	uint32_t n = gs->cfg.n;
	uint64_t now = sim_now(gs->net);
	for (size_t k = 0; k < out->n_send; k++) {
		const struct gsp_send *s = &out->send[k];
		uint32_t j;
		if (gsp_id_is_zero(s->to)) {
			if (index_of_addr(s->addr, n, &j))
				continue;
		} else {
			j = gsim_index(s->to);
			if (j >= n)
				continue;
		}
		size_t len = 0;
		if (gsp_codec_encode(&s->msg, gs->buf, GSP_CODEC_MSG_MAX, &len)) {
			gs->encode_errors++;
			continue;
		}
		(void)sim_send(gs->net, i, j, gs->buf, len);
	}
	for (size_t k = 0; k < out->n_events; k++) {
		const struct gsp_member_event *e = &out->events[k];
		uint32_t j = gsim_index(e->id);
		if (j >= n)
			continue;
		if (e->type == GSP_ME_STATE)
			gs->view[(size_t)i * n + j] = (uint8_t)e->state;
		else
			gs->status_ver[(size_t)i * n + j] = e->status_version;
		if (gs->cfg.hook)
			gs->cfg.hook(gs->cfg.hook_ctx, gs, i, e, j, now);
	}
	sim_timer_set(gs->net, i, out->next_tick_ms);
}

static void step(struct gsim *gs, uint32_t i, const struct gsp_event *ev)
{
	struct gsp_out out;
	int rc = gsp_step(gs->nodes[i], ev, &out);
	if (rc && rc != -ENOMEM) {
		gs->step_errors++;
		return;
	}
	handle_out(gs, i, &out);
}

static void join(struct gsim *gs, uint32_t i)
{
	char seed[GSP_ADDR_MAX];
	addr_of(0, seed);
	const char *seeds[1] = {seed};
	struct gsp_event ev = {.type = GSP_EV_JOIN, .now_ms = sim_now(gs->net), .n_seeds = 1,
	                       .seeds = seeds};
	step(gs, i, &ev);
}

int gsim_new(const struct gsim_config *cfg, struct gsim **out)
{
	struct gsim *gs = calloc(1, sizeof(*gs));
	if (!gs)
		return -ENOMEM;
	gs->cfg = *cfg;
	uint32_t n = cfg->n;
	struct sim_config nc = cfg->net;
	nc.n_nodes = n;
	nc.seed = cfg->seed;
	int rc = sim_new(&nc, &gs->net);
	if (rc)
		goto err;
	rc = -ENOMEM;
	gs->nodes = calloc(n, sizeof(*gs->nodes));
	gs->view = malloc((size_t)n * n);
	gs->status_ver = calloc((size_t)n * n, sizeof(uint64_t));
	gs->life = calloc(n, sizeof(uint32_t));
	gs->buf = malloc(GSP_CODEC_MSG_MAX);
	if (!gs->nodes || !gs->view || !gs->status_ver || !gs->life || !gs->buf)
		goto err;
	for (uint32_t i = 0; i < n; i++) {
		rc = make_node(gs, i);
		if (rc)
			goto err;
	}
	/* Node 0 is the seed; the others join spread over join_spread_ms, the way agents
	 * started by a config tool would.  The join is sent at the node's first tick. */
	for (uint32_t i = 0; i < n; i++) {
		struct gsp_event ev = {.type = GSP_EV_TICK, .now_ms = 0};
		step(gs, i, &ev);
		if (i > 0)
			sim_timer_set(gs->net, i, (uint64_t)cfg->join_spread_ms * i / n);
	}
	*out = gs;
	return 0;
err:
	gsim_free(gs);
	return rc;
}

void gsim_free(struct gsim *gs)
{
	if (!gs)
		return;
	if (gs->nodes)
		for (uint32_t i = 0; i < gs->cfg.n; i++)
			gsp_free(gs->nodes[i]);
	free(gs->nodes);
	sim_free(gs->net);
	free(gs->view);
	free(gs->status_ver);
	free(gs->life);
	free(gs->buf);
	free(gs);
}

uint64_t gsim_now(const struct gsim *gs)
{
	return sim_now(gs->net);
}

void gsim_run_until(struct gsim *gs, uint64_t t_ms)
{
	struct sim_ev ev;
	while (sim_next(gs->net, t_ms, &ev)) {
		uint32_t i = ev.node;
		if (ev.kind == SIM_EV_TIMER) {
			/* A node that knows only itself has not joined yet. */
			if (i != 0 && gsp_member_count(gs->nodes[i]) == 1)
				join(gs, i);
			struct gsp_event tev = {.type = GSP_EV_TICK, .now_ms = ev.at_ms};
			step(gs, i, &tev);
			continue;
		}
		struct gsp_codec_msg *m = NULL;
		if (gsp_codec_decode(ev.data, ev.len, &m, NULL)) {
			gs->decode_errors++;
			continue;
		}
		struct gsp_event rev = {.type = GSP_EV_RECV, .now_ms = ev.at_ms, .msg = &m->msg};
		step(gs, i, &rev);
		gsp_codec_free(m);
	}
}

void gsim_kill(struct gsim *gs, uint32_t node)
{
	sim_crash(gs->net, node);
}

void gsim_restart(struct gsim *gs, uint32_t node)
{
	sim_restart(gs->net, node);
	gs->life[node]++;
	if (make_node(gs, node))
		return;
	struct gsp_event ev = {.type = GSP_EV_TICK, .now_ms = sim_now(gs->net)};
	step(gs, node, &ev);
	join(gs, node);
}

int gsim_set_status(struct gsim *gs, uint32_t node, uint64_t version, const uint8_t *data,
                    uint32_t len)
{
	uint8_t sealed[GSP_STATUS_MAX];
	if (len > GSP_STATUS_MAX - GSIM_SEAL_LEN)
		return -EINVAL;
	uint32_t sealed_len = gsim_seal(gsim_id(node), version, data, len, sealed);
	struct gsp_event ev = {.type = GSP_EV_STATUS, .now_ms = sim_now(gs->net),
	                       .status_version = version, .status = sealed, .status_len = sealed_len};
	struct gsp_out out;
	int rc = gsp_step(gs->nodes[node], &ev, &out);
	if (rc)
		return rc;
	gs->status_ver[(size_t)node * gs->cfg.n + node] = version;
	handle_out(gs, node, &out);
	return 0;
}

void gsim_leave(struct gsim *gs, uint32_t node)
{
	struct gsp_event ev = {.type = GSP_EV_LEAVE, .now_ms = sim_now(gs->net)};
	step(gs, node, &ev);
}

int gsim_converged(const struct gsim *gs, int dead_too)
{
	uint32_t n = gs->cfg.n;
	for (uint32_t i = 0; i < n; i++) {
		if (!sim_is_up(gs->net, i))
			continue;
		for (uint32_t j = 0; j < n; j++) {
			uint8_t v = gsim_view(gs, i, j);
			if (sim_is_up(gs->net, j)) {
				if (v != GSP_ALIVE)
					return 0;
			} else if (dead_too && v != GSP_DEAD && v != GSP_LEFT) {
				return 0;
			}
		}
	}
	return 1;
}
