/*
 * fg_counters: relaxed atomic counters shared by every worker thread (see fg_counters.h).
 */
#include "fg_counters.h"

#include <stdatomic.h>

/* Prometheus buckets (microseconds), shared by the request and backend latency histograms. */
const uint64_t fg_stats_bucket_us[FG_STATS_NBUCKETS] = {500,     1000,    2500,    5000,    10000,
                                                        25000,   50000,   100000,  250000,  500000,
                                                        1000000, 2500000, 5000000, 10000000};

static _Atomic int64_t global_stats[FG_STAT__COUNT];
static _Atomic uint64_t replies[FG_STATUS_MAX + 2]; /* last: codes outside 0..16 */
static _Atomic uint64_t duration_buckets[FG_STATS_NBUCKETS];
static _Atomic uint64_t duration_count;
static _Atomic uint64_t duration_sum_us;

void fg_stats_add(fg_stat_id id, int64_t delta) {
    atomic_fetch_add_explicit(&global_stats[id], delta, memory_order_relaxed);
}

uint64_t fg_stats_get(fg_stat_id id) {
    int64_t v = atomic_load_explicit(&global_stats[id], memory_order_relaxed);
    return v < 0 ? 0 : (uint64_t)v;
}

void fg_stats_reply(int status) {
    size_t i = status >= 0 && status <= FG_STATUS_MAX ? (size_t)status : FG_STATUS_MAX + 1;
    atomic_fetch_add_explicit(&replies[i], 1, memory_order_relaxed);
}

void fg_stats_observe_total_us(uint64_t us) {
    for (size_t i = 0; i < FG_STATS_NBUCKETS; i++) {
        if (us <= fg_stats_bucket_us[i]) {
            atomic_fetch_add_explicit(&duration_buckets[i], 1, memory_order_relaxed);
            break;
        }
    }
    atomic_fetch_add_explicit(&duration_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&duration_sum_us, us, memory_order_relaxed);
}

uint64_t fg_stats_replies(int i) {
    return i >= 0 && i <= FG_STATUS_MAX + 1
               ? atomic_load_explicit(&replies[i], memory_order_relaxed)
               : 0;
}

uint64_t fg_stats_duration_bucket(size_t i) {
    return i < FG_STATS_NBUCKETS ? atomic_load_explicit(&duration_buckets[i], memory_order_relaxed)
                                 : 0;
}

uint64_t fg_stats_duration_count(void) {
    return atomic_load_explicit(&duration_count, memory_order_relaxed);
}

uint64_t fg_stats_duration_sum_us(void) {
    return atomic_load_explicit(&duration_sum_us, memory_order_relaxed);
}
