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
    X(COUNTER, client_bytes_in_total, "Bytes read from clients")                                   \
    X(COUNTER, client_bytes_out_total, "Bytes written to clients")                                 \
    X(COUNTER, http_timeouts_total, "Request heads not complete in --header-timeout-ms (408)")     \
    X(COUNTER, http_head_too_large_total, "Request heads over the size or header limit (431)")     \
    X(COUNTER, ws_forbidden_total, "WebSocket upgrades refused for their Origin (403)")            \
    X(COUNTER, ws_unauthorized_total, "WebSocket upgrades without the --auth-token (401)")         \
    X(COUNTER, ws_keepalive_closes_total, "WebSocket sessions closed for not answering a ping")    \
    X(COUNTER, log_lines_dropped_total, "Per-frame log lines dropped: stdout did not keep up")

typedef enum fg_stat_id {
#define FG_STATS_ENUM(kind, name, help) FG_STAT_##name,
    FG_STATS_GLOBAL(FG_STATS_ENUM)
#undef FG_STATS_ENUM
        FG_STAT__COUNT
} fg_stat_id;

void fg_stats_add(fg_stat_id id, int64_t delta);
uint64_t fg_stats_get(fg_stat_id id);
/* One reply sent to a client, by gRPC status (0 = FRAME): framegate_replies_total{status=...}. */
void fg_stats_reply(int status);
/* A reply's proxy-side total time, for the framegate_request_duration_seconds histogram. */
void fg_stats_observe_total_us(uint64_t us);

/* Upper bounds (microseconds) of the duration buckets, shared by every latency histogram. */
extern const uint64_t fg_stats_bucket_us[];
#define FG_STATS_NBUCKETS 14
/* Replies sent with status i (0..FG_STATUS_MAX; FG_STATUS_MAX + 1: any other code). */
uint64_t fg_stats_replies(int i);
/* Requests whose total time fell in bucket i (not cumulative); their count and sum. */
uint64_t fg_stats_duration_bucket(size_t i);
uint64_t fg_stats_duration_count(void);
uint64_t fg_stats_duration_sum_us(void);

#endif
