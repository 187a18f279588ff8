/*
 * fg_pool: frame submission, round-robin over eligible backends, retries, active checks timer.
 * Health decisions live in fg_health (pure) and fg_backend (per-backend I/O).
 */
#include "fg_pool.h"

#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_backend.h"
#include "fg_clock.h"
#include "fg_err.h"
#include "fg_log.h"
#include "fg_reply.h"
#include "fg_rr.h"
#include "fg_shared.h"
#include "fg_stats.h"
#include "fg_status.h"
#include "framegate/v1/frames.pb-c.h"

#define RENDER_PATH "/framegate.v1.FrameService/Render"
#define TRIED_BITS 64

struct fg_call {
    fg_pool *pool;
    fg_call *prev, *next;
    fg_frame_done_cb cb;
    void *user;
    fg_backend *backend;   /* of the current (or last) attempt */
    fg_grpc_call *attempt; /* in flight, or NULL */
    uint64_t deadline_us;
    uint64_t attempt_start_us;
    uint32_t grpc_us;
    uint32_t retries_left;
    uint8_t attempts;
    bool trial;
    bool free_retry_used; /* one extra attempt for a call the backend certainly never ran */
    uint64_t tried;       /* backends (index < 64) this frame already went to */
    size_t req_len;
    uint8_t req[]; /* the packed RenderRequest, reused by every attempt */
};

/* ---- picking a backend ---- */

typedef struct pick_ctx {
    fg_pool *pool;
    const fg_call *call;
    uint64_t now_us;
} pick_ctx;

static bool tried(const fg_call *call, size_t i) {
    return i < TRIED_BITS && (call->tried >> i & 1);
}

static bool backend_eligible(void *arg, size_t i) {
    pick_ctx *ctx = arg;
    fg_backend *b = ctx->pool->backends[i];
    bool trial;
    if (b->removed || (ctx->call && tried(ctx->call, i)))
        return false;
    if (fg_grpc_conn_get_state(b->conn) == FG_GRPC_CONN_FAILED)
        return false;
    return fg_bshared_eligible(b->shared, ctx->now_us, false, &trial);
}

static int start_attempt(fg_call *call);
static void attempt_ended(fg_backend *b);

static void on_attempt_done(void *user, const fg_grpc_result *res);

/* Sends the frame to the next eligible backend it has not tried; FG_ERR_AGAIN when none. */
static int start_attempt(fg_call *call) {
    fg_pool *pool = call->pool;
    for (size_t k = 0; k < pool->nbackends; k++) {
        uint64_t now = fg_now_us();
        if (now >= call->deadline_us)
            return FG_ERR_TIMEOUT;
        pick_ctx ctx = {pool, call, now};
        size_t i = fg_rr_pick_atomic(pool->cursor, pool->nbackends, backend_eligible, &ctx);
        if (i == FG_RR_NONE)
            return FG_ERR_AGAIN;
        fg_backend *b = pool->backends[i];
        if (i < TRIED_BITS)
            call->tried |= (uint64_t)1 << i;
        bool trial;
        if (!fg_bshared_eligible(b->shared, now, true, &trial))
            continue; /* its trial frame went to another frame meanwhile */
        uint64_t timeout_us = (uint64_t)pool->cfg.timeout_ms * 1000;
        if (timeout_us > call->deadline_us - now)
            timeout_us = call->deadline_us - now;
        int rv = fg_grpc_conn_call(b->conn, RENDER_PATH, call->req, call->req_len, timeout_us,
                                   on_attempt_done, call, &call->attempt);
        if (rv < 0) {
            if (trial)
                fg_bshared_trial_release(b->shared);
            continue; /* this connection cannot take it now (down or queue full): next one */
        }
        call->backend = b;
        call->trial = trial;
        call->attempt_start_us = now;
        call->attempts++;
        FG_BSTAT_ADD(b, total_requests, 1);
        FG_BSTAT_ADD(b, in_flight, 1);
        return 0;
    }
    return FG_ERR_AGAIN;
}

/* ---- completing ---- */

static void unlink_call(fg_call *call) {
    fg_pool *pool = call->pool;
    if (call->prev)
        call->prev->next = call->next;
    else
        pool->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
}

static void complete(fg_call *call, fg_frame_result *res) {
    unlink_call(call);
    res->backend = call->backend ? call->backend->address : NULL;
    res->grpc_us = call->grpc_us;
    res->attempts = call->attempts;
    if (!res->message)
        res->message = "";
    call->cb(call->user, res);
    free(call);
}

static void complete_error(fg_call *call, int status, const char *message) {
    fg_frame_result res = {.status = status, .message = message};
    complete(call, &res);
}

