/*
 * framegate: the proxy binary. Parses the flags, builds the backend pool and the front end on
 * one libuv loop, prints where it listens, and shuts down gracefully on SIGINT/SIGTERM within
 * --drain-ms (fg_front_shutdown; a second signal exits at once).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "fg_args.h"
#include "fg_config.h"
#include "fg_err.h"
#include "fg_front.h"
#include "fg_log.h"
#include "fg_pool.h"

#define MAX_REPLY_BYTES (4u * 1024 * 1024)
#define MAX_BACKEND_QUEUE 1024

typedef struct proxy {
    uv_loop_t loop;
    fg_config cfg;
    fg_pool *pool;
    fg_front *front;
    uv_signal_t sigint, sigterm;
    bool stopping;
} proxy;

static void on_pool_closed(void *arg) {
    proxy *p = arg;
    uv_close((uv_handle_t *)&p->sigint, NULL);
    uv_close((uv_handle_t *)&p->sigterm, NULL);
}

static void on_front_done(void *arg) {
    proxy *p = arg;
    p->front = NULL;
    fg_pool_close(p->pool, on_pool_closed, p);
}

static void on_signal(uv_signal_t *sig, int signum) {
    proxy *p = sig->data;
    if (p->stopping) {
        fg_log_warn("second signal: exiting now");
        exit(1);
    }
    p->stopping = true;
    fg_log_info("%s: shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    fg_front_shutdown(p->front, (uint32_t)p->cfg.drain_ms, on_front_done, p);
}

/* The page URL: a wildcard bind address is reachable as localhost. */
static void print_banner(proxy *p) {
    char addr[80];
    uint16_t port;
    fg_front_address(p->front, addr, sizeof(addr), &port);
    const char *host = p->cfg.host;
    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || strcmp(host, "[::]") == 0)
        host = "localhost";
    bool v6 = strchr(host, ':') && host[0] != '[';
    printf("framegate listening on %s\n", addr);
    printf("page: http://%s%s%s:%u/\n", v6 ? "[" : "", host, v6 ? "]" : "", port);
    printf("backends (%zu):", p->cfg.nbackends);
    for (size_t i = 0; i < p->cfg.nbackends; i++)
        printf("%s %s", i ? "," : "", p->cfg.backends[i]);
    printf("\n");
    fflush(stdout);
    fg_log_info("listening on %s", addr);
}

static int start(proxy *p) {
    fg_pool_config pc = {
        .addrs = (const char *const *)p->cfg.backends,
        .naddrs = p->cfg.nbackends,
        .timeout_ms = (uint32_t)p->cfg.timeout_ms,
        .retries = (uint32_t)p->cfg.retries,
        .unhealthy_after = (uint32_t)p->cfg.unhealthy_after,
        .healthy_after = (uint32_t)p->cfg.healthy_after,
        .health_interval_ms = (uint32_t)p->cfg.health_interval_ms,
        .max_reply_bytes = MAX_REPLY_BYTES,
        .max_queue = MAX_BACKEND_QUEUE,
    };
    if (fg_pool_new(&p->loop, &pc, &p->pool) != 0) {
        fprintf(stderr, "framegate: bad backend list (see the message above)\n");
        return 2;
    }
    fg_front_config fc = {
        .host = p->cfg.host,
        .port = (uint16_t)p->cfg.ws_port,
        .max_inflight = (uint32_t)p->cfg.max_inflight,
        .max_message = p->cfg.max_message,
        .max_connections = (uint32_t)p->cfg.max_connections,
        .header_timeout_ms = (uint32_t)p->cfg.header_timeout_ms,
        .ws_ping_ms = (uint32_t)p->cfg.ws_ping_ms,
        .allowed_origins = p->cfg.allowed_origins,
        .auth_token = p->cfg.auth_token,
        .log_frames = p->cfg.log_frames,
    };
    int rc = fg_front_new(&p->loop, p->pool, &fc, &p->front);
    if (rc < 0) {
        fprintf(stderr, "framegate: cannot listen on %s:%llu: %s\n", p->cfg.host,
                (unsigned long long)p->cfg.ws_port, uv_strerror(rc));
        fg_pool_close(p->pool, NULL, NULL);
        return 1;
    }
    uv_signal_init(&p->loop, &p->sigint);
    uv_signal_init(&p->loop, &p->sigterm);
    p->sigint.data = p->sigterm.data = p;
    uv_signal_start(&p->sigint, on_signal, SIGINT);
    uv_signal_start(&p->sigterm, on_signal, SIGTERM);
    print_banner(p);
    return 0;
}

int main(int argc, char **argv) {
    static proxy p;
    char err[256];
    /* Per-frame lines are read by people and by tests through pipes: one write per line. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);

    fg_config_init(&p.cfg);
    int rc = fg_config_parse(&p.cfg, argc, argv, err, sizeof(err));
    if (rc == FG_ARGS_HELP) {
        fg_config defaults;
        fg_config_init(&defaults);
        fg_config_usage(&defaults, stdout);
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "framegate: %s\n", err);
        return 2;
    }
    uv_loop_init(&p.loop);
    int status = start(&p);
    uv_run(&p.loop, UV_RUN_DEFAULT);
    uv_loop_close(&p.loop);
    fg_config_free(&p.cfg);
    if (status == 0)
        fg_log_info("stopped");
    return status;
}
