/*
 * fg_backend: one backend of the pool (internal to src/pool): its address, its HTTP/2 connection,
 * its active Check and its counters; its health is the process-wide one of its address
 * (fg_shared), which every worker's pool shares. Also the pool's own struct, which the pool's
 * modules share.
 *
 * Counters (stats, latency) are written by the pool's loop thread only, with relaxed atomic
 * stores (FG_BSTAT_ADD: a plain add on x86, no lock), and read with relaxed loads by whichever
 * worker renders /health or /metrics, summed over every worker's backend of the same address.
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
#include "fg_limit.h"
#include "fg_pool.h"
#include "fg_sched.h"
#include "fg_shared.h"

#define FG_STATS_BACKEND(X)                                                                        \
    X(COUNTER, total_requests, requests_total, "Frame calls sent to the backend")                  \
    X(COUNTER, frames_sent, frames_sent_total,                                                     \
      "Frames those calls carried (more than the calls when they are RenderBatch calls)")          \
    X(COUNTER, error_count, errors_total, "Frame calls that ended in a backend fault")             \
    X(GAUGE, in_flight, in_flight, "Frame calls in flight")                                        \
    X(GAUGE, consecutive_faults, consecutive_faults, "Backend faults in a row")                    \
    X(COUNTER, health_checks, health_checks_total, "Active health checks sent")                    \
    X(GAUGE, concurrency_limit, concurrency_limit,                                                 \
      "Frames the backend may hold at once (adaptive)")                                            \
    X(COUNTER, busy_timeouts, busy_timeouts_total,                                                 \
      "Calls that timed out while the backend was busy: overload, not a fault")

typedef struct fg_backend_stats {
#define FG_BACKEND_STAT_FIELD(kind, json, prom, help) uint64_t json;
    FG_STATS_BACKEND(FG_BACKEND_STAT_FIELD)
#undef FG_BACKEND_STAT_FIELD
} fg_backend_stats;

/* Single writer (the pool's thread), readers anywhere: see above. */
#define FG_BSTAT_ADD(b, field, delta)                                                              \
    __atomic_store_n(&(b)->stats.field, (b)->stats.field + (uint64_t)(delta), __ATOMIC_RELAXED)

/* One model a backend's ListModels named. */
typedef struct fg_backend_model {
    char *name;
    bool cacheable;
} fg_backend_model;

/* Models kept from one ListModels reply: more are ignored (the backend then cannot make the
 * ones left out cacheable). */
#define FG_BACKEND_MAX_MODELS 1024

struct fg_backend {
    fg_pool *pool;
    size_t index;  /* in pool->backends */
    char *address; /* as configured, e.g. "localhost:50051" */
    char *origin;  /* the DNS name it was resolved from, or NULL */
    char *host;
    uint16_t port;
    fg_grpc_conn *conn;
    fg_bshared *shared;       /* the address's health, shared by every worker's pool */
    fg_backend *shared_next;  /* in the shared entry's list (under the registry's lock) */
    fg_backend_stats stats;   /* consecutive_faults unused here: the shared one counts */
    fg_hist *latency;         /* frame call durations, microseconds */
    fg_grpc_call *check_call; /* the Check in flight, if any */
    uint64_t check_started_us;
    fg_limit limit;      /* this pool's adaptive concurrency limit and latency estimate */
    bool no_batch;       /* answered UNIMPLEMENTED to RenderBatch: single Render calls */
    double orca_util;    /* its last ORCA load report: application (else cpu) utilization */
    uint64_t orca_at_us; /* when it came; 0: never */
    /* What its ListModels said (asked once healthy, again after a reconnect or a return to
     * health): for fg_pool_model_cacheable. Unknown until answered. */
    fg_grpc_call *models_call;
    fg_backend_model *models;
    size_t nmodels;
    bool models_known;
    bool removed; /* dropped by fg_pool_set_backends: no new frames, drained, then freed */
    bool closing; /* its connection is closing (conn NULL) */
};

struct fg_pool {
    uv_loop_t *loop;
    fg_pool_config cfg;
    fg_limit_policy limit_policy;
    fg_pool_shared *shared; /* referenced: health, the round-robin cursor, the registry */
    _Atomic size_t *cursor; /* fg_shared_cursor(shared) */
    fg_backend **backends;  /* configured ones in configuration order, then draining ones */
    size_t nbackends;
    uv_timer_t check_timer;
    uv_timer_t sched_timer;  /* sheds queued frames past hope and restarts dispatching */
    fg_sched sched;          /* frames waiting for a backend, per flow */
    fg_flow *default_flow;   /* for fg_pool_submit without a flow */
    uint8_t *read_buf;       /* the backends' connections read into it (one loop: shared) */
    fg_slab *slab;           /* the per-frame allocations of the pool and its connections */
    fg_call *calls;          /* every frame not yet answered (queued or in flight) */
    size_t busy_flows;       /* flows with frames not yet answered (for fair shares) */
    int64_t queued_reported; /* this pool's part of the queue_length gauge */
    uint64_t est_at_us;      /* when the estimates below were computed */
    double est_rate;         /* frames per microsecond the usable backends render */
    uint64_t win_start_us;   /* the window of completions counted while frames waited */
    uint64_t win_done;
    bool win_idle;        /* the queue was empty at some point of the window */
    double measured_rate; /* completions per microsecond of the last saturated window */
    uint64_t measured_at_us;
    double est_service_us; /* latency of the slowest usable backend (peak EWMA) */
    double est_fastest_us; /* and of the fastest: less than that is certainly too late */
    size_t est_usable;     /* backends that take frames (healthy or on trial) */
    uint64_t rng;          /* xorshift state for the power of two choices */
    bool dispatching;
    bool closing;
    int closing_pending; /* connections and the timers still closing */
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

/* Sends a Check now unless one is in flight (and unless pool->cfg.passive_only); reconnects a
 * failed connection instead. Also asks ListModels when the backend is healthy and its list is
 * not known (every pool asks on its own connection). */
void fg_backend_check(fg_backend *b);
/* "connecting", "ready", "unhealthy" or "draining" (removed, calls still finishing). */
const char *fg_backend_state_name(const fg_backend *b);

bool fg_backend_healthy(const fg_backend *b);
const char *fg_backend_address(const fg_backend *b);
/* The name its address came from (fg_pool_set_backends_named), or NULL. */
const char *fg_backend_origin(const fg_backend *b);
void fg_backend_set_origin(fg_backend *b, const char *origin);
/* Its counters summed over every worker's backend of the same address (consecutive_faults: the
 * shared count), and, when latency is not NULL, their latency histograms merged into it. */
void fg_backend_totals(const fg_backend *b, fg_backend_stats *out, fg_hist *latency);
/* Why it is out of rotation: "fault", "timeout", "health_check", "connection"; "" while it
 * takes frames or before its first check. */
const char *fg_backend_out_reason(const fg_backend *b);
/* The reason of its last fault ("" if none), copied into buf. */
void fg_backend_last_error(const fg_backend *b, char *buf, size_t len);

#endif
