/*
 * fs_load: the load frameserver reports to its clients in every Render/RenderBatch reply, as
 * an ORCA report (trailer endpoint-load-metrics-bin, contract §1):
 *   application_utilization = GPU jobs queued + running, over the jobs the GPU runs at once
 *                             (FS_LOAD_GPU_SLOTS): 1.0 is busy with nothing waiting, above 1 a
 *                             queue builds (ORCA allows values over 1 past a soft limit);
 *   rps_fractional          = frames rendered per second recently (a sliding 1 s window:
 *                             the last full second weighed by how much of it the window still
 *                             covers, plus the current one), rounded to whole frames/s from
 *                             10 up and to eighths below, so a steady load repeats its bytes.
 * cpu_utilization is left 0: the simulated GPU does not use the CPU.
 * Plain data owned by the server; one loop thread; times are fg_now_us() microseconds.
 */
#ifndef FS_LOAD_H
#define FS_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "fg_orca.h"

#define FS_LOAD_GPU_SLOTS 1 /* fs_gpu runs one job at a time */
#define FS_LOAD_WINDOW_US 1000000

typedef struct fs_load {
    uint64_t bucket_start_us; /* start of the current 1 s bucket; 0 before the first count */
    uint64_t cur, prev;       /* frames rendered in the current and the previous bucket */
} fs_load;

/* frames were rendered at now_us. */
void fs_load_count(fs_load *l, uint64_t now_us, uint64_t frames);
/* Frames per second over the last second, at now_us (not before the last count). */
double fs_load_rps(fs_load *l, uint64_t now_us);
/* The report for a reply sent at now_us with gpu_depth jobs queued or running; rps_fractional
 * rounded to whole frames/s from 10 up, to eighths below. */
fg_orca_report fs_load_report(fs_load *l, uint64_t now_us, size_t gpu_depth);

#endif
