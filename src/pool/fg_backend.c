#include "fg_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_clock.h"
#include "fg_err.h"
#include "fg_hostport.h"
#include "fg_log.h"
#include "fg_stats.h"
#include "fg_status.h"
#include "framegate/v1/frames.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"

#define HEALTH_CHECK_PATH "/grpc.health.v1.Health/Check"
#define LIST_MODELS_PATH "/framegate.v1.FrameService/ListModels"

int fg_backend_parse_address(const char *addr, char **host, uint16_t *port) {
    const char *h;
    size_t hlen;
    if (fg_hostport_split(addr, strlen(addr), &h, &hlen, port) < 0)
        return FG_ERR_INVALID;
    *host = fg_strndup(h, hlen);
    return 0;
}

/* ---- the models it serves (ListModels) ---- */

static void forget_models(fg_backend *b) {
    if (b->models_call)
        fg_grpc_call_cancel(b->models_call);
    b->models_call = NULL;
    for (size_t i = 0; i < b->nmodels; i++)
        free(b->models[i].name);
    free(b->models);
    b->models = NULL;
    b->nmodels = 0;
    b->models_known = false;
}

static void on_models_done(void *user, const fg_grpc_result *res) {
    fg_backend *b = user;
    b->models_call = NULL;
    if (res->status != FG_STATUS_OK)
        return; /* unknown until a later try: its models are not cacheable meanwhile */
    Framegate__V1__ListModelsReply *reply =
        framegate__v1__list_models_reply__unpack(NULL, res->reply_len, res->reply);
    if (!reply) {
        fg_log_warn("%s: ListModels reply does not parse", b->address);
        return;
    }
    size_t n = reply->n_models < FG_BACKEND_MAX_MODELS ? reply->n_models : FG_BACKEND_MAX_MODELS;
    b->models = fg_calloc(n ? n : 1, sizeof *b->models);
    size_t cacheable = 0;
    for (size_t i = 0; i < n; i++) {
        const Framegate__V1__ModelInfo *m = reply->models[i];
        b->models[b->nmodels].name = fg_strdup(m->name ? m->name : "");
        b->models[b->nmodels].cacheable = m->cacheable;
        cacheable += m->cacheable;
        b->nmodels++;
    }
    b->models_known = true;
    framegate__v1__list_models_reply__free_unpacked(reply, NULL);
    fg_log_debug("%s: %zu models, %zu cacheable", b->address, n, cacheable);
}

/* Asks ListModels when the backend takes frames and its list is not known; forgets the list
 * while it does not, so a return to health asks again. */
static void refresh_models(fg_backend *b) {
    if (b->pool->closing || b->removed || !b->conn)
        return;
    if (!fg_bshared_healthy(b->shared)) {
        if (b->models_known || b->models_call)
            forget_models(b);
        return;
    }
    if (b->models_known || b->models_call || fg_grpc_conn_get_state(b->conn) != FG_GRPC_CONN_READY)
        return;
    uint64_t timeout_us = (uint64_t)b->pool->cfg.timeout_ms * 1000;
    /* ListModelsRequest{} serializes to zero bytes. */
    if (fg_grpc_conn_call(b->conn, LIST_MODELS_PATH, NULL, 0, timeout_us, on_models_done, b,
                          &b->models_call) < 0)
        b->models_call = NULL;
}

bool fg_pool_model_cacheable(const fg_pool *pool, const char *model, size_t len) {
    bool listed = false;
    for (size_t i = 0; i < pool->nbackends; i++) {
        const fg_backend *b = pool->backends[i];
        if (!fg_backend_healthy(b))
            continue;
        if (!b->models_known)
            return false; /* it may serve the model and not say cacheable */
        for (size_t k = 0; k < b->nmodels; k++) {
            const fg_backend_model *m = &b->models[k];
            if (strlen(m->name) != len || memcmp(m->name, model, len) != 0)
                continue;
            if (!m->cacheable)
                return false;
            listed = true;
        }
    }
    return listed;
}

/* ---- health ---- */

static void on_check_done(void *user, const fg_grpc_result *res) {
    fg_backend *b = user;
    b->check_call = NULL;
    fg_serving serving = FG_SERVING_UNKNOWN;
    int status = res->status;
    const char *message = res->message;
    if (status == FG_STATUS_OK) {
        Grpc__Health__V1__HealthCheckResponse *reply =
            grpc__health__v1__health_check_response__unpack(NULL, res->reply_len, res->reply);
        if (reply) {
            serving = (fg_serving)reply->status;
            grpc__health__v1__health_check_response__free_unpacked(reply, NULL);
        } else {
            status = FG_STATUS_INTERNAL;
            message = "bad HealthCheckResponse";
        }
    }
    fg_bshared_on_check(b->shared, status, serving, message, fg_now_us());
    refresh_models(b); /* at once when it just became healthy */
}

void fg_backend_check(fg_backend *b) {
    refresh_models(b);
    if (b->pool->closing || b->removed || b->check_call)
        return;
    if (fg_grpc_conn_get_state(b->conn) == FG_GRPC_CONN_FAILED) {
        /* The check interval doubles as the reconnect probe: a restarted backend comes back
         * within one interval instead of a long reconnect backoff. */
        fg_grpc_conn_reconnect_now(b->conn);
        return;
    }
    if (b->pool->cfg.passive_only)
        return; /* another worker's pool checks this address for every pool */
    /* HealthCheckRequest{service: ""} serializes to zero bytes. */
    uint64_t timeout_us = (uint64_t)b->pool->cfg.timeout_ms * 1000;
    int rv = fg_grpc_conn_call(b->conn, HEALTH_CHECK_PATH, NULL, 0, timeout_us, on_check_done, b,
                               &b->check_call);
    if (rv < 0) {
        b->check_call = NULL;
        return;
    }
    FG_BSTAT_ADD(b, health_checks, 1);
    b->check_started_us = fg_now_us();
}

