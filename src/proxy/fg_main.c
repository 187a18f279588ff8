/*
 * framegate: the proxy binary. Parses the flags, builds --workers workers (fg_worker: each its
 * own loop, thread, pool and listener; one shared health state per backend), prints where it
 * listens, and keeps the signals on the main thread's loop:
 *  - SIGINT/SIGTERM: every worker shuts down gracefully within --drain-ms (a second signal
 *    exits at once); the process exits once all of them stopped;
 *  - SIGHUP: re-reads --grpc-addrs-file once and hands the list to every worker, which applies
 *    it with fg_pool_set_backends (a bad file is logged and keeps the old list); re-reads the
 *    TLS certificates and keys (connections open keep theirs, new ones get the new ones; bad
 *    files are logged and the old ones stay).
 * It also runs DNS discovery (fg_discovery) for the dns:/// and dns+srv:/// entries of
 * --grpc-addrs on that loop: each changed answer, with the plain addresses of --grpc-addrs, goes
 * to every worker by the same path as a SIGHUP reload. A backend connection failure (the
 * backend_connect_failures_total counter, watched every FAIL_WATCH_MS) asks for a re-resolve.
 * The TLS contexts (fg_tls) are built here, shared by every worker.
 */
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "fg_alloc.h"
#include "fg_args.h"
#include "fg_config.h"
#include "fg_discovery.h"
#include "fg_err.h"
#include "fg_grpc_conn.h"
#include "fg_log.h"
#include "fg_logw.h"
#include "fg_pool.h"
#include "fg_stats.h"
#include "fg_tls.h"
#include "fg_worker.h"

typedef struct proxy {
    uv_loop_t loop;
    fg_config cfg;
    fg_pool_shared *shared;
    fg_tls_ctx *tls_front, *tls_backend; /* NULL: plaintext on that side */
    fg_worker **workers;
    size_t nworkers;
    uv_async_t worker_stopped; /* a worker's loop ended (sent from its thread) */
    atomic_size_t nstopped;
    uv_signal_t sigint, sigterm, sighup;
    bool stopping;
    fg_discovery *discovery; /* NULL without DNS targets */
    uv_timer_t fail_watch;   /* asks discovery to re-resolve after connection failures */
    uint64_t failures_seen;
} proxy;

#define FAIL_WATCH_MS 250
#define HEAP_KEEP_BYTES (8 << 20) /* free heap kept before glibc trims it (default 128 KiB) */
/* A reply block of up to the largest gRPC reply (and its power-of-two growth) from the heap. */
#define HEAP_MMAP_FROM_BYTES (2 * FG_GRPC_MAX_REPLY_DEFAULT)
#define DNS_MIN_GAP_MS 1000 /* least time between two DNS rounds asked for by failures */

static void on_worker_stopped_thread(void *arg) {
    proxy *p = arg;
    atomic_fetch_add(&p->nstopped, 1);
    uv_async_send(&p->worker_stopped);
}

static void on_worker_stopped(uv_async_t *handle) {
    proxy *p = handle->data;
    if (atomic_load(&p->nstopped) < p->nworkers)
        return;
    uv_close((uv_handle_t *)&p->worker_stopped, NULL);
    uv_close((uv_handle_t *)&p->sigint, NULL);
    uv_close((uv_handle_t *)&p->sigterm, NULL);
    uv_close((uv_handle_t *)&p->sighup, NULL);
    fg_logw_detach();
}

static void stop_workers(proxy *p) {
    if (p->discovery) {
        fg_discovery_close(p->discovery);
        p->discovery = NULL;
        uv_close((uv_handle_t *)&p->fail_watch, NULL);
    }
    p->stopping = true;
    for (size_t i = 0; i < p->nworkers; i++)
        fg_worker_shutdown(p->workers[i]);
}

