#include "fg_worker.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "fg_alloc.h"
#include "fg_cache.h"
#include "fg_front.h"
#include "fg_grpc_conn.h"
#include "fg_log.h"

/* A backend list on its way to a worker. */
typedef struct reload_msg {
    char **addrs;
    char **names; /* entries may be NULL */
    size_t n;
} reload_msg;

struct fg_worker {
    fg_worker_config wc;
    uv_loop_t loop;
    uv_thread_t thread;
    bool started;
    fg_pool *pool;
    fg_cache *cache;
    fg_front *front;
    uv_async_t wakeup;
    atomic_bool stop_requested;
    _Atomic(reload_msg *) reload;
    bool stopping; /* on the worker's thread */
};

static void reload_msg_free(reload_msg *m) {
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->addrs[i]);
        free(m->names[i]);
    }
    free(m->addrs);
    free(m->names);
    free(m);
}

static void on_pool_closed(void *arg) {
    fg_worker *w = arg;
    w->pool = NULL;
    uv_close((uv_handle_t *)&w->wakeup, NULL); /* the last handle: the loop ends */
}

static void on_cache_closed(void *arg) {
    fg_worker *w = arg;
    w->cache = NULL;
    fg_pool_close(w->pool, on_pool_closed, w);
}

static void on_front_done(void *arg) {
    fg_worker *w = arg;
    w->front = NULL;
    fg_cache_close(w->cache, on_cache_closed, w); /* every session is gone: no frame in it */
}

static void begin_shutdown(fg_worker *w) {
    if (w->stopping)
        return;
    w->stopping = true;
    fg_front_shutdown(w->front, (uint32_t)w->wc.cfg->drain_ms, on_front_done, w);
}

static void on_wakeup(uv_async_t *handle) {
    fg_worker *w = handle->data;
    reload_msg *m = atomic_exchange(&w->reload, NULL);
    if (m && !w->stopping)
        fg_pool_set_backends_named(w->pool, (const char *const *)m->addrs,
                                   (const char *const *)m->names, m->n); /* logs the change */
    reload_msg_free(m);
    if (atomic_load(&w->stop_requested))
        begin_shutdown(w);
}

static fg_pool_config pool_config(const fg_worker_config *wc) {
    const fg_config *c = wc->cfg;
    return (fg_pool_config){
        .addrs = (const char *const *)c->backends,
        .naddrs = c->nbackends,
        .timeout_ms = (uint32_t)c->timeout_ms,
        .retries = (uint32_t)c->retries,
        .deadline_ms = (uint32_t)c->deadline_ms,
        .backend_max_inflight = (uint32_t)c->backend_max_inflight,
        .batch_max = (uint32_t)c->batch_max,
        .batch_window_us = (uint32_t)c->batch_window_us,
        .balance = c->balance == FG_CONFIG_BALANCE_ROUND_ROBIN ? FG_BALANCE_ROUND_ROBIN
                                                               : FG_BALANCE_LEAST_REQUEST,
        .unhealthy_after = (uint32_t)c->unhealthy_after,
        .healthy_after = (uint32_t)c->healthy_after,
        .health_interval_ms = (uint32_t)c->health_interval_ms,
        .max_reply_bytes = FG_GRPC_MAX_REPLY_DEFAULT,
        .max_queue = FG_GRPC_MAX_QUEUE_DEFAULT,
        .shared = wc->shared,
        .passive_only = wc->index > 0,
        .may_start_empty = c->ndns > 0,
        .tls = wc->tls_backend,
    };
}

static fg_cache_config cache_config(const fg_worker_config *wc) {
    const fg_config *c = wc->cfg;
    return (fg_cache_config){
        .mem_bytes = c->cache_mem / c->workers,
        .redis_url = c->cache_redis,
        .ttl_s = (uint32_t)c->cache_ttl_s,
        .budget_us = (uint32_t)c->cache_budget_us,
        .max_item_bytes = (uint32_t)c->cache_max_item,
        .deadline_ms = (uint32_t)c->deadline_ms,
    };
}

