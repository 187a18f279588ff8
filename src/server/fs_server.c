#include "fs_server.h"

#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_err.h"
#include "fg_log.h"
#include "fg_tls.h"
#include "fs_rpc.h"

#define LISTEN_BACKLOG 1024

static void on_models_changed(void *user) {
    fs_server *srv = user;
    if (!srv->shutting_down)
        fs_health_set(&srv->health,
                      fs_models_all_ready(srv->models) ? FS_HEALTH_SERVING : FS_HEALTH_NOT_SERVING);
}

static void on_flush(uv_prepare_t *handle) {
    fs_server *srv = handle->data;
    fs_conn *c = srv->conns;
    while (c) {
        fs_conn *next = fs_conn_next(c); /* flushing may close c */
        fs_conn_flush_if_dirty(c);
        c = next;
    }
}

fs_server *fs_server_new(uv_loop_t *loop, const fs_config *cfg, uint16_t port) {
    fs_server *srv = fg_calloc(1, sizeof(*srv));
    srv->loop = loop;
    srv->cfg = cfg;
    srv->want_port = port;
    fs_health_init(&srv->health);
    srv->gpu = fs_gpu_new(loop, (size_t)cfg->queue_max);
    uv_tcp_init(loop, &srv->listener);
    srv->listener.data = srv;
    uv_prepare_init(loop, &srv->flusher);
    srv->flusher.data = srv;
    uv_prepare_start(&srv->flusher, on_flush);
    uv_timer_init(loop, &srv->drain_timer);
    srv->drain_timer.data = srv;
    return srv;
}

static void on_connection(uv_stream_t *listener, int status) {
    fs_server *srv = listener->data;
    if (status < 0) {
        fg_log_warn("accept: %s", uv_strerror(status));
        return;
    }
    int rv = fs_conn_accept(srv);
    if (rv < 0)
        fg_log_warn("accept: %s", uv_strerror(rv));
}

static int resolve(const char *host, uint16_t port, struct sockaddr_storage *out) {
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)out) == 0)
        return 0;
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)out) == 0)
        return 0;
    /* A name such as "localhost": the blocking form is fine once at start-up. */
    uv_getaddrinfo_t req;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rv = uv_getaddrinfo(uv_default_loop(), &req, NULL, host, NULL, &hints);
    if (rv < 0)
        return rv;
    memcpy(out, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
    if (out->ss_family == AF_INET)
        ((struct sockaddr_in *)out)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)out)->sin6_port = htons(port);
    uv_freeaddrinfo(req.addrinfo);
    return 0;
}

static void describe_bound(fs_server *srv) {
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[64] = "?";
    uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len);
    if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
        srv->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        snprintf(srv->address, sizeof(srv->address), "[%s]:%u", ip, (unsigned)srv->port);
    } else {
        uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
        srv->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        snprintf(srv->address, sizeof(srv->address), "%s:%u", ip, (unsigned)srv->port);
    }
}

int fs_server_listen(fs_server *srv) {
    struct sockaddr_storage addr;
    if (srv->cfg->tls_cert) {
        char err[256];
        fg_tls_ctx_config tc = {.role = FG_TLS_SERVER,
                                .cert = srv->cfg->tls_cert,
                                .key = srv->cfg->tls_key,
                                .ca = srv->cfg->tls_client_ca,
                                .alpn = "h2"};
        if (fg_tls_ctx_new(&tc, &srv->tls, err, sizeof err) < 0) {
            fg_log_error("%s", err);
            return FG_ERR_INVALID;
        }
    }
    int rv = resolve(srv->cfg->host, srv->want_port, &addr);
    if (rv < 0) {
        fg_log_error("cannot resolve --host %s: %s", srv->cfg->host, uv_strerror(rv));
        return rv;
    }
    rv = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0);
    if (rv == 0)
        rv = uv_listen((uv_stream_t *)&srv->listener, LISTEN_BACKLOG, on_connection);
    if (rv < 0) {
        fg_log_error("cannot listen on %s port %u: %s", srv->cfg->host, (unsigned)srv->want_port,
                     uv_strerror(rv));
        return rv;
    }
    srv->listening = true;
    describe_bound(srv);
    srv->models = fs_models_new(srv->loop, srv->cfg, srv->port, on_models_changed, srv);
    fg_log_info("frameserver listening on %s (models %s, %s %llux%llu, infer %llu ms, "
                "load %llu ms)",
                srv->address, srv->cfg->models, fs_format_name(srv->cfg->format),
                (unsigned long long)srv->cfg->width, (unsigned long long)srv->cfg->height,
                (unsigned long long)srv->cfg->infer_ms, (unsigned long long)srv->cfg->load_ms);
    fs_models_start(srv->models);
    return 0;
}