static void on_signal(uv_signal_t *sig, int signum) {
    proxy *p = sig->data;
    if (p->stopping) {
        fg_log_warn("second signal: exiting now");
        exit(1);
    }
    fg_log_info("%s: shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    stop_workers(p);
}

/* The one path by which a new backend list reaches the workers' pools. */
static void reload_workers(proxy *p, char *const *addrs, char *const *names, size_t n) {
    for (size_t i = 0; i < p->nworkers; i++)
        fg_worker_reload(p->workers[i], addrs, names, n);
}

static void reload_tls(fg_tls_ctx *ctx, const char *what) {
    char err[256];
    if (!ctx)
        return;
    if (fg_tls_ctx_reload(ctx, err, sizeof err) < 0)
        fg_log_error("SIGHUP: %s: %s; keeping the current certificate", what, err);
    else
        fg_log_info("SIGHUP: %s certificate reloaded", what);
}

static void on_sighup(uv_signal_t *sig, int signum) {
    proxy *p = sig->data;
    char err[256];
    char **addrs;
    size_t n;
    reload_tls(p->tls_front, "client TLS");
    reload_tls(p->tls_backend, "backend TLS");
    if (!p->cfg.grpc_addrs_file) {
        if (p->tls_front || p->tls_backend)
            return;
        fg_log_warn("SIGHUP: no --grpc-addrs-file to re-read; backends unchanged");
        return;
    }
    if (p->stopping)
        return;
    if (fg_config_read_addrs_file(p->cfg.grpc_addrs_file, &addrs, &n, err, sizeof err) < 0) {
        fg_log_error("SIGHUP: %s; keeping the current backends", err);
        return;
    }
    fg_log_info("SIGHUP: %zu backends in %s", n, p->cfg.grpc_addrs_file);
    reload_workers(p, addrs, NULL, n);
    fg_config_free_addrs(addrs, n);
}

/* DNS gave a new list: the plain --grpc-addrs entries first, then the resolved ones. */
static void on_dns_changed(void *arg, char *const *addrs, char *const *names, size_t n) {
    proxy *p = arg;
    size_t total = p->cfg.nbackends + n;
    if (p->stopping)
        return;
    if (total == 0) {
        fg_log_warn("dns: no backend address yet");
        return;
    }
    char **all = fg_calloc(total, sizeof *all), **all_names = fg_calloc(total, sizeof *all_names);
    for (size_t i = 0; i < p->cfg.nbackends; i++)
        all[i] = p->cfg.backends[i];
    for (size_t i = 0; i < n; i++) {
        all[p->cfg.nbackends + i] = addrs[i];
        all_names[p->cfg.nbackends + i] = names[i];
    }
    reload_workers(p, all, all_names, total);
    free(all);
    free(all_names);
}

static void on_fail_watch(uv_timer_t *t) {
    proxy *p = t->data;
    uint64_t v = fg_stats_get(FG_STAT_backend_connect_failures_total);
    if (v != p->failures_seen && p->discovery)
        fg_discovery_refresh_soon(p->discovery);
    p->failures_seen = v;
}

static int start_discovery(proxy *p) {
    fg_discovery_config dc = {
        .targets = p->cfg.dns,
        .ntargets = p->cfg.ndns,
        .servers = p->cfg.dns_servers,
        .refresh_ms = (uint32_t)p->cfg.dns_refresh_ms,
        .timeout_ms = (uint32_t)p->cfg.dns_timeout_ms,
        .min_gap_ms = DNS_MIN_GAP_MS,
        .max_addrs = FG_CONFIG_MAX_BACKENDS,
        .changed_cb = on_dns_changed,
        .arg = p,
    };
    if (fg_discovery_new(&p->loop, &dc, &p->discovery) < 0)
        return 2;
    uv_timer_init(&p->loop, &p->fail_watch);
    p->fail_watch.data = p;
    uv_timer_start(&p->fail_watch, on_fail_watch, FAIL_WATCH_MS, FAIL_WATCH_MS);
    return 0;
}

/* The page URL: a wildcard bind address is reachable as localhost. */
static void print_banner(proxy *p) {
    char addr[80];
    uint16_t port;
    fg_worker_address(p->workers[0], addr, sizeof(addr), &port);
    const char *host = p->cfg.host;
    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || strcmp(host, "[::]") == 0)
        host = "localhost";
    bool v6 = strchr(host, ':') && host[0] != '[';
    printf("framegate listening on %s\n", addr);
    printf("page: %s://%s%s%s:%u/\n", p->tls_front ? "https" : "http", v6 ? "[" : "", host,
           v6 ? "]" : "", port);
    printf("backends (%zu):", p->cfg.nbackends);
    for (size_t i = 0; i < p->cfg.nbackends; i++)
        printf("%s %s", i ? "," : "", p->cfg.backends[i]);
    printf("\n");
    if (p->cfg.ndns) {
        printf("dns targets (%zu):", p->cfg.ndns);
        for (size_t i = 0; i < p->cfg.ndns; i++) {
            const fg_dns_target *t = &p->cfg.dns[i];
            if (t->srv)
                printf("%s dns+srv:///%s", i ? "," : "", t->name);
            else
                printf("%s dns:///%s:%u", i ? "," : "", t->name, (unsigned)t->port);
        }
        printf("\n");
    }
    if (p->nworkers > 1)
        printf("workers: %zu\n", p->nworkers);
    fflush(stdout);
    fg_log_info("listening on %s", addr);
}

/* Builds every worker; worker 0 first, whose port (maybe picked by the kernel) the others
 * share through SO_REUSEPORT. On failure the ones built are started only to stop at once. */
