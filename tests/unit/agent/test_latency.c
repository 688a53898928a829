/* Latency histogram and the loop's latency figures.
 *
 * The histogram: every bucket holds exactly the values the index sends to it and is no
 * wider than 1/64 of them; quantiles on known inputs are the exact bucket tops; against
 * a sorted copy of pseudo-random data a quantile is never below the true one and at
 * most 1/64 above; merge is bucket addition and stays exact at counts where count × ppm
 * overflows 64 bits. The recorder is driven with made-up times, so the rolling window's
 * rotation is checked without waiting minutes. The loop is then checked on real time
 * with lower bounds only (a sleep lasts at least what was asked): a slow labelled timer
 * is the worst stall and makes the next timer late, a completion waits while the loop
 * is busy, io and signal callbacks are timed, and no timer fires before it is due. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "latency.h"
#include "loop.h"

/* ---- histogram ------------------------------------------------------------------------ */

static void buckets(void **state)
{
    (void)state;
    assert_int_equal(AG_HIST_BUCKETS, 1344);
    for (size_t i = 0; i < AG_HIST_BUCKETS; i++) {
        uint64_t lo = ag_hist_lowest(i), hi = ag_hist_highest(i);
        assert_true(lo <= hi);
        assert_int_equal(ag_hist_index(lo), i);
        assert_int_equal(ag_hist_index(hi), i);
        if (i + 1 < AG_HIST_BUCKETS)
            assert_int_equal(ag_hist_lowest(i + 1), hi + 1);   /* no gap, no overlap */
        if (i < 128)
            assert_true(lo == i && hi == i);
        else if (i + 1 < AG_HIST_BUCKETS)
            assert_true((hi - lo + 1) * 64 <= lo);             /* width ≤ 1/64 */
    }
    for (uint64_t v = 0; v < (1u << 20); v++) {
        size_t i = ag_hist_index(v);
        assert_true(ag_hist_lowest(i) <= v && v <= ag_hist_highest(i));
    }
    assert_int_equal(ag_hist_index(127), 127);
    assert_int_equal(ag_hist_index(128), 128);
    assert_int_equal(ag_hist_index(129), 128);
    assert_int_equal(ag_hist_index(130), 129);
    assert_int_equal(ag_hist_index((1u << 26) - 1), AG_HIST_BUCKETS - 1);
    assert_int_equal(ag_hist_lowest(AG_HIST_BUCKETS - 1), 127ull << 19);
    assert_int_equal(ag_hist_index(1u << 26), AG_HIST_BUCKETS - 1);
    assert_int_equal(ag_hist_index(UINT64_MAX), AG_HIST_BUCKETS - 1);
    assert_true(ag_hist_highest(AG_HIST_BUCKETS - 1) == UINT64_MAX);
}

static ag_hist *new_hist(void)
{
    ag_hist *h = calloc(1, sizeof *h);
    assert_non_null(h);
    return h;
}

static void fill(ag_hist *h, uint64_t from, uint64_t to)
{
    for (uint64_t v = from; v <= to; v++)
        ag_hist_record(h, v);
}