static void complete_reply(fg_call *call, const fg_reply *r, uint8_t **reply_storage) {
    const Framegate__V1__RenderReply *reply = r->msg;
    fg_frame_result res = {
        .status = FG_STATUS_OK,
        .image = reply->image.data,
        .image_len = reply->image.len,
        .image_storage = r->image_borrowed && reply->image.len ? reply_storage : NULL,
        .width = reply->width,
        .height = reply->height,
        .format = (uint8_t)reply->format,
    };
    complete(call, &res);
}

static bool may_retry(fg_call *call, const fg_grpc_result *res) {
    if (call->pool->closing)
        return false;
    if (res->not_processed && !call->free_retry_used) {
        call->free_retry_used = true;
        return true;
    }
    if (call->retries_left == 0)
        return false;
    call->retries_left--;
    return true;
}

static void on_attempt_done(void *user, const fg_grpc_result *res) {
    fg_call *call = user;
    fg_backend *b = call->backend;
    uint64_t now = fg_now_us();
    call->attempt = NULL;
    call->grpc_us = (uint32_t)(now - call->attempt_start_us);
    fg_hist_record(b->latency, call->grpc_us);

    int status = res->status;
    const char *message = res->message;
    fg_reply reply = {0}; /* its image points into res->reply: no copy */
    if (status == FG_STATUS_OK && fg_reply_unpack(&reply, res->reply, res->reply_len) < 0) {
        status = FG_STATUS_INTERNAL;
        message = "bad RenderReply";
    }
    fg_fault fault = fg_status_fault(status);
    if (fault == FG_FAULT_BACKEND)
        FG_BSTAT_ADD(b, error_count, 1);
    fg_bshared_on_call(b->shared, status, message, call->trial, now);
    call->trial = false;
    attempt_ended(b);

    if (reply.msg) {
        complete_reply(call, &reply, res->reply_storage);
        fg_reply_free(&reply);
        return;
    }
    if (fault == FG_FAULT_REQUEST || !may_retry(call, res)) {
        complete_error(call, status, message);
        return;
    }
    fg_stats_add(FG_STAT_frame_retries_total, 1);
    if (start_attempt(call) < 0)
        complete_error(call, status, message);
}

/* ---- the interface ---- */

static int pack_request(const fg_frame_request *req, fg_call **out) {
    char model_small[256];
    char *model = req->model_len < sizeof model_small ? model_small : fg_malloc(req->model_len + 1);
    memcpy(model, req->model, req->model_len);
    model[req->model_len] = '\0';
    Framegate__V1__RenderRequest msg = FRAMEGATE__V1__RENDER_REQUEST__INIT;
    msg.model = model;
    msg.frame = req->frame;
    msg.input.data = (uint8_t *)req->input;
    msg.input.len = req->input_len;
    size_t len = framegate__v1__render_request__get_packed_size(&msg);
    fg_call *call = fg_malloc(sizeof *call + len);
    memset(call, 0, sizeof *call);
    call->req_len = framegate__v1__render_request__pack(&msg, call->req);
    if (model != model_small)
        free(model);
    *out = call;
    return 0;
}

int fg_pool_submit(fg_pool *pool, const fg_frame_request *req, fg_frame_done_cb cb, void *user,
                   fg_call **out) {
    if (pool->closing)
        return FG_ERR_AGAIN;
    fg_call *call;
    pack_request(req, &call);
    call->pool = pool;
    call->cb = cb;
    call->user = user;
    call->retries_left = pool->cfg.retries;
    call->deadline_us =
        fg_now_us() + (uint64_t)pool->cfg.timeout_ms * 1000 * (pool->cfg.retries + 1);
    if (start_attempt(call) < 0) {
        free(call);
        return FG_ERR_AGAIN;
    }
    call->next = pool->calls;
    if (pool->calls)
        pool->calls->prev = call;
    pool->calls = call;
    *out = call;
    return 0;
}

static void stop_attempt(fg_call *call) {
    if (!call->attempt)
        return;
    fg_grpc_call_cancel(call->attempt);
    call->attempt = NULL;
    if (call->trial)
        fg_bshared_trial_release(call->backend->shared);
    attempt_ended(call->backend);
}

void fg_call_cancel(fg_call *call) {
    stop_attempt(call);
    unlink_call(call);
    free(call);
}

static void on_check_timer(uv_timer_t *t) {
    fg_pool *pool = t->data;
    for (size_t i = 0; i < pool->nbackends; i++)
        fg_backend_check(pool->backends[i]);
}

static void apply_defaults(fg_pool_config *cfg) {
    if (!cfg->timeout_ms)
        cfg->timeout_ms = 1000;
    if (!cfg->unhealthy_after)
        cfg->unhealthy_after = 1;
    if (!cfg->healthy_after)
        cfg->healthy_after = 1;
    if (!cfg->health_interval_ms)
        cfg->health_interval_ms = 1000;
    if (!cfg->max_reply_bytes)
        cfg->max_reply_bytes = 4u << 20;
    if (!cfg->max_queue)
        cfg->max_queue = 1024;
}

