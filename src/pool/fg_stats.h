/*
 * fg_stats: every metric of the proxy, listed once, rendered to /health JSON and /metrics.
 *
 * FG_STATS_GLOBAL (fg_counters.h, below the pool and the front end) lists the process-wide
 * counters and gauges; they are updated with relaxed atomics by any worker thread.
 *
 * Per-backend metrics (FG_STATS_BACKEND in fg_backend.h: total_requests, error_count, in_flight,
 * consecutive_faults, health_checks) are kept in each backend and rendered from their own list the
 * same way, with state, last_error and a latency histogram (p50/p90/p99 in /health, buckets with a
 * `backend` label in /metrics). Backend counters belong to the pool's loop thread.
 */
#ifndef FG_STATS_H
#define FG_STATS_H

#include <stdint.h>

#include "fg_buf.h"
#include "fg_counters.h"
#include "fg_pool.h"

/* /health body (exactly the contract's shape, plus extra per-backend fields) and its HTTP
 * status (200 when any backend is healthy, else 503). 0, or FG_ERR_TOO_BIG if out is full. */
int fg_stats_render_health(const fg_pool *pool, fg_buf *out, int *http_status);
/* /metrics body in Prometheus text format 0.0.4. 0, or FG_ERR_TOO_BIG. */
int fg_stats_render_prometheus(const fg_pool *pool, fg_buf *out);

#endif