static fg_front_config front_config(const fg_worker_config *wc) {
    const fg_config *c = wc->cfg;
    return (fg_front_config){
        .host = c->host,
        .port = wc->port,
        .reuseport = wc->reuseport,
        .max_inflight = (uint32_t)c->max_inflight,
        .deadline_ms = (uint32_t)c->deadline_ms,
        .max_buffered = c->max_buffered,
        .client_sndbuf = (uint32_t)c->client_sndbuf,
        .max_message = c->max_message,
        .max_connections = (uint32_t)c->max_connections,
        .header_timeout_ms = (uint32_t)c->header_timeout_ms,
        .ws_ping_ms = (uint32_t)c->ws_ping_ms,
        .allowed_origins = c->allowed_origins,
        .auth_token = c->auth_token,
        .log_frames = c->log_frames,
        .tls = wc->tls_front,
    };
}

int fg_worker_new(const fg_worker_config *wc, fg_worker **out) {
    fg_worker *w = fg_calloc(1, sizeof *w);
    w->wc = *wc;
    atomic_init(&w->stop_requested, false);
    atomic_init(&w->reload, NULL);
    uv_loop_init(&w->loop);
    fg_pool_config pc = pool_config(wc);
    if (fg_pool_new(&w->loop, &pc, &w->pool) != 0) {
        fprintf(stderr, "framegate: bad backend list (see the message above)\n");
        uv_loop_close(&w->loop);
        free(w);
        return 2;
    }
    fg_cache_config cc = cache_config(wc);
    if (fg_cache_new(&w->loop, w->pool, &cc, &w->cache) != 0) {
        fprintf(stderr, "framegate: bad --cache-redis (see the message above)\n");
        fg_pool_close(w->pool, NULL, NULL);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
        free(w);
        return 2;
    }
    fg_front_config fc = front_config(wc);
    int rc = fg_front_new(&w->loop, w->pool, w->cache, &fc, &w->front);
    if (rc < 0) {
        fprintf(stderr, "framegate: cannot listen on %s:%u: %s\n", wc->cfg->host,
                (unsigned)wc->port, uv_strerror(rc));
        fg_cache_close(w->cache, NULL, NULL);
        fg_pool_close(w->pool, NULL, NULL);
        uv_run(&w->loop, UV_RUN_DEFAULT); /* lets the pool and the listener close */
        uv_loop_close(&w->loop);
        free(w);
        return 1;
    }
    uv_async_init(&w->loop, &w->wakeup, on_wakeup);
    w->wakeup.data = w;
    *out = w;
    return 0;
}

void fg_worker_address(const fg_worker *w, char *buf, size_t len, uint16_t *port) {
    fg_front_address(w->front, buf, len, port);
}

static void run(void *arg) {
    fg_worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    w->wc.stopped(w->wc.stopped_arg);
}

int fg_worker_start(fg_worker *w) {
    int rc = uv_thread_create(&w->thread, run, w);
    if (rc == 0)
        w->started = true;
    return rc;
}

void fg_worker_shutdown(fg_worker *w) {
    atomic_store(&w->stop_requested, true);
    uv_async_send(&w->wakeup);
}

void fg_worker_reload(fg_worker *w, char *const *addrs, char *const *names, size_t n) {
    reload_msg *m = fg_calloc(1, sizeof *m);
    m->addrs = fg_calloc(n, sizeof *m->addrs);
    m->names = fg_calloc(n, sizeof *m->names);
    for (size_t i = 0; i < n; i++) {
        m->addrs[i] = fg_strdup(addrs[i]);
        m->names[i] = names && names[i] ? fg_strdup(names[i]) : NULL;
    }
    m->n = n;
    reload_msg_free(atomic_exchange(&w->reload, m));
    uv_async_send(&w->wakeup);
}

void fg_worker_free(fg_worker *w) {
    if (w->started)
        uv_thread_join(&w->thread);
    uv_loop_close(&w->loop);
    reload_msg_free(atomic_exchange(&w->reload, NULL));
    free(w);
}
