/* simnet.c — deterministic network + clock (contract in simnet.h).
 *
 * One binary min-heap of events keyed by (time, insertion number); the insertion number
 * makes ties deterministic, so the run depends only on the seed and the caller's calls.
 * Stale events are dropped lazily when popped instead of searched for: a timer carries
 * the generation it was armed with, a message the receiver's life (epoch) at send time,
 * so re-arming a timer or crashing a node costs O(1).  A paused node's events are pushed
 * back to its resume time in the order they were popped, which keeps their relative
 * order, like a stopped process's socket buffer.
 */
#include "simnet.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SIM_QUEUE_MAX_DEFAULT 4000000u
#define SIM_MSG_BYTES_MAX_DEFAULT (4u << 20)

struct hev {
	uint64_t at, no;
	uint32_t node, from, kind, gen;
	uint8_t *data;
	size_t len;
};

struct sim {
	struct sim_config cfg;
	uint64_t rng[4];
	uint64_t now, next_no;
	struct hev *heap;
	size_t n_heap, cap_heap;
	uint8_t *last_data;
	uint8_t *cut;             /* n*n bytes: 1 = from->to blocked */
	uint32_t *timer_gen, *epoch, *slow_ms;
	uint64_t *pause_until;
	bool *down;
	struct sim_stats st;
};

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rnd(struct sim *s)
{
	uint64_t *q = s->rng;
	uint64_t r = rotl(q[1] * 5, 7) * 9, t = q[1] << 17;
	q[2] ^= q[0];
	q[3] ^= q[1];
	q[1] ^= q[2];
	q[0] ^= q[3];
	q[2] ^= t;
	q[3] = rotl(q[3], 45);
	return r;
}

uint32_t sim_rand_below(struct sim *s, uint32_t n)
{
	return (uint32_t)(((rnd(s) >> 32) * (uint64_t)n) >> 32);
}

