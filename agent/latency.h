/* latency.h — where the agent's loop stalls: a fixed-size latency histogram, and the
 * recorder the loop feeds with its callbacks' timings.
 *
 * Both are pure: no clock, no allocation, no locks. The caller hands in monotonic
 * microseconds (loop.c reads CLOCK_MONOTONIC; tests pass made-up times), so the window
 * rotation and the worst-stall bookkeeping are tested without waiting a minute.
 *
 * The histogram is log-linear, in the manner of HdrHistogram (Gil Tene): values below
 * 128 µs each have their own bucket; above, every power of two [2^m, 2^(m+1)) is cut into
 * 64 equal sub-buckets, so a bucket is never wider than 1/64 (1.6 %) of the values it
 * holds — two significant digits. Values up to 2^26 - 1 µs (67.1 s, past the 60 s a
 * stall can matter to a lease) are resolved: 21 × 64 = 1344 buckets, 10.8 KiB. Longer
 * values are counted in the top bucket and remembered exactly as the maximum.
 */
#ifndef DROVER_LATENCY_H
#define DROVER_LATENCY_H

#include <stddef.h>
#include <stdint.h>

#define AG_HIST_SUB_BITS 6    /* 64 sub-buckets per power of two */
#define AG_HIST_TOP_BITS 26   /* resolved up to 2^26 - 1 µs */
#define AG_HIST_BUCKETS  ((AG_HIST_TOP_BITS - AG_HIST_SUB_BITS + 1) << AG_HIST_SUB_BITS)

/* Plain data: embed it, copy it, zero it (a zeroed ag_hist is an empty one). */
typedef struct ag_hist {
    uint64_t count;
    uint64_t sum_us;
    uint64_t max_us;
    uint64_t bucket[AG_HIST_BUCKETS];
} ag_hist;

void ag_hist_reset(ag_hist *h);
void ag_hist_record(ag_hist *h, uint64_t us);
/* Adds from's values to into's; into == from doubles every count. */
void ag_hist_merge(ag_hist *into, const ag_hist *from);

/* The value at quantile ppm/1,000,000 (500000 = p50, 999000 = p99.9, 1000000 = max):
 * the smallest recorded value v such that at least ceil(count × ppm / 10^6) values are
 * ≤ v, reported as the top of v's bucket but never above the maximum. So the answer is
 * never below the true quantile and at most 1/64 above it (exact below 128 µs; beyond
 * 67.1 s, the maximum). 0 when the histogram is empty; ppm above 10^6 is read as 10^6. */
uint64_t ag_hist_quantile(const ag_hist *h, uint32_t ppm);
uint64_t ag_hist_count(const ag_hist *h);
uint64_t ag_hist_max(const ag_hist *h);

/* The bucket a value falls in, and the range [lowest, highest] each bucket holds (the
 * top bucket's highest is UINT64_MAX: it also holds the values past the range). */
size_t   ag_hist_index(uint64_t us);
uint64_t ag_hist_lowest(size_t i);
uint64_t ag_hist_highest(size_t i);

/* ---- the loop's recorder -------------------------------------------------------------- */

/* The callbacks the loop times. A done callback is a worker item's completion. */
typedef enum ag_lat_kind { AG_LAT_IO, AG_LAT_TIMER, AG_LAT_DONE, AG_LAT_SIGNAL } ag_lat_kind;
#define AG_LAT_KINDS 4
/* "io", "timer", "done", "signal" */
const char *ag_lat_kind_name(ag_lat_kind k);

/* The single longest callback of a period. */
typedef struct ag_lat_stall {
    uint64_t run_us;        /* 0: nothing ran */
    uint64_t end_us;        /* when it returned */
    ag_lat_kind kind;
    const char *label;      /* the registration's label (static storage), or NULL */
    void (*fn)(void);       /* the callback, to name it when there is no label */
    char name[64];          /* label, or what ag_loop_latency resolved fn to; "" if unknown */
} ag_lat_stall;

/* One period's figures. */
typedef struct ag_lat_set {
    uint64_t span_us;                 /* how long the period is (filled by ag_lat_read) */
    ag_hist lateness;                 /* timers: callback start minus due time */
    ag_hist run[AG_LAT_KINDS];        /* callbacks' run times, by kind */
    ag_hist done_wait;                /* a worker finished an item → its done callback starts */
    ag_lat_stall worst;
} ag_lat_set;

/* The rolling window is two slices of AG_LAT_SLICE_US, the current one and the one
 * before, so "recent" covers the last 60 to 120 s; span_us says which. */
#define AG_LAT_SLICE_US (60ull * 1000 * 1000)

typedef struct ag_lat {
    ag_lat_set total;         /* since ag_lat_init */
    ag_lat_set slice[2];      /* slice[cur] is the current one */
    int cur;
    uint64_t start_us;        /* ag_lat_init */
    uint64_t older_start_us;  /* start of slice[!cur]; == slice_start_us when it is empty */
    uint64_t slice_start_us;  /* start of slice[cur] */
} ag_lat;

/* About 200 KiB: embed it in something allocated, not on a small stack. */
void ag_lat_init(ag_lat *r, uint64_t now_us);
/* Move the window to now: a slice older than AG_LAT_SLICE_US becomes the older one, and
 * one older than two slices is dropped. Cheap when nothing is due; the loop calls it
 * once per pass. Times that go backwards are ignored. */
void ag_lat_advance(ag_lat *r, uint64_t now_us);
/* A callback of kind k ran from start_us to end_us. label may be NULL. */
void ag_lat_run(ag_lat *r, ag_lat_kind k, uint64_t start_us, uint64_t end_us,
                const char *label, void (*fn)(void));
/* A timer due at due_us started its callback at start_us (0 when early). */
void ag_lat_late(ag_lat *r, uint64_t due_us, uint64_t start_us);
/* A worker finished an item at finished_us; its done callback started at start_us. */
void ag_lat_done_wait(ag_lat *r, uint64_t finished_us, uint64_t start_us);
/* The figures since ag_lat_init and of the rolling window as of now_us (as if
 * ag_lat_advance(now_us) had run: r is not changed). worst.name is the label or "". */
void ag_lat_read(const ag_lat *r, uint64_t now_us, ag_lat_set *since_start, ag_lat_set *recent);

#endif
