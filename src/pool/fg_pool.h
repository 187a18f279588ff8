/*
 * fg_pool: the backends behind the proxy, and the one interface between the front end and them.
 *
 * The front end submits a frame and gets exactly one completion callback with the outcome. The
 * pool picks the next healthy backend round-robin (one shared cursor), sends one unary gRPC
 * Render call on that backend's HTTP/2 connection, and on a backend fault or RESOURCE_EXHAUSTED
 * retries on the next healthy backend, at most `retries` more times, within the deadline. It
 * also owns health: passive (faults counted from calls) and active (grpc.health.v1 Check).
 *
 * Threading: one pool per libuv loop; all calls on that loop's thread. With --workers N, N
 * pools (one per worker loop) share one fg_pool_shared: one health state per backend address
 * (Checks sent by the one pool that is not passive_only, frame faults counted from every pool),
 * one round-robin cursor, and per-backend counters that /health and /metrics rendered by any
 * of them sum over all of them. The frame path takes no lock (see src/pool/fg_shared.h).
 */
#ifndef FG_POOL_H
#define FG_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct fg_pool fg_pool;
typedef struct fg_call fg_call;
typedef struct fg_backend fg_backend;
typedef struct fg_pool_shared fg_pool_shared;

typedef struct fg_pool_config {
    const char *const *addrs; /* "host:port" each; copied by fg_pool_new */
    size_t naddrs;
    uint32_t timeout_ms;         /* per-attempt deadline (grpc-timeout) */
    uint32_t retries;            /* extra attempts on other backends */
    uint32_t unhealthy_after;    /* consecutive backend faults that mark a backend unhealthy */
    uint32_t healthy_after;      /* consecutive good checks that mark it healthy again */
    uint32_t health_interval_ms; /* active Check period */
    uint32_t max_reply_bytes;    /* largest RenderReply accepted (4 MiB) */
    uint32_t max_queue;          /* calls waiting for a stream slot, per backend */
    fg_pool_shared *shared;      /* NULL: the pool's own; else shared with other pools */
    bool passive_only;           /* no active Checks: another pool of `shared` sends them */
    struct fg_tls_ctx *tls;      /* NULL: h2c; else TLS to every backend (borrowed) */
} fg_pool_config;

/* State for pools on several threads: health policy from cfg (unhealthy_after, healthy_after,
 * health_interval_ms; the rest ignored). Each pool given it holds a reference; the creator
 * drops its own with fg_pool_shared_release (any time after the pools were made). */
fg_pool_shared *fg_pool_shared_new(const fg_pool_config *cfg);
void fg_pool_shared_release(fg_pool_shared *s);

/* What the front end asks for. The pool copies what it needs before fg_pool_submit returns. */
typedef struct fg_frame_request {
    const char *model;
    size_t model_len;
    uint32_t frame;
    const uint8_t *input;
    size_t input_len;
} fg_frame_request;

/* The outcome; every pointer is valid only during the callback, except a storage block taken
 * over through image_storage. */
typedef struct fg_frame_result {
    int status;          /* gRPC status, 0 = a frame */
    const char *message; /* grpc-message or the proxy's reason, NUL-terminated; "" when none */
    const char *backend; /* address of the backend of the last attempt; NULL if none reached */
    const uint8_t *image;
    size_t image_len;
    /* A frame whose image lies in the backend reply's buffer (the usual case): the heap block
     * holding it (image points inside it). The callback may adopt it instead of copying the
     * image: take *image_storage, set *image_storage = NULL, free() the block when done. Either
     * way the image crosses from the backend's DATA frames to here with no copy but the one
     * into that buffer. NULL otherwise (errors; an image the pool could not borrow): copy. */
    uint8_t **image_storage;
    uint32_t width, height;
    uint8_t format;   /* ImageFormat */
    uint32_t grpc_us; /* duration of the last backend call */
    uint8_t attempts; /* backend calls made */
} fg_frame_result;

typedef void (*fg_frame_done_cb)(void *user, const fg_frame_result *res);

/* 0 and *out set, or FG_ERR_INVALID (a bad address; message logged). */
int fg_pool_new(uv_loop_t *loop, const fg_pool_config *cfg, fg_pool **out);
/* Stops checks, fails calls in flight with UNAVAILABLE, closes connections; then frees the pool
 * and calls closed_cb (may be NULL) from a later loop iteration. */
void fg_pool_close(fg_pool *pool, void (*closed_cb)(void *arg), void *arg);

/*
 * Starts a frame. Returns 0 with *out set: cb will be called exactly once, never from inside
 * fg_pool_submit, unless fg_call_cancel(*out) comes first. Returns FG_ERR_AGAIN when no backend
 * can take it now (none healthy, or their connections down or queues full): the front end answers
 * "no backends available" itself; cb is then never called. The overall deadline of a frame is
 * timeout_ms * (retries + 1); each attempt gets at most timeout_ms of it.
 */
int fg_pool_submit(fg_pool *pool, const fg_frame_request *req, fg_frame_done_cb cb, void *user,
                   fg_call **out);
/* The client went away: the call's callback will not be called; the backend stream is reset. */
void fg_call_cancel(fg_call *call);

/*
 * Replaces the backend list (the SIGHUP reload of --grpc-addrs-file): addrs[0..n) "host:port"
 * each, copied. Backends are matched by their address string, exactly as written:
 *  - in both lists: kept untouched (health, stats, connection, calls in flight);
 *  - only in addrs: created and connecting at once; they take frames once a Check said SERVING;
 *  - only in the old list: get no new frames (nor Checks) from now on; their calls in flight
 *    finish normally (or retry elsewhere on a fault); then their connection is closed and they
 *    are freed. Until then they stay listed with state "draining", healthy false, not counted
 *    by fg_pool_healthy_count; once drained they disappear from fg_pool_backend().
 * A draining backend listed again before it was drained is kept (not reconnected). The same
 * address twice makes two backends. The order of addrs becomes the listing order.
 * Returns 0 (one log line says what changed), or with nothing changed: FG_ERR_INVALID (n == 0 or
 * a bad address; logged) or FG_ERR_CLOSED (fg_pool_close was called). Frames in flight are never
 * lost or answered twice by a reload. On the pool's loop thread only (from a uv_signal_t
 * callback, say); not from inside a frame callback. Pointers from fg_pool_backend() are invalid
 * after it.
 */
int fg_pool_set_backends(fg_pool *pool, const char *const *addrs, size_t n);

/* Backends listed: the configured ones, then those still draining after a reload. */
size_t fg_pool_backend_count(const fg_pool *pool);
/* Configured backends currently healthy (draining ones never count). */
size_t fg_pool_healthy_count(const fg_pool *pool);
/* The i-th backend: configuration order, then draining ones (for stats rendering). Valid until
 * the next fg_pool_set_backends or until control returns to the loop. */
const fg_backend *fg_pool_backend(const fg_pool *pool, size_t i);

#endif
