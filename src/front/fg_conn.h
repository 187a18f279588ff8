/*
 * fg_conn: one client TCP connection (libuv): reads into fg_http until a WebSocket upgrade,
 * then into fg_ws + fg_session; writes everything queued in its out buffer (uv_try_write, then
 * one uv_write at a time for what the kernel did not take, double-buffered). A reply fg_ws hands
 * over while out is empty is written straight from its own buffers instead (fg_ws send_direct:
 * one writev, the rest as a uv_write that frees the reply when done; libuv keeps the order).
 * Drained output storage goes to env->spare for the next connection that sends: an idle
 * connection owns none. Backpressure: reading pauses while more than FG_CONN_HIGH_WATER bytes
 * (out, the write in flight, direct replies not yet written) wait to be written.
 * Closing is graceful: the last bytes are written, the write side is shut down, and input is
 * read and dropped until the client closes (or FG_CONN_LINGER_MS), so the client sees our last
 * answer (a 400, a close frame) instead of a reset.
 *
 * Timers: an HTTP request head must be complete within header_timeout_ms of its first byte (or
 * of the accept), else 408 and close (slowloris); between requests the connection may idle for
 * FG_CONN_IDLE_MS. A WebSocket session that sent no byte for ws_ping_ms is pinged; if it still
 * sends nothing (no pong) for another ws_ping_ms, the socket is closed.
 *
 * TLS (env->tls set): every byte goes through an fg_tls session: the ciphertext read is fed
 * to it and the plaintext goes where plain bytes would go; the session writes its records into
 * tls_out, the buffer that is written to the socket: out is encrypted into it, and a direct reply
 * is encrypted into it from the reply's own buffers. The handshake must finish within
 * header_timeout_ms of the accept (the head deadline covers it). A failed handshake (plaintext,
 * a refused certificate, no common protocol) is logged once and counted, answered (an alert, or a
 * plain 400 to a plaintext client) and closed; other connections are not affected.
 */
#ifndef FG_CONN_H
#define FG_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "fg_buf.h"
#include "fg_http.h"
#include "fg_session.h"

#define FG_CONN_HIGH_WATER (256 * 1024)
#define FG_CONN_READ_BUF (64 * 1024)
#define FG_CONN_LINGER_MS 2000
#define FG_CONN_IDLE_MS 60000 /* an HTTP connection without a byte for this long is closed */

typedef struct fg_conn fg_conn;
typedef struct fg_tls_ctx fg_tls_ctx;

/* What every connection of one front end shares; owned by the front end. */
typedef struct fg_conn_env {
    uv_loop_t *loop;
    fg_session_env session;
    fg_http_routes routes;
    uint64_t max_message;
    uint32_t header_timeout_ms; /* 0: only the idle timeout */
    uint32_t ws_ping_ms;        /* 0: no keepalive pings */
    /* SO_SNDBUF of each client socket (0: the kernel's autotuning): bounds what a client that
     * stops reading holds in the kernel; the rest waits in the proxy, under --max-buffered. */
    uint32_t client_sndbuf;
    fg_tls_ctx *tls;                     /* NULL: plaintext; borrowed */
    uint8_t read_buf[FG_CONN_READ_BUF];  /* consumed inside each read callback */
    uint8_t plain_buf[FG_CONN_READ_BUF]; /* TLS: decrypted, consumed likewise */
    fg_conn *conns;                      /* open connections */
    size_t nconns;
    size_t nalive;      /* connections whose memory is not freed yet (handles still closing) */
    size_t nalive_peak; /* the most alive since nalive was last 0 */
    fg_buf spare; /* drained output storage lent to the next sender; freed with the last conn */
    void (*on_conn_freed)(void *arg); /* after a connection's last handle closed: env unused */
    void *on_conn_freed_arg;
} fg_conn_env;

/* Accepts one pending connection from server and starts reading. 0, or a libuv error. */
int fg_conn_accept(fg_conn_env *env, uv_stream_t *server);

/*
 * Shutting down (env->session.draining is set): plain HTTP connections close after the current
 * answer; a WebSocket session closes with 1001 once its frames in flight are answered and the
 * replies are out; when now is true, the frames still in flight are cancelled and answered
 * UNAVAILABLE "proxy shutting down" first (every request keeps its one reply).
 */
void fg_conn_drain(fg_conn *c, bool now);
/* Closes the socket without further ado. */
void fg_conn_close_now(fg_conn *c);

/* The client's address as "IP:PORT", for log lines. */
void fg_conn_peer(const fg_conn *c, char *buf, size_t len);

/* The next connection in env->conns. */
fg_conn *fg_conn_next(const fg_conn *c);

#endif
