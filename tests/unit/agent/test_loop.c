/* Event loop: timers fire in deadline order and can cancel themselves, fds dispatch,
 * worker completions come back on the loop thread, signals arrive as callbacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <zmq.h>

#include "loop.h"

struct rec {
    int order[16];
    int n;
    int ticks;
    ag_id repeating;
    pthread_t loop_thread;
    int done_on_loop;
    int work_ran;
};

static void t_fire(ag_loop *l, ag_id id, void *ud)
{
    (void)l; (void)id;
    struct rec *r = ud;
    r->order[r->n] = 99;   /* cancelled: must never run */
    r->n++;
}

static struct rec *g;

static void t_a(ag_loop *l, ag_id id, void *ud) { (void)l; (void)id; (void)ud; g->order[g->n++] = 1; }
static void t_b(ag_loop *l, ag_id id, void *ud) { (void)l; (void)id; (void)ud; g->order[g->n++] = 2; }
static void t_c(ag_loop *l, ag_id id, void *ud) { (void)id; (void)ud; g->order[g->n++] = 3; ag_loop_stop(l); }

static void t_repeat(ag_loop *l, ag_id id, void *ud)
{
    struct rec *r = ud;
    if (++r->ticks == 3)
        ag_loop_cancel(l, id);   /* cancelling yourself from inside is allowed */
}

static void t_stop(ag_loop *l, ag_id id, void *ud) { (void)id; (void)ud; ag_loop_stop(l); }

static void timers(void **state)
{
    (void)state;
    struct rec r = {0};
    g = &r;
    ag_loop *l = ag_loop_new(1);
    assert_non_null(l);
    ag_loop_timer(l, 30, 0, t_c, NULL);
    ag_loop_timer(l, 10, 0, t_a, NULL);
    ag_id cancelled = ag_loop_timer(l, 15, 0, t_fire, &r);
    ag_loop_timer(l, 20, 0, t_b, NULL);
    ag_loop_cancel(l, cancelled);
    assert_int_equal(ag_loop_run(l), 0);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.order[0], 1);
    assert_int_equal(r.order[1], 2);
    assert_int_equal(r.order[2], 3);

    ag_loop_timer(l, 1, 1, t_repeat, &r);
    ag_loop_timer(l, 60, 0, t_stop, NULL);
    assert_int_equal(ag_loop_run(l), 0);
    assert_int_equal(r.ticks, 3);
    ag_loop_free(l);
}

static void work(void *ud)
{
    struct rec *r = ud;
    __atomic_add_fetch(&r->work_ran, 1, __ATOMIC_SEQ_CST);
}

static void done(ag_loop *l, void *ud)
{
    struct rec *r = ud;
    if (pthread_equal(pthread_self(), r->loop_thread))
        r->done_on_loop++;
    if (r->done_on_loop == 50)
        ag_loop_stop(l);
}

static void workers(void **state)
{
    (void)state;
    struct rec r = {0};
    r.loop_thread = pthread_self();
    ag_loop *l = ag_loop_new(3);
    for (int i = 0; i < 50; i++)
        assert_int_equal(ag_loop_submit(l, work, done, &r), 0);
    ag_loop_timer(l, 20000, 0, t_stop, NULL);   /* safety net, never the expected path */
    assert_int_equal(ag_loop_run(l), 0);
    assert_int_equal(r.work_ran, 50);
    assert_int_equal(r.done_on_loop, 50);
    ag_loop_free(l);
}

static void on_pipe(ag_loop *l, ag_id id, short revents, void *ud)
{
    int *fds = ud;
    assert_true(revents & ZMQ_POLLIN);
    char c;
    assert_int_equal(read(fds[0], &c, 1), 1);
    assert_int_equal(c, 'x');
    ag_loop_remove(l, id);    /* removing yourself inside the callback is allowed */
    ag_loop_stop(l);
}

static void fds(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    ag_loop *l = ag_loop_new(1);
    assert_true(ag_loop_add_fd(l, p[0], ZMQ_POLLIN, on_pipe, p) != 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    ag_loop_timer(l, 20000, 0, t_stop, NULL);
    assert_int_equal(ag_loop_run(l), 0);
    ag_loop_free(l);
    close(p[0]);
    close(p[1]);
}

static int got_signal;
static void on_sig(ag_loop *l, int signo, void *ud)
{
    (void)ud;
    got_signal = signo;
    ag_loop_stop(l);
}

static void signals(void **state)
{
    (void)state;
    ag_loop *l = ag_loop_new(1);
    assert_int_equal(ag_loop_on_signal(l, SIGHUP, on_sig, NULL), 0);
    kill(getpid(), SIGHUP);
    ag_loop_timer(l, 20000, 0, t_stop, NULL);
    assert_int_equal(ag_loop_run(l), 0);
    assert_int_equal(got_signal, SIGHUP);
    ag_loop_free(l);
}

static int slow_done, chained;

static void slow_work(void *ud)
{
    usleep((useconds_t)(intptr_t)ud * 1000);
}

static void slow_fin(ag_loop *l, void *ud)
{
    (void)ud;
    if (slow_done++ == 0)   /* a completion that submits more work is waited for too */
        assert_int_equal(ag_loop_submit(l, slow_work, slow_fin, (void *)(intptr_t)50), 0);
    else
        chained = 1;
}

static void quiesce(void **state)
{
    (void)state;
    ag_loop *l = ag_loop_new(2);
    assert_int_equal(ag_loop_submit(l, slow_work, slow_fin, (void *)(intptr_t)300), 0);
    usleep(20000);
    assert_int_equal(ag_loop_quiesce(l, 50), -ETIMEDOUT);   /* 300 ms of work still running */
    assert_int_equal(ag_loop_quiesce(l, 5000), 0);
    assert_int_equal(slow_done, 2);
    assert_int_equal(chained, 1);
    ag_loop_free(l);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(timers),
        cmocka_unit_test(workers),
        cmocka_unit_test(fds),
        cmocka_unit_test(signals),
        cmocka_unit_test(quiesce),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
