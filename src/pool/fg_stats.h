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
    X(COUNTER, backend_tls_failures_total, "Backend connections failed in TLS (cert, ALPN h2)")

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

/* /health body (exactly the contract's shape, plus extra per-backend fields) and its HTTP
 * status (200 when any backend is healthy, else 503). 0, or FG_ERR_TOO_BIG if out is full. */
int fg_stats_render_health(const fg_pool *pool, fg_buf *out, int *http_status);
/* /metrics body in Prometheus text format 0.0.4. 0, or FG_ERR_TOO_BIG. */
int fg_stats_render_prometheus(const fg_pool *pool, fg_buf *out);

#endif
