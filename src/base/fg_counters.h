/*
 * fg_counters: the proxy's process-wide counters and gauges, listed once (FG_STATS_GLOBAL:
 * kind, name, help; the name is the Prometheus name after "framegate_"), the replies by status
 * and the request-duration histogram. Relaxed atomics: any thread updates them without locks.
 * Below the front end and the pool, so a parser (fg_http) counts without linking the pool;
 * fg_stats (src/pool) renders them with the per-backend metrics. The function names keep the
 * fg_stats_ prefix their callers have always used.
 */
#ifndef FG_COUNTERS_H
#define FG_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#include "fg_status.h"

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
    X(COUNTER, ws_keepalive_closes_total, "WebSocket sessions closed for not answering a ping")    \
    X(COUNTER, tls_handshakes_total, "TLS handshakes completed with clients")                      \
    X(COUNTER, tls_plaintext_total, "Plaintext connections to the TLS port (400, closed)")         \
    X(COUNTER, tls_certificate_failures_total, "TLS clients failed on a certificate")              \
    X(COUNTER, tls_failures_total, "TLS client connections failed otherwise (protocol, ALPN)")     \
    X(COUNTER, tls_handshake_timeouts_total, "TLS handshakes not done in --header-timeout-ms")     \
    X(COUNTER, backend_tls_failures_total, "Backend connections failed in TLS (cert, ALPN h2)")    \
    X(COUNTER, log_lines_dropped_total, "Per-frame log lines dropped: stdout did not keep up")     \
    X(COUNTER, backend_connect_failures_total, "Backend connections that failed or were lost")     \
    X(COUNTER, dns_resolutions_total, "DNS discovery rounds completed")                            \
    X(COUNTER, dns_errors_total, "DNS targets that failed in a round (their backends were kept)")  \
    X(COUNTER, dns_changes_total, "DNS discovery rounds that changed the backend list")

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
/* Replies sent with status i (0..FG_STATUS_MAX; FG_STATUS_MAX + 1: any other code). */
uint64_t fg_stats_replies(int i);

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
/* The process-wide histograms: (id, Prometheus name, help, bucket bounds, scale: a bound or
 * a value over scale is what is rendered, e.g. microseconds as seconds). */
#define FG_STATS_HISTS(X)                                                                          \
    X(request_duration, "request_duration_seconds",                                                \
      "Time from request received to reply queued, in the proxy", fg_stats_bucket_us, 1e6)         \
    X(batch_size, "batch_size", "Frames per backend call (1: a single Render)",                    \
      fg_stats_batch_bounds, 1)                                                                    \
    X(cache_lookup, "cache_lookup_duration_seconds",                                               \
      "Redis lookups of the frame cache, request to answer", fg_stats_lookup_bounds_us, 1e6)

typedef enum fg_hist_id {
#define FG_STATS_HIST_ENUM(id, name, help, bounds, scale) FG_HIST_##id,
    FG_STATS_HISTS(FG_STATS_HIST_ENUM)
#undef FG_STATS_HIST_ENUM
        FG_HIST__COUNT
} fg_hist_id;

/* Upper bounds (microseconds) of the duration buckets, shared by every latency histogram. */
#define FG_STATS_NBUCKETS 14
extern const uint64_t fg_stats_bucket_us[FG_STATS_NBUCKETS];
/* Bounds of the batch size buckets; of the cache lookup ones (microseconds: a loopback Redis
 * answers in tens of them). */
extern const uint64_t fg_stats_batch_bounds[];
extern const uint64_t fg_stats_lookup_bounds_us[];

void fg_stats_observe(fg_hist_id id, uint64_t value);
/* A reply's proxy-side total time (FG_HIST_request_duration). */
void fg_stats_observe_total_us(uint64_t us);
/* One backend call's frames (FG_HIST_batch_size). */
void fg_stats_observe_batch(size_t frames);
/* A Redis lookup's duration (FG_HIST_cache_lookup). */
void fg_stats_observe_cache_lookup_us(uint64_t us);

/* A histogram's buckets: their bounds (*bounds, n of them) and counts (not cumulative). */
size_t fg_stats_hist_bounds(fg_hist_id id, const uint64_t **bounds);
uint64_t fg_stats_hist_bucket(fg_hist_id id, size_t i);
uint64_t fg_stats_hist_count(fg_hist_id id);
uint64_t fg_stats_hist_sum(fg_hist_id id);

#endif
