/*
 * fg_grpc_conn: one HTTP/2 (h2c, prior knowledge) client connection to one gRPC server, making
 * unary calls as concurrent streams. It knows nothing of balancing or of clients; the proxy's
 * pool and the load generator both use it.
 *
 * The connection starts connecting in fg_grpc_conn_new() and stays up by itself: after a failure
 * it reconnects with exponential backoff and jitter (backoff_min_ms .. backoff_max_ms). It is
 * READY once the server's SETTINGS arrived. Calls beyond the server's MAX_CONCURRENT_STREAMS wait
 * in a bounded queue (also while CONNECTING); while FAILED, calls are refused at once.
 *
 * Every call ends in exactly one callback (unless cancelled) with a gRPC status: the server's
 * grpc-status, or a mapped transport failure (refused/reset/GOAWAY/protocol error -> UNAVAILABLE
 * or per fg_status_from_h2_error, non-200 :status per fg_status_from_http, a 200 whose
 * content-type is not application/grpc[+codec|;params] -> UNKNOWN, missing grpc-status ->
 * INTERNAL, reply over max_reply_bytes -> RESOURCE_EXHAUSTED, local deadline -> DEADLINE_EXCEEDED).
 * The body of a reply that is not gRPC (an error page) is never parsed: it is dropped, and past
 * 64 KiB the call ends and the stream is reset. Callbacks never run inside the function that
 * started the call. Finished calls are reused (a bounded per-connection free list), so the hot
 * path does not allocate once warm.
 *
 * TLS (opts.tls): the same over an fg_tls session per TCP connection, ALPN h2 required.
 *
 * Writes are batched: calls started during one loop iteration go out in one socket write.
 * Threading: everything on the loop's thread.
 */
#ifndef FG_GRPC_CONN_H
#define FG_GRPC_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "fg_orca.h"
#include "fg_slab.h"
#include "fg_tls.h"

typedef struct fg_grpc_conn fg_grpc_conn;
typedef struct fg_grpc_call fg_grpc_call;

typedef enum fg_grpc_conn_state {
    FG_GRPC_CONN_CONNECTING, /* resolving, connecting, or waiting for the server's SETTINGS */
    FG_GRPC_CONN_READY,      /* calls go out now */
    FG_GRPC_CONN_FAILED,     /* down; waiting for the backoff timer to reconnect */
} fg_grpc_conn_state;

/* reason: why (for FAILED: e.g. "connection refused"); "" otherwise. Valid during the call. */
typedef void (*fg_grpc_conn_state_cb)(void *user, fg_grpc_conn_state state, const char *reason);

/* The limits a zero option stands for; the proxy's own limits (defined here, once). */
#define FG_GRPC_MAX_REPLY_DEFAULT (4u << 20) /* largest reply message: 4 MiB, as gRPC's */
#define FG_GRPC_MAX_QUEUE_DEFAULT 1024
/* One socket read takes up to this much: when replies queue up in the socket, one read (one
 * system call) takes about ten 24 KiB images. */
#define FG_GRPC_READ_BUF_SIZE (256u << 10)

typedef struct fg_grpc_conn_opts {
    uint32_t max_reply_bytes;    /* largest reply message; 0: FG_GRPC_MAX_REPLY_DEFAULT */
    uint32_t max_queue;          /* calls waiting for a stream slot; 0: FG_GRPC_MAX_QUEUE_DEFAULT */
    uint32_t backoff_min_ms;     /* 0: 100 */
    uint32_t backoff_max_ms;     /* 0: 5000 */
    uint32_t connect_timeout_ms; /* TCP connect (+ TLS handshake) + server SETTINGS; 0: 2000 */
    /* NULL: h2c (prior knowledge). Else TLS (a client ctx with ALPN "h2", borrowed, outliving
     * the connection): the server's certificate is verified for host, and a server that does
     * not select h2 fails the connection like a refused connect. */
    fg_tls_ctx *tls;
    /* NULL: the connection reads into a buffer of its own. Else FG_GRPC_READ_BUF_SIZE bytes,
     * borrowed, outliving the connection, which connections on the same loop may share: every
     * read is consumed before its callback returns. */
    uint8_t *read_buf;
    /* NULL: nghttp2 allocates from the heap. Else from this slab (borrowed, outliving the
     * connection; the loop's). */
    fg_slab *slab;
    fg_grpc_conn_state_cb state_cb; /* may be NULL */
    void *user;
} fg_grpc_conn_opts;

