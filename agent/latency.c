/* latency.c — log-linear histogram and the loop's latency recorder; see latency.h.
 *
 * Why a histogram and not a running mean or a ring of samples: a lease is lost to the
 * one stall in a thousand, so the figure that matters is a high quantile (p99.9) and the
 * maximum, over millions of callbacks, at a cost the loop does not notice. Recording is
 * a count-leading-zeros, a shift and three adds; the memory is fixed; two histograms
 * merge by adding their buckets, which is what the rolling window and, later, /metrics
 * need. The price is the bucket width (≤ 1/64 of the value), which is why quantiles are
 * reported as the top of their bucket: an upper bound, never an optimistic figure.
 *
 * Bucket i < 128 holds the value i. Above, a value v with most significant bit m
 * (2^m ≤ v < 2^(m+1), m ≥ 7) is shifted right by s = m - 6, leaving a sub-bucket
 * number v >> s in [64, 128); its bucket is (s << 6) + (v >> s). The formula holds for
 * m ≤ 6 with s = 0 too, which is why the first 128 buckets are the exact values.
 *
 * The rolling window is two slices swapped each minute rather than a ring of finer
 * ones: 130 KiB for two slices, and a "recent" of 60 to 120 s is what an operator asks
 * ("what has it been doing lately"); span_us says which exactly.
 */
#include "latency.h"

#include <stdio.h>
#include <string.h>

#define SUB_COUNT  (1u << AG_HIST_SUB_BITS)   /* 64 */
#define EXACT_BELOW (2u * SUB_COUNT)          /* 128: buckets that hold one value each */

size_t ag_hist_index(uint64_t us)
{
    if (us >> AG_HIST_TOP_BITS)
        return AG_HIST_BUCKETS - 1;
    unsigned m = 63u - (unsigned)__builtin_clzll(us | 1);
    unsigned s = m > AG_HIST_SUB_BITS ? m - AG_HIST_SUB_BITS : 0;
    return ((size_t)s << AG_HIST_SUB_BITS) + (size_t)(us >> s);
}

/* Precondition: i < AG_HIST_BUCKETS. */
uint64_t ag_hist_lowest(size_t i)
{
    if (i < EXACT_BELOW)
        return i;
    unsigned s = (unsigned)(i >> AG_HIST_SUB_BITS) - 1;
    uint64_t sub = i - ((size_t)s << AG_HIST_SUB_BITS);
    return sub << s;
}

uint64_t ag_hist_highest(size_t i)
{
    if (i >= AG_HIST_BUCKETS - 1)
        return UINT64_MAX;
    if (i < EXACT_BELOW)
        return i;
    unsigned s = (unsigned)(i >> AG_HIST_SUB_BITS) - 1;
    uint64_t sub = i - ((size_t)s << AG_HIST_SUB_BITS);
    return ((sub + 1) << s) - 1;
}

void ag_hist_reset(ag_hist *h)
{
    memset(h, 0, sizeof *h);
}

void ag_hist_record(ag_hist *h, uint64_t us)
{
    h->bucket[ag_hist_index(us)]++;
    h->count++;
    h->sum_us += us;
    if (us > h->max_us)
        h->max_us = us;
}

void ag_hist_merge(ag_hist *into, const ag_hist *from)
{
    /* read each field before writing it, so into == from doubles */
    for (size_t i = 0; i < AG_HIST_BUCKETS; i++)
        into->bucket[i] += from->bucket[i];
    into->count += from->count;
    into->sum_us += from->sum_us;
    if (from->max_us > into->max_us)
        into->max_us = from->max_us;
}

uint64_t ag_hist_quantile(const ag_hist *h, uint32_t ppm)
{
    if (h->count == 0)
        return 0;
    if (ppm > 1000000)
        ppm = 1000000;
    /* rank = ceil(count * ppm / 10^6) without a 128-bit product: count = q·10^6 + r,
     * and q·ppm ≤ count, r·ppm < 10^12 */
    uint64_t q = h->count / 1000000, r = h->count % 1000000;
    uint64_t rank = q * ppm + (r * ppm + 999999) / 1000000;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < AG_HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            uint64_t top = ag_hist_highest(i);
            return top < h->max_us ? top : h->max_us;
        }
    }
    return h->max_us;   /* not reached while the buckets add up to count */
}

uint64_t ag_hist_count(const ag_hist *h)
{
    return h->count;
}