static fg_health_policy policy_of(const fg_pool_config *cfg) {
    return (fg_health_policy){
        .unhealthy_after = cfg->unhealthy_after,
        .healthy_after = cfg->healthy_after,
        .trial_backoff_min_ms = cfg->health_interval_ms,
        .trial_backoff_max_ms = cfg->health_interval_ms * 8,
    };
}

fg_pool_shared *fg_pool_shared_new(const fg_pool_config *cfg) {
    fg_pool_config c = *cfg;
    apply_defaults(&c);
    fg_health_policy policy = policy_of(&c);
    return fg_shared_new(&policy);
}

void fg_pool_shared_release(fg_pool_shared *s) {
    fg_shared_unref(s);
}

int fg_pool_new(uv_loop_t *loop, const fg_pool_config *cfg, fg_pool **out) {
    if (cfg->naddrs == 0 && !cfg->may_start_empty) {
        fg_log_error("no backends configured");
        return FG_ERR_INVALID;
    }
    for (size_t i = 0; i < cfg->naddrs; i++) {
        char *host;
        uint16_t port;
        if (fg_backend_parse_address(cfg->addrs[i], &host, &port) < 0) {
            fg_log_error("bad backend address \"%s\" (want host:port)", cfg->addrs[i]);
            return FG_ERR_INVALID;
        }
        free(host);
    }
    fg_pool *pool = fg_calloc(1, sizeof *pool);
    pool->loop = loop;
    pool->cfg = *cfg;
    pool->cfg.addrs = NULL; /* copied into the backends */
    apply_defaults(&pool->cfg);
    if (cfg->shared) {
        pool->shared = cfg->shared;
        fg_shared_ref(pool->shared);
    } else {
        fg_health_policy policy = policy_of(&pool->cfg);
        pool->shared = fg_shared_new(&policy);
    }
    pool->cursor = fg_shared_cursor(pool->shared);
    pool->nbackends = cfg->naddrs;
    pool->backends = fg_calloc(cfg->naddrs, sizeof *pool->backends);
    for (size_t i = 0; i < cfg->naddrs; i++) {
        fg_backend_new(pool, cfg->addrs[i], &pool->backends[i]); /* addresses checked above */
        pool->backends[i]->index = i;
    }
    uv_timer_init(loop, &pool->check_timer);
    pool->check_timer.data = pool;
    /* The first check goes out now (queued until each connection is up), then every interval. */
    on_check_timer(&pool->check_timer);
    uv_timer_start(&pool->check_timer, on_check_timer, pool->cfg.health_interval_ms,
                   pool->cfg.health_interval_ms);
    *out = pool;
    return 0;
}

static void on_part_closed(void *arg) {
    fg_pool *pool = arg;
    if (--pool->closing_pending > 0)
        return;
    for (size_t i = 0; i < pool->nbackends; i++)
        fg_backend_free(pool->backends[i]);
    free(pool->backends);
    fg_shared_unref(pool->shared);
    void (*closed_cb)(void *) = pool->closed_cb;
    void *closed_arg = pool->closed_arg;
    free(pool);
    if (closed_cb)
        closed_cb(closed_arg);
}

static void on_timer_closed(uv_handle_t *h) {
    on_part_closed(h->data);
}

void fg_pool_close(fg_pool *pool, void (*closed_cb)(void *arg), void *arg) {
    if (pool->closing)
        return;
    pool->closing = true;
    pool->closed_cb = closed_cb;
    pool->closed_arg = arg;
    while (pool->calls) {
        fg_call *call = pool->calls;
        stop_attempt(call);
        complete_error(call, FG_STATUS_UNAVAILABLE, "proxy shutting down");
    }
    pool->closing_pending = 1 + (int)pool->nbackends;
    uv_close((uv_handle_t *)&pool->check_timer, on_timer_closed);
    for (size_t i = 0; i < pool->nbackends; i++) {
        fg_backend *b = pool->backends[i];
        if (!b->closing) /* a drained one closing already ends in on_drained_closed */
            fg_backend_close(b, on_part_closed, pool);
    }
}

/* ---- reloading the backend list ---- */

/* Installs arr (n backends) as the backend list: indices renumbered, the backends each frame in
 * flight already tried carried over to their new indices, the old array freed. */
