#include "fg_front.h"

#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_conn.h"
#include "fg_listener.h"
#include "fg_log.h"
#include "fg_stats.h"

#define FORCE_CLOSE_MS 1000 /* after the grace period: 1001 sent, this long for the clients */

typedef enum shutdown_phase { RUNNING, DRAINING, CLOSING, FORCING } shutdown_phase;

struct fg_front {
    fg_conn_env env; /* first: the read buffer lives here */
    fg_listener *listener;
    uint32_t max_connections;
    uv_timer_t timer; /* shutdown phases */
    shutdown_phase phase;
    uint32_t grace_ms;
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
        status = fg_stats_render_prometheus(f->env.session.pool, body) == 0 ? 200 : 500;
    }
    return status;
}

static void free_handle(uv_handle_t *handle) {
    free(handle);
}

static void on_connection(fg_listener *l, void *user) {
    fg_front *f = user;
    if (f->env.nconns >= f->max_connections) {
        /* Accept and close, so the client learns at once instead of waiting in the backlog. */
        uv_tcp_t *t = fg_malloc(sizeof(*t));
        uv_tcp_init(f->env.loop, t);
        uv_accept(fg_listener_stream(l), (uv_stream_t *)t);
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

static void maybe_done(fg_front *f) {
    if (f->phase == RUNNING || f->env.nconns > 0 || uv_is_closing((uv_handle_t *)&f->timer))
        return;
    uv_close((uv_handle_t *)&f->timer, on_timer_closed);
}

static void on_conn_closed(void *arg) {
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
        uv_timer_start(&f->timer, on_shutdown_timer, FORCE_CLOSE_MS, 0);
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

int fg_front_new(uv_loop_t *loop, fg_pool *pool, const fg_front_config *cfg, fg_front **out) {
    fg_front *f = fg_calloc(1, sizeof(*f));
    f->env.loop = loop;
    f->env.session.pool = pool;
    f->env.session.max_inflight = cfg->max_inflight;
    f->env.session.log_frames = cfg->log_frames;
    f->env.routes.render = render_page;
    f->env.routes.user = f;
    f->env.max_message = cfg->max_message;
    f->env.on_conn_closed = on_conn_closed;
    f->env.on_conn_closed_arg = f;
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

void fg_front_shutdown(fg_front *f, uint32_t grace_ms, void (*done)(void *arg), void *arg) {
    if (f->phase != RUNNING)
        return;
    f->phase = DRAINING;
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
    uv_timer_start(&f->timer, on_shutdown_timer, grace_ms, 0);
    maybe_done(f);
}
