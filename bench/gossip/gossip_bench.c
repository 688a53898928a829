/* gossip_bench.c — failure detection, dissemination and bandwidth of the real gossip core
 * on the simulated network (tests/sim/gossip/gsim.h), one JSON object per figure.
 *
 *   gossip_bench [--n N] [--trials T] [--seed S] [--status-period-ms P] [--status-bytes B]
 *                [--loss L] [--gossip-interval-ms I] [--fanout F] [--retransmit-mult M]
 *                [--msg-budget-bytes B]
 *
 * What one run does, all in virtual time:
 *   1. N members join through member 0 (spread over 1 s) until everyone sees everyone;
 *   2. every member publishes a status record of B bytes, then re-publishes it every P ms
 *      (staggered): this background load is what bytes_per_host_per_s measures, over a
 *      window of WINDOW_MS after a warm-up, counting the codec-encoded bytes sent;
 *   3. T times: one random member publishes a new version; the time until each other
 *      member holds it is one dissemination sample;
 *   4. T times: one random member is killed; the time until each other member marks it
 *      dead is one detection sample (p50/p99 over all observers of all trials, and the
 *      slowest "dead everywhere" time);
 *   5. false_positives counts DEAD verdicts about members that were up, over the run.
 * Messages carry 1-5 ms of one-way delay (a LAN plus a busy agent).
 */
#include "gsim.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WARMUP_MS 20000
#define WINDOW_MS 60000
#define SETTLE_MS 5000
#define POLL_MS 5
#define GIVE_UP_MS 60000

struct run {
	uint64_t false_dead;
	uint32_t watch_subject;      /* member under measurement, or UINT32_MAX */
	uint64_t watch_version;      /* dissemination: the version awaited */
	uint64_t t0;
	uint64_t *samples;
	size_t n_samples, cap_samples;
};

static void add_sample(struct run *r, uint64_t v)
{
	if (r->n_samples == r->cap_samples) {
		r->cap_samples = r->cap_samples ? r->cap_samples * 2 : 1024;
		r->samples = realloc(r->samples, r->cap_samples * sizeof(*r->samples));
		if (!r->samples) {
			perror("realloc");
			exit(1);
		}
	}
	r->samples[r->n_samples++] = v;
}

