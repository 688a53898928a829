/* cons_bench.c — commit latency, throughput and failover time of a replicated put, for
 * drover and etcd alike; bench/consensus.sh starts the clusters and calls this.
 *
 *   cons_bench latency    --target T --count N [--tag JSON]
 *   cons_bench throughput --target T[,T...] --clients C --duration-ms D [--tag JSON]
 *   cons_bench failover   --target T --kill PID [--stagger-ms S] [--give-up-ms G]
 *
 * T is "drover:SOCKET" or "etcd:HOST:PORT" (cons_client.h). latency and throughput print
 * one JSON line per figure, with the keys of --tag merged in; failover prints the
 * milliseconds from SIGKILL to the first committed put, a bare number, for the script
 * to aggregate over trials.
 *
 * Why the failover loop looks the way it does: a put handed to a survivor while the old
 * leader is still believed alive may be forwarded into the void. drover re-sends it to
 * the new leader; etcd drops it and the request only fails at its own 7 s timeout. So
 * that neither system's retry policy is measured instead of its failover, a new attempt
 * starts every S ms, each on its own thread and connection, and the first one to commit
 * stops the clock: the figure is "the first moment a write through a survivor could
 * commit", within S ms, for both.
 *
 * All measurement is in-process on CLOCK_MONOTONIC, so no process spawn is in the
 * figures. The failover time includes the put's own commit latency.
 */
#include "cons_client.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define PUT_TIMEOUT_MS       5000   /* drover's own request timeout; etcd's is longer */
#define WARMUP_PUTS          20     /* first connections, page cache, leader's pipeline */
#define LATENCY_COUNT_MAX    100000
#define CLIENTS_MAX          64
#define TARGETS_MAX          8
#define FAILOVER_STAGGER_MS  20     /* resolution of the failover figure */
#define FAILOVER_GIVE_UP_MS  15000  /* ~10x etcd's default election timeout */
#define FAILOVER_ATTEMPTS_MAX 1000  /* bounds threads: G / S at the defaults is 750 */
#define ATTEMPT_STACK_BYTES  (256u << 10)
#define VALUE_BYTES          64     /* a small record, like an ownership or policy entry */

static long long mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void usage(void)
{
    fputs("usage: cons_bench latency --target T --count N [--tag JSON]\n"
          "       cons_bench throughput --target T[,T...] --clients C --duration-ms D [--tag JSON]\n"
          "       cons_bench failover --target T --kill PID [--stagger-ms S] [--give-up-ms G]\n"
          "T: drover:SOCKET | etcd:HOST:PORT\n", stderr);
    exit(2);
}

int cons_target_parse(const char *s, struct cons_target *t)
{
    const char *rest;
    if (!strncmp(s, "drover:", 7)) {
        t->sys = CONS_DROVER;
        rest = s + 7;
    } else if (!strncmp(s, "etcd:", 5)) {
        t->sys = CONS_ETCD;
        rest = s + 5;
    } else {
        return -1;
    }
    if (!rest[0] || strlen(rest) >= sizeof t->addr)
        return -1;
    snprintf(t->addr, sizeof t->addr, "%s", rest);
    return 0;
}

static void value_fill(char *v)
{
    memset(v, 'x', VALUE_BYTES);
    v[VALUE_BYTES] = 0;
}

/* Prints {"bench":"consensus","metric":M,"value":V,"unit":U} plus extra and tag keys. */
static void emit(const char *metric, double value, const char *unit, json_t *tag, json_t *extra)
{
    json_t *o = json_pack("{s:s,s:s,s:f,s:s}", "bench", "consensus", "metric", metric,
                          "value", value, "unit", unit);
    if (tag)
        json_object_update(o, tag);
    if (extra)
        json_object_update(o, extra);
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    puts(s);
    fflush(stdout);
    free(s);
    json_decref(o);
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n). */
static long long pct(const long long *v, size_t n, double p)
{
    size_t r = (size_t)(p / 100.0 * (double)n + 0.999999);
    return v[(r ? r : 1) - 1];
}

