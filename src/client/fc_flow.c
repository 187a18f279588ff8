#include "fc_flow.h"

#include <stdlib.h>
#include <string.h>

void fc_flow_start(fc_flow *f, uint64_t start_us) {
    memset(f, 0, sizeof(*f));
    f->last_us = start_us;
}

static void gap_to(fc_flow *f, uint64_t now_us) {
    uint64_t gap = now_us > f->last_us ? now_us - f->last_us : 0;
    if (gap > f->max_gap_us)
        f->max_gap_us = gap;
    f->last_us = now_us;
}

void fc_flow_frame(fc_flow *f, uint64_t now_us) {
    gap_to(f, now_us);
    f->frames++;
}

void fc_flow_end(fc_flow *f, uint64_t end_us) {
    gap_to(f, end_us);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void fc_flow_summarize(const fc_flow *flows, size_t n, uint64_t *scratch, fc_fairness *out) {
    memset(out, 0, sizeof(*out));
    out->connections = n;
    if (n == 0)
        return;
    double sum = 0, sum_sq = 0;
    out->min_frames = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = flows[i].frames;
        out->frames += x;
        if (x < out->min_frames)
            out->min_frames = x;
        if (x > out->max_frames)
            out->max_frames = x;
        sum += (double)x;
        sum_sq += (double)x * (double)x;
        if (flows[i].max_gap_us > out->longest_stall_us)
            out->longest_stall_us = flows[i].max_gap_us;
        scratch[i] = flows[i].max_gap_us;
    }
    qsort(scratch, n, sizeof(*scratch), cmp_u64);
    out->median_stall_us = scratch[n / 2];
    if (out->frames == 0)
        return;
    out->min_share = (double)out->min_frames / (double)out->frames;
    out->max_share = (double)out->max_frames / (double)out->frames;
    out->jain = sum * sum / ((double)n * sum_sq);
}