typedef struct fg_grpc_result {
    int status;           /* gRPC status code */
    const char *message;  /* grpc-message (decoded) or the local reason; "" when none */
    const uint8_t *reply; /* the reply message without its 5-byte prefix (status OK only) */
    size_t reply_len;
    /* Status OK with a non-empty reply: the heap block reply points to (*reply_storage ==
     * reply). The callback may keep it instead of copying: it takes the pointer, sets
     * *reply_storage = NULL and later releases it with free(). Otherwise NULL. */
    uint8_t **reply_storage;
    bool not_processed; /* the server certainly did not process the call: safe to retry */
    /* The server's ORCA load report (trailer endpoint-load-metrics-bin, contract §1), whatever
     * the status; has_orca is false when it sent none or none that decodes. */
    bool has_orca;
    fg_orca_report orca;
} fg_grpc_result;

/* res and everything it points to is valid only during the callback. The callback may start
 * and cancel other calls and close the connection. */
typedef void (*fg_grpc_call_cb)(void *user, const fg_grpc_result *res);

/* host is copied. 0 and *out set (connecting already), or FG_ERR_INVALID. */
int fg_grpc_conn_new(uv_loop_t *loop, const char *host, uint16_t port,
                     const fg_grpc_conn_opts *opts, fg_grpc_conn **out);

/*
 * Closes the connection. Calls still pending are dropped WITHOUT their callbacks (the owner
 * cancels or answers them first). closed_cb (may be NULL) runs from a later loop iteration once
 * every handle is closed; then the memory is gone. Safe inside a call callback.
 */
void fg_grpc_conn_close(fg_grpc_conn *c, void (*closed_cb)(void *arg), void *arg);

/*
 * Starts a unary call: path like "/framegate.v1.FrameService/Render"; msg (len bytes, copied) is
 * the serialized request without prefix; timeout_us > 0 is sent as grpc-timeout and enforced
 * locally (0: no deadline). Returns 0 with *out set (out may be NULL), or, with cb never called:
 * FG_ERR_AGAIN (connection FAILED, not reconnected yet), FG_ERR_FULL (queue full),
 * FG_ERR_CLOSED (closing), FG_ERR_TOO_BIG (msg over 4 GiB).
 */
int fg_grpc_conn_call(fg_grpc_conn *c, const char *path, const uint8_t *msg, size_t len,
                      uint64_t timeout_us, fg_grpc_call_cb cb, void *user, fg_grpc_call **out);
/* The call's callback will not be called; a started stream is reset with CANCEL. Only valid
 * before the callback ran. */
void fg_grpc_call_cancel(fg_grpc_call *call);

fg_grpc_conn_state fg_grpc_conn_get_state(const fg_grpc_conn *c);
/* Why the connection last failed ("" if it never did). */
const char *fg_grpc_conn_last_error(const fg_grpc_conn *c);
/* What kind of TLS failure the last failure was (FG_TLS_OK: not a TLS one). */
fg_tls_failure fg_grpc_conn_tls_failure(const fg_grpc_conn *c);
/* Calls started and not yet finished (queued + on the wire). */
size_t fg_grpc_conn_pending(const fg_grpc_conn *c);
/* When FAILED: reconnect now instead of waiting for the backoff timer. No-op otherwise. */
void fg_grpc_conn_reconnect_now(fg_grpc_conn *c);

#endif