/* Every connection is gone: close the remaining handles so uv_run() returns. */
static void stop(fs_server *srv) {
    if (srv->stopped)
        return;
    srv->stopped = true;
    uv_close((uv_handle_t *)&srv->drain_timer, NULL);
    uv_close((uv_handle_t *)&srv->flusher, NULL);
    fs_gpu_close(srv->gpu, NULL, NULL);
    srv->gpu = NULL;
    if (srv->models)
        fs_models_close(srv->models);
    srv->models = NULL;
}

void fs_server_conn_gone(fs_server *srv) {
    if (srv->shutting_down && srv->n_conns == 0)
        stop(srv);
}

static void close_all(fs_server *srv) {
    while (srv->conns)
        fs_conn_close(srv->conns); /* unlinks itself; the last one calls stop() */
}

static void on_drain_timeout(uv_timer_t *timer) {
    fs_server *srv = timer->data;
    fg_log_warn("drain took longer than %d ms: closing %zu connection(s)", FS_DRAIN_MS,
                srv->n_conns);
    close_all(srv);
}

void fs_server_shutdown(fs_server *srv) {
    if (srv->shutting_down) {
        if (!srv->stopped)
            close_all(srv);
        return;
    }
    srv->shutting_down = true;
    fg_log_info("shutting down: %zu connection(s), %zu frame(s) waiting", srv->n_conns,
                fs_gpu_waiting(srv->gpu) + fs_gpu_busy(srv->gpu));
    uv_close((uv_handle_t *)&srv->listener, NULL);
    fs_health_set(&srv->health, FS_HEALTH_NOT_SERVING);
    fs_rpc_end_watches(srv);
    for (fs_conn *c = srv->conns; c; c = fs_conn_next(c))
        fs_conn_goaway(c);
    if (srv->n_conns == 0) {
        stop(srv);
        return;
    }
    uv_timer_start(&srv->drain_timer, on_drain_timeout, FS_DRAIN_MS, 0);
}

void fs_server_log_summary(const fs_server *srv) {
    char detail[512] = "";
    size_t off = 0;
    uint64_t errors = 0;
    for (int s = 1; s <= FG_STATUS_MAX; s++) {
        if (!srv->calls[s])
            continue;
        errors += srv->calls[s];
        int n = snprintf(detail + off, sizeof(detail) - off, "%s%s=%llu", off ? ", " : " (",
                         fg_status_name(s), (unsigned long long)srv->calls[s]);
        if (n > 0 && (size_t)n < sizeof(detail) - off)
            off += (size_t)n;
    }
    if (off && off + 1 < sizeof(detail))
        strcat(detail, ")");
    fg_log_info("frameserver stopped: %llu frames served, %llu calls ok, %llu errors%s, "
                "%llu cancelled by clients",
                (unsigned long long)srv->frames_served, (unsigned long long)srv->calls[0],
                (unsigned long long)errors, detail, (unsigned long long)srv->cancelled);
}

void fs_server_free(fs_server *srv) {
    fg_tls_ctx_free(srv->tls);
    free(srv);
}
