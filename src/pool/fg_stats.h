/*
 * fg_stats: every metric of the proxy, listed once, rendered to /health JSON and /metrics.
 *
 * FG_STATS_GLOBAL lists the process-wide counters and gauges: (kind, name, help). The name is
 * the Prometheus name after the "framegate_" prefix. Counters are updated with relaxed atomics
 * so worker threads can share them without locks.
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
#include "fg_pool.h"

#define FG_STATS_GLOBAL(X)                                                                         \
    X(COUNTER, connections_total, "Client connections accepted")                                   \
    X(GAUGE, connections_open, "Client connections open")                                          \
    X(COUNTER, connections_rejected_total, "Client connections refused over --max-connections")    \
    X(COUNTER, http_requests_total, "Plain HTTP requests answered")                                \
    X(COUNTER, ws_sessions_total, "WebSocket sessions upgraded")                                   \
    X(GAUGE, ws_sessions_open, "WebSocket sessions open")                                          \
    X(COUNTER, frame_requests_total, "Frame requests received over WebSocket")                     \
    X(COUNTER, frame_retries_total, "Backend attempts beyond the first")                           \
    X(GAUGE, queue_length, "Frames waiting in the proxy for a backend")                            \
    X(COUNTER, frames_shed_total,                                                                  \
      "Frames answered RESOURCE_EXHAUSTED overloaded: they could not be answered in time")         \
    X(COUNTER, frames_shed_memory_total,                                                           \
      "Frames shed for a client not reading while --max-buffered reply memory was in use")         \
    X(COUNTER, frames_superseded_total, "Frames answered CANCELLED superseded by a LATEST frame")  \
    X(GAUGE, buffered_reply_bytes, "Reply bytes waiting for clients to read them")                 \
    X(COUNTER, hints_sent_total, "HINT messages sent")                                             \
    X(COUNTER, ejections_fault_total, "Backends taken out for frame call faults")                  \
    X(COUNTER, ejections_timeout_total, "Backends taken out for timeouts while otherwise idle")    \
    X(COUNTER, ejections_health_check_total, "Backends taken out by a failed health check")        \
    X(COUNTER, ejections_connection_total, "Backends taken out by a failed connection")            \
    X(COUNTER, client_bytes_in_total, "Bytes read from clients")                                   \
    X(COUNTER, client_bytes_out_total, "Bytes written to clients")                                 \
    X(COUNTER, http_timeouts_total, "Request heads not complete in --header-timeout-ms (408)")     \
    X(COUNTER, http_head_too_large_total, "Request heads over the size or header limit (431)")     \
    X(COUNTER, ws_forbidden_total, "WebSocket upgrades refused for their Origin (403)")            \
    X(COUNTER, ws_unauthorized_total, "WebSocket upgrades without the --auth-token (401)")         \
    X(COUNTER, ws_keepalive_closes_total, "WebSocket sessions closed for not answering a ping")

/* The frame cache (src/cache), rendered to /metrics with the "framegate_" prefix and to the
 * "cache" object of /health under the JSON name: (kind, json_name, prom_name, help). Each
 * cacheable frame counts once as a hit, a miss or coalesced. */
#define FG_STATS_CACHE(X)                                                                          \
    X(GAUGE, memory_max_bytes, cache_memory_max_bytes,                                             \
      "Budget of the in-process tier (--cache-mem), bytes; 0: no such tier")                       \
    X(GAUGE, memory_bytes, cache_memory_bytes, "Bytes held by the in-process tier")                \
    X(GAUGE, memory_items, cache_memory_items, "Images held by the in-process tier")               \
    X(GAUGE, redis_configured, cache_redis_configured,                                             \
      "Redis connections configured (--cache-redis: one per worker)")                              \
    X(GAUGE, redis_connected, cache_redis_connected, "Redis connections up")                       \
    X(COUNTER, hits, cache_hits_total, "Frames answered from the cache (either tier)")             \
    X(COUNTER, memory_hits, cache_memory_hits_total, "Frames answered from the in-process tier")   \
    X(COUNTER, redis_hits, cache_redis_hits_total, "Frames answered from Redis")                   \
    X(COUNTER, misses, cache_misses_total, "Cacheable frames sent to a backend")                   \
    X(COUNTER, coalesced, cache_coalesced_total,                                                   \
      "Frames answered with an identical frame's lookup or render")                                \
    X(COUNTER, errors, cache_errors_total,                                                         \
      "Redis lookups or stores that failed, timed out, or answered garbage")                       \
    X(COUNTER, timeouts, cache_timeouts_total,                                                     \
      "Redis lookups past their budget (--cache-budget-us; also counted as errors)")               \
    X(COUNTER, stores, cache_stores_total, "Images stored")                                        \
    X(COUNTER, too_large, cache_too_large_total, "Images not stored: over --cache-max-item")       \
    X(COUNTER, redis_reconnects, cache_redis_reconnects_total,                                     \
      "Redis connections lost or dropped (reconnected in the background)")                         \
    X(COUNTER, bypassed, cache_bypassed_total, "Frames of models that are not cacheable")

typedef enum fg_cache_stat_id {
#define FG_STATS_CACHE_ENUM(kind, json, prom, help) FG_CSTAT_##json,
    FG_STATS_CACHE(FG_STATS_CACHE_ENUM)
#undef FG_STATS_CACHE_ENUM
        FG_CSTAT__COUNT
} fg_cache_stat_id;

void fg_stats_cache_add(fg_cache_stat_id id, int64_t delta);
uint64_t fg_stats_cache_get(fg_cache_stat_id id);
/* A Redis lookup's duration, for the framegate_cache_lookup_duration_seconds histogram. */
void fg_stats_observe_cache_lookup_us(uint64_t us);

typedef enum fg_stat_id {
#define FG_STATS_ENUM(kind, name, help) FG_STAT_##name,
    FG_STATS_GLOBAL(FG_STATS_ENUM)
#undef FG_STATS_ENUM
        FG_STAT__COUNT
} fg_stat_id;

void fg_stats_add(fg_stat_id id, int64_t delta);
uint64_t fg_stats_get(fg_stat_id id);
/* For a gauge read from elsewhere just before rendering. */
void fg_stats_set(fg_stat_id id, int64_t value);
/* One reply sent to a client, by gRPC status (0 = FRAME): framegate_replies_total{status=...}. */
void fg_stats_reply(int status);
/* A reply's proxy-side total time, for the framegate_request_duration_seconds histogram. */
void fg_stats_observe_total_us(uint64_t us);

/* /health body (exactly the contract's shape, plus extra per-backend fields, plus a "cache"
 * object when a cache tier is configured: FG_STATS_CACHE, its tiers and "redis" one of "off",
 * "connected", "disconnected") and its HTTP
 * status (200 when any backend is healthy, else 503). 0, or FG_ERR_TOO_BIG if out is full. */
int fg_stats_render_health(const fg_pool *pool, fg_buf *out, int *http_status);
/* /metrics body in Prometheus text format 0.0.4. 0, or FG_ERR_TOO_BIG. */
int fg_stats_render_prometheus(const fg_pool *pool, fg_buf *out);

#endif
