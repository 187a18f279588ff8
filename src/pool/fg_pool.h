/*
 * fg_pool: the backends behind the proxy, and the one interface between the front end and them.
 *
 * The front end submits a frame and gets exactly one completion callback with the outcome.
 * A scheduler sits between the two (contract v1.1 section 5). Each backend holds only as many
 * frames as keep it busy (an adaptive limit, fg_limit); the rest wait in the proxy, one queue
 * per client connection (an fg_flow), served round-robin across connections (fg_sched), each
 * frame with its deadline. A frame that cannot be answered within its deadline is refused at
 * once (FG_ERR_BUSY: "overloaded"), and one whose deadline passes while it waits is answered
 * RESOURCE_EXHAUSTED "overloaded" then. The backend is chosen by least request (peak-EWMA
 * latency times frames held, weighed by its ORCA load report, power of two choices on large
 * pools) or round-robin. With batch_max > 1, frames of one model waiting for the same backend go
 * as one RenderBatch (fg_batch), each with its own answer. On a backend fault, RESOURCE_EXHAUSTED
 * or CANCELLED the frame goes back to the front of its queue for another backend, at most
 * `retries` more times, within its deadline. The pool also owns health: passive (faults
 * counted from calls; a timeout on a busy backend is overload, not a fault, and timeouts never
 * take out more than half the pool) and active (grpc.health.v1 Check).
 *
 * Threading: one pool per libuv loop; all calls on that loop's thread. With --workers N, N
 * pools (one per worker loop) share one fg_pool_shared: one health state per backend address
 * (Checks sent by the one pool that is not passive_only, frame faults counted from every pool),
 * one round-robin cursor, and per-backend counters that /health and /metrics rendered by any
 * of them sum over all of them. Queues and concurrency limits are per pool. The frame path
 * takes no lock (see src/pool/fg_shared.h).
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

/* The largest --batch-max. */
#define FG_POOL_BATCH_MAX 256
typedef struct fg_flow fg_flow;

typedef enum fg_balance {
    FG_BALANCE_LEAST_REQUEST = 0, /* peak-EWMA least request, the default */
    FG_BALANCE_ROUND_ROBIN = 1,   /* the original design: next healthy backend in turn */
} fg_balance;

typedef struct fg_pool_config {
    const char *const *addrs; /* "host:port" each; copied by fg_pool_new */
    size_t naddrs;
    uint32_t timeout_ms;           /* per-attempt deadline (grpc-timeout) */
    uint32_t retries;              /* extra attempts on other backends */
    uint32_t unhealthy_after;      /* consecutive backend faults that mark a backend unhealthy */
    uint32_t healthy_after;        /* consecutive good checks that mark it healthy again */
    uint32_t health_interval_ms;   /* active Check period */
    uint32_t max_reply_bytes;      /* largest RenderReply accepted (4 MiB) */
    uint32_t max_queue;            /* calls waiting for a stream slot, per backend */
    uint32_t deadline_ms;          /* a frame's whole budget, queueing included; 0: 1000 */
    uint32_t backend_max_inflight; /* cap of each backend's adaptive limit; 0: 32 */
    fg_balance balance;
    uint32_t batch_max;       /* frames of one model sent as one RenderBatch; 0 or 1: off */
    uint32_t batch_window_us; /* a frame waits this long for others to batch with; 0: never */
    fg_pool_shared *shared;   /* NULL: the pool's own; else shared with other pools */
    bool passive_only;        /* no active Checks: another pool of `shared` sends them */
    bool may_start_empty;     /* naddrs 0 is fine: DNS discovery fills the list later */
    struct fg_tls_ctx *tls;   /* NULL: h2c; else TLS to every backend (borrowed) */
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
    uint32_t deadline_ms; /* 0: the pool's deadline_ms */
} fg_frame_request;

/* The outcome; every pointer is valid only during the callback, except a storage block taken
 * handed over by fg_frame_take_image(). */
typedef struct fg_frame_result {
    int status;          /* gRPC status, 0 = a frame */
    const char *message; /* grpc-message or the proxy's reason, NUL-terminated; "" when none */
    const char *backend; /* address of the backend of the last attempt; NULL if none reached */
    const uint8_t *image;
    size_t image_len;
    uint8_t **fg__image_block; /* private: see fg_frame_take_image() */
    uint32_t width, height;
    uint8_t format;   /* ImageFormat */
    uint32_t grpc_us; /* duration of the last backend call */
    uint8_t attempts; /* backend calls made */
} fg_frame_result;