static void quantiles_known(void **state)
{
    (void)state;
    ag_hist *h = new_hist();
    assert_int_equal(ag_hist_quantile(h, 500000), 0);   /* empty */
    assert_int_equal(ag_hist_count(h), 0);
    assert_int_equal(ag_hist_max(h), 0);

    fill(h, 1, 1000);
    assert_int_equal(ag_hist_count(h), 1000);
    assert_int_equal(ag_hist_max(h), 1000);
    assert_int_equal(h->sum_us, 500500);
    /* rank 500 → 500, bucket [500, 503]; rank 990 → [984, 991]; rank 999 → [992, 999];
     * rank 1000 → [1000, 1007], capped at the maximum */
    assert_int_equal(ag_hist_quantile(h, 500000), 503);
    assert_int_equal(ag_hist_quantile(h, 990000), 991);
    assert_int_equal(ag_hist_quantile(h, 999000), 999);
    assert_int_equal(ag_hist_quantile(h, 1000000), 1000);
    assert_int_equal(ag_hist_quantile(h, 2000000), 1000);   /* read as 10^6 */
    assert_int_equal(ag_hist_quantile(h, 0), 1);            /* rank at least 1: the minimum */

    ag_hist_reset(h);
    ag_hist *zero = new_hist();
    assert_memory_equal(h, zero, sizeof *h);
    ag_hist_record(h, 1);
    ag_hist_record(h, 2);
    ag_hist_record(h, 3);
    assert_int_equal(ag_hist_quantile(h, 500000), 2);   /* ceil(1.5) = rank 2 */
    assert_int_equal(ag_hist_quantile(h, 990000), 3);   /* ceil(2.97) = rank 3 */
    assert_int_equal(ag_hist_quantile(h, 333333), 1);   /* ceil(0.999999) = rank 1 */
    assert_int_equal(ag_hist_quantile(h, 333334), 2);   /* ceil(1.000002) = rank 2 */

    /* past the resolved range: counted in the top bucket, reported as the maximum */
    ag_hist_reset(h);
    ag_hist_record(h, 1);
    ag_hist_record(h, 100000000);   /* 100 s */
    assert_int_equal(ag_hist_quantile(h, 500000), 1);
    assert_int_equal(ag_hist_quantile(h, 990000), 100000000);
    assert_int_equal(ag_hist_max(h), 100000000);
    ag_hist_reset(h);
    ag_hist_record(h, (1u << 26) - 1);
    assert_int_equal(ag_hist_quantile(h, 500000), (1u << 26) - 1);
    free(zero);
    free(h);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void quantiles_bound(void **state)
{
    (void)state;
    enum { N = 20000 };
    uint64_t *v = malloc(N * sizeof *v);
    assert_non_null(v);
    ag_hist *h = new_hist();
    uint64_t x = 88172645463325252ull;   /* xorshift64, fixed seed */
    for (int i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* spread over every magnitude: a random bit length, then random bits */
        unsigned bits = (unsigned)(x % 27);
        v[i] = bits ? (x >> 20) & ((1ull << bits) - 1) : 0;
        ag_hist_record(h, v[i]);
    }
    qsort(v, N, sizeof *v, cmp_u64);
    static const uint32_t ppms[] = {1, 100000, 500000, 900000, 990000, 999000, 999900, 1000000};
    for (size_t k = 0; k < sizeof ppms / sizeof ppms[0]; k++) {
        uint64_t rank = ((uint64_t)N * ppms[k] + 999999) / 1000000;
        uint64_t truth = v[(rank ? rank : 1) - 1];
        uint64_t got = ag_hist_quantile(h, ppms[k]);
        assert_true(got >= truth);
        assert_true(got <= truth + truth / 64);
    }
    assert_int_equal(ag_hist_quantile(h, 1000000), v[N - 1]);
    free(h);
    free(v);
}

static void merge(void **state)
{
    (void)state;
    ag_hist *a = new_hist(), *b = new_hist(), *c = new_hist(), *empty = new_hist();
    fill(a, 1, 500);
    fill(b, 501, 1000);
    fill(c, 1, 1000);
    ag_hist_merge(a, b);
    assert_memory_equal(a, c, sizeof *a);
    ag_hist_merge(a, empty);
    assert_memory_equal(a, c, sizeof *a);
    ag_hist_merge(empty, c);
    assert_memory_equal(empty, c, sizeof *c);

    /* doubling 40 times: count = 1000 · 2^40, where count × 999000 overflows 64 bits */
    for (int i = 0; i < 40; i++)
        ag_hist_merge(a, a);
    assert_true(ag_hist_count(a) == 1000ull << 40);
    assert_true(a->sum_us == 500500ull << 40);
    assert_int_equal(ag_hist_max(a), 1000);
    assert_int_equal(ag_hist_quantile(a, 500000), 503);
    assert_int_equal(ag_hist_quantile(a, 990000), 991);
    assert_int_equal(ag_hist_quantile(a, 999000), 999);
    free(a);
    free(b);
    free(c);
    free(empty);
}

/* ---- recorder on made-up time ---------------------------------------------------------- */

static void marker_fn(void) {}

#define S (1000ull * 1000)   /* one second in µs */

static void recorder(void **state)
{
    (void)state;
    ag_lat *r = malloc(sizeof *r);
    ag_lat *copy = malloc(sizeof *copy);
    ag_lat_set *all = malloc(sizeof *all), *recent = malloc(sizeof *recent);
    assert_true(r && copy && all && recent);
    const uint64_t T = 1000 * S;
    ag_lat_init(r, T);

    ag_lat_run(r, AG_LAT_TIMER, T, T + 5000, "a", NULL);
    ag_lat_run(r, AG_LAT_IO, T + 10, T + 20010, NULL, marker_fn);
    ag_lat_run(r, AG_LAT_DONE, T + 30000, T + 30000 + 20000, "tie", NULL);   /* a tie keeps the first */
    ag_lat_late(r, T, T + 300);
    ag_lat_late(r, T + 500, T + 400);       /* early: 0 */
    ag_lat_done_wait(r, T, T + 70);
    ag_lat_read(r, T + S, all, recent);
    assert_true(all->span_us == S);
    assert_true(recent->span_us == S);
    assert_int_equal(ag_hist_count(&all->run[AG_LAT_TIMER]), 1);
    assert_int_equal(ag_hist_max(&all->run[AG_LAT_TIMER]), 5000);
    assert_int_equal(ag_hist_count(&all->run[AG_LAT_DONE]), 1);
    assert_int_equal(ag_hist_count(&all->lateness), 2);
    assert_int_equal(ag_hist_max(&all->lateness), 300);
    assert_int_equal(ag_hist_quantile(&all->lateness, 500000), 0);
    assert_int_equal(ag_hist_max(&all->done_wait), 70);
    assert_int_equal(all->worst.run_us, 20000);
    assert_int_equal(all->worst.kind, AG_LAT_IO);
    assert_true(all->worst.fn == marker_fn);
    assert_string_equal(all->worst.name, "");          /* no label: the loop names fn */
    assert_true(all->worst.end_us == T + 20010);
    assert_memory_equal(&all->run, &recent->run, sizeof all->run);
    assert_int_equal(recent->worst.run_us, 20000);

    /* a minute on: the first slice becomes the older one, still in "recent" */
    ag_lat_advance(r, T + 61 * S);
    ag_lat_run(r, AG_LAT_TIMER, T + 61 * S, T + 61 * S + 1000, "b", NULL);
    ag_lat_read(r, T + 62 * S, all, recent);
    assert_true(recent->span_us == 62 * S);
    assert_int_equal(ag_hist_count(&recent->run[AG_LAT_TIMER]), 2);
    assert_int_equal(recent->worst.run_us, 20000);

    /* another minute: the first slice is dropped; since_start keeps everything */
    ag_lat_advance(r, T + 90 * S);          /* not due: the current slice is 29 s old */
    ag_lat_read(r, T + 90 * S, NULL, recent);
    assert_int_equal(recent->worst.run_us, 20000);
    ag_lat_advance(r, T + 122 * S);
    ag_lat_read(r, T + 122 * S, all, recent);
    assert_true(recent->span_us == 61 * S);
    assert_int_equal(ag_hist_count(&recent->run[AG_LAT_IO]), 0);
    assert_int_equal(ag_hist_count(&recent->run[AG_LAT_TIMER]), 1);
    assert_int_equal(recent->worst.run_us, 1000);
    assert_string_equal(recent->worst.name, "b");
    assert_int_equal(ag_hist_count(&all->run[AG_LAT_IO]), 1);
    assert_int_equal(all->worst.run_us, 20000);
    assert_true(all->span_us == 122 * S);

    /* reading as of a later time is what advancing would show, and changes nothing */
    ag_lat_run(r, AG_LAT_SIGNAL, T + 130 * S, T + 130 * S + 7, NULL, NULL);
    memcpy(copy, r, sizeof *r);
    ag_lat_read(r, T + 183 * S, NULL, recent);   /* current slice 61 s old: "b" would go */
    assert_int_equal(ag_hist_count(&recent->run[AG_LAT_SIGNAL]), 1);
    assert_int_equal(ag_hist_count(&recent->run[AG_LAT_TIMER]), 0);
    assert_true(recent->span_us == 61 * S);
    assert_int_equal(recent->worst.run_us, 7);
    ag_lat_read(r, T + 250 * S, NULL, recent);   /* both slices too old */
    assert_int_equal(ag_hist_count(&recent->run[AG_LAT_SIGNAL]), 0);
    assert_true(recent->span_us == 0);
    assert_int_equal(recent->worst.run_us, 0);
    assert_memory_equal(copy, r, sizeof *r);

    /* idle for more than two slices: both cleared at once */
    ag_lat_advance(r, T + 250 * S);
    ag_lat_advance(r, T + 100 * S);   /* backwards: ignored */
    ag_lat_run(r, AG_LAT_IO, T + 251 * S, T + 250 * S, NULL, NULL);   /* backwards: 0 µs */
    ag_lat_read(r, T + 252 * S, all, recent);
    assert_true(recent->span_us == 2 * S);
    assert_int_equal(ag_hist_count(&recent->run[AG_LAT_IO]), 1);
    assert_int_equal(ag_hist_max(&recent->run[AG_LAT_IO]), 0);
    assert_int_equal(ag_hist_count(&recent->run[AG_LAT_SIGNAL]), 0);
    assert_int_equal(ag_hist_count(&all->run[AG_LAT_SIGNAL]), 1);
    assert_int_equal(ag_hist_count(&all->run[AG_LAT_TIMER]), 2);
    assert_int_equal(ag_hist_count(&all->run[AG_LAT_IO]), 2);
    assert_string_equal(ag_lat_kind_name(AG_LAT_DONE), "done");
    free(r);
    free(copy);
    free(all);
    free(recent);
}

/* ---- the loop, on real time ------------------------------------------------------------ */

static ag_loop_stats *stats_of(ag_loop *l)
{
    ag_loop_stats *s = malloc(sizeof *s);
    assert_non_null(s);
    ag_loop_latency(l, s);
    return s;
}

static void t_slow(ag_loop *l, ag_id id, void *ud) { (void)l; (void)id; (void)ud; usleep(30000); }
static void t_nothing(ag_loop *l, ag_id id, void *ud) { (void)l; (void)id; (void)ud; }
static void t_stop(ag_loop *l, ag_id id, void *ud) { (void)id; (void)ud; ag_loop_stop(l); }

static void loop_timers(void **state)
{
    (void)state;
    ag_loop *l = ag_loop_new(1);
    assert_non_null(l);
    ag_id slow = ag_loop_timer(l, 1, 0, t_slow, NULL);
    assert_int_equal(ag_loop_set_label(l, slow, "test.slow"), 0);
    assert_int_equal(ag_loop_set_label(l, slow + 1000, "nobody"), -ENOENT);
    /* due while t_slow sleeps */
    assert_int_equal(ag_loop_set_label(l, ag_loop_timer(l, 2, 0, t_nothing, NULL), "test.nothing"), 0);
    assert_int_equal(ag_loop_set_label(l, ag_loop_timer(l, 40, 0, t_stop, NULL), "test.stop"), 0);
    assert_int_equal(ag_loop_run(l), 0);
    ag_loop_stats *s = stats_of(l);
    const ag_lat_set *a = &s->since_start;
    assert_int_equal(ag_hist_count(&a->run[AG_LAT_TIMER]), 3);
    assert_int_equal(ag_hist_count(&a->lateness), 3);
    assert_int_equal(ag_hist_count(&a->run[AG_LAT_IO]), 0);
    assert_true(ag_hist_max(&a->run[AG_LAT_TIMER]) >= 30000);
    /* t_nothing was due 2 ms in; t_slow started at 1 ms or later and slept 30 ms */
    assert_true(ag_hist_max(&a->lateness) >= 29000);
    assert_true(ag_hist_max(&a->lateness) < 10 * 1000 * 1000);    /* deadline and clock agree */
    assert_true(a->worst.run_us >= 30000);
    assert_int_equal(a->worst.kind, AG_LAT_TIMER);
    /* the worst is named by its label; which callback it is depends on the scheduler (a
     * busy machine may preempt t_nothing longer than t_slow sleeps): the recorder's
     * choice of the worst is tested with exact stamps in `recorder` */
    assert_true(strncmp(a->worst.name, "test.", 5) == 0);
    assert_true(strncmp(s->recent.worst.name, "test.", 5) == 0);
    assert_int_equal(ag_hist_count(&s->recent.lateness), 3);
    free(s);
    ag_loop_free(l);
}

static int work_ran;
static void quick_work(void *ud) { (void)ud; __atomic_store_n(&work_ran, 1, __ATOMIC_SEQ_CST); }
static void d_stop(ag_loop *l, void *ud) { (void)ud; ag_loop_stop(l); }

/* Submits, waits (bounded) until the worker has queued the completion, then keeps the
 * loop busy 30 ms more: the completion has waited at least that long, however the
 * scheduler treats the worker (its stamp is taken before it queues). */
static void t_submit_then_busy(ag_loop *l, ag_id id, void *ud)
{
    (void)id; (void)ud;
    assert_int_equal(ag_loop_submit(l, quick_work, d_stop, NULL), 0);
    for (int i = 0; i < 20000 && ag_loop_done_queued(l) == 0; i++)
        usleep(500);
    assert_int_equal(ag_loop_done_queued(l), 1);
    usleep(30000);
}

static void loop_done_wait(void **state)
{
    (void)state;
    ag_loop *l = ag_loop_new(1);
    assert_non_null(l);
    ag_loop_timer(l, 0, 0, t_submit_then_busy, NULL);
    ag_loop_timer(l, 20000, 0, t_stop, NULL);   /* safety net, never the expected path */
    assert_int_equal(ag_loop_run(l), 0);
    assert_int_equal(work_ran, 1);
    ag_loop_stats *s = stats_of(l);
    const ag_lat_set *a = &s->since_start;
    assert_int_equal(ag_hist_count(&a->run[AG_LAT_DONE]), 1);
    assert_int_equal(ag_hist_count(&a->done_wait), 1);
    assert_true(ag_hist_max(&a->done_wait) >= 30000);
    assert_true(ag_hist_max(&a->done_wait) < 10 * 1000 * 1000);   /* a stamp, not a clock reading */
    /* the busy timer is the worst stall (or d_stop, if preempted longer); without a
     * label either is named by dladdr */
    assert_true(a->worst.kind == AG_LAT_TIMER || a->worst.kind == AG_LAT_DONE);
    assert_true(a->worst.run_us >= 30000);
    assert_true(a->worst.name[0] != '\0');
    assert_non_null(strstr(a->worst.name, "unit_latency"));   /* file+0xoffset */
    free(s);
    ag_loop_free(l);
}

static void on_readable(ag_loop *l, ag_id id, short revents, void *ud)
{
    (void)revents;
    int fd = *(int *)ud;
    char c;
    assert_int_equal(read(fd, &c, 1), 1);
    usleep(15000);
    ag_loop_remove(l, id);
    ag_loop_stop(l);
}

static int got_signal;
static void on_hup(ag_loop *l, int signo, void *ud)
{
    (void)ud;
    got_signal = signo;
    usleep(5000);
    ag_loop_stop(l);
}

static void loop_io_signal(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    ag_loop *l = ag_loop_new(1);
    assert_non_null(l);
    ag_id io = ag_loop_add_fd(l, p[0], ZMQ_POLLIN, on_readable, &p[0]);
    assert_int_equal(ag_loop_set_label(l, io, "test.pipe"), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    ag_loop_timer(l, 20000, 0, t_stop, NULL);
    assert_int_equal(ag_loop_run(l), 0);

    assert_int_equal(ag_loop_on_signal(l, SIGHUP, on_hup, NULL), 0);
    kill(getpid(), SIGHUP);
    assert_int_equal(ag_loop_run(l), 0);
    assert_int_equal(got_signal, SIGHUP);

    ag_loop_stats *s = stats_of(l);
    const ag_lat_set *a = &s->since_start;
    assert_int_equal(ag_hist_count(&a->run[AG_LAT_IO]), 1);   /* not the signalfd itself */
    assert_true(ag_hist_max(&a->run[AG_LAT_IO]) >= 15000);
    assert_int_equal(ag_hist_count(&a->run[AG_LAT_SIGNAL]), 1);
    assert_true(ag_hist_max(&a->run[AG_LAT_SIGNAL]) >= 5000);
    assert_int_equal(ag_hist_count(&a->run[AG_LAT_TIMER]), 0);
    /* the pipe's callback runs 3x longer than the signal's; a busy machine may still
     * preempt the signal's longer: either is the worst, named */
    assert_true(a->worst.kind == AG_LAT_IO || a->worst.kind == AG_LAT_SIGNAL);
    if (a->worst.kind == AG_LAT_IO)
        assert_string_equal(a->worst.name, "test.pipe");
    free(s);
    ag_loop_free(l);
    close(p[0]);
    close(p[1]);
}

/* A timer never runs before it is due, to the microsecond (the poll timeout is whole
 * milliseconds, rounded up; with the deadline truncated to a millisecond it could run
 * up to 1 ms early). Each run re-arms the next one-shot 3 ms timer; a 1 ms repeating
 * timer keeps waking the loop, so the poll's rounding up cannot hide an early deadline. */
enum { EARLY_RUNS = 20 };
static uint64_t armed_us[EARLY_RUNS], ran_us[EARLY_RUNS];
static int nran;
static void t_record(ag_loop *l, ag_id id, void *ud)
{
    (void)id; (void)ud;
    ran_us[nran++] = ag_now_us();
    if (nran == EARLY_RUNS) {
        ag_loop_stop(l);
        return;
    }
    armed_us[nran] = ag_now_us();
    ag_loop_timer(l, 3, 0, t_record, NULL);
}

static void loop_never_early(void **state)
{
    (void)state;
    ag_loop *l = ag_loop_new(1);
    assert_non_null(l);
    ag_loop_timer(l, 1, 1, t_nothing, NULL);
    armed_us[0] = ag_now_us();
    ag_loop_timer(l, 3, 0, t_record, NULL);
    ag_loop_timer(l, 20000, 0, t_stop, NULL);
    assert_int_equal(ag_loop_run(l), 0);
    assert_int_equal(nran, EARLY_RUNS);
    for (int i = 0; i < EARLY_RUNS; i++)
        assert_true(ran_us[i] >= armed_us[i] + 3000);
    ag_loop_stats *s = stats_of(l);
    assert_true(ag_hist_count(&s->since_start.lateness) > EARLY_RUNS);   /* and t_nothing */
    free(s);
    ag_loop_free(l);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(buckets),
        cmocka_unit_test(quantiles_known),
        cmocka_unit_test(quantiles_bound),
        cmocka_unit_test(merge),
        cmocka_unit_test(recorder),
        cmocka_unit_test(loop_timers),
        cmocka_unit_test(loop_done_wait),
        cmocka_unit_test(loop_io_signal),
        cmocka_unit_test(loop_never_early),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