static int build_workers(proxy *p) {
    fg_pool_config policy = {
        .unhealthy_after = (uint32_t)p->cfg.unhealthy_after,
        .healthy_after = (uint32_t)p->cfg.healthy_after,
        .health_interval_ms = (uint32_t)p->cfg.health_interval_ms,
    };
    p->shared = fg_pool_shared_new(&policy);
    p->workers = fg_calloc(p->cfg.workers, sizeof *p->workers);
    uint16_t port = (uint16_t)p->cfg.ws_port;
    for (size_t i = 0; i < p->cfg.workers; i++) {
        fg_worker_config wc = {
            .cfg = &p->cfg,
            .shared = p->shared,
            .index = (unsigned)i,
            .port = port,
            .reuseport = p->cfg.workers > 1,
            .tls_front = p->tls_front,
            .tls_backend = p->tls_backend,
            .stopped = on_worker_stopped_thread,
            .stopped_arg = p,
        };
        int rc = fg_worker_new(&wc, &p->workers[i]);
        if (rc != 0)
            return rc;
        p->nworkers++;
        if (i == 0)
            fg_worker_address(p->workers[0], (char[80]){0}, 80, &port);
    }
    return 0;
}

static int start(proxy *p) {
    uv_async_init(&p->loop, &p->worker_stopped, on_worker_stopped);
    p->worker_stopped.data = p;
    uv_signal_init(&p->loop, &p->sigint);
    uv_signal_init(&p->loop, &p->sigterm);
    uv_signal_init(&p->loop, &p->sighup);
    p->sigint.data = p->sigterm.data = p->sighup.data = p;
    uv_signal_start(&p->sigint, on_signal, SIGINT);
    uv_signal_start(&p->sigterm, on_signal, SIGTERM);
    uv_signal_start(&p->sighup, on_sighup, SIGHUP);
    /* Per-frame lines go through fg_logw; this loop writes what waits while no new line comes. */
    fg_logw_attach(&p->loop);
    int status = build_workers(p);
    if (status == 0 && p->cfg.ndns)
        status = start_discovery(p); /* a bad --dns-servers is refused before the banner */
    if (status == 0)
        print_banner(p);
    else
        stop_workers(p);
    for (size_t i = 0; i < p->nworkers; i++) {
        int rc = fg_worker_start(p->workers[i]);
        if (rc < 0) {
            fprintf(stderr, "framegate: cannot start a worker thread: %s\n", uv_strerror(rc));
            exit(1);
        }
    }
    if (p->nworkers == 0)
        on_worker_stopped(&p->worker_stopped); /* nothing to wait for */
    return status;
}

static int make_tls(proxy *p, char *err, size_t errlen) {
    const fg_config *c = &p->cfg;
    if (c->tls_cert) {
        fg_tls_ctx_config tc = {.role = FG_TLS_SERVER,
                                .cert = c->tls_cert,
                                .key = c->tls_key,
                                .ca = c->tls_client_ca,
                                .alpn = "http/1.1"};
        if (fg_tls_ctx_new(&tc, &p->tls_front, err, errlen) < 0)
            return FG_ERR_INVALID;
    }
    if (c->backend_tls) {
        fg_tls_ctx_config tc = {.role = FG_TLS_CLIENT,
                                .cert = c->backend_cert,
                                .key = c->backend_key,
                                .ca = c->backend_ca,
                                .alpn = "h2"};
        if (fg_tls_ctx_new(&tc, &p->tls_backend, err, errlen) < 0)
            return FG_ERR_INVALID;
    }
    return 0;
}

int main(int argc, char **argv) {
    static proxy p;
    char err[256];
    /* Per-frame lines are read by people and by tests through pipes: one write per line. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    /* Each reply is reassembled into a fresh heap block (~24 KiB) and freed once written: keep
     * freed memory in the heap instead of trimming it, and faulting and zeroing the pages again
     * for the next reply (a quarter of the proxy's CPU at 100 connections). Replies up to the
     * gRPC size limit stay on the heap too. Memory still goes back when many clients leave
     * (fg_conn's malloc_trim). */
    mallopt(M_TRIM_THRESHOLD, HEAP_KEEP_BYTES);
    mallopt(M_MMAP_THRESHOLD, HEAP_MMAP_FROM_BYTES);

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
    if (make_tls(&p, err, sizeof err) < 0) {
        fprintf(stderr, "framegate: %s\n", err);
        fg_config_free(&p.cfg);
        return 2;
    }
    uv_loop_init(&p.loop);
    int status = start(&p);
    uv_run(&p.loop, UV_RUN_DEFAULT);
    uv_loop_close(&p.loop);
    for (size_t i = 0; i < p.nworkers; i++)
        fg_worker_free(p.workers[i]);
    free(p.workers);
    fg_pool_shared_release(p.shared);
    fg_tls_ctx_free(p.tls_front);
    fg_tls_ctx_free(p.tls_backend);
    fg_config_free(&p.cfg);
    size_t unwritten = fg_logw_drain(500);
    if (unwritten || fg_logw_dropped())
        fg_log_warn("per-frame log: %llu lines dropped, %zu bytes not written (stdout too slow)",
                    (unsigned long long)fg_logw_dropped(), unwritten);
    if (status == 0)
        fg_log_info("stopped");
    return status;
}
