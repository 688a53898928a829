/* loop.c — zmq_poll-based loop; see loop.h for the contract.
 *
 * Design: zmq_poll is the one blocking point. Plain fds (the control socket, signalfd,
 * the workers' eventfd) sit in the same poll set as zmq sockets, so nothing needs a
 * second thread to watch it. Timers live in a binary min-heap keyed by deadline; the
 * poll timeout is the time to the earliest one. Worker results come back through a
 * mutex-protected list plus an eventfd that makes the poll return.
 *
 * Removal during dispatch is safe: removed entries are only marked dead and compacted
 * after the dispatch pass, so the pollitem array is never edited under our feet.
 *
 * Latency: every callback is bracketed by two CLOCK_MONOTONIC reads (a vDSO call, tens
 * of nanoseconds) and recorded in latency.c's histograms: its run time by kind, for a
 * timer also its lateness, for a completion also how long it waited after the worker
 * finished. Timer deadlines are kept in microseconds so lateness is measured against
 * the time asked for, not against a millisecond boundary; zmq_poll's timeout is whole
 * milliseconds, rounded up so a timer never fires early, which puts up to 1 ms of
 * lateness in every timer that the loop slept for. The loop's own eventfd and signalfd
 * handlers are not timed as one callback: what they dispatch is, one by one.
 */
#include "loop.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

struct io {
    ag_id id;
    void *zsock;
    int fd;
    short events;
    ag_io_cb cb;
    void *ud;
    const char *label;
    bool dead;
    bool internal;   /* the loop's eventfd or signalfd: its dispatches are timed instead */
};

struct timer {
    ag_id id;
    uint64_t deadline_us, repeat_us;
    ag_timer_cb cb;
    void *ud;
    const char *label;
};

struct work {
    ag_work_fn work;
    ag_done_fn done;
    void *ud;
    uint64_t finished_us;   /* set by the worker, read on the loop after the mutex */
    struct work *next;
};

struct sig {
    int signo;
    ag_signal_cb cb;
    void *ud;
};

struct ag_loop {
    ag_id next_id;
    bool stop;
    struct io *io;
    size_t nio, capio;
    bool io_dirty;
    zmq_pollitem_t *items;
    size_t capitems;
    struct timer **heap;
    size_t nheap, capheap;
    /* workers */
    pthread_t *threads;
    int nthreads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct work *q_head, *q_tail;
    size_t q_len;
    size_t active;   /* items a worker is running right now */
    struct work *done_head, *done_tail;
    bool shutting_down;
    int efd;
    /* signals */
    int sfd;
    struct sig sigs[8];
    int nsigs;
    /* latency figures, written on the loop thread only */
    ag_lat lat;
};

uint64_t ag_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t ag_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t ag_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- io registrations -------------------------------------------------------------- */

static ag_id add_io(ag_loop *l, void *zsock, int fd, short events, ag_io_cb cb, void *ud)
{
    if (l->nio == l->capio) {
        if (l->capio >= AG_LOOP_MAX_IO)
            return 0;
        size_t cap = l->capio ? l->capio * 2 : 16;
        struct io *v = realloc(l->io, cap * sizeof *v);
        if (!v)
            return 0;
        l->io = v;
        l->capio = cap;
    }
    struct io *e = &l->io[l->nio++];
    *e = (struct io){.id = ++l->next_id, .zsock = zsock, .fd = fd, .events = events,
                     .cb = cb, .ud = ud};
    l->io_dirty = true;
    return e->id;
}

ag_id ag_loop_add_zsock(ag_loop *l, void *zsock, short events, ag_io_cb cb, void *ud)
{
    return add_io(l, zsock, -1, events, cb, ud);
}

ag_id ag_loop_add_fd(ag_loop *l, int fd, short events, ag_io_cb cb, void *ud)
{
    return add_io(l, NULL, fd, events, cb, ud);
}

static struct io *find_io(ag_loop *l, ag_id id)
{
    for (size_t i = 0; i < l->nio; i++)
        if (l->io[i].id == id && !l->io[i].dead)
            return &l->io[i];
    return NULL;
}

int ag_loop_set_events(ag_loop *l, ag_id id, short events)
{
    struct io *e = find_io(l, id);
    if (!e)
        return -ENOENT;
    e->events = events;
    l->io_dirty = true;
    return 0;
}

void ag_loop_remove(ag_loop *l, ag_id id)
{
    struct io *e = find_io(l, id);
    if (e) {
        e->dead = true;
        l->io_dirty = true;
    }
}

static void compact_io(ag_loop *l)
{
    size_t j = 0;
    for (size_t i = 0; i < l->nio; i++)
        if (!l->io[i].dead)
            l->io[j++] = l->io[i];
    l->nio = j;
}