typedef void (*fg_frame_done_cb)(void *user, const fg_frame_result *res);

/* The heap block holding res->image (image points inside it), handed over: the caller owns it
 * and free()s it when done, so the image crosses from the backend's DATA frames to the client
 * with no copy but the one that assembled the reply. NULL when there is none to hand over
 * (errors, an image the pool could not borrow, a second call): copy the image instead. */
void *fg_frame_take_image(const fg_frame_result *res);

/* 0 and *out set, or FG_ERR_INVALID (a bad address, or no address without may_start_empty;
 * message logged). */
int fg_pool_new(uv_loop_t *loop, const fg_pool_config *cfg, fg_pool **out);
/* Stops checks, fails calls in flight with UNAVAILABLE, closes connections; then frees the pool
 * and calls closed_cb (may be NULL) from a later loop iteration. */
void fg_pool_close(fg_pool *pool, void (*closed_cb)(void *arg), void *arg);

/* A client connection's queue: the unit of fairness. Freed only once none of its frames is
 * left (cancel or await them first). */
fg_flow *fg_pool_flow_new(fg_pool *pool);
void fg_pool_flow_free(fg_flow *flow);
/* Answers every frame of flow that has not been sent to a backend yet with CANCELLED
 * "superseded" (the LATEST flag); their callbacks run inside this call. Returns how many. */
size_t fg_pool_flow_supersede(fg_flow *flow);

/*
 * Starts a frame of flow. Returns 0 with *out set: cb will be called exactly once, never from
 * inside fg_pool_submit, unless fg_call_cancel(*out) comes first. Refused with cb never called:
 * FG_ERR_AGAIN when no backend can take it (none healthy, or their connections down): the front
 * end answers "no backends available"; FG_ERR_BUSY when the pool cannot answer it within its
 * deadline (the front end answers RESOURCE_EXHAUSTED "overloaded"). Each attempt gets at most
 * timeout_ms of the deadline.
 */
int fg_pool_submit(fg_pool *pool, fg_flow *flow, const fg_frame_request *req, fg_frame_done_cb cb,
                   void *user, fg_call **out);
/* The client went away: the call's callback will not be called; the backend stream is reset. */
void fg_call_cancel(fg_call *call);

/* What a HINT tells one connection (contract section 2). */
typedef struct fg_pool_hint {
    uint32_t healthy;       /* healthy backends now */
    uint32_t fps_milli;     /* the connection's fair share of the measured capacity, x1000 */
    uint32_t queue_wait_us; /* expected wait of a frame the connection sends now */
} fg_pool_hint;
void fg_pool_hint_for(fg_pool *pool, const fg_flow *flow, fg_pool_hint *out);
/* Frames waiting in the proxy for a backend. */
size_t fg_pool_queued(const fg_pool *pool);

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
/* The same, each backend also given the name it came from (origins[i], e.g. the DNS name that
 * resolved to addrs[i]; NULL or an origins NULL: none), copied and shown in /health. A kept
 * backend takes its new origin. */
int fg_pool_set_backends_named(fg_pool *pool, const char *const *addrs, const char *const *origins,
                               size_t n);

/* Backends listed: the configured ones, then those still draining after a reload. */
size_t fg_pool_backend_count(const fg_pool *pool);
/* Configured backends currently healthy (draining ones never count). */
size_t fg_pool_healthy_count(const fg_pool *pool);
/* Whether frames of model (len bytes) may be cached: true only when some healthy backend lists
 * it, every healthy backend that lists it says cacheable (ModelInfo.cacheable), and every healthy
 * backend's ListModels is known. On the pool's thread. */
bool fg_pool_model_cacheable(const fg_pool *pool, const char *model, size_t len);

/* The i-th backend: configuration order, then draining ones (for stats rendering). Valid until
 * the next fg_pool_set_backends or until control returns to the loop. */
const fg_backend *fg_pool_backend(const fg_pool *pool, size_t i);

#endif
