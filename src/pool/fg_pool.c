/*
 * fg_pool: frame submission, the scheduler (queues per flow, adaptive per-backend limits,
 * deadlines, shedding), the choice of backend, retries, and the active checks timer.
 * Health decisions live in fg_health (pure) and fg_backend (per-backend I/O); the queues in
 * fg_sched and the limits in fg_limit (both pure).
 */
#include "fg_pool.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_backend.h"
#include "fg_batch.h"
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
#define BATCH_PATH "/framegate.v1.FrameService/RenderBatch"
#define TRIED_BITS 64
#define DEFAULT_DEADLINE_MS 1000
#define DEFAULT_BACKEND_MAX_INFLIGHT 32
/* The first limit of a backend: start low (one frame), so the first latencies measured are
 * those of a backend with nothing queued. */
#define INITIAL_LIMIT 1
/* The least a measured backend may hold: one frame in its pass and one waiting (fg_limit.h). */
#define MIN_LIMIT 2
/* How often queued frames are checked against their deadlines while any wait. */
#define SWEEP_MS 2
/* How long the capacity estimate is reused: it scans every backend. */
#define ESTIMATE_TTL_US 5000
/* While frames wait, the pool's throughput is measured over windows this long; a measurement
 * is trusted this long after it was taken. */
#define RATE_WINDOW_US 200000
#define RATE_VALID_US 1000000
/* A backend's load report counts this long; a utilization above the cap says no more. */
#define ORCA_VALID_US 1000000
#define ORCA_UTIL_MAX 16.0
/* Scan every backend for the least-request choice up to this pool size; sample two above. */
#define FULL_SCAN_MAX 8
#define OVERLOADED "overloaded"

/* An attempt ends this much before the frame's deadline (5% of it, 2..20 ms), so that its
 * answer reaches the client within the deadline even when the loop runs late. */
static uint64_t deadline_margin_us(uint32_t deadline_ms) {
    uint64_t m = (uint64_t)deadline_ms * 50;
    return m < 2000 ? 2000 : m > 20000 ? 20000 : m;
}

/* One RenderBatch call: the frames it carries answer in this order. A frame whose client went
 * away leaves its slot NULL; the call is cancelled when no frame is left. */
typedef struct fg_batch_att {
    fg_pool *pool;
    fg_backend *backend;
    fg_grpc_call *rpc;
    uint64_t start_us;
    uint32_t held;
    bool trial;
    size_t n, live;
    fg_call *calls[];
} fg_batch_att;

struct fg_flow {
    fg_pool *pool;
    fg_sched_flow queue;
    size_t calls; /* frames not yet answered */
};

struct fg_call {
    fg_pool *pool;
    fg_call *prev, *next; /* pool->calls */
    fg_sched_item item;   /* in its flow's queue while waiting for a backend */
    fg_flow *flow;
    fg_frame_done_cb cb;
    void *user;
    fg_backend *backend;           /* of the current (or last) attempt */
    fg_grpc_call *attempt;         /* in flight alone, or NULL */
    fg_batch_att *batch;           /* in flight in a RenderBatch, or NULL */
    size_t slot;                   /* its index in batch */
    uint64_t queued_us;            /* when it last joined its flow's queue */
    uint16_t model_off, model_len; /* the model name inside req, to batch like with like */
    uint64_t deadline_us;          /* the attempts' end: the frame's deadline less its margin */
    uint64_t attempt_start_us;
    uint32_t grpc_us;
    uint32_t retries_left;
    uint32_t held; /* frames its backend held with it when the attempt started */
    uint8_t attempts;
    bool trial;
    bool free_retry_used; /* one extra attempt for a call the backend certainly never ran */
    uint64_t tried;       /* backends (index < 64) this frame already went to */
    int last_status;      /* of the last attempt, for an answer after its deadline */
    char last_message[96];
    size_t req_len;
    uint8_t req[]; /* the packed RenderRequest, reused by every attempt */
};

static void dispatch(fg_pool *pool);
static void on_sched_timer(uv_timer_t *t);
static void attempt_ended(fg_backend *b);
static void on_attempt_done(void *user, const fg_grpc_result *res);

static fg_call *call_of(fg_sched_item *item) {
    return (fg_call *)((char *)item - offsetof(fg_call, item));
}

/* ---- the backends a frame may go to ---- */

static bool tried(const fg_call *call, size_t i) {
    return i < TRIED_BITS && (call->tried >> i & 1);
}

/* Takes frames now: configured, connection not down, healthy (or due a trial frame). */
static bool usable(fg_pool *pool, size_t i, uint64_t now_us) {
    fg_backend *b = pool->backends[i];
    bool trial;
    return !b->removed && fg_grpc_conn_get_state(b->conn) != FG_GRPC_CONN_FAILED &&
           fg_bshared_eligible(b->shared, now_us, false, &trial);
}

static uint32_t room_of(const fg_pool *pool, const fg_backend *b) {
    uint32_t cap = pool->cfg.balance == FG_BALANCE_ROUND_ROBIN ? pool->cfg.backend_max_inflight
                                                               : fg_limit_get(&b->limit);
    uint64_t held = b->stats.in_flight;
    return held < cap ? (uint32_t)(cap - held) : 0;
}