static double rnd01(struct sim *s)
{
	return (double)(rnd(s) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t sim_seed_from_env(uint64_t fallback)
{
	const char *e = getenv("DROVER_SIM_SEED");
	if (!e || !*e)
		return fallback;
	return strtoull(e, NULL, 0);
}

static bool before(const struct hev *a, const struct hev *b)
{
	return a->at < b->at || (a->at == b->at && a->no < b->no);
}

static int heap_push(struct sim *s, struct hev ev)
{
	if (s->n_heap >= s->cfg.queue_max) {
		s->st.queue_full++;
		return -EAGAIN;
	}
	if (s->n_heap == s->cap_heap) {
		size_t cap = s->cap_heap ? s->cap_heap * 2 : 1024;
		struct hev *h = realloc(s->heap, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		s->heap = h;
		s->cap_heap = cap;
	}
	ev.no = s->next_no++;
	size_t i = s->n_heap++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!before(&ev, &s->heap[p]))
			break;
		s->heap[i] = s->heap[p];
		i = p;
	}
	s->heap[i] = ev;
	return 0;
}

static struct hev heap_pop(struct sim *s)
{
	struct hev top = s->heap[0];
	struct hev last = s->heap[--s->n_heap];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= s->n_heap)
			break;
		if (c + 1 < s->n_heap && before(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!before(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->n_heap)
		s->heap[i] = last;
	return top;
}

int sim_new(const struct sim_config *cfg, struct sim **out)
{
	if (!cfg || !out || cfg->n_nodes == 0 || cfg->delay_max_ms < cfg->delay_min_ms ||
	    cfg->loss < 0 || cfg->loss > 1 || cfg->dup < 0 || cfg->dup > 1 || cfg->reorder < 0 ||
	    cfg->reorder > 1)
		return -EINVAL;
	struct sim *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	if (!s->cfg.queue_max)
		s->cfg.queue_max = SIM_QUEUE_MAX_DEFAULT;
	if (!s->cfg.msg_bytes_max)
		s->cfg.msg_bytes_max = SIM_MSG_BYTES_MAX_DEFAULT;
	uint64_t x = cfg->seed;
	for (int i = 0; i < 4; i++)
		s->rng[i] = splitmix(&x);
	size_t n = cfg->n_nodes;
	s->cut = calloc(n * n, 1);
	s->timer_gen = calloc(n, sizeof(*s->timer_gen));
	s->epoch = calloc(n, sizeof(*s->epoch));
	s->slow_ms = calloc(n, sizeof(*s->slow_ms));
	s->pause_until = calloc(n, sizeof(*s->pause_until));
	s->down = calloc(n, sizeof(*s->down));
	s->st.bytes_sent_by = calloc(n, sizeof(*s->st.bytes_sent_by));
	if (!s->cut || !s->timer_gen || !s->epoch || !s->slow_ms || !s->pause_until || !s->down ||
	    !s->st.bytes_sent_by) {
		sim_free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

void sim_free(struct sim *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_heap; i++)
		free(s->heap[i].data);
	free(s->heap);
	free(s->last_data);
	free(s->cut);
	free(s->timer_gen);
	free(s->epoch);
	free(s->slow_ms);
	free(s->pause_until);
	free(s->down);
	free(s->st.bytes_sent_by);
	free(s);
}

uint64_t sim_now(const struct sim *s)
{
	return s->now;
}

uint32_t sim_n(const struct sim *s)
{
	return s->cfg.n_nodes;
}

static uint64_t delay(struct sim *s, uint32_t from, uint32_t to)
{
	uint32_t span = s->cfg.delay_max_ms - s->cfg.delay_min_ms + 1;
	uint64_t d = s->cfg.delay_min_ms + sim_rand_below(s, span) + s->slow_ms[from] + s->slow_ms[to];
	if (s->cfg.reorder > 0 && rnd01(s) < s->cfg.reorder) {
		d += s->cfg.reorder_extra_ms;
		s->st.reordered++;
	}
	return d;
}

static int enqueue_copy(struct sim *s, uint32_t from, uint32_t to, const void *data, size_t len)
{
	struct hev ev = {0};
	ev.kind = SIM_EV_MSG;
	ev.node = to;
	ev.from = from;
	ev.gen = s->epoch[to];
	ev.at = s->now + delay(s, from, to);
	ev.len = len;
	ev.data = malloc(len ? len : 1);
	if (!ev.data)
		return -ENOMEM;
	if (len)
		memcpy(ev.data, data, len);
	int rc = heap_push(s, ev);
	if (rc)
		free(ev.data);
	return rc;
}

int sim_send(struct sim *s, uint32_t from, uint32_t to, const void *data, size_t len)
{
	uint32_t n = s->cfg.n_nodes;
	if (from >= n || to >= n || len > s->cfg.msg_bytes_max || (len && !data))
		return -EINVAL;
	s->st.sent++;
	s->st.bytes_sent += len;
	s->st.bytes_sent_by[from] += len;
	if (s->down[from] || s->down[to]) {
		s->st.to_crashed++;
		return 0;
	}
	if (s->cut[(size_t)from * n + to]) {
		s->st.cut++;
		return 0;
	}
	if (s->cfg.loss > 0 && rnd01(s) < s->cfg.loss) {
		s->st.lost++;
		return 0;
	}
	int rc = enqueue_copy(s, from, to, data, len);
	if (rc == 0 && s->cfg.dup > 0 && rnd01(s) < s->cfg.dup) {
		s->st.duplicated++;
		rc = enqueue_copy(s, from, to, data, len);
	}
	return rc;
}

void sim_timer_set(struct sim *s, uint32_t node, uint64_t at_ms)
{
	if (node >= s->cfg.n_nodes)
		return;
	s->timer_gen[node]++;
	if (at_ms == UINT64_MAX || s->down[node])
		return;
	struct hev ev = {0};
	ev.kind = SIM_EV_TIMER;
	ev.node = node;
	ev.gen = s->timer_gen[node];
	ev.at = at_ms < s->now ? s->now : at_ms;
	(void)heap_push(s, ev);
}

int sim_next(struct sim *s, uint64_t until_ms, struct sim_ev *out)
{
	free(s->last_data);
	s->last_data = NULL;
	while (s->n_heap && s->heap[0].at <= until_ms) {
		struct hev ev = heap_pop(s);
		bool stale = ev.kind == SIM_EV_TIMER ? ev.gen != s->timer_gen[ev.node]
		                                     : (ev.gen != s->epoch[ev.node] || s->down[ev.node]);
		if (stale) {
			if (ev.kind == SIM_EV_MSG)
				s->st.to_crashed++;
			free(ev.data);
			continue;
		}
		if (s->pause_until[ev.node] > ev.at) {
			ev.at = s->pause_until[ev.node];
			if (heap_push(s, ev))
				free(ev.data);
			continue;
		}
		s->now = ev.at;
		if (ev.kind == SIM_EV_MSG)
			s->st.delivered++;
		s->last_data = ev.data;
		out->kind = (enum sim_ev_kind)ev.kind;
		out->at_ms = ev.at;
		out->node = ev.node;
		out->from = ev.from;
		out->data = ev.data;
		out->len = ev.len;
		return 1;
	}
	if (until_ms != UINT64_MAX && until_ms > s->now)
		s->now = until_ms;
	return 0;
}

void sim_link_set(struct sim *s, uint32_t from, uint32_t to, bool up)
{
	uint32_t n = s->cfg.n_nodes;
	if (from < n && to < n)
		s->cut[(size_t)from * n + to] = up ? 0 : 1;
}

void sim_partition(struct sim *s, const uint32_t *group_of)
{
	uint32_t n = s->cfg.n_nodes;
	for (uint32_t a = 0; a < n; a++)
		for (uint32_t b = 0; b < n; b++)
			s->cut[(size_t)a * n + b] = group_of[a] != group_of[b];
}

void sim_heal(struct sim *s)
{
	memset(s->cut, 0, (size_t)s->cfg.n_nodes * s->cfg.n_nodes);
}

void sim_slow(struct sim *s, uint32_t node, uint32_t extra_ms)
{
	if (node < s->cfg.n_nodes)
		s->slow_ms[node] = extra_ms;
}

void sim_pause(struct sim *s, uint32_t node, uint64_t until_ms)
{
	if (node < s->cfg.n_nodes)
		s->pause_until[node] = until_ms;
}

void sim_crash(struct sim *s, uint32_t node)
{
	if (node >= s->cfg.n_nodes)
		return;
	s->down[node] = true;
	s->epoch[node]++;
	s->timer_gen[node]++;
}

void sim_restart(struct sim *s, uint32_t node)
{
	if (node >= s->cfg.n_nodes)
		return;
	s->down[node] = false;
	s->pause_until[node] = 0;
	if (s->cfg.on_restart)
		s->cfg.on_restart(s->cfg.hook_ctx, node);
}

bool sim_is_up(const struct sim *s, uint32_t node)
{
	return node < s->cfg.n_nodes && !s->down[node];
}

void sim_set_loss(struct sim *s, double loss)
{
	if (loss >= 0 && loss <= 1)
		s->cfg.loss = loss;
}

void sim_set_faults(struct sim *s, double loss, double dup, double reorder,
                    uint32_t reorder_extra_ms)
{
	if (loss >= 0 && loss <= 1)
		s->cfg.loss = loss;
	if (dup >= 0 && dup <= 1)
		s->cfg.dup = dup;
	if (reorder >= 0 && reorder <= 1)
		s->cfg.reorder = reorder;
	s->cfg.reorder_extra_ms = reorder_extra_ms;
}

const struct sim_stats *sim_stats(const struct sim *s)
{
	return &s->st;
}
