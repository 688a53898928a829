/* simnet.h — a deterministic simulated network and clock for driving sans-I/O cores.
 *
 * Generic on purpose (gossip uses it; the consensus simulator can too): nodes are
 * indices 0..n-1, messages are opaque byte strings, and every random choice (loss,
 * delay, duplication, reordering) comes from one PRNG seeded by the caller, so a seed
 * and the same sequence of calls replay a run exactly.
 *
 * Time is virtual.  The simulator keeps one queue of future events, ordered by
 * (time, insertion number): message deliveries and per-node timers.  sim_next() pops the
 * earliest one and moves the clock to it; the caller feeds it to its core, sends the
 * core's messages with sim_send() and re-arms the node's timer with sim_timer_set().
 *
 * Faults:
 *   loss, duplication        per message, probabilities in [0, 1]
 *   delay, reordering        uniform delay in [delay_min_ms, delay_max_ms]; with
 *                            probability reorder, reorder_extra_ms more
 *   partitions               sim_link_set(from, to, up) cuts one direction (asymmetric);
 *                            sim_partition(group_of) cuts between groups; sim_heal()
 *   slow nodes               sim_slow(node, extra_ms): extra delay on its in/out traffic
 *   paused nodes             sim_pause(node, until_ms): like SIGSTOP; its events wait and
 *                            are delivered in order when it resumes
 *   crash / restart          sim_crash(node): queued traffic to it is lost and it neither
 *                            sends nor receives; sim_restart(node) brings it back (the
 *                            caller re-creates its state; an optional hook is called)
 * Every queue is bounded: queue_max events; beyond it, sends are dropped and counted.
 */
#ifndef DROVER_SIMNET_H
#define DROVER_SIMNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim_config {
	uint32_t n_nodes;
	uint64_t seed;
	uint32_t delay_min_ms, delay_max_ms;
	double loss, dup, reorder;
	uint32_t reorder_extra_ms;
	size_t queue_max;        /* 0: default 4,000,000 events */
	size_t msg_bytes_max;    /* 0: default 4 MiB; larger sends are refused */
	void (*on_restart)(void *ctx, uint32_t node);
	void *hook_ctx;
};

enum sim_ev_kind { SIM_EV_MSG = 1, SIM_EV_TIMER = 2 };

struct sim_ev {
	enum sim_ev_kind kind;
	uint64_t at_ms;
	uint32_t node;            /* receiver / timer owner */
	uint32_t from;            /* MSG */
	const uint8_t *data;      /* MSG: valid until the next sim_next() */
	size_t len;
};

struct sim_stats {
	uint64_t sent, delivered, bytes_sent;
	uint64_t lost, cut, to_crashed, duplicated, reordered, queue_full;
	uint64_t *bytes_sent_by;  /* per node, n_nodes entries */
};

struct sim;

int sim_new(const struct sim_config *cfg, struct sim **out);   /* -EINVAL, -ENOMEM */
void sim_free(struct sim *s);
uint64_t sim_now(const struct sim *s);
uint32_t sim_n(const struct sim *s);

/* Queue data (copied) from `from` to `to`.  Returns 0 if sent (even when the network
 * then loses it, as a real one would), -EINVAL for bad nodes/size, -EAGAIN when the
 * event queue is full, -ENOMEM. */
int sim_send(struct sim *s, uint32_t from, uint32_t to, const void *data, size_t len);

/* One timer per node: setting replaces the previous one; UINT64_MAX disarms. */
void sim_timer_set(struct sim *s, uint32_t node, uint64_t at_ms);

/* Pop the next event at or before until_ms.  Returns 1 and fills *ev, or 0 (clock moved
 * to until_ms, nothing due). */
int sim_next(struct sim *s, uint64_t until_ms, struct sim_ev *ev);

void sim_link_set(struct sim *s, uint32_t from, uint32_t to, bool up);
void sim_partition(struct sim *s, const uint32_t *group_of);   /* n_nodes group numbers */
void sim_heal(struct sim *s);
void sim_slow(struct sim *s, uint32_t node, uint32_t extra_ms);
void sim_pause(struct sim *s, uint32_t node, uint64_t until_ms);
void sim_crash(struct sim *s, uint32_t node);
void sim_restart(struct sim *s, uint32_t node);
bool sim_is_up(const struct sim *s, uint32_t node);
void sim_set_loss(struct sim *s, double loss);
/* Change loss, duplication and reordering mid-run (values outside [0, 1] ignored). */
void sim_set_faults(struct sim *s, double loss, double dup, double reorder,
                    uint32_t reorder_extra_ms);

const struct sim_stats *sim_stats(const struct sim *s);

/* Seed for a test run: DROVER_SIM_SEED from the environment when set (replay), else
 * `fallback`.  Tests print the seed they use. */
uint64_t sim_seed_from_env(uint64_t fallback);

/* The simulator's PRNG, exposed so harnesses draw scenario randomness from the same
 * seeded stream (uniform in [0, n), n > 0). */
uint32_t sim_rand_below(struct sim *s, uint32_t n);

#endif