/* Capacity, service time and usable backends, recomputed at most every ESTIMATE_TTL_US. */
static void refresh_estimates(fg_pool *pool, uint64_t now_us) {
    if (pool->est_at_us && now_us - pool->est_at_us < ESTIMATE_TTL_US)
        return;
    double rate = 0, service = 0, fastest = 0;
    size_t n = 0;
    for (size_t i = 0; i < pool->nbackends; i++) {
        if (!usable(pool, i, now_us))
            continue;
        const fg_limit *l = &pool->backends[i]->limit;
        rate += fg_limit_rate(l);
        double lat = fg_limit_latency(l);
        if (n == 0 || lat < fastest)
            fastest = lat;
        if (n++ == 0 || lat > service)
            service = lat; /* the slowest: a frame may land on any of them */
    }
    pool->est_at_us = now_us;
    /* While saturated, what the pool measurably renders beats a model of it (limit / latency
     * lags behind every change of a limit). */
    if (pool->measured_at_us && now_us - pool->measured_at_us < RATE_VALID_US)
        rate = pool->measured_rate;
    pool->est_rate = rate;
    pool->est_service_us = service;
    pool->est_fastest_us = fastest;
    pool->est_usable = n;
}

typedef struct pick {
    fg_backend *backend;
    bool any_usable;     /* some backend it has not tried takes frames, room or not */
    bool room_elsewhere; /* a backend it already tried has room (others' frames may go there) */
} pick;

typedef struct rr_ctx {
    fg_pool *pool;
    const fg_call *call;
    uint64_t now_us;
    pick *out;
} rr_ctx;

static bool rr_candidate(void *arg, size_t i) {
    rr_ctx *c = arg;
    if (!usable(c->pool, i, c->now_us))
        return false;
    bool has_room = room_of(c->pool, c->pool->backends[i]) > 0;
    if (tried(c->call, i)) {
        c->out->room_elsewhere |= has_room;
        return false;
    }
    c->out->any_usable = true;
    return has_room;
}

static uint64_t next_random(fg_pool *pool) {
    uint64_t x = pool->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return pool->rng = x;
}

/* The least-request cost; a backend's own report of its load (ORCA, contract section 1),
 * when recent, weighs it too: it also counts the work other proxies and clients gave it. */
static double cost_of(const fg_backend *b, uint64_t now_us) {
    double cost = fg_limit_cost(&b->limit, (uint32_t)b->stats.in_flight, now_us);
    if (b->orca_at_us && now_us - b->orca_at_us < ORCA_VALID_US)
        cost *= 1 + (b->orca_util < ORCA_UTIL_MAX ? b->orca_util : ORCA_UTIL_MAX);
    return cost;
}

static void note_load(fg_backend *b, const fg_grpc_result *res, uint64_t now_us) {
    if (!res->has_orca)
        return;
    double u = res->orca.application_utilization > 0 ? res->orca.application_utilization
                                                     : res->orca.cpu_utilization;
    b->orca_util = u;
    b->orca_at_us = now_us;
}

/* Least request: the cheapest of all candidates on a small pool, of two random ones on a large
 * one (power of two choices: near-best choices without a scan, and no herd on one backend). */
static size_t pick_least(fg_pool *pool, const fg_call *call, uint64_t now_us, pick *out) {
    rr_ctx c = {pool, call, now_us, out};
    size_t n = pool->nbackends, best = FG_RR_NONE;
    if (n > FULL_SCAN_MAX) {
        size_t found[2], nfound = 0;
        for (int k = 0; k < 8 && nfound < 2; k++) {
            size_t i = (size_t)(next_random(pool) % n);
            if ((nfound == 0 || found[0] != i) && rr_candidate(&c, i))
                found[nfound++] = i;
        }
        if (nfound == 2)
            return cost_of(pool->backends[found[0]], now_us) <=
                           cost_of(pool->backends[found[1]], now_us)
                       ? found[0]
                       : found[1];
        if (nfound == 1)
            return found[0];
    }
    size_t start = n ? (size_t)(next_random(pool) % n) : 0; /* ties spread, not all to #0 */
    double best_cost = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = (start + k) % n;
        if (!rr_candidate(&c, i))
            continue;
        double cost = cost_of(pool->backends[i], now_us);
        if (best == FG_RR_NONE || cost < best_cost) {
            best = i;
            best_cost = cost;
        }
    }
    return best;
}

/* The backend for call's next attempt (trial claimed), or out->backend NULL. */
static void pick_backend(fg_pool *pool, const fg_call *call, uint64_t now_us, pick *out,
                         bool *trial) {
    *out = (pick){0};
    for (size_t k = 0; k <= pool->nbackends; k++) {
        size_t i;
        if (pool->cfg.balance == FG_BALANCE_ROUND_ROBIN) {
            rr_ctx c = {pool, call, now_us, out};
            i = fg_rr_pick_atomic(pool->cursor, pool->nbackends, rr_candidate, &c);
        } else {
            i = pick_least(pool, call, now_us, out);
        }
        if (i == FG_RR_NONE)
            return;
        fg_backend *b = pool->backends[i];
        if (fg_bshared_eligible(b->shared, now_us, true, trial)) {
            out->backend = b;
            return;
        }
        /* its trial frame went to another frame meanwhile: choose again */
    }
}