/* ---- timers: binary min-heap on deadline (ties by id: FIFO for equal deadlines) ------ */

static bool before(const struct timer *a, const struct timer *b)
{
    return a->deadline_us < b->deadline_us ||
           (a->deadline_us == b->deadline_us && a->id < b->id);
}

static void heap_up(ag_loop *l, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(l->heap[i], l->heap[p]))
            break;
        struct timer *t = l->heap[i];
        l->heap[i] = l->heap[p];
        l->heap[p] = t;
        i = p;
    }
}

static void heap_down(ag_loop *l, size_t i)
{
    for (;;) {
        size_t a = 2 * i + 1, b = a + 1, m = i;
        if (a < l->nheap && before(l->heap[a], l->heap[m]))
            m = a;
        if (b < l->nheap && before(l->heap[b], l->heap[m]))
            m = b;
        if (m == i)
            return;
        struct timer *t = l->heap[i];
        l->heap[i] = l->heap[m];
        l->heap[m] = t;
        i = m;
    }
}

static int heap_push(ag_loop *l, struct timer *t)
{
    if (l->nheap == l->capheap) {
        if (l->capheap >= AG_LOOP_MAX_TIMERS)
            return -ENOSPC;
        size_t cap = l->capheap ? l->capheap * 2 : 32;
        struct timer **v = realloc(l->heap, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        l->heap = v;
        l->capheap = cap;
    }
    l->heap[l->nheap++] = t;
    heap_up(l, l->nheap - 1);
    return 0;
}

static struct timer *heap_remove_at(ag_loop *l, size_t i)
{
    struct timer *t = l->heap[i];
    l->heap[i] = l->heap[--l->nheap];
    if (i < l->nheap) {
        heap_down(l, i);
        heap_up(l, i);
    }
    return t;
}

ag_id ag_loop_timer(ag_loop *l, uint64_t delay_ms, uint64_t repeat_ms, ag_timer_cb cb, void *ud)
{
    struct timer *t = malloc(sizeof *t);
    if (!t)
        return 0;
    *t = (struct timer){.id = ++l->next_id, .deadline_us = ag_now_us() + delay_ms * 1000,
                        .repeat_us = repeat_ms * 1000, .cb = cb, .ud = ud};
    if (heap_push(l, t) != 0) {
        free(t);
        return 0;
    }
    return t->id;
}

/* O(n) in pending timers: the agent keeps tens of them, not thousands. */
void ag_loop_cancel(ag_loop *l, ag_id id)
{
    for (size_t i = 0; i < l->nheap; i++) {
        if (l->heap[i]->id == id) {
            free(heap_remove_at(l, i));
            return;
        }
    }
}

int ag_loop_set_label(ag_loop *l, ag_id id, const char *label)
{
    struct io *e = find_io(l, id);
    if (e) {
        e->label = label;
        return 0;
    }
    for (size_t i = 0; i < l->nheap; i++) {
        if (l->heap[i]->id == id) {
            l->heap[i]->label = label;
            return 0;
        }
    }
    return -ENOENT;
}

static void run_timers(ag_loop *l)
{
    uint64_t now = ag_now_us();
    /* fire only what was due at entry, so a 0 ms repeating timer cannot starve I/O */
    while (l->nheap > 0 && l->heap[0]->deadline_us <= now && !l->stop) {
        struct timer *t = heap_remove_at(l, 0);
        ag_id id = t->id;
        ag_timer_cb cb = t->cb;
        void *ud = t->ud;
        const char *label = t->label;
        uint64_t due = t->deadline_us;
        t->deadline_us = now + t->repeat_us;
        /* re-arm before the callback so it may cancel itself; a one-shot timer, or a
         * repeat that cannot be re-armed (heap full), is gone before the call */
        if (!t->repeat_us || heap_push(l, t) != 0)
            free(t);
        uint64_t t0 = ag_now_us();
        ag_lat_late(&l->lat, due, t0);
        cb(l, id, ud);
        ag_lat_run(&l->lat, AG_LAT_TIMER, t0, ag_now_us(), label, (void (*)(void))cb);
    }
}

/* ---- workers ------------------------------------------------------------------------ */

static void *worker_main(void *arg)
{
    ag_loop *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->q_head && !l->shutting_down)
            pthread_cond_wait(&l->cv, &l->mu);
        if (!l->q_head)
            break;
        struct work *w = l->q_head;
        l->q_head = w->next;
        if (!l->q_head)
            l->q_tail = NULL;
        l->q_len--;
        l->active++;
        pthread_mutex_unlock(&l->mu);
        w->work(w->ud);
        w->finished_us = ag_now_us();
        pthread_mutex_lock(&l->mu);
        l->active--;
        w->next = NULL;
        if (l->done_tail)
            l->done_tail->next = w;
        else
            l->done_head = w;
        l->done_tail = w;
        uint64_t one = 1;
        ssize_t wr = write(l->efd, &one, sizeof one);
        (void)wr;   /* eventfd write fails only on counter overflow: still woken */
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

int ag_loop_submit(ag_loop *l, ag_work_fn work, ag_done_fn done, void *ud)
{
    struct work *w = malloc(sizeof *w);
    if (!w)
        return -ENOMEM;
    *w = (struct work){.work = work, .done = done, .ud = ud};
    pthread_mutex_lock(&l->mu);
    int rc = 0;
    if (l->shutting_down)
        rc = -ESHUTDOWN;
    else if (l->q_len >= AG_LOOP_MAX_QUEUED)
        rc = -ENOSPC;
    if (rc) {
        pthread_mutex_unlock(&l->mu);
        free(w);
        return rc;
    }
    if (l->q_tail)
        l->q_tail->next = w;
    else
        l->q_head = w;
    l->q_tail = w;
    l->q_len++;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return 0;
}

size_t ag_loop_done_queued(ag_loop *l)
{
    size_t n = 0;
    pthread_mutex_lock(&l->mu);
    for (const struct work *w = l->done_head; w; w = w->next)
        n++;
    pthread_mutex_unlock(&l->mu);
    return n;
}

static void on_efd(ag_loop *l, ag_id id, short revents, void *ud)
{
    (void)id; (void)revents; (void)ud;
    uint64_t n;
    ssize_t r = read(l->efd, &n, sizeof n);
    (void)r;
    pthread_mutex_lock(&l->mu);
    struct work *w = l->done_head;
    l->done_head = l->done_tail = NULL;
    pthread_mutex_unlock(&l->mu);
    while (w) {
        struct work *next = w->next;
        if (w->done) {
            uint64_t t0 = ag_now_us();
            ag_lat_done_wait(&l->lat, w->finished_us, t0);
            w->done(l, w->ud);
            ag_lat_run(&l->lat, AG_LAT_DONE, t0, ag_now_us(), NULL, (void (*)(void))w->done);
        }
        free(w);
        w = next;
    }
}

/* ---- signals ------------------------------------------------------------------------ */

static void on_signalfd(ag_loop *l, ag_id id, short revents, void *ud)
{
    (void)id; (void)revents; (void)ud;
    struct signalfd_siginfo si;
    while (read(l->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        for (int i = 0; i < l->nsigs; i++) {
            if (l->sigs[i].signo != (int)si.ssi_signo)
                continue;
            ag_signal_cb cb = l->sigs[i].cb;
            uint64_t t0 = ag_now_us();
            cb(l, (int)si.ssi_signo, l->sigs[i].ud);
            ag_lat_run(&l->lat, AG_LAT_SIGNAL, t0, ag_now_us(), NULL, (void (*)(void))cb);
        }
    }
}

int ag_loop_on_signal(ag_loop *l, int signo, ag_signal_cb cb, void *ud)
{
    if (l->nsigs == (int)(sizeof l->sigs / sizeof l->sigs[0]))
        return -ENOSPC;
    l->sigs[l->nsigs++] = (struct sig){signo, cb, ud};
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < l->nsigs; i++)
        sigaddset(&set, l->sigs[i].signo);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    return signalfd(l->sfd, &set, SFD_NONBLOCK | SFD_CLOEXEC) < 0 ? -errno : 0;
}

/* ---- life cycle ----------------------------------------------------------------------- */

ag_loop *ag_loop_new(int nworkers)
{
    ag_loop *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    sigset_t set;
    sigemptyset(&set);
    /* workers inherit this mask: these signals reach only the loop's signalfd */
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);   /* a vanished CLI client must not kill the agent */
    sigemptyset(&set);
    l->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (l->efd < 0 || l->sfd < 0)
        goto err_after_alloc;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    ag_lat_init(&l->lat, ag_now_us());
    if (!add_io(l, NULL, l->efd, ZMQ_POLLIN, on_efd, NULL) ||
        !add_io(l, NULL, l->sfd, ZMQ_POLLIN, on_signalfd, NULL))
        goto err_after_alloc;
    l->io[0].internal = l->io[1].internal = true;
    l->threads = calloc((size_t)(nworkers > 0 ? nworkers : 1), sizeof *l->threads);
    if (!l->threads)
        goto err_after_alloc;
    for (int i = 0; i < nworkers; i++) {
        if (pthread_create(&l->threads[i], NULL, worker_main, l) != 0)
            break;
        l->nthreads++;
    }
    if (l->nthreads == 0 && nworkers > 0)
        goto err_after_alloc;
    return l;

err_after_alloc:
    if (l->efd >= 0)
        close(l->efd);
    if (l->sfd >= 0)
        close(l->sfd);
    free(l->io);
    free(l->threads);
    free(l);
    return NULL;
}

