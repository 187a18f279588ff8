#include "fs_load.h"

#include <math.h>

/* Moves the buckets so the current one contains now_us. */
static void advance(fs_load *l, uint64_t now_us) {
    if (l->bucket_start_us == 0) {
        l->bucket_start_us = now_us;
        return;
    }
    if (now_us < l->bucket_start_us + FS_LOAD_WINDOW_US)
        return;
    if (now_us < l->bucket_start_us + 2 * FS_LOAD_WINDOW_US) {
        l->prev = l->cur;
        l->bucket_start_us += FS_LOAD_WINDOW_US;
    } else {
        l->prev = 0; /* a whole second or more without a frame */
        l->bucket_start_us = now_us;
    }
    l->cur = 0;
}

void fs_load_count(fs_load *l, uint64_t now_us, uint64_t frames) {
    advance(l, now_us);
    l->cur += frames;
}

double fs_load_rps(fs_load *l, uint64_t now_us) {
    advance(l, now_us);
    uint64_t into = now_us > l->bucket_start_us ? now_us - l->bucket_start_us : 0;
    double left_of_prev = 1.0 - (double)into / FS_LOAD_WINDOW_US;
    return (double)l->prev * left_of_prev + (double)l->cur;
}

/* Two significant figures from 100 up (at most 5% off), whole frames/s from 10, eighths below:
 * well inside the window's own noise, and a steady load then sends the same trailer bytes again,
 * which HPACK indexes and the proxy does not decode twice. Whole frames/s at thousands of frames/s
 * changed with almost every reply: a fresh trailer to encode and decode each time. */
static double quantize_rps(double rps) {
    if (rps >= 100) {
        double step = pow(10, floor(log10(rps)) - 1);
        return round(rps / step) * step;
    }
    return rps >= 10 ? round(rps) : round(rps * 8) / 8;
}

fg_orca_report fs_load_report(fs_load *l, uint64_t now_us, size_t gpu_depth) {
    fg_orca_report r = {
        .cpu_utilization = 0,
        .application_utilization = (double)gpu_depth / FS_LOAD_GPU_SLOTS,
        .rps_fractional = quantize_rps(fs_load_rps(l, now_us)),
    };
    return r;
}
