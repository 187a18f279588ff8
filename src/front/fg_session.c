#include "fg_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_clock.h"
#include "fg_codec.h"
#include "fg_err.h"
#include "fg_logw.h"
#include "fg_stats.h"
#include "fg_status.h"

/* HINTs: at most one a second unless a frame was shed, and only when a figure moved 10%. */
#define HINT_INTERVAL_US 1000000u
#define HINT_CHANGE 0.10
#define OVERLOADED "overloaded"

/* One request not yet answered to the client: waiting for its backend answer, or (order=1)
 * answered and waiting for the requests before it. */
typedef struct pending {
    struct pending *prev, *next;
    fg_session *session;
    fg_cache_call *call; /* NULL once answered */
    fg_ws_msg *msg;      /* order=1: its reply, held until its turn */
    uint32_t request_id;
    uint32_t frame;
    uint64_t start_us;
    uint8_t model_len;
    char model[255];
} pending;

struct fg_session {
    fg_session_env *env;
    fg_ws *ws;
    fg_flow *flow;
    fg_ws_params params;
    fg_session_io io;
    void *user;
    pending *head, *tail; /* in arrival order */
    size_t npending;
    fg_pool_hint last_hint;
    uint64_t last_hint_us;
    bool hint_sent;
};

/* What one reply says, gathered before it is encoded and logged. */
typedef struct reply {
    uint8_t type;
    int status;
    uint32_t request_id, frame;
    uint64_t start_us;
    const char *model; /* for the log line only */
    size_t model_len;
    const char *backend; /* NULL when none reached */
    const uint8_t *payload;
    size_t payload_len;
    void *payload_block; /* heap block holding payload, handed over; NULL: copy payload */
    uint32_t grpc_us;
    uint32_t width, height;
    uint8_t format, attempts;
} reply;

static uint16_t clamp_u16(uint32_t v) {
    return v > UINT16_MAX ? UINT16_MAX : (uint16_t)v;
}

