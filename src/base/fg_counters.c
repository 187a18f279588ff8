/*
 * fg_counters: relaxed atomic counters shared by every worker thread (see fg_counters.h).
 */
#include "fg_counters.h"

#include <stdatomic.h>

/* Prometheus buckets (microseconds), shared by the request and backend latency histograms. */
const uint64_t fg_stats_bucket_us[FG_STATS_NBUCKETS] = {500,     1000,    2500,    5000,    10000,
                                                        25000,   50000,   100000,  250000,  500000,
                                                        1000000, 2500000, 5000000, 10000000};
#define NBATCH 9
const uint64_t fg_stats_batch_bounds[NBATCH] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
#define NLOOKUP 9
const uint64_t fg_stats_lookup_bounds_us[NLOOKUP] = {25,   50,   100,  200,  500,
                                                     1000, 2000, 5000, 10000};
#define MAX_BUCKETS FG_STATS_NBUCKETS

typedef struct hist {
    const uint64_t *bounds;
    size_t n;
    _Atomic uint64_t buckets[MAX_BUCKETS];
    _Atomic uint64_t count;
    _Atomic uint64_t sum;
} hist;

static _Atomic int64_t global_stats[FG_STAT__COUNT];
static _Atomic uint64_t replies[FG_STATUS_MAX + 2]; /* last: codes outside 0..16 */
static hist hists[FG_HIST__COUNT] = {
    [FG_HIST_request_duration] = {.bounds = fg_stats_bucket_us, .n = FG_STATS_NBUCKETS},
    [FG_HIST_batch_size] = {.bounds = fg_stats_batch_bounds, .n = NBATCH},
    [FG_HIST_cache_lookup] = {.bounds = fg_stats_lookup_bounds_us, .n = NLOOKUP},
};
static _Atomic int64_t cache_stats[FG_CSTAT__COUNT];

void fg_stats_add(fg_stat_id id, int64_t delta) {
    atomic_fetch_add_explicit(&global_stats[id], delta, memory_order_relaxed);
}

void fg_stats_set(fg_stat_id id, int64_t value) {
    atomic_store_explicit(&global_stats[id], value, memory_order_relaxed);
}

uint64_t fg_stats_get(fg_stat_id id) {
    int64_t v = atomic_load_explicit(&global_stats[id], memory_order_relaxed);
    return v < 0 ? 0 : (uint64_t)v;
}

void fg_stats_cache_add(fg_cache_stat_id id, int64_t delta) {
    atomic_fetch_add_explicit(&cache_stats[id], delta, memory_order_relaxed);
}

uint64_t fg_stats_cache_get(fg_cache_stat_id id) {
    int64_t v = atomic_load_explicit(&cache_stats[id], memory_order_relaxed);
    return v < 0 ? 0 : (uint64_t)v;
}

void fg_stats_reply(int status) {
    size_t i = status >= 0 && status <= FG_STATUS_MAX ? (size_t)status : FG_STATUS_MAX + 1;
    atomic_fetch_add_explicit(&replies[i], 1, memory_order_relaxed);
}

uint64_t fg_stats_replies(int i) {
    return i >= 0 && i <= FG_STATUS_MAX + 1
               ? atomic_load_explicit(&replies[i], memory_order_relaxed)
               : 0;
}

void fg_stats_observe(fg_hist_id id, uint64_t value) {
    hist *h = &hists[id];
    for (size_t i = 0; i < h->n; i++) {
        if (value <= h->bounds[i]) {
            atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
            break;
        }
    }
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, value, memory_order_relaxed);
}

void fg_stats_observe_total_us(uint64_t us) {
    fg_stats_observe(FG_HIST_request_duration, us);
}

void fg_stats_observe_batch(size_t frames) {
    fg_stats_observe(FG_HIST_batch_size, frames);
}

void fg_stats_observe_cache_lookup_us(uint64_t us) {
    fg_stats_observe(FG_HIST_cache_lookup, us);
}

size_t fg_stats_hist_bounds(fg_hist_id id, const uint64_t **bounds) {
    *bounds = hists[id].bounds;
    return hists[id].n;
}

uint64_t fg_stats_hist_bucket(fg_hist_id id, size_t i) {
    return i < hists[id].n ? atomic_load_explicit(&hists[id].buckets[i], memory_order_relaxed) : 0;
}

uint64_t fg_stats_hist_count(fg_hist_id id) {
    return atomic_load_explicit(&hists[id].count, memory_order_relaxed);
}

uint64_t fg_stats_hist_sum(fg_hist_id id) {
    return atomic_load_explicit(&hists[id].sum, memory_order_relaxed);
}