uint64_t ag_hist_max(const ag_hist *h)
{
    return h->max_us;
}

/* ---- recorder ------------------------------------------------------------------------- */

const char *ag_lat_kind_name(ag_lat_kind k)
{
    switch (k) {
    case AG_LAT_IO: return "io";
    case AG_LAT_TIMER: return "timer";
    case AG_LAT_DONE: return "done";
    case AG_LAT_SIGNAL: return "signal";
    }
    return "?";
}

static uint64_t since(uint64_t from, uint64_t to)
{
    return to > from ? to - from : 0;
}

void ag_lat_init(ag_lat *r, uint64_t now_us)
{
    memset(r, 0, sizeof *r);
    r->start_us = r->older_start_us = r->slice_start_us = now_us;
}

void ag_lat_advance(ag_lat *r, uint64_t now_us)
{
    uint64_t age = since(r->slice_start_us, now_us);
    if (age < AG_LAT_SLICE_US)
        return;
    if (age < 2 * AG_LAT_SLICE_US) {
        r->cur ^= 1;
        memset(&r->slice[r->cur], 0, sizeof r->slice[r->cur]);
        r->older_start_us = r->slice_start_us;
    } else {
        memset(r->slice, 0, sizeof r->slice);
        r->older_start_us = now_us;
    }
    r->slice_start_us = now_us;
}

static void note_worst(ag_lat_stall *w, uint64_t run_us, uint64_t end_us, ag_lat_kind k,
                       const char *label, void (*fn)(void))
{
    if (run_us <= w->run_us)
        return;   /* ties keep the first: it was seen first */
    w->run_us = run_us;
    w->end_us = end_us;
    w->kind = k;
    w->label = label;
    w->fn = fn;
}

void ag_lat_run(ag_lat *r, ag_lat_kind k, uint64_t start_us, uint64_t end_us,
                const char *label, void (*fn)(void))
{
    if ((unsigned)k >= AG_LAT_KINDS)
        return;
    uint64_t us = since(start_us, end_us);
    ag_lat_set *cur = &r->slice[r->cur];
    ag_hist_record(&r->total.run[k], us);
    ag_hist_record(&cur->run[k], us);
    note_worst(&r->total.worst, us, end_us, k, label, fn);
    note_worst(&cur->worst, us, end_us, k, label, fn);
}

void ag_lat_late(ag_lat *r, uint64_t due_us, uint64_t start_us)
{
    uint64_t us = since(due_us, start_us);
    ag_hist_record(&r->total.lateness, us);
    ag_hist_record(&r->slice[r->cur].lateness, us);
}

void ag_lat_done_wait(ag_lat *r, uint64_t finished_us, uint64_t start_us)
{
    uint64_t us = since(finished_us, start_us);
    ag_hist_record(&r->total.done_wait, us);
    ag_hist_record(&r->slice[r->cur].done_wait, us);
}

static void name_worst(ag_lat_stall *w)
{
    if (w->label)
        snprintf(w->name, sizeof w->name, "%s", w->label);
    else
        w->name[0] = '\0';
}

static void merge_set(ag_lat_set *into, const ag_lat_set *from)
{
    ag_hist_merge(&into->lateness, &from->lateness);
    for (int k = 0; k < AG_LAT_KINDS; k++)
        ag_hist_merge(&into->run[k], &from->run[k]);
    ag_hist_merge(&into->done_wait, &from->done_wait);
    if (from->worst.run_us > into->worst.run_us)
        into->worst = from->worst;
}

void ag_lat_read(const ag_lat *r, uint64_t now_us, ag_lat_set *since_start, ag_lat_set *recent)
{
    if (since_start) {
        *since_start = r->total;
        since_start->span_us = since(r->start_us, now_us);
        name_worst(&since_start->worst);
    }
    if (!recent)
        return;
    uint64_t age = since(r->slice_start_us, now_us);
    if (age < AG_LAT_SLICE_US) {
        *recent = r->slice[r->cur];
        if (r->older_start_us < r->slice_start_us)
            merge_set(recent, &r->slice[!r->cur]);
        recent->span_us = since(r->older_start_us, now_us);
    } else if (age < 2 * AG_LAT_SLICE_US) {
        /* ag_lat_advance would make the current slice the older one, and drop the other */
        *recent = r->slice[r->cur];
        recent->span_us = age;
    } else {
        memset(recent, 0, sizeof *recent);
    }
    name_worst(&recent->worst);
}
