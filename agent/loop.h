/* loop.h — the agent's single-threaded event loop.
 *
 * One thread owns every decision: it polls zmq sockets and plain fds with zmq_poll, runs
 * timers on the monotonic clock, and receives the results of blocking work (libvirt
 * calls, fsync-heavy jobs) that ran on worker threads. Cores (gossip/, ha/, placement/)
 * are called only from this thread, so they need no locks.
 *
 * Contract (libuv style): callbacks run on the loop thread only; a callback may add or
 * remove any registration, including its own; ids are never reused within one loop.
 * When ag_loop_submit returns an error, neither work nor done will ever be called.
 */
#ifndef DROVER_LOOP_H
#define DROVER_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "latency.h"

typedef struct ag_loop ag_loop;
typedef uint64_t ag_id;   /* 0 is never a valid id */

typedef void (*ag_io_cb)(ag_loop *l, ag_id id, short revents, void *ud);
typedef void (*ag_timer_cb)(ag_loop *l, ag_id id, void *ud);
typedef void (*ag_signal_cb)(ag_loop *l, int signo, void *ud);
typedef void (*ag_work_fn)(void *ud);                 /* runs on a worker thread */
typedef void (*ag_done_fn)(ag_loop *l, void *ud);     /* then this, on the loop thread */

/* Limits: a registration table and a timer heap grow on demand up to these; past them
 * the add fails with -ENOSPC rather than degrading every poll. */
#define AG_LOOP_MAX_IO      4096
#define AG_LOOP_MAX_TIMERS  65536
#define AG_LOOP_MAX_QUEUED  4096    /* pending work items */

/* nworkers threads for ag_loop_submit. NULL on failure. */
ag_loop *ag_loop_new(int nworkers);
/* Stops workers (after their current item) and frees everything. */
void ag_loop_free(ag_loop *l);

/* Monotonic milliseconds (CLOCK_MONOTONIC): the only clock the agent feeds to cores. */
uint64_t ag_now_ms(void);
/* Monotonic microseconds, the clock of the loop's latency figures. */
uint64_t ag_now_us(void);
/* Wall-clock milliseconds since the epoch, for display and envelopes' sent_at only. */
uint64_t ag_wall_ms(void);

/* events/revents use ZMQ_POLLIN / ZMQ_POLLOUT / ZMQ_POLLERR. */
ag_id ag_loop_add_zsock(ag_loop *l, void *zsock, short events, ag_io_cb cb, void *ud);
ag_id ag_loop_add_fd(ag_loop *l, int fd, short events, ag_io_cb cb, void *ud);
int   ag_loop_set_events(ag_loop *l, ag_id id, short events);
void  ag_loop_remove(ag_loop *l, ag_id id);

/* One-shot after delay_ms, then every repeat_ms if non-zero. */
ag_id ag_loop_timer(ag_loop *l, uint64_t delay_ms, uint64_t repeat_ms, ag_timer_cb cb, void *ud);
void  ag_loop_cancel(ag_loop *l, ag_id id);

/* Run work(ud) on a worker thread, then done(loop, ud) on the loop thread.
 * 0, or -ENOSPC when AG_LOOP_MAX_QUEUED items wait, -ESHUTDOWN while stopping. */
int ag_loop_submit(ag_loop *l, ag_work_fn work, ag_done_fn done, void *ud);

/* Work a worker has finished whose done() the loop has not run yet: how far the loop
 * lags behind its workers (and what a test waits for before it stalls the loop). */
size_t ag_loop_done_queued(ag_loop *l);

/* Deliver these signals (blocked for every thread) as callbacks. Call before workers
 * start doing anything that may receive them; ag_loop_new already blocks them. */
int ag_loop_on_signal(ag_loop *l, int signo, ag_signal_cb cb, void *ud);

/* After ag_loop_run returned: wait until no work is queued or running on a worker and
 * run the pending completions, so nothing a worker still uses is freed under it. Work
 * a completion submits is waited for too. -ETIMEDOUT after timeout_ms with work still
 * running (a migration, say): the caller must then not free what workers may touch. */
int ag_loop_quiesce(ag_loop *l, uint64_t timeout_ms);

/* Name an io registration or a pending timer in the latency figures (the worst stall
 * says "ha.tick" rather than an address). The string is not copied: pass a literal.
 * A repeating timer keeps its label; a one-shot timer re-armed under a new id needs it
 * again. 0, or -ENOENT when no live registration or pending timer has this id. */
int ag_loop_set_label(ag_loop *l, ag_id id, const char *label);

/* Where the loop stalls, since ag_loop_new and over the last 60-120 s (latency.h):
 * each timer's lateness (its callback's start minus its due time: what delays a lease
 * renewal), every callback's run time by kind (io, timer, done, signal; the loop's own
 * dispatch of the eventfd and signalfd is not a callback, what they dispatch is), how
 * long a finished work item waited for its done callback, and the longest callback
 * with its label, else its symbol or "file+0xoffset" from dladdr (addr2line -f -e FILE
 * 0xoffset names a static function). Measured with two CLOCK_MONOTONIC reads per
 * callback. About 130 KiB: allocate *out. Loop thread only, like every call here. */
typedef struct ag_loop_stats {
    ag_lat_set since_start;
    ag_lat_set recent;
} ag_loop_stats;
void ag_loop_latency(const ag_loop *l, ag_loop_stats *out);

/* Run until ag_loop_stop. Returns 0, or -errno if polling itself failed. */
int  ag_loop_run(ag_loop *l);
void ag_loop_stop(ag_loop *l);

#endif