static void replace_backends(fg_pool *pool, fg_backend **arr, size_t n) {
    for (size_t i = 0; i < pool->nbackends; i++)
        pool->backends[i]->index = FG_RR_NONE; /* stays so if not in arr */
    for (size_t j = 0; j < n; j++)
        arr[j]->index = j;
    for (fg_call *call = pool->calls; call; call = call->next) {
        uint64_t mask = 0;
        for (size_t i = 0; i < pool->nbackends && i < TRIED_BITS; i++) {
            size_t j = pool->backends[i]->index;
            if (tried(call, i) && j < TRIED_BITS)
                mask |= (uint64_t)1 << j;
        }
        call->tried = mask;
    }
    free(pool->backends);
    pool->backends = arr;
    pool->nbackends = n; /* the shared cursor is taken modulo n */
}

static void on_drained_closed(void *arg) {
    fg_backend *b = arg;
    fg_pool *pool = b->pool;
    if (pool->closing) {
        on_part_closed(pool); /* counted by fg_pool_close; freed with the others */
        return;
    }
    fg_backend **arr = fg_calloc(pool->nbackends, sizeof *arr);
    size_t n = 0;
    for (size_t i = 0; i < pool->nbackends; i++)
        if (pool->backends[i] != b)
            arr[n++] = pool->backends[i];
    replace_backends(pool, arr, n);
    fg_log_info("%s removed (drained)", b->address);
    fg_backend_free(b);
}

/* A removed backend is closed once its last frame call ended. */
static void attempt_ended(fg_backend *b) {
    FG_BSTAT_ADD(b, in_flight, -1);
    if (b->removed && !b->closing && b->stats.in_flight == 0 && !b->pool->closing)
        fg_backend_close(b, on_drained_closed, b);
}

static void start_drain(fg_backend *b) {
    b->removed = true;
    if (b->check_call)
        fg_grpc_call_cancel(b->check_call);
    b->check_call = NULL;
    if (b->stats.in_flight == 0)
        fg_backend_close(b, on_drained_closed, b);
}

/* The backend for addr among the current ones not taken yet: a configured one first, else a
 * draining one whose connection is still open (it is then kept after all). NULL if none. */
static fg_backend *take_match(fg_pool *pool, const char *addr, bool *taken) {
    for (int draining = 0; draining < 2; draining++) {
        for (size_t i = 0; i < pool->nbackends; i++) {
            fg_backend *b = pool->backends[i];
            if (taken[i] || b->removed != draining || b->closing || strcmp(b->address, addr))
                continue;
            taken[i] = true;
            return b;
        }
    }
    return NULL;
}

int fg_pool_set_backends(fg_pool *pool, const char *const *addrs, size_t n) {
    return fg_pool_set_backends_named(pool, addrs, NULL, n);
}

int fg_pool_set_backends_named(fg_pool *pool, const char *const *addrs, const char *const *origins,
                               size_t n) {
    if (pool->closing)
        return FG_ERR_CLOSED;
    if (n == 0) {
        fg_log_error("backend reload: empty list ignored");
        return FG_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        char *host;
        uint16_t port;
        if (fg_backend_parse_address(addrs[i], &host, &port) < 0) {
            fg_log_error("backend reload: bad address \"%s\" (want host:port); nothing changed",
                         addrs[i]);
            return FG_ERR_INVALID;
        }
        free(host);
    }
    size_t old_n = pool->nbackends, len = 0, added = 0, removed = 0;
    bool *taken = fg_calloc(old_n + 1, sizeof *taken);
    fg_backend **arr = fg_calloc(n + old_n, sizeof *arr);
    for (size_t i = 0; i < n; i++) {
        fg_backend *b = take_match(pool, addrs[i], taken);
        if (b && b->removed) {
            b->removed = false; /* back before it was drained: the next check refreshes it */
        } else if (!b) {
            fg_backend_new(pool, addrs[i], &b); /* address checked above; checked once READY */
            added++;
        }
        fg_backend_set_origin(b, origins ? origins[i] : NULL);
        arr[len++] = b;
    }
    for (size_t i = 0; i < old_n; i++) {
        fg_backend *b = pool->backends[i];
        if (taken[i])
            continue;
        arr[len++] = b; /* listed (as "draining") until its calls finished */
        if (!b->removed) {
            start_drain(b);
            removed++;
        }
    }
    free(taken);
    replace_backends(pool, arr, len);
    fg_log_info("backends reloaded: %zu configured (%zu added, %zu removed)", n, added, removed);
    return 0;
}

size_t fg_pool_backend_count(const fg_pool *pool) {
    return pool->nbackends;
}

size_t fg_pool_healthy_count(const fg_pool *pool) {
    size_t n = 0;
    for (size_t i = 0; i < pool->nbackends; i++)
        n += fg_backend_healthy(pool->backends[i]);
    return n;
}

const fg_backend *fg_pool_backend(const fg_pool *pool, size_t i) {
    return i < pool->nbackends ? pool->backends[i] : NULL;
}