static uint32_t clamp_u32(uint64_t v) {
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static void log_reply(const reply *r, uint64_t total_us) {
    const char *model = r->model_len ? r->model : "?";
    int model_len = r->model_len ? (int)r->model_len : 1;
    const char *backend = r->backend ? r->backend : "-";
    if (r->type == FG_MSG_FRAME)
        fg_logw_printf("\xE2\x9C\x85 %.*s frame %u [%s]: gRPC=%ums total=%ums size=%zu bytes\n",
                       model_len, model, r->frame, backend, r->grpc_us / 1000,
                       (unsigned)(total_us / 1000), r->payload_len);
    else
        fg_logw_printf("\xE2\x9D\x8C %.*s frame %u [%s]: %s %.*s (status=%d attempts=%u gRPC=%ums "
                       "total=%ums)\n",
                       model_len, model, r->frame, backend, fg_status_name(r->status),
                       (int)r->payload_len, (const char *)r->payload, r->status, r->attempts,
                       r->grpc_us / 1000, (unsigned)(total_us / 1000));
}

/* ---- HINT ---- */

static bool moved(uint32_t was, uint32_t now) {
    double a = was, b = now;
    double base = a > b ? a : b;
    return base > 0 && (a > b ? a - b : b - a) >= HINT_CHANGE * base;
}

/* Sends a HINT when due: forced (the connection opened, or a frame of it was shed), or at most
 * once a second when a figure moved by 10%. */
static void maybe_hint(fg_session *s, bool forced) {
    if (!s->params.hints || fg_ws_closing(s->ws))
        return;
    uint64_t now = fg_now_us();
    if (!forced && now - s->last_hint_us < HINT_INTERVAL_US)
        return;
    fg_pool_hint h;
    fg_pool_hint_for(s->env->pool, s->flow, &h);
    if (!forced && s->hint_sent && h.healthy == s->last_hint.healthy &&
        !moved(s->last_hint.fps_milli, h.fps_milli) &&
        !moved(s->last_hint.queue_wait_us, h.queue_wait_us))
        return;
    uint8_t *data;
    fg_ws_msg *msg = fg_ws_msg_new(FG_HINT_LEN, &data);
    fg_hint wire = {.healthy = clamp_u16(h.healthy),
                    .fps_milli = h.fps_milli,
                    .queue_wait_us = h.queue_wait_us};
    fg_codec_write_hint(data, &wire);
    if (fg_ws_send(s->ws, msg) == 0)
        fg_stats_add(FG_STAT_hints_sent_total, 1);
    s->last_hint = h;
    s->last_hint_us = now;
    s->hint_sent = true;
}

/* ---- replies ---- */

static void unlink_pending(fg_session *s, pending *p) {
    if (p->prev)
        p->prev->next = p->next;
    else
        s->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        s->tail = p->prev;
    s->npending--;
}

/* order=1: sends the answered requests at the head, in request order. */
static void flush_ordered(fg_session *s) {
    while (s->head && s->head->msg) {
        pending *p = s->head;
        unlink_pending(s, p);
        fg_ws_send(s->ws, p->msg); /* refused only when closing: nobody to tell */
        free(p);
    }
}

/* Encodes, counts and logs one reply; sends it, or with order=1 hands it to p (the request's
 * pending entry, NULL for a request answered before one was made) to wait for its turn. */
static void send_reply(fg_session *s, pending *p, const reply *r) {
    size_t backend_len = r->backend ? strlen(r->backend) : 0;
    if (backend_len > UINT8_MAX)
        backend_len = UINT8_MAX;
    uint8_t *data;
    fg_ws_msg *msg;
    size_t head_len = FG_REPLY_HEADER_LEN + backend_len;
    if (r->payload_block) {
        /* The image stays in the backend reply's buffer: the message adopts it. */
        msg = fg_ws_msg_new_tail(head_len, &data, r->payload, r->payload_len, r->payload_block);
    } else {
        msg = fg_ws_msg_new(head_len + r->payload_len, &data);
        if (r->payload_len)
            memcpy(data + head_len, r->payload, r->payload_len);
    }
    uint64_t total_us = fg_now_us() - r->start_us;
    fg_reply_header h = {
        .type = r->type,
        .backend_len = (uint8_t)backend_len,
        .status = (uint16_t)r->status,
        .request_id = r->request_id,
        .frame = r->frame,
        .grpc_us = r->grpc_us,
        .total_us = clamp_u32(total_us),
        .width = clamp_u16(r->width),
        .height = clamp_u16(r->height),
        .format = r->format,
        .attempts = r->attempts,
    };
    fg_codec_write_reply_header(data, &h);
    if (backend_len)
        memcpy(data + FG_REPLY_HEADER_LEN, r->backend, backend_len);
    fg_stats_reply(r->status);
    fg_stats_observe_total_us(total_us);
    if (s->env->log_frames)
        log_reply(r, total_us);
    if (s->params.order && p) {
        p->msg = msg;
        flush_ordered(s);
    } else {
        fg_ws_send(s->ws, msg); /* refused only when the session is closing: nobody to tell */
    }
}

/* A new pending entry at the tail (arrival order). */
static pending *add_pending(fg_session *s, const fg_render_request *req, uint64_t start_us) {
    pending *p = fg_calloc(1, sizeof(*p));
    p->session = s;
    p->request_id = req->request_id;
    p->frame = req->frame;
    p->start_us = start_us;
    p->model_len = (uint8_t)req->model_len;
    if (req->model_len) /* an invalid request may have none (model NULL) */
        memcpy(p->model, req->model, req->model_len);
    p->prev = s->tail;
    if (s->tail)
        s->tail->next = p;
    else
        s->head = p;
    s->tail = p;
    s->npending++;
    return p;
}

/* The one reply of a pending request: sent now and the entry freed, or with order=1 kept with
 * the entry until the requests before it are answered. */
static void answer_pending(fg_session *s, pending *p, const reply *r) {
    if (s->params.order) {
        send_reply(s, p, r);
        return;
    }
    unlink_pending(s, p);
    send_reply(s, p, r);
    free(p);
}

/* An answer of the proxy's own (no backend reply). With order=1 it waits behind the requests
 * before it; else it goes out at once. */
static void answer_error(fg_session *s, const fg_render_request *req, uint64_t start_us, int status,
                         const char *message) {
    reply r = {
        .type = FG_MSG_ERROR,
        .status = status,
        .request_id = req->request_id,
        .frame = req->frame,
        .start_us = start_us,
        .model = req->model,
        .model_len = req->model_len,
        .payload = (const uint8_t *)message,
        .payload_len = strlen(message),
    };
    pending *p = s->params.order && s->head ? add_pending(s, req, start_us) : NULL;
    send_reply(s, p, &r);
}

/* Replies wait for clients that do not read past the global budget: shed their frames. */
static bool over_budget(const fg_session *s) {
    return fg_ws_msgs_bytes() > s->env->max_buffered &&
           (fg_ws_queued_msgs(s->ws) > 0 || s->io.backlog(s->user) >= FG_SESSION_BACKLOG_BYTES);
}

static void on_frame_done(void *user, const fg_frame_result *res) {
    pending *p = user;
    fg_session *s = p->session;
    p->call = NULL;
    reply r = {
        .type = res->status == 0 ? FG_MSG_FRAME : FG_MSG_ERROR,
        .status = res->status,
        .request_id = p->request_id,
        .frame = p->frame,
        .start_us = p->start_us,
        .model = p->model,
        .model_len = p->model_len,
        .backend = res->backend,
        .grpc_us = res->grpc_us,
        .attempts = res->attempts,
    };
    bool shed = false;
    if (res->status == 0 && s->env->max_buffered && over_budget(s)) {
        fg_stats_add(FG_STAT_frames_shed_memory_total, 1);
        r.type = FG_MSG_ERROR;
        r.status = FG_STATUS_RESOURCE_EXHAUSTED;
        r.payload = (const uint8_t *)OVERLOADED;
        r.payload_len = strlen(OVERLOADED);
        shed = true;
    } else if (res->status == 0) {
        r.payload = res->image;
        r.payload_len = res->image_len;
        r.payload_block = fg_frame_take_image(res);
        r.width = res->width;
        r.height = res->height;
        r.format = res->format;
    } else {
        r.payload = (const uint8_t *)(res->message ? res->message : "");
        r.payload_len = strlen((const char *)r.payload);
        shed = res->status == FG_STATUS_RESOURCE_EXHAUSTED && res->attempts == 0;
    }
    answer_pending(s, p, &r);
    maybe_hint(s, shed);
    s->io.on_output(s->user);
}

void fg_session_on_message(fg_session *s, const uint8_t *msg, size_t len) {
    uint64_t start_us = fg_now_us();
    fg_stats_add(FG_STAT_frame_requests_total, 1);
    fg_render_request req;
    const char *why;
    if (fg_codec_parse_request(msg, len, &req, &why) != 0) {
        answer_error(s, &req, start_us, FG_STATUS_INVALID_ARGUMENT, why);
        return;
    }
    if (s->env->draining) {
        answer_error(s, &req, start_us, FG_STATUS_UNAVAILABLE, "proxy shutting down");
        return;
    }
    if (req.flags & FG_FLAG_LATEST)
        fg_pool_flow_supersede(s->flow); /* before the in-flight count: they are answered now */
    if (s->npending >= s->env->max_inflight) {
        char text[96];
        snprintf(text, sizeof(text), "too many requests in flight (limit %u)",
                 s->env->max_inflight);
        answer_error(s, &req, start_us, FG_STATUS_RESOURCE_EXHAUSTED, text);
        return;
    }
    if (s->env->max_buffered && over_budget(s)) {
        fg_stats_add(FG_STAT_frames_shed_memory_total, 1);
        answer_error(s, &req, start_us, FG_STATUS_RESOURCE_EXHAUSTED, OVERLOADED);
        return;
    }
    fg_frame_request fr = {
        .model = req.model,
        .model_len = req.model_len,
        .frame = req.frame,
        .input = req.input,
        .input_len = req.input_len,
        .deadline_ms = s->params.deadline_ms,
    };
    pending *p = add_pending(s, &req, start_us);
    int rc = fg_cache_submit(s->env->cache, s->flow, &fr, on_frame_done, p, &p->call);
    if (rc != 0) {
        unlink_pending(s, p);
        free(p);
        if (rc == FG_ERR_BUSY) {
            answer_error(s, &req, start_us, FG_STATUS_RESOURCE_EXHAUSTED, OVERLOADED);
            maybe_hint(s, true);
        } else {
            answer_error(s, &req, start_us, FG_STATUS_UNAVAILABLE,
                         rc == FG_ERR_AGAIN ? "no backends available" : fg_strerror(rc));
        }
        return;
    }
}

fg_session *fg_session_new(fg_session_env *env, fg_ws *ws, const fg_ws_params *params,
                           const fg_session_io *io, void *user) {
    fg_session *s = fg_calloc(1, sizeof(*s));
    s->env = env;
    s->ws = ws;
    s->flow = fg_pool_flow_new(env->pool);
    if (params)
        s->params = *params;
    s->io = *io;
    s->user = user;
    maybe_hint(s, true);
    return s;
}

void fg_session_free(fg_session *s) {
    if (!s)
        return;
    while (s->head) {
        pending *p = s->head;
        unlink_pending(s, p);
        if (p->call)
            fg_cache_call_cancel(p->call);
        if (p->msg)
            fg_ws_msg_free(p->msg);
        free(p);
    }
    fg_pool_flow_free(s->flow);
    free(s);
}

void fg_session_abort_calls(fg_session *s, const char *message) {
    for (;;) {
        /* From the head each time: with order=1 an answer flushes (frees) the answered entries
         * after it too, so no pointer into the list survives one. */
        pending *p = s->head;
        while (p && !p->call)
            p = p->next;
        if (!p)
            break;
        fg_cache_call_cancel(p->call);
        p->call = NULL;
        reply r = {
            .type = FG_MSG_ERROR,
            .status = FG_STATUS_UNAVAILABLE,
            .request_id = p->request_id,
            .frame = p->frame,
            .start_us = p->start_us,
            .model = p->model,
            .model_len = p->model_len,
            .payload = (const uint8_t *)message,
            .payload_len = strlen(message),
        };
        answer_pending(s, p, &r);
    }
}

size_t fg_session_inflight(const fg_session *s) {
    return s->npending;
}
