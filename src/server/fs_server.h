/*
 * fs_server: the frameserver process state: the listener, the set of connections, the GPU,
 * the models and the health status, plus graceful shutdown and the exit summary.
 *
 * Fields are read by fs_conn and fs_rpc (one process, one loop, no locking). Lifecycle:
 * fs_server_new() -> fs_server_listen() -> uv_run() ... fs_server_shutdown() (on a signal)
 * stops accepting, sends GOAWAY, lets queued frames finish (at most FS_DRAIN_MS), then closes
 * every handle so uv_run() returns -> fs_server_free().
 */
#ifndef FS_SERVER_H
#define FS_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "fg_status.h"
#include "fs_config.h"
#include "fs_conn.h"
#include "fs_gpu.h"
#include "fs_health.h"
#include "fs_load.h"
#include "fs_model.h"

#define FS_DRAIN_MS 5000

typedef struct fs_server {
    uv_loop_t *loop;
    const fs_config *cfg;
    uint16_t want_port; /* to bind */
    uint16_t port;      /* the bound port */
    char address[80];   /* "127.0.0.1:50051", "[::1]:50051" */
    uv_tcp_t listener;
    struct fg_tls_ctx *tls; /* --tls-cert: every connection is TLS; NULL: h2c */
    uv_prepare_t flusher;   /* flushes dirty connections once per loop turn */
    uv_timer_t drain_timer;
    fs_conn *conns;
    size_t n_conns;
    fs_gpu *gpu;
    fs_models *models;
    fs_health health;
    bool listening;
    bool shutting_down;
    bool stopped;
    double fail_acc; /* --fail-rate accumulator: deterministic spacing of failures */
    uint64_t frames_served;
    fs_load load;                      /* reported in every Render/RenderBatch reply */
    uint64_t calls[FG_STATUS_MAX + 1]; /* finished calls by grpc-status */
    uint64_t cancelled;                /* calls the client reset or abandoned first */
} fs_server;

/* cfg must outlive the server; it listens on port (0: any), not cfg->port (--ports makes
 * several servers of one cfg on one loop). */
fs_server *fs_server_new(uv_loop_t *loop, const fs_config *cfg, uint16_t port);
/* Binds, listens, logs "frameserver listening on ADDR:PORT" and starts loading the models.
 * 0 or a libuv error (logged). */
int fs_server_listen(fs_server *srv);
/* Graceful stop; a second call closes the remaining connections at once. */
void fs_server_shutdown(fs_server *srv);
/* Logs the totals: frames served and errors by status. */
void fs_server_log_summary(const fs_server *srv);
/* After uv_run() returned. */
void fs_server_free(fs_server *srv);

/* For fs_conn: a connection finished closing its session (it is off the list). */
void fs_server_conn_gone(fs_server *srv);

#endif