static int run_latency(const struct cons_target *t, int count, json_t *tag)
{
    char val[VALUE_BYTES + 1], key[64], err[512];
    value_fill(val);
    long long *us = calloc((size_t)count, sizeof *us);
    if (!us)
        return 1;
    for (int i = -WARMUP_PUTS; i < count; i++) {
        snprintf(key, sizeof key, "lat-%d-%d", (int)getpid(), i + WARMUP_PUTS);
        long long t0 = mono_us();
        if (cons_put(t, key, val, PUT_TIMEOUT_MS, err, sizeof err) != 0) {
            fprintf(stderr, "cons_bench latency: put %s failed: %s\n", key, err);
            free(us);
            return 1;
        }
        if (i >= 0)
            us[i] = mono_us() - t0;
    }
    qsort(us, (size_t)count, sizeof *us, cmp_ll);
    json_t *extra = json_pack("{s:i,s:i}", "puts", count, "value_bytes", VALUE_BYTES);
    emit("commit_p50_ms", (double)pct(us, (size_t)count, 50) / 1000.0, "ms", tag, extra);
    emit("commit_p99_ms", (double)pct(us, (size_t)count, 99) / 1000.0, "ms", tag, extra);
    json_decref(extra);
    free(us);
    return 0;
}

struct tp_client {
    const struct cons_target *t;
    int id;
    long long deadline_us;
    long ok, failed;
};

static void *tp_main(void *arg)
{
    struct tp_client *c = arg;
    char val[VALUE_BYTES + 1], key[64], err[512];
    value_fill(val);
    for (long i = 0; mono_us() < c->deadline_us; i++) {
        snprintf(key, sizeof key, "tp-%d-%d-%ld", (int)getpid(), c->id, i);
        if (cons_put(c->t, key, val, PUT_TIMEOUT_MS, err, sizeof err) == 0) {
            c->ok++;
        } else {
            if (c->failed++ == 0)
                fprintf(stderr, "cons_bench throughput: client %d: %s\n", c->id, err);
        }
    }
    return NULL;
}

static int run_throughput(const struct cons_target *ts, int nt, int clients, int duration_ms,
                          json_t *tag)
{
    struct tp_client c[CLIENTS_MAX];
    pthread_t th[CLIENTS_MAX];
    long long t0 = mono_us();
    for (int i = 0; i < clients; i++) {
        c[i] = (struct tp_client){.t = &ts[i % nt], .id = i,
                                  .deadline_us = t0 + (long long)duration_ms * 1000};
        if (pthread_create(&th[i], NULL, tp_main, &c[i]) != 0) {
            fprintf(stderr, "cons_bench: pthread_create failed\n");
            return 1;
        }
    }
    long ok = 0, failed = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        ok += c[i].ok;
        failed += c[i].failed;
    }
    /* The last puts may finish after the deadline; divide by the time really taken. */
    double secs = (double)(mono_us() - t0) / 1e6;
    json_t *extra = json_pack("{s:i,s:I,s:I,s:f,s:i}", "clients", clients, "puts", (json_int_t)ok,
                              "failed", (json_int_t)failed, "duration_s", secs,
                              "value_bytes", VALUE_BYTES);
    emit("entries_per_s", (double)ok / secs, "1/s", tag, extra);
    json_decref(extra);
    return failed ? 1 : 0;
}

/* ---- failover ---- */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long long done_us;   /* first commit, 0 until then */
    char last_err[512];
} fo = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, ""};

struct attempt {
    const struct cons_target *t;
    int n;
    int timeout_ms;
};

static void *attempt_main(void *arg)
{
    struct attempt *a = arg;
    char val[VALUE_BYTES + 1], key[64], err[512] = "";
    value_fill(val);
    snprintf(key, sizeof key, "fo-%d-%d", (int)getpid(), a->n);
    int rc = cons_put(a->t, key, val, a->timeout_ms, err, sizeof err);
    long long now = mono_us();
    pthread_mutex_lock(&fo.mu);
    if (rc == 0 && fo.done_us == 0) {
        fo.done_us = now;
        pthread_cond_signal(&fo.cv);
    } else if (rc != 0) {
        snprintf(fo.last_err, sizeof fo.last_err, "%s", err);
    }
    pthread_mutex_unlock(&fo.mu);
    free(a);
    return NULL;
}

