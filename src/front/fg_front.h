/*
 * fg_front: the client-facing half of the proxy on one loop: the listener on --ws-port and
 * every client connection (fg_conn), HTTP and WebSocket on the one port.
 *
 * It borrows the pool and the cache (frames go through fg_cache_submit to the pool; /health and
 * /metrics render fg_stats of it). Shutdown is graceful and bounded by drain_ms: the listener
 * closes at once; frames in flight are answered (new requests get UNAVAILABLE "proxy shutting
 * down"), each WebSocket client is closed with 1001 once its replies are out (at 75% of drain_ms,
 * at once, whatever is still in flight); at 90% every connection left is closed. done() runs once
 * every connection's handles are closed; the front end frees itself then.
 */
#ifndef FG_FRONT_H
#define FG_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "fg_cache.h"
#include "fg_pool.h"

typedef struct fg_front_config {
    const char *host;
    uint16_t port; /* 0: any free port */
    bool reuseport;
    uint32_t max_inflight;       /* per WebSocket connection */
    uint32_t deadline_ms;        /* a frame's budget unless /ws?deadline_ms= says otherwise */
    uint64_t max_buffered;       /* reply bytes waiting for clients, in total */
    uint32_t client_sndbuf;      /* SO_SNDBUF of client sockets; 0: the kernel's */
    uint64_t max_message;        /* largest client message accepted */
    uint32_t max_connections;    /* process-wide (every front): over it 503 and close, counted */
    uint32_t header_timeout_ms;  /* HTTP request head deadline (408); 0: none */
    uint32_t ws_ping_ms;         /* WebSocket keepalive period; 0: none */
    const char *allowed_origins; /* comma list for /ws, NULL: any; borrowed for f's lifetime */
    const char *auth_token;      /* required on /ws when set; borrowed */
    struct fg_tls_ctx *tls;      /* NULL: plaintext; else a server ctx, borrowed */
    bool log_frames;
} fg_front_config;

typedef struct fg_front fg_front;

/* Binds and listens. 0 and *out set, or a negative libuv error (e.g. UV_EADDRINUSE). */
int fg_front_new(uv_loop_t *loop, fg_pool *pool, fg_cache *cache, const fg_front_config *cfg,
                 fg_front **out);
/* The bound address, "HOST:PORT", and the port. */
void fg_front_address(const fg_front *f, char *buf, size_t len, uint16_t *port);
/* Begins the graceful shutdown described above; done(arg) runs once, from the loop. */
void fg_front_shutdown(fg_front *f, uint32_t drain_ms, void (*done)(void *arg), void *arg);

#endif
