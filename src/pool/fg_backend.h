/*
 * fg_backend: one backend of the pool (internal to src/pool): its address, its HTTP/2 connection,
 * its health state machine, its active Check and its counters. Also the pool's own struct, which
 * the pool's modules share.
 *
 * FG_STATS_BACKEND lists the per-backend counters once: (kind, json_name, prom_name, help). The
 * JSON name is the /health field; the Prometheus name follows "framegate_backend_".
 */
#ifndef FG_BACKEND_H
#define FG_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "fg_grpc_conn.h"
#include "fg_health.h"
#include "fg_hist.h"
#include "fg_pool.h"

#define FG_STATS_BACKEND(X)                                                                        \
    X(COUNTER, total_requests, requests_total, "Frame calls sent to the backend")                  \
    X(COUNTER, error_count, errors_total, "Frame calls that ended in a backend fault")             \
    X(GAUGE, in_flight, in_flight, "Frame calls in flight")                                        \
    X(GAUGE, consecutive_faults, consecutive_faults, "Backend faults in a row")                    \
    X(COUNTER, health_checks, health_checks_total, "Active health checks sent")

typedef struct fg_backend_stats {
#define FG_BACKEND_STAT_FIELD(kind, json, prom, help) uint64_t json;
    FG_STATS_BACKEND(FG_BACKEND_STAT_FIELD)
#undef FG_BACKEND_STAT_FIELD
} fg_backend_stats;

struct fg_backend {
    fg_pool *pool;
    size_t index;  /* in pool->backends */
    char *address; /* as configured, e.g. "localhost:50051" */
    char *host;
    uint16_t port;
    fg_grpc_conn *conn;
    fg_health health;
    fg_backend_stats stats;
    fg_hist *latency;         /* frame call durations, microseconds */
    fg_grpc_call *check_call; /* the Check in flight, if any */
    uint64_t check_started_us;
    bool removed; /* dropped by fg_pool_set_backends: no new frames, drained, then freed */
    bool closing; /* its connection is closing (conn NULL) */
};

struct fg_pool {
    uv_loop_t *loop;
    fg_pool_config cfg;
    fg_health_policy policy;
    fg_backend **backends; /* configured ones in configuration order, then draining ones */
    size_t nbackends;
    size_t cursor;
    uv_timer_t check_timer;
    fg_call *calls; /* frames in flight, for fg_pool_close */
    bool closing;
    int closing_pending; /* connections and the timer still closing */
    void (*closed_cb)(void *arg);
    void *closed_arg;
};

/* Splits "host:port" or "[v6]:port"; 0, or FG_ERR_INVALID. */
int fg_backend_parse_address(const char *addr, char **host, uint16_t *port);
/* 0 and *out (connecting already), or FG_ERR_INVALID (bad address, logged). */
int fg_backend_new(fg_pool *pool, const char *addr, fg_backend **out);
/* Cancels its Check and closes the connection; on_closed(arg) runs from a later loop iteration
 * once the connection is gone. Calls still on it are dropped without callbacks. */
void fg_backend_close(fg_backend *b, void (*on_closed)(void *arg), void *arg);
/* Frees the backend; after its connection is closed (or never opened). */
void fg_backend_free(fg_backend *b);

/* Records a health transition and logs it ("X unhealthy: REASON", "X healthy again"). */
void fg_backend_apply(fg_backend *b, fg_health_change change);
/* Sends a Check now unless one is in flight; reconnects a failed connection instead. */
void fg_backend_check(fg_backend *b);
/* "connecting", "ready", "unhealthy" or "draining" (removed, calls still finishing). */
const char *fg_backend_state_name(const fg_backend *b);

bool fg_backend_healthy(const fg_backend *b);
const char *fg_backend_address(const fg_backend *b);
const fg_backend_stats *fg_backend_get_stats(const fg_backend *b);
const char *fg_backend_last_error(const fg_backend *b);
const fg_hist *fg_backend_latency(const fg_backend *b);

#endif