static void on_conn_state(void *user, fg_grpc_conn_state state, const char *reason) {
    fg_backend *b = user;
    if (b->pool->closing || b->removed)
        return;
    if (state != FG_GRPC_CONN_CONNECTING)
        forget_models(b); /* a new connection may be a restarted backend: ask again */
    if (state == FG_GRPC_CONN_FAILED && b->conn && fg_grpc_conn_tls_failure(b->conn) != FG_TLS_OK)
        fg_stats_add(FG_STAT_backend_tls_failures_total, 1);
    if (state == FG_GRPC_CONN_FAILED) {
        fg_stats_add(FG_STAT_backend_connect_failures_total, 1); /* DNS discovery watches it */
        fg_bshared_on_conn_failed(b->shared, reason);
    } else if (state == FG_GRPC_CONN_READY)
        fg_backend_check(b); /* a fresh connection learns its health at once */
}

int fg_backend_new(fg_pool *pool, const char *addr, fg_backend **out) {
    fg_backend *b = fg_calloc(1, sizeof *b);
    b->pool = pool;
    if (fg_backend_parse_address(addr, &b->host, &b->port) < 0) {
        fg_log_error("bad backend address \"%s\" (want host:port)", addr);
        free(b);
        return FG_ERR_INVALID;
    }
    b->address = fg_strdup(addr);
    b->shared = fg_shared_attach(pool->shared, addr, b);
    b->latency = fg_hist_new();
    fg_grpc_conn_opts opts = {
        .max_reply_bytes = pool->cfg.max_reply_bytes,
        .max_queue = pool->cfg.max_queue,
        .tls = pool->cfg.tls,
        .read_buf = pool->read_buf,
        .slab = pool->slab,
        .state_cb = on_conn_state,
        .user = b,
    };
    int rv = fg_grpc_conn_new(pool->loop, b->host, b->port, &opts, &b->conn);
    if (rv < 0) {
        fg_backend_free(b);
        return rv;
    }
    *out = b;
    return 0;
}

void fg_backend_close(fg_backend *b, void (*on_closed)(void *arg), void *arg) {
    forget_models(b);
    if (b->check_call)
        fg_grpc_call_cancel(b->check_call);
    b->check_call = NULL;
    b->closing = true;
    fg_grpc_conn_close(b->conn, on_closed, arg);
    b->conn = NULL;
}

void fg_backend_free(fg_backend *b) {
    forget_models(b);
    if (b->shared)
        fg_shared_detach(b->pool->shared, b->shared, b);
    if (b->latency)
        fg_hist_free(b->latency);
    free(b->address);
    free(b->origin);
    free(b->host);
    free(b);
}

const char *fg_backend_state_name(const fg_backend *b) {
    if (b->removed)
        return "draining";
    fg_health h;
    fg_bshared_snapshot(b->shared, &h);
    if (h.healthy)
        return "ready";
    if (!h.reported_down && b->conn && fg_grpc_conn_get_state(b->conn) == FG_GRPC_CONN_CONNECTING)
        return "connecting";
    return "unhealthy";
}

const char *fg_backend_out_reason(const fg_backend *b) {
    fg_health h;
    fg_bshared_snapshot(b->shared, &h);
    return h.healthy ? "" : fg_out_reason_name(h.out_reason);
}

bool fg_backend_healthy(const fg_backend *b) {
    return fg_bshared_healthy(b->shared) && !b->removed;
}

const char *fg_backend_address(const fg_backend *b) {
    return b->address;
}

const char *fg_backend_origin(const fg_backend *b) {
    return b->origin;
}

void fg_backend_set_origin(fg_backend *b, const char *origin) {
    if (b->origin && origin && strcmp(b->origin, origin) == 0)
        return;
    free(b->origin);
    b->origin = origin ? fg_strdup(origin) : NULL;
}

typedef struct totals {
    fg_backend_stats *sum;
    fg_hist *latency;
} totals;

static void add_totals(const fg_backend *b, void *arg) {
    totals *t = arg;
#define FG_BACKEND_STAT_SUM(kind, json, prom, help)                                                \
    t->sum->json += __atomic_load_n(&b->stats.json, __ATOMIC_RELAXED);
    FG_STATS_BACKEND(FG_BACKEND_STAT_SUM)
#undef FG_BACKEND_STAT_SUM
    if (t->latency)
        fg_hist_merge(t->latency, b->latency);
}

void fg_backend_totals(const fg_backend *b, fg_backend_stats *out, fg_hist *latency) {
    memset(out, 0, sizeof *out);
    totals t = {out, latency};
    fg_shared_each_backend(b->pool->shared, b->shared, add_totals, &t);
    out->consecutive_faults = fg_bshared_consecutive_faults(b->shared);
}

void fg_backend_last_error(const fg_backend *b, char *buf, size_t len) {
    fg_health h;
    fg_bshared_snapshot(b->shared, &h);
    snprintf(buf, len, "%s", h.last_error);
}
