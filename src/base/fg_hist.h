/*
 * fg_hist: a log-linear latency histogram (values in microseconds) with under 1% relative error.
 *
 * Values below 128 are counted exactly; above, each power-of-two range is split into 128 equal
 * sub-buckets, so a reported value is within 1/128 of the true one. Fixed size, no allocation
 * after fg_hist_new(), so recording is a few instructions on the hot path. One writer thread
 * per histogram; fg_hist_merge() may read it from another thread meanwhile (relaxed atomics:
 * the merged copy may lag a value or two, never tears); everything else on the writer's thread.
 */
#ifndef FG_HIST_H
#define FG_HIST_H

#include <stdint.h>

typedef struct fg_hist fg_hist;

fg_hist *fg_hist_new(void);
void fg_hist_free(fg_hist *h);
void fg_hist_reset(fg_hist *h);
void fg_hist_record(fg_hist *h, uint64_t value);
/* dst += src. */
void fg_hist_merge(fg_hist *dst, const fg_hist *src);

uint64_t fg_hist_count(const fg_hist *h);
uint64_t fg_hist_sum(const fg_hist *h);
uint64_t fg_hist_min(const fg_hist *h); /* 0 when empty */
uint64_t fg_hist_max(const fg_hist *h); /* 0 when empty */
/* The value at percentile p (0..100): the highest value of the bucket holding it, capped at max.
 * 0 when empty. */
uint64_t fg_hist_percentile(const fg_hist *h, double p);
/* How many recorded values are <= bound (exact when bound is the top of a bucket, e.g. any value
 * below 128 or any power of two minus one); for Prometheus buckets. */
uint64_t fg_hist_count_le(const fg_hist *h, uint64_t bound);

#endif