/* pick_backend, unless the backend with room would answer after the frame's deadline (its
 * peak latency says so): FG_ERR_BUSY then, nothing claimed. */
static int pick_in_time(fg_pool *pool, const fg_call *call, uint64_t now_us, pick *out,
                        bool *trial) {
    pick_backend(pool, call, now_us, out, trial);
    fg_backend *b = out->backend;
    if (!b || now_us + (uint64_t)fg_limit_peak(&b->limit) < call->deadline_us)
        return 0;
    if (*trial)
        fg_bshared_trial_release(b->shared);
    out->backend = NULL;
    return FG_ERR_BUSY;
}

/* ---- attempts ---- */

/* call's attempt on b has started (alone or in a batch). */
static void sent_to(fg_call *call, fg_backend *b, uint64_t now_us) {
    if (b->index < TRIED_BITS)
        call->tried |= (uint64_t)1 << b->index;
    call->backend = b;
    call->attempt_start_us = now_us;
    call->attempts++;
}

/* Sends call to b now. 0, or the connection's refusal (down, queue full). */
static int start_attempt(fg_call *call, fg_backend *b, bool trial, uint64_t now_us) {
    fg_pool *pool = call->pool;
    uint64_t timeout_us = (uint64_t)pool->cfg.timeout_ms * 1000;
    if (timeout_us > call->deadline_us - now_us)
        timeout_us = call->deadline_us - now_us;
    int rv = fg_grpc_conn_call(b->conn, RENDER_PATH, call->req, call->req_len, timeout_us,
                               on_attempt_done, call, &call->attempt);
    if (rv < 0) {
        call->attempt = NULL;
        if (trial)
            fg_bshared_trial_release(b->shared);
        return rv;
    }
    sent_to(call, b, now_us);
    call->trial = trial;
    FG_BSTAT_ADD(b, total_requests, 1);
    FG_BSTAT_ADD(b, frames_sent, 1);
    FG_BSTAT_ADD(b, in_flight, 1);
    call->held = (uint32_t)b->stats.in_flight;
    fg_stats_observe_batch(1);
    return 0;
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
    if (--call->flow->calls == 0)
        pool->busy_flows--;
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

/* A queued frame that cannot be answered in time: "overloaded" if it never reached a backend,
 * else the last attempt's outcome (the contract's "every attempt failed, or the deadline
 * passed"). */
static void complete_late(fg_call *call) {
    fg_sched_remove(&call->pool->sched, &call->item);
    if (call->attempts == 0) {
        fg_stats_add(FG_STAT_frames_shed_total, 1);
        complete_error(call, FG_STATUS_RESOURCE_EXHAUSTED, OVERLOADED);
    } else {
        complete_error(call, call->last_status, call->last_message);
    }
}

void *fg_frame_take_image(const fg_frame_result *res) {
    if (!res->fg__image_block)
        return NULL;
    void *block = *res->fg__image_block;
    *res->fg__image_block = NULL;
    return block;
}

static void complete_reply(fg_call *call, const fg_reply *r, uint8_t **reply_storage) {
    const Framegate__V1__RenderReply *reply = r->msg;
    fg_frame_result res = {
        .status = FG_STATUS_OK,
        .image = reply->image.data,
        .image_len = reply->image.len,
        .fg__image_block = r->image_borrowed && reply->image.len ? reply_storage : NULL,
        .width = reply->width,
        .height = reply->height,
        .format = (uint8_t)reply->format,
    };
    complete(call, &res);
}

static bool may_retry(fg_call *call, bool not_processed) {
    if (call->pool->closing)
        return false;
    if (not_processed && !call->free_retry_used) {
        call->free_retry_used = true;
        return true;
    }
    if (call->retries_left == 0)
        return false;
    call->retries_left--;
    return true;
}

/* At most half the pool (rounded down) may be out for timeouts (contract section 1). */
static bool timeout_ejection_allowed(const fg_pool *pool) {
    size_t n = 0, out = 0;
    for (size_t i = 0; i < pool->nbackends; i++) {
        const fg_backend *b = pool->backends[i];
        if (b->removed)
            continue;
        n++;
        out += fg_bshared_out_for_timeout(b->shared);
    }
    return out + 1 <= n / 2;
}

/* Whose fault the attempt's outcome was: a deadline is the backend's only when it held no
 * other frame (else it was busy: overload, section 5) and the ejection cap allows. */
static fg_fault classify(fg_pool *pool, uint32_t held, fg_backend *b, int status) {
    /* The proxy cancels nothing a client still waits for: a CANCELLED from the backend (or its
     * RST_STREAM CANCEL) is the backend abandoning the frame, e.g. while it shuts down. Like a
     * full queue: another backend takes it, and it counts against none. */
    if (status == FG_STATUS_CANCELLED)
        return FG_FAULT_BUSY;
    fg_fault fault = fg_status_fault(status);
    if (fault != FG_FAULT_TIMEOUT)
        return fault;
    if (held > 1 || b->stats.in_flight > 1) {
        FG_BSTAT_ADD(b, busy_timeouts, 1);
        return FG_FAULT_BUSY;
    }
    if (fg_bshared_healthy(b->shared) && !timeout_ejection_allowed(pool))
        return FG_FAULT_BUSY;
    return FG_FAULT_TIMEOUT;
}

/* Counts a finished attempt towards the throughput measured while frames wait. */
static void count_done(fg_pool *pool, uint64_t now_us, size_t frames) {
    if (pool->sched.queued == 0)
        pool->win_idle = true;
    pool->win_done += frames;
    if (now_us - pool->win_start_us < RATE_WINDOW_US)
        return;
    if (!pool->win_idle && pool->win_start_us) {
        pool->measured_rate = (double)pool->win_done / (double)(now_us - pool->win_start_us);
        pool->measured_at_us = now_us;
    }
    pool->win_start_us = now_us;
    pool->win_done = 0;
    pool->win_idle = pool->sched.queued == 0;
}

/* What the end of one backend call (one frame or a batch: one pass) tells about its backend:
 * latency, limit, throughput, errors, health. The call no longer holds its slot after. */
static void call_ended(fg_pool *pool, fg_backend *b, uint32_t held, bool trial, uint32_t us,
                       size_t frames, fg_fault fault, int status, const char *message,
                       uint64_t now_us) {
    count_done(pool, now_us, frames);
    fg_hist_record(b->latency, us);
    fg_limit_on_sample(&b->limit, &pool->limit_policy, us, held, status == FG_STATUS_OK, now_us);
    __atomic_store_n(&b->stats.concurrency_limit, fg_limit_get(&b->limit), __ATOMIC_RELAXED);
    if (fault == FG_FAULT_BACKEND || fault == FG_FAULT_TIMEOUT)
        FG_BSTAT_ADD(b, error_count, 1);
    fg_bshared_on_call(b->shared, fault, status, message, trial, now_us);
    attempt_ended(b);
}

/* A frame whose attempt failed: answered with that outcome, or back to the front of its flow,
 * where the next free backend it has not tried takes it. */
static void retry_or_answer(fg_call *call, int status, const char *message, fg_fault fault,
                            bool not_processed) {
    if (fault == FG_FAULT_REQUEST || !may_retry(call, not_processed)) {
        complete_error(call, status, message);
        return;
    }
    fg_stats_add(FG_STAT_frame_retries_total, 1);
    call->last_status = status;
    snprintf(call->last_message, sizeof call->last_message, "%s", message ? message : "");
    call->queued_us = fg_now_us();
    fg_sched_push_head(&call->pool->sched, &call->flow->queue, &call->item);
}

static void on_attempt_done(void *user, const fg_grpc_result *res) {
    fg_call *call = user;
    fg_pool *pool = call->pool;
    fg_backend *b = call->backend;
    uint64_t now = fg_now_us();
    call->attempt = NULL;
    call->grpc_us = (uint32_t)(now - call->attempt_start_us);
    note_load(b, res, now);

    int status = res->status;
    const char *message = res->message;
    fg_reply reply = {0}; /* its image points into res->reply: no copy */
    if (status == FG_STATUS_OK &&
        fg_reply_unpack(&reply, res->reply, res->reply_len, pool->slab) < 0) {
        status = FG_STATUS_INTERNAL;
        message = "bad RenderReply";
    }
    fg_fault fault = classify(pool, call->held, b, status);
    call_ended(pool, b, call->held, call->trial, call->grpc_us, 1, fault, status, message, now);
    call->trial = false;
    if (reply.msg) {
        complete_reply(call, &reply, res->reply_storage);
        fg_reply_free(&reply);
    } else {
        retry_or_answer(call, status, message, fault, res->not_processed);
    }
    dispatch(pool);
}

/* ---- batches (--batch-max) ---- */

/* A frame of a RenderBatch: its image lies among the others' in one reply, so it is copied. */
static void complete_batch_reply(fg_call *call, const Framegate__V1__RenderReply *reply) {
    fg_frame_result res = {
        .status = FG_STATUS_OK,
        .image = reply->image.data,
        .image_len = reply->image.len,
        .width = reply->width,
        .height = reply->height,
        .format = (uint8_t)reply->format,
    };
    complete(call, &res);
}

static void on_batch_done(void *user, const fg_grpc_result *res) {
    fg_batch_att *att = user;
    fg_pool *pool = att->pool;
    fg_backend *b = att->backend;
    uint64_t now = fg_now_us();
    uint32_t us = (uint32_t)(now - att->start_us);
    note_load(b, res, now);
    int status = res->status;
    const char *message = res->message;
    Framegate__V1__RenderBatchReply *reply = NULL;
    if (status == FG_STATUS_OK && fg_batch_decode(res->reply, res->reply_len, att->n, &reply) < 0) {
        status = FG_STATUS_INTERNAL;
        message = "bad RenderBatchReply";
    }
    /* A backend without RenderBatch gets single Render calls from now on (contract section
     * 1): it is not broken, and its frames go again without using up a retry. */
    bool unimplemented = status == FG_STATUS_UNIMPLEMENTED;
    if (unimplemented && !b->no_batch) {
        b->no_batch = true;
        fg_log_info("%s: no RenderBatch (UNIMPLEMENTED): single Render calls from now on",
                    b->address);
    }
    fg_fault fault = unimplemented ? FG_FAULT_BUSY : classify(pool, att->held, b, status);
    call_ended(pool, b, att->held, att->trial, us, att->live, fault, status, message, now);
    /* Detach every frame first: an answer's callback may cancel another frame of the batch. */
    for (size_t i = 0; i < att->n; i++)
        if (att->calls[i])
            att->calls[i]->batch = NULL;
    for (size_t i = 0; i < att->n; i++) {
        fg_call *call = att->calls[i];
        if (!call)
            continue;
        call->grpc_us = us;
        if (reply) {
            complete_batch_reply(call, reply->replies[i]);
        } else if (unimplemented) {
            call->tried &= ~((uint64_t)1 << (b->index < TRIED_BITS ? b->index : 0));
            call->queued_us = now;
            fg_sched_push_head(&pool->sched, &call->flow->queue, &call->item);
        } else {
            retry_or_answer(call, status, message, fault, res->not_processed);
        }
    }
    if (reply)
        framegate__v1__render_batch_reply__free_unpacked(reply, NULL);
    free(att);
    dispatch(pool);
}

/* The model name of a packed RenderRequest (field 1, the first protobuf-c writes). */
static void find_model(fg_call *call) {
    const uint8_t *r = call->req;
    if (call->req_len >= 2 && r[0] == 0x0A && r[1] < 0x80 && (size_t)2 + r[1] <= call->req_len) {
        call->model_off = 2;
        call->model_len = r[1];
    } else if (call->req_len >= 3 && r[0] == 0x0A && (r[1] & 0x80) && r[2] < 0x80) {
        call->model_off = 3;
        call->model_len = (uint16_t)((r[1] & 0x7F) | r[2] << 7);
        if ((size_t)3 + call->model_len > call->req_len)
            call->model_off = call->model_len = 0;
    }
}

static bool same_model(const fg_call *a, const fg_call *b) {
    return a->model_len && a->model_len == b->model_len &&
           memcmp(a->req + a->model_off, b->req + b->model_off, a->model_len) == 0;
}

/* Takes out of the queue, with call (already taken), the frames that may ride in one
 * RenderBatch to b: the heads of the waiting flows in turn, round after round, for the same
 * model, not tried on b, and that b can answer in time. calls[0] is call; returns the count. */
static size_t gather(fg_pool *pool, fg_call *call, fg_backend *b, uint64_t now_us,
                     fg_call **calls) {
    size_t n = 0, max = pool->cfg.batch_max;
    calls[n++] = call;
    uint64_t latency = (uint64_t)fg_limit_peak(&b->limit);
    bool took = true;
    while (n < max && took && pool->sched.cursor) {
        took = false;
        fg_sched_flow *f = pool->sched.cursor;
        for (size_t k = pool->sched.active; k > 0 && n < max && f && f->head; k--) {
            fg_sched_flow *next = f->ring_next;
            fg_call *c = call_of(f->head);
            if (same_model(c, call) && !tried(c, b->index) && now_us + latency < c->deadline_us) {
                fg_sched_remove(&pool->sched, f->head);
                calls[n++] = c;
                took = true;
            }
            f = next;
        }
    }
    return n;
}

/* Puts gathered frames back at the front of their flows, in their order. */
static void put_back(fg_pool *pool, fg_call **calls, size_t n) {
    while (n-- > 0)
        fg_sched_push_head(&pool->sched, &calls[n]->flow->queue, &calls[n]->item);
}

/* Sends calls[0..n) to b as one RenderBatch. 0, or the connection's refusal. */
static int start_batch(fg_pool *pool, fg_backend *b, fg_call **calls, size_t n, bool trial,
                       uint64_t now_us) {
    const uint8_t *reqs[FG_POOL_BATCH_MAX];
    size_t lens[FG_POOL_BATCH_MAX];
    uint64_t timeout_us = (uint64_t)pool->cfg.timeout_ms * 1000;
    for (size_t i = 0; i < n; i++) {
        reqs[i] = calls[i]->req;
        lens[i] = calls[i]->req_len;
        if (timeout_us > calls[i]->deadline_us - now_us)
            timeout_us = calls[i]->deadline_us - now_us; /* the batch ends with its first */
    }
    size_t len = fg_batch_encoded_len(lens, n);
    uint8_t *msg = fg_malloc(len);
    fg_batch_encode(reqs, lens, n, msg);
    fg_batch_att *att = fg_malloc(sizeof *att + n * sizeof att->calls[0]);
    *att = (fg_batch_att){
        .pool = pool, .backend = b, .start_us = now_us, .trial = trial, .n = n, .live = n};
    int rv =
        fg_grpc_conn_call(b->conn, BATCH_PATH, msg, len, timeout_us, on_batch_done, att, &att->rpc);
    free(msg); /* the connection copied it */
    if (rv < 0) {
        free(att);
        if (trial)
            fg_bshared_trial_release(b->shared);
        return rv;
    }
    for (size_t i = 0; i < n; i++) {
        fg_call *call = calls[i];
        att->calls[i] = call;
        call->batch = att;
        call->slot = i;
        sent_to(call, b, now_us);
    }
    FG_BSTAT_ADD(b, total_requests, 1);
    FG_BSTAT_ADD(b, frames_sent, n);
    FG_BSTAT_ADD(b, in_flight, 1);
    att->held = (uint32_t)b->stats.in_flight;
    fg_stats_observe_batch(n);
    return 0;
}

/* Starts call (taken from the queue) on b, alone or with the frames that may ride along
 * (--batch-max). 0; FG_ERR_AGAIN when they were put back to wait for more company
 * (--batch-window-us; the timer is armed); or the connection's refusal (call not started, the
 * others put back). */
static int start_frames(fg_pool *pool, fg_call *call, fg_backend *b, bool trial, uint64_t now_us) {
    if (pool->cfg.batch_max <= 1 || b->no_batch)
        return start_attempt(call, b, trial, now_us);
    fg_call *calls[FG_POOL_BATCH_MAX];
    size_t n = gather(pool, call, b, now_us, calls);
    uint64_t window = pool->cfg.batch_window_us, waited = now_us - calls[0]->queued_us;
    if (n < pool->cfg.batch_max && window && waited < window) {
        put_back(pool, calls, n);
        if (trial)
            fg_bshared_trial_release(b->shared);
        uint64_t left_ms = (window - waited + 999) / 1000;
        uv_timer_stop(&pool->sched_timer);
        uv_timer_start(&pool->sched_timer, on_sched_timer, left_ms < SWEEP_MS ? left_ms : SWEEP_MS,
                       0);
        return FG_ERR_AGAIN;
    }
    if (n == 1)
        return start_attempt(call, b, trial, now_us);
    int rv = start_batch(pool, b, calls, n, trial, now_us);
    if (rv < 0)
        put_back(pool, calls + 1, n - 1);
    return rv;
}

/* ---- the scheduler ---- */

/* The process-wide queue gauge: each pool adds what its own queue changed by since. */
static void sync_gauge(fg_pool *pool) {
    int64_t now = (int64_t)pool->sched.queued;
    if (now == pool->queued_reported)
        return; /* a shared atomic: not touched per frame while nothing waits */
    fg_stats_add(FG_STAT_queue_length, now - pool->queued_reported);
    pool->queued_reported = now;
}

static void on_sched_timer(uv_timer_t *t);

static void arm_sched_timer(fg_pool *pool, uint64_t delay_ms) {
    if (!pool->closing && !uv_is_active((uv_handle_t *)&pool->sched_timer))
        uv_timer_start(&pool->sched_timer, on_sched_timer, delay_ms, 0);
}

/* Hands waiting frames to backends with room, flow after flow; answers those that can no longer
 * be answered in time, or that no backend can take. Callbacks run inside. */
static void dispatch(fg_pool *pool) {
    if (pool->dispatching || pool->closing)
        return;
    if (pool->sched.queued == 0) {
        sync_gauge(pool);
        return; /* nothing waits: no estimates to refresh at low load */
    }
    pool->dispatching = true;
    size_t passed = 0;
    uint64_t now = fg_now_us();
    refresh_estimates(pool, now);
    fg_sched_item *item;
    while ((item = fg_sched_peek(&pool->sched)) != NULL) {
        fg_call *call = call_of(item);
        if (now + (uint64_t)pool->est_fastest_us >= call->deadline_us) {
            complete_late(call);
            continue;
        }
        pick p;
        bool trial;
        if (pick_in_time(pool, call, now, &p, &trial) < 0) {
            complete_late(call); /* the backend it would get answers too late */
            continue;
        }
        if (p.backend) {
            fg_sched_pop(&pool->sched);
            int rv = start_frames(pool, call, p.backend, trial, now);
            if (rv == 0) {
                passed = 0;
                continue;
            }
            if (rv == FG_ERR_AGAIN) /* waits for company (--batch-window-us) */
                break;
            fg_sched_push_head(&pool->sched, &call->flow->queue, &call->item);
            break; /* its connection refused: try again on the next occasion */
        }
        if (!p.any_usable) {
            fg_sched_remove(&pool->sched, item);
            if (call->attempts)
                complete_error(call, call->last_status, call->last_message);
            else
                complete_error(call, FG_STATUS_UNAVAILABLE, "no backends available");
            continue;
        }
        /* Its backends are full. Another flow's frame may still fit where this one was. */
        if (!p.room_elsewhere || ++passed >= pool->sched.active)
            break;
        fg_sched_advance(&pool->sched);
    }
    sync_gauge(pool);
    if (pool->sched.queued)
        arm_sched_timer(pool, SWEEP_MS);
    pool->dispatching = false;
}

/* While frames wait: every SWEEP_MS, the heads of the flows that cannot be answered in time any
 * more are answered at once instead of at the end of a wait (a flow's frames share a deadline
 * length, so its head is its first to expire). */
static void on_sched_timer(uv_timer_t *t) {
    fg_pool *pool = t->data;
    uint64_t now = fg_now_us();
    refresh_estimates(pool, now);
    /* One walk round the ring, leaving the cursor (whose turn it is) where it was. */
    fg_sched_flow *f = pool->sched.cursor;
    for (size_t k = pool->sched.active; k > 0 && f; k--) {
        fg_sched_flow *next = f->ring_next;
        while (f->head && now + (uint64_t)pool->est_fastest_us >= call_of(f->head)->deadline_us)
            complete_late(call_of(f->head));
        f = next;
    }
    sync_gauge(pool);
    dispatch(pool);
}

/* ---- the interface ---- */

fg_flow *fg_pool_flow_new(fg_pool *pool) {
    fg_flow *f = fg_calloc(1, sizeof *f);
    f->pool = pool;
    fg_sched_flow_init(&f->queue);
    return f;
}

void fg_pool_flow_free(fg_flow *flow) {
    if (flow)
        free(flow); /* the owner answered or cancelled every frame first */
}

size_t fg_pool_flow_supersede(fg_flow *flow) {
    fg_pool *pool = flow->pool;
    size_t n = 0;
    fg_sched_item *item = flow->queue.head;
    while (item) {
        fg_sched_item *next = item->next;
        fg_call *call = call_of(item);
        if (call->attempts == 0) {
            fg_sched_remove(&pool->sched, item);
            fg_stats_add(FG_STAT_frames_superseded_total, 1);
            complete_error(call, FG_STATUS_CANCELLED, "superseded");
            n++;
        }
        item = next;
    }
    sync_gauge(pool);
    return n;
}

static fg_call *pack_request(const fg_frame_request *req) {
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
    find_model(call);
    if (model != model_small)
        free(model);
    return call;
}

/* Expected time until a frame queued now at the end of flow is answered. */
static double expected_us(fg_pool *pool, const fg_flow *flow) {
    /* Connections with frames at the backends and none waiting send more as those come back. */
    size_t waiting = pool->sched.active + (flow->queue.queued == 0);
    size_t others = pool->busy_flows + (flow->calls == 0);
    size_t joining = others > waiting ? others - waiting : 0;
    double ahead = (double)fg_sched_ahead(&pool->sched, &flow->queue, joining);
    double wait = pool->est_rate > 0 ? ahead / pool->est_rate : 0;
    if (pool->cfg.batch_max > 1 && !pool->measured_at_us && pool->est_usable) {
        /* Not measured yet: the frames ahead go to each backend in batches of up to
         * --batch-max per pass, not one by one. */
        double per_backend = ahead / (double)pool->est_usable;
        double batch = per_backend < 1 ? 1 : per_backend;
        wait /= batch < pool->cfg.batch_max ? batch : pool->cfg.batch_max;
    }
    return wait + pool->est_service_us;
}

static void link_call(fg_pool *pool, fg_call *call) {
    call->next = pool->calls;
    if (pool->calls)
        pool->calls->prev = call;
    pool->calls = call;
    if (call->flow->calls++ == 0)
        pool->busy_flows++;
}

int fg_pool_submit(fg_pool *pool, fg_flow *flow, const fg_frame_request *req, fg_frame_done_cb cb,
                   void *user, fg_call **out) {
    if (pool->closing)
        return FG_ERR_AGAIN;
    uint64_t now = fg_now_us();
    fg_call *call = pack_request(req);
    call->pool = pool;
    call->flow = flow ? flow : pool->default_flow;
    call->cb = cb;
    call->user = user;
    call->retries_left = pool->cfg.retries;
    uint32_t deadline_ms = req->deadline_ms ? req->deadline_ms : pool->cfg.deadline_ms;
    call->deadline_us = now + (uint64_t)deadline_ms * 1000 - deadline_margin_us(deadline_ms);
    bool may_wait = pool->cfg.batch_max > 1 && pool->cfg.batch_window_us;
    if (pool->sched.queued == 0 && !may_wait) {
        pick p;
        bool trial;
        if (pick_in_time(pool, call, now, &p, &trial) < 0) {
            free(call); /* even the backend with room answers too late */
            fg_stats_add(FG_STAT_frames_shed_total, 1);
            return FG_ERR_BUSY;
        }
        if (p.backend && start_attempt(call, p.backend, trial, now) == 0)
            goto accepted;
        call->tried = 0;
        if (!p.any_usable) {
            free(call);
            return FG_ERR_AGAIN;
        }
    }
    refresh_estimates(pool, now);
    if (pool->est_usable == 0) {
        free(call);
        return FG_ERR_AGAIN;
    }
    /* Half the wait and one more service time of margin: an estimate is an estimate,
     * and a frame shed now costs the client far less than one shed after waiting (section 5). */
    double wait = expected_us(pool, call->flow) - pool->est_service_us;
    if ((double)now + wait * 1.5 + 2 * pool->est_service_us > (double)call->deadline_us) {
        free(call);
        fg_stats_add(FG_STAT_frames_shed_total, 1);
        return FG_ERR_BUSY;
    }
    call->queued_us = now;
    fg_sched_push_tail(&pool->sched, &call->flow->queue, &call->item);
    sync_gauge(pool);
    arm_sched_timer(pool, 0); /* room may be free for it already (never callbacks from here) */
accepted:
    link_call(pool, call);
    *out = call;
    return 0;
}

static void stop_attempt(fg_call *call) {
    fg_batch_att *att = call->batch;
    if (att) {
        /* The others of the batch still want its answer: the call goes on without this one. */
        att->calls[call->slot] = NULL;
        call->batch = NULL;
        if (--att->live == 0) {
            fg_grpc_call_cancel(att->rpc);
            if (att->trial)
                fg_bshared_trial_release(att->backend->shared);
            attempt_ended(att->backend);
            free(att);
        }
        return;
    }
    if (!call->attempt)
        return;
    fg_grpc_call_cancel(call->attempt);
    call->attempt = NULL;
    if (call->trial)
        fg_bshared_trial_release(call->backend->shared);
    attempt_ended(call->backend);
}

void fg_call_cancel(fg_call *call) {
    fg_pool *pool = call->pool;
    fg_sched_remove(&pool->sched, &call->item);
    sync_gauge(pool);
    bool had_attempt = call->attempt != NULL || call->batch != NULL;
    stop_attempt(call);
    unlink_call(call);
    free(call);
    if (had_attempt)
        arm_sched_timer(pool, 0); /* its slot is free for a waiting frame */
}

void fg_pool_hint_for(fg_pool *pool, const fg_flow *flow, fg_pool_hint *out) {
    uint64_t now = fg_now_us();
    refresh_estimates(pool, now);
    size_t flows = pool->busy_flows + (flow->calls == 0);
    double fps = pool->est_rate * 1e6 / (double)(flows ? flows : 1);
    double wait = pool->sched.queued ? expected_us(pool, flow) - pool->est_service_us : 0;
    out->healthy = (uint32_t)fg_pool_healthy_count(pool);
    out->fps_milli = fps * 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(fps * 1000);
    out->queue_wait_us = wait <= 0 ? 0 : wait > UINT32_MAX ? UINT32_MAX : (uint32_t)wait;
}

size_t fg_pool_queued(const fg_pool *pool) {
    return pool->sched.queued;
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
        cfg->max_reply_bytes = FG_GRPC_MAX_REPLY_DEFAULT;
    if (!cfg->max_queue)
        cfg->max_queue = FG_GRPC_MAX_QUEUE_DEFAULT;
    if (!cfg->deadline_ms)
        cfg->deadline_ms = DEFAULT_DEADLINE_MS;
    if (!cfg->backend_max_inflight)
        cfg->backend_max_inflight = DEFAULT_BACKEND_MAX_INFLIGHT;
    if (!cfg->batch_max)
        cfg->batch_max = 1;
    if (cfg->batch_max > FG_POOL_BATCH_MAX)
        cfg->batch_max = FG_POOL_BATCH_MAX;
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

static void init_backend(fg_pool *pool, fg_backend *b) {
    fg_limit_init(&b->limit, &pool->limit_policy);
    b->stats.concurrency_limit = fg_limit_get(&b->limit);
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
    uint32_t cap = pool->cfg.backend_max_inflight;
    pool->limit_policy = (fg_limit_policy){
        .initial = INITIAL_LIMIT < cap ? INITIAL_LIMIT : cap,
        .min = MIN_LIMIT < cap ? MIN_LIMIT : cap,
        .max = cap,
    };
    pool->rng = (uint64_t)(uintptr_t)pool ^ fg_now_us() ^ 0x9E3779B97F4A7C15ull;
    fg_sched_init(&pool->sched);
    pool->default_flow = fg_pool_flow_new(pool);
    if (cfg->shared) {
        pool->shared = cfg->shared;
        fg_shared_ref(pool->shared);
    } else {
        fg_health_policy policy = policy_of(&pool->cfg);
        pool->shared = fg_shared_new(&policy);
    }
    pool->cursor = fg_shared_cursor(pool->shared);
    pool->read_buf = fg_malloc(FG_GRPC_READ_BUF_SIZE);
    pool->slab = fg_slab_new(FG_SLAB_KEEP_DEFAULT);
    pool->nbackends = cfg->naddrs;
    pool->backends = fg_calloc(cfg->naddrs, sizeof *pool->backends);
    for (size_t i = 0; i < cfg->naddrs; i++) {
        fg_backend_new(pool, cfg->addrs[i], &pool->backends[i]); /* addresses checked above */
        pool->backends[i]->index = i;
        init_backend(pool, pool->backends[i]);
    }
    uv_timer_init(loop, &pool->sched_timer);
    pool->sched_timer.data = pool;
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
    fg_pool_flow_free(pool->default_flow);
    fg_shared_unref(pool->shared);
    free(pool->read_buf);
    fg_slab_free(pool->slab);
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
        fg_sched_remove(&pool->sched, &call->item);
        stop_attempt(call);
        complete_error(call, FG_STATUS_UNAVAILABLE, "proxy shutting down");
    }
    sync_gauge(pool);
    pool->closing_pending = 2 + (int)pool->nbackends;
    uv_close((uv_handle_t *)&pool->check_timer, on_timer_closed);
    uv_close((uv_handle_t *)&pool->sched_timer, on_timer_closed);
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
            init_backend(pool, b);
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