void ag_loop_free(ag_loop *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->shutting_down = true;
    /* queued but unstarted work is dropped: its done callback never runs (loop.h) */
    struct work *w = l->q_head;
    l->q_head = l->q_tail = NULL;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < l->nthreads; i++)
        pthread_join(l->threads[i], NULL);
    while (w) {
        struct work *n = w->next;
        free(w);
        w = n;
    }
    on_efd(l, 0, 0, NULL);   /* finished items: run their completions so nothing leaks */
    for (size_t i = 0; i < l->nheap; i++)
        free(l->heap[i]);
    free(l->heap);
    free(l->io);
    free(l->items);
    free(l->threads);
    close(l->efd);
    close(l->sfd);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}

int ag_loop_quiesce(ag_loop *l, uint64_t timeout_ms)
{
    uint64_t deadline = ag_now_ms() + timeout_ms;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        bool idle = !l->q_head && l->active == 0;
        bool done_pending = l->done_head != NULL;
        pthread_mutex_unlock(&l->mu);
        if (done_pending) {
            on_efd(l, 0, 0, NULL);   /* completions may submit more: loop again */
            continue;
        }
        if (idle)
            return 0;
        if (ag_now_ms() >= deadline)
            return -ETIMEDOUT;
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
}

void ag_loop_stop(ag_loop *l)
{
    l->stop = true;
}