static int run_failover(const struct cons_target *t, pid_t victim, int stagger_ms, int give_up_ms)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, ATTEMPT_STACK_BYTES);
    long long t0 = mono_us();
    if (kill(victim, SIGKILL) != 0) {
        fprintf(stderr, "cons_bench failover: kill %d: %s\n", (int)victim, strerror(errno));
        return 1;
    }
    long long give_up_us = t0 + (long long)give_up_ms * 1000;
    for (int n = 0;; n++) {
        long long now = mono_us();
        if (n < FAILOVER_ATTEMPTS_MAX && now < give_up_us) {
            struct attempt *a = malloc(sizeof *a);
            pthread_t th;
            *a = (struct attempt){.t = t, .n = n, .timeout_ms = (int)((give_up_us - now) / 1000) + 1};
            if (pthread_create(&th, &attr, attempt_main, a) != 0)
                free(a);
        }
        long long wake = now + (long long)stagger_ms * 1000;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);   /* pthread_cond_timedwait's default clock */
        long long ns = (long long)ts.tv_nsec + (wake - now) * 1000;
        ts.tv_sec += (time_t)(ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_mutex_lock(&fo.mu);
        while (fo.done_us == 0 && pthread_cond_timedwait(&fo.cv, &fo.mu, &ts) == 0) {
        }
        long long done = fo.done_us;
        pthread_mutex_unlock(&fo.mu);
        if (done) {
            printf("%.1f\n", (double)(done - t0) / 1000.0);
            fflush(stdout);
            _exit(0);   /* attempts still blocked on their sockets die with the process */
        }
        if (mono_us() >= give_up_us) {
            pthread_mutex_lock(&fo.mu);
            fprintf(stderr, "cons_bench failover: nothing committed within %d ms (last error: %s)\n",
                    give_up_ms, fo.last_err);
            pthread_mutex_unlock(&fo.mu);
            _exit(1);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    const char *mode = argv[1];
    static const struct option opts[] = {
        {"target", required_argument, 0, 't'}, {"count", required_argument, 0, 'n'},
        {"clients", required_argument, 0, 'c'}, {"duration-ms", required_argument, 0, 'd'},
        {"kill", required_argument, 0, 'k'}, {"stagger-ms", required_argument, 0, 's'},
        {"give-up-ms", required_argument, 0, 'g'}, {"tag", required_argument, 0, 'T'},
        {0, 0, 0, 0}};
    char *targets = NULL;
    int count = 500, clients = 8, duration_ms = 5000, stagger_ms = FAILOVER_STAGGER_MS;
    int give_up_ms = FAILOVER_GIVE_UP_MS;
    pid_t victim = 0;
    json_t *tag = NULL;
    int o;
    optind = 2;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 't': targets = optarg; break;
        case 'n': count = atoi(optarg); break;
        case 'c': clients = atoi(optarg); break;
        case 'd': duration_ms = atoi(optarg); break;
        case 'k': victim = (pid_t)atoi(optarg); break;
        case 's': stagger_ms = atoi(optarg); break;
        case 'g': give_up_ms = atoi(optarg); break;
        case 'T':
            tag = json_loads(optarg, 0, NULL);
            if (!json_is_object(tag)) {
                fprintf(stderr, "cons_bench: --tag must be a JSON object\n");
                return 2;
            }
            break;
        default: usage();
        }
    }
    if (!targets || sodium_init() < 0)
        usage();
    signal(SIGPIPE, SIG_IGN);   /* a killed agent must fail one put, not this process */
    struct cons_target ts[TARGETS_MAX];
    int nt = 0;
    for (char *save = NULL, *s = strtok_r(targets, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        if (nt == TARGETS_MAX || cons_target_parse(s, &ts[nt]) != 0) {
            fprintf(stderr, "cons_bench: bad or too many targets at '%s'\n", s);
            return 2;
        }
        nt++;
    }
    if (nt == 0)
        usage();
    int rc;
    if (!strcmp(mode, "latency")) {
        if (count < 1 || count > LATENCY_COUNT_MAX)
            usage();
        rc = run_latency(&ts[0], count, tag);
    } else if (!strcmp(mode, "throughput")) {
        if (clients < 1 || clients > CLIENTS_MAX || duration_ms < 100)
            usage();
        rc = run_throughput(ts, nt, clients, duration_ms, tag);
    } else if (!strcmp(mode, "failover")) {
        if (victim <= 1 || stagger_ms < 1 || give_up_ms < stagger_ms)
            usage();
        rc = run_failover(&ts[0], victim, stagger_ms, give_up_ms);
    } else {
        usage();
    }
    json_decref(tag);
    return rc;
}
