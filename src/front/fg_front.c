#include "fg_front.h"

#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_conn.h"
#include "fg_http.h"
#include "fg_listener.h"
#include "fg_log.h"
#include "fg_stats.h"
#include "fg_ws.h"

/* Shares of the drain time: frames in flight get the first 75%; then every client gets its
 * 1001 and until 90% to answer it; then the rest is closed, leaving the last 10% for the pool
 * and the loop to wind down inside --drain-ms. */
#define DRAIN_FRAMES_PCT 75
#define DRAIN_CLOSE_PCT 90

typedef enum shutdown_phase { RUNNING, DRAINING, CLOSING, FORCING } shutdown_phase;

struct fg_front {
    fg_conn_env env; /* first: the read buffer lives here */
    fg_listener *listener;
    uint32_t max_connections;
    uv_timer_t timer; /* shutdown phases */
    shutdown_phase phase;
    uint32_t drain_ms;
    void (*done)(void *arg);
    void *done_arg;
};

static int render_page(void *user, const char *path, size_t len, fg_buf *body,
                       const char **content_type) {
    fg_front *f = user;
    int status = 0;
    if (len == 7 && memcmp(path, "/health", 7) == 0) {
        *content_type = "application/json";
        if (fg_stats_render_health(f->env.session.pool, body, &status) != 0)
            status = 500;
    } else if (len == 8 && memcmp(path, "/metrics", 8) == 0) {
        *content_type = "text/plain; version=0.0.4; charset=utf-8";
        fg_stats_set(FG_STAT_buffered_reply_bytes, (int64_t)fg_ws_msgs_bytes());
        status = fg_stats_render_prometheus(f->env.session.pool, body) == 0 ? 200 : 500;
    }
    return status;
}

static void free_handle(uv_handle_t *handle) {
    free(handle);
}

static void on_connection(fg_listener *l, void *user) {
    fg_front *f = user;
    /* Counted process-wide (connections_open): with --workers the limit holds for them all. */
    if (fg_stats_get(FG_STAT_connections_open) >= f->max_connections) {
        /* Accept, answer 503 if the socket takes it at once, and close: the client learns now
         * instead of waiting in the backlog, and the open connections are not disturbed. */
        uv_tcp_t *t = fg_malloc(sizeof(*t));
        uv_tcp_init(f->env.loop, t);
        if (uv_accept(fg_listener_stream(l), (uv_stream_t *)t) == 0) {
            fg_buf b;
            fg_buf_init(&b, 1024);
            fg_http_refuse_connection(&b, 503, "too many connections\n");
            uv_buf_t ub = uv_buf_init((char *)b.data, (unsigned)b.len);
            uv_try_write((uv_stream_t *)t, &ub, 1);
            fg_buf_free(&b);
        }
        uv_close((uv_handle_t *)t, free_handle);
        fg_stats_add(FG_STAT_connections_rejected_total, 1);
        return;
    }
    int rc = fg_conn_accept(&f->env, fg_listener_stream(l));
    if (rc < 0)
        fg_log_warn("accept failed: %s", uv_strerror(rc));
}

static void on_timer_closed(uv_handle_t *handle) {
    fg_front *f = handle->data;
    void (*done)(void *) = f->done;
    void *arg = f->done_arg;
    free(f);
    if (done)
        done(arg);
}

/* Frees the front once the last connection's handles are closed: their close callbacks use
 * f->env. */
static void maybe_done(fg_front *f) {
    if (f->phase == RUNNING || f->env.nalive > 0 || uv_is_closing((uv_handle_t *)&f->timer))
        return;
    uv_close((uv_handle_t *)&f->timer, on_timer_closed);
}

static void on_conn_freed(void *arg) {
    maybe_done(arg);
}

static void on_shutdown_timer(uv_timer_t *timer) {
    fg_front *f = timer->data;
    if (f->phase == DRAINING) {
        /* Grace over: 1001 to everyone now, frames still in flight are dropped. */
        f->phase = CLOSING;
        for (fg_conn *c = f->env.conns; c;) {
            fg_conn *next = fg_conn_next(c);
            fg_conn_drain(c, true);
            c = next;
        }
        uint64_t ms = (uint64_t)f->drain_ms * (DRAIN_CLOSE_PCT - DRAIN_FRAMES_PCT) / 100;
        uv_timer_start(&f->timer, on_shutdown_timer, ms, 0);
    } else {
        f->phase = FORCING;
        for (fg_conn *c = f->env.conns; c;) {
            fg_conn *next = fg_conn_next(c);
            fg_conn_close_now(c);
            c = next;
        }
    }
    maybe_done(f);
}

int fg_front_new(uv_loop_t *loop, fg_pool *pool, fg_cache *cache, const fg_front_config *cfg,
                 fg_front **out) {
    fg_front *f = fg_calloc(1, sizeof(*f));
    f->env.loop = loop;
    f->env.session.pool = pool;
    f->env.session.cache = cache;
    f->env.session.max_inflight = cfg->max_inflight;
    f->env.session.deadline_ms = cfg->deadline_ms;
    f->env.session.max_buffered = cfg->max_buffered;
    f->env.session.log_frames = cfg->log_frames;
    f->env.routes.render = render_page;
    f->env.routes.user = f;
    f->env.routes.allowed_origins = cfg->allowed_origins;
    f->env.routes.auth_token = cfg->auth_token;
    f->env.max_message = cfg->max_message;
    f->env.header_timeout_ms = cfg->header_timeout_ms;
    f->env.client_sndbuf = cfg->client_sndbuf;
    f->env.ws_ping_ms = cfg->ws_ping_ms;
    f->env.tls = cfg->tls;
    f->env.on_conn_freed = on_conn_freed;
    f->env.on_conn_freed_arg = f;
    f->max_connections = cfg->max_connections ? cfg->max_connections : UINT32_MAX;
    int rc = fg_listener_open(loop, cfg->host, cfg->port, cfg->reuseport, on_connection, f,
                              &f->listener);
    if (rc < 0) {
        free(f);
        return rc;
    }
    uv_timer_init(loop, &f->timer);
    f->timer.data = f;
    *out = f;
    return 0;
}

void fg_front_address(const fg_front *f, char *buf, size_t len, uint16_t *port) {
    fg_listener_address(f->listener, buf, len, port);
}

void fg_front_shutdown(fg_front *f, uint32_t drain_ms, void (*done)(void *arg), void *arg) {
    if (f->phase != RUNNING)
        return;
    f->phase = DRAINING;
    f->drain_ms = drain_ms;
    f->done = done;
    f->done_arg = arg;
    f->env.session.draining = true;
    fg_listener_close(f->listener);
    f->listener = NULL;
    for (fg_conn *c = f->env.conns; c;) {
        fg_conn *next = fg_conn_next(c);
        fg_conn_drain(c, false);
        c = next;
    }
    uv_timer_start(&f->timer, on_shutdown_timer, (uint64_t)drain_ms * DRAIN_FRAMES_PCT / 100, 0);
    maybe_done(f);
}
