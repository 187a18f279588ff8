/*
 * fg_hist: log-linear histogram. Bucket i < 128 holds exactly the value i; above that, the value's
 * top 8 significant bits pick one of 128 sub-buckets in its power-of-two range, so a bucket's
 * width is at most 1/128 of its lowest value.
 */
#include "fg_hist.h"

#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"

#define SUB_BITS 7
#define SUB_COUNT (1u << SUB_BITS) /* 128 */
/* Ranges with most significant bit 7..63: 57 of them, after the 128 exact buckets. */
#define BUCKET_COUNT (SUB_COUNT + (64 - SUB_BITS) * SUB_COUNT)

struct fg_hist {
    uint64_t count;
    uint64_t sum;
    uint64_t min;
    uint64_t max;
    uint64_t buckets[BUCKET_COUNT];
};

static unsigned bucket_index(uint64_t value) {
    if (value < SUB_COUNT)
        return (unsigned)value;
    unsigned msb = 63u - (unsigned)__builtin_clzll(value);
    unsigned shift = msb - SUB_BITS;
    unsigned sub = (unsigned)(value >> shift) & (SUB_COUNT - 1);
    return SUB_COUNT + shift * SUB_COUNT + sub;
}

static uint64_t bucket_low(unsigned index) {
    if (index < SUB_COUNT)
        return index;
    unsigned shift = (index - SUB_COUNT) / SUB_COUNT;
    unsigned sub = (index - SUB_COUNT) % SUB_COUNT;
    return (uint64_t)(SUB_COUNT + sub) << shift;
}

static uint64_t bucket_high(unsigned index) {
    if (index < SUB_COUNT)
        return index;
    unsigned shift = (index - SUB_COUNT) / SUB_COUNT;
    /* Written as low + (width - 1) so the top bucket ends at UINT64_MAX without overflow. */
    return bucket_low(index) + ((UINT64_C(1) << shift) - 1);
}

fg_hist *fg_hist_new(void) {
    fg_hist *h = fg_malloc(sizeof(*h));
    fg_hist_reset(h);
    return h;
}

void fg_hist_free(fg_hist *h) {
    free(h);
}

void fg_hist_reset(fg_hist *h) {
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

/* The one writer stores with relaxed atomics (plain moves on x86), so fg_hist_merge may read a
 * histogram another thread is recording into without a data race. */
#define STORE(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define LOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

void fg_hist_record(fg_hist *h, uint64_t value) {
    unsigned i = bucket_index(value);
    STORE(h->buckets[i], h->buckets[i] + 1);
    STORE(h->count, h->count + 1);
    STORE(h->sum, h->sum + value);
    if (value < h->min)
        STORE(h->min, value);
    if (value > h->max)
        STORE(h->max, value);
}

void fg_hist_merge(fg_hist *dst, const fg_hist *src) {
    uint64_t count = LOAD(src->count);
    if (count == 0)
        return;
    for (unsigned i = 0; i < BUCKET_COUNT; i++)
        dst->buckets[i] += LOAD(src->buckets[i]);
    dst->count += count;
    dst->sum += LOAD(src->sum);
    uint64_t min = LOAD(src->min), max = LOAD(src->max);
    if (min < dst->min)
        dst->min = min;
    if (max > dst->max)
        dst->max = max;
}

uint64_t fg_hist_count(const fg_hist *h) {
    return h->count;
}

uint64_t fg_hist_sum(const fg_hist *h) {
    return h->sum;
}

uint64_t fg_hist_min(const fg_hist *h) {
    return h->count ? h->min : 0;
}

uint64_t fg_hist_max(const fg_hist *h) {
    return h->max;
}

uint64_t fg_hist_percentile(const fg_hist *h, double p) {
    if (h->count == 0)
        return 0;
    if (p < 0)
        p = 0;
    if (p > 100)
        p = 100;
    /* The rank-th smallest value, rank = ceil(p% of count), at least the first. */
    double exact = p / 100.0 * (double)h->count;
    uint64_t rank = (uint64_t)exact;
    if ((double)rank < exact)
        rank++;
    if (rank == 0)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BUCKET_COUNT; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t high = bucket_high(i);
            return high < h->max ? high : h->max;
        }
    }
    return h->max;
}

uint64_t fg_hist_count_le(const fg_hist *h, uint64_t bound) {
    unsigned last = bucket_index(bound);
    uint64_t n = 0;
    for (unsigned i = 0; i < last; i++)
        n += h->buckets[i];
    /* The bucket holding bound counts only when bound is its top, i.e. all of it is <= bound. */
    if (bucket_high(last) == bound)
        n += h->buckets[last];
    return n;
}