static void hook(void *ctx, struct gsim *gs, uint32_t obs, const struct gsp_member_event *ev,
                 uint32_t subj, uint64_t now)
{
	struct run *r = ctx;
	if (ev->type == GSP_ME_STATE && ev->state == GSP_DEAD && sim_is_up(gs->net, subj))
		r->false_dead++;
	if (subj != r->watch_subject || obs == subj)
		return;
	if (r->watch_version == 0 && ev->type == GSP_ME_STATE && ev->state == GSP_DEAD)
		add_sample(r, now - r->t0);
	if (r->watch_version && ev->type == GSP_ME_STATUS && ev->status_version == r->watch_version)
		add_sample(r, now - r->t0);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t pct(uint64_t *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

static uint32_t n_global;

static void emit(const char *metric, double value, const char *unit, uint64_t seed, uint32_t trials,
                 uint64_t status_period_ms)
{
	printf("{\"bench\":\"gossip\",\"system\":\"drover\",\"mode\":\"sim\",\"n\":%u,\"hosts\":%u,"
	       "\"metric\":\"%s\",\"value\":%.1f,\"unit\":\"%s\",\"trials\":%u,\"seed\":%" PRIu64
	       ",\"status_period_ms\":%" PRIu64 "}\n",
	       n_global, n_global, metric, value, unit, trials, seed, status_period_ms);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	uint32_t n = 64, trials = 10, status_bytes = 320;
	uint64_t seed = 1, status_period_ms = 60000;
	double loss = 0;
	uint32_t gi = 0, fanout = 0, rmult = 0, budget = 0;   /* 0: the core's default */
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--n"))
			n = (uint32_t)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--trials"))
			trials = (uint32_t)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--status-period-ms"))
			status_period_ms = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--status-bytes"))
			status_bytes = (uint32_t)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--loss"))
			loss = strtod(argv[i + 1], NULL);
		else if (!strcmp(argv[i], "--gossip-interval-ms"))
			gi = (uint32_t)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--msg-budget-bytes"))
			budget = (uint32_t)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--fanout"))
			fanout = (uint32_t)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--retransmit-mult"))
			rmult = (uint32_t)strtoul(argv[i + 1], NULL, 0);
		else {
			fprintf(stderr, "unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (n < 4 || trials == 0 || trials >= n || status_bytes > GSP_STATUS_MAX ||
	    status_bytes < GSIM_SEAL_LEN || status_period_ms == 0) {
		fprintf(stderr, "bad parameters\n");
		return 2;
	}
	n_global = n;
	seed = sim_seed_from_env(seed);
	struct run r = {.watch_subject = UINT32_MAX};
	struct gsim_config c;
	memset(&c, 0, sizeof(c));
	c.n = n;
	c.seed = seed;
	gsp_config_default(&c.gossip);
	if (gi)
		c.gossip.gossip_interval_ms = gi;
	if (fanout)
		c.gossip.gossip_fanout = fanout;
	if (rmult)
		c.gossip.retransmit_mult = rmult;
	if (budget)
		c.gossip.msg_budget_bytes = budget;
	c.net.delay_min_ms = 1;
	c.net.delay_max_ms = 5;
	c.net.loss = loss;
	c.join_spread_ms = 1000;
	c.hook = hook;
	c.hook_ctx = &r;
	clock_t cpu0 = clock();
	struct gsim *gs = NULL;
	if (gsim_new(&c, &gs)) {
		fprintf(stderr, "gsim_new failed\n");
		return 1;
	}
	uint64_t t = 0;
	while (!gsim_converged(gs, 0) && t < GIVE_UP_MS)
		gsim_run_until(gs, t += 100);
	if (!gsim_converged(gs, 0)) {
		fprintf(stderr, "n=%u: no single view after %d ms (seed %" PRIu64 ")\n", n, GIVE_UP_MS, seed);
		return 1;
	}
	uint64_t join_ms = gsim_now(gs);

	/* Background status load: member i re-publishes at i*P/n + k*P. */
	uint8_t *rec = calloc(1, status_bytes ? status_bytes : 1);
	/* gsim_set_status adds a GSIM_SEAL_LEN-byte seal (the stand-in signature): the
	 * records on the wire are status_bytes long. */
	status_bytes -= GSIM_SEAL_LEN;
	uint64_t *ver = calloc(n, sizeof(uint64_t));
	uint64_t *next_pub = calloc(n, sizeof(uint64_t));
	if (!rec || !ver || !next_pub)
		return 1;
	for (uint32_t i = 0; i < n; i++)
		next_pub[i] = gsim_now(gs) + status_period_ms * i / n;
	uint64_t bytes0 = 0, tw0 = 0;
#define ADVANCE(to)                                                                      \
	do {                                                                                 \
		uint64_t to_ = (to);                                                             \
		while (gsim_now(gs) < to_) {                                                     \
			uint64_t step_ = gsim_now(gs) + 100 < to_ ? gsim_now(gs) + 100 : to_;        \
			gsim_run_until(gs, step_);                                                   \
			for (uint32_t i_ = 0; i_ < n; i_++) {                                        \
				if (sim_is_up(gs->net, i_) && gsim_now(gs) >= next_pub[i_]) {            \
					memcpy(rec, &ver[i_], sizeof(ver[i_]) < status_bytes ? sizeof(ver[i_]) : status_bytes); \
					gsim_set_status(gs, i_, ++ver[i_], rec, status_bytes);               \
					next_pub[i_] += status_period_ms;                                    \
				}                                                                        \
			}                                                                            \
		}                                                                                \
	} while (0)

	ADVANCE(join_ms + WARMUP_MS);
	const struct sim_stats *ss = sim_stats(gs->net);
	bytes0 = ss->bytes_sent;
	tw0 = gsim_now(gs);
	ADVANCE(tw0 + WINDOW_MS);
	double bps = (double)(ss->bytes_sent - bytes0) / n / ((double)(gsim_now(gs) - tw0) / 1000.0);

	/* Dissemination trials. */
	uint64_t worst_all = 0;
	for (uint32_t k = 0; k < trials; k++) {
		uint32_t who = sim_rand_below(gs->net, n);
		r.watch_subject = who;
		r.watch_version = ver[who] + 1;
		r.t0 = gsim_now(gs);
		size_t before = r.n_samples;
		gsim_set_status(gs, who, ++ver[who], rec, status_bytes);
		next_pub[who] = gsim_now(gs) + status_period_ms;
		while (r.n_samples - before < n - 1 && gsim_now(gs) - r.t0 < GIVE_UP_MS)
			ADVANCE(gsim_now(gs) + POLL_MS);
		uint64_t all = gsim_now(gs) - r.t0;
		if (all > worst_all)
			worst_all = all;
		ADVANCE(gsim_now(gs) + 1000);
	}
	size_t n_dis = r.n_samples;
	uint64_t dis_p50 = pct(r.samples, n_dis, 0.50), dis_p99 = pct(r.samples, n_dis, 0.99);
	uint64_t dis_max = n_dis ? r.samples[n_dis - 1] : 0;
	r.n_samples = 0;

	/* Detection trials. */
	uint64_t worst_dead = 0;
	uint32_t killed = 0;
	for (uint32_t k = 0; k < trials; k++) {
		uint32_t who = 1 + sim_rand_below(gs->net, n - 1);
		if (!sim_is_up(gs->net, who))
			continue;
		r.watch_subject = who;
		r.watch_version = 0;
		r.t0 = gsim_now(gs);
		size_t before = r.n_samples;
		gsim_kill(gs, who);
		killed++;
		uint32_t up = 0;
		for (uint32_t i = 0; i < n; i++)
			up += sim_is_up(gs->net, i);
		while (r.n_samples - before < up && gsim_now(gs) - r.t0 < GIVE_UP_MS)
			ADVANCE(gsim_now(gs) + POLL_MS);
		uint64_t all = gsim_now(gs) - r.t0;
		if (all > worst_dead)
			worst_dead = all;
		ADVANCE(gsim_now(gs) + SETTLE_MS);
	}
	uint64_t det_p50 = pct(r.samples, r.n_samples, 0.50), det_p99 = pct(r.samples, r.n_samples, 0.99);
	double cpu_s = (double)(clock() - cpu0) / CLOCKS_PER_SEC;

	emit("detect_p50_ms", (double)det_p50, "ms", seed, killed, status_period_ms);
	emit("detect_p99_ms", (double)det_p99, "ms", seed, killed, status_period_ms);
	emit("detect_all_max_ms", (double)worst_dead, "ms", seed, killed, status_period_ms);
	emit("false_positives", (double)r.false_dead, "count", seed, trials, status_period_ms);
	emit("dissemination_p50_ms", (double)dis_p50, "ms", seed, trials, status_period_ms);
	emit("dissemination_p99_ms", (double)dis_p99, "ms", seed, trials, status_period_ms);
	emit("dissemination_all_max_ms", (double)(dis_max > worst_all ? dis_max : worst_all), "ms", seed,
	     trials, status_period_ms);
	emit("bytes_per_host_per_s", bps, "B/s", seed, trials, status_period_ms);
	emit("join_converge_ms", (double)join_ms, "ms", seed, trials, status_period_ms);
	emit("sim_cpu_s", cpu_s, "s", seed, trials, status_period_ms);
	if (gs->decode_errors || gs->encode_errors || gs->step_errors)
		fprintf(stderr, "codec/step errors: decode %" PRIu64 " encode %" PRIu64 " step %" PRIu64 "\n",
		        gs->decode_errors, gs->encode_errors, gs->step_errors);
	free(rec);
	free(ver);
	free(next_pub);
	free(r.samples);
	gsim_free(gs);
	return 0;
}