int ag_loop_run(ag_loop *l)
{
    l->stop = false;
    while (!l->stop) {
        if (l->io_dirty) {
            compact_io(l);
            if (l->capitems < l->nio) {
                zmq_pollitem_t *v = realloc(l->items, l->nio * sizeof *v);
                if (!v)
                    return -ENOMEM;
                l->items = v;
                l->capitems = l->nio;
            }
            l->io_dirty = false;
        }
        size_t n = l->nio;
        for (size_t i = 0; i < n; i++)
            l->items[i] = (zmq_pollitem_t){.socket = l->io[i].zsock, .fd = l->io[i].fd,
                                           .events = l->io[i].events};
        long timeout = -1;
        if (l->nheap > 0) {
            uint64_t now = ag_now_us(), d = l->heap[0]->deadline_us;
            timeout = d <= now ? 0 : (long)((d - now + 999) / 1000);   /* never early */
        }
        int rc = zmq_poll(l->items, (int)n, timeout);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        ag_lat_advance(&l->lat, ag_now_us());
        for (size_t i = 0; i < n && !l->stop; i++) {
            if (!l->items[i].revents)
                continue;
            /* look the entry up again: an earlier callback may have removed it */
            if (i >= l->nio || l->io[i].dead)
                continue;
            struct io e = l->io[i];   /* the callback may grow (move) the table */
            if (e.internal) {
                e.cb(l, e.id, l->items[i].revents, e.ud);
                continue;
            }
            uint64_t t0 = ag_now_us();
            e.cb(l, e.id, l->items[i].revents, e.ud);
            ag_lat_run(&l->lat, AG_LAT_IO, t0, ag_now_us(), e.label, (void (*)(void))e.cb);
        }
        run_timers(l);
    }
    return 0;
}

/* ---- latency -------------------------------------------------------------------------- */

/* Name a callback that has no label: its symbol when the dynamic symbol table has it,
 * else the object's file name and the offset that addr2line -f -e FILE takes. */
static void name_fn(ag_lat_stall *w)
{
    if (w->name[0] || !w->fn)
        return;
    void *p = (void *)w->fn;
    Dl_info di;
    if (!dladdr(p, &di) || !di.dli_fname) {
        snprintf(w->name, sizeof w->name, "%p", p);
        return;
    }
    if (di.dli_sname && di.dli_saddr == p) {
        snprintf(w->name, sizeof w->name, "%s", di.dli_sname);
        return;
    }
    const char *base = strrchr(di.dli_fname, '/');
    base = base ? base + 1 : di.dli_fname;
    snprintf(w->name, sizeof w->name, "%s+0x%zx", base,
             (size_t)((const char *)p - (const char *)di.dli_fbase));
}

void ag_loop_latency(const ag_loop *l, ag_loop_stats *out)
{
    ag_lat_read(&l->lat, ag_now_us(), &out->since_start, &out->recent);
    name_fn(&out->since_start.worst);
    name_fn(&out->recent.worst);
}
