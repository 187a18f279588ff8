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

/* One request waiting for its backend answer. */
typedef struct pending {
    struct pending *prev, *next;
    fg_session *session;
    fg_call *call;
    uint32_t request_id;
    uint32_t frame;
    uint64_t start_us;
    uint8_t model_len;
    char model[255];
} pending;

struct fg_session {
    fg_session_env *env;
    fg_ws *ws;
    void (*on_output)(void *user);
    void *user;
    pending *calls;
    size_t ncalls;
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
    uint8_t **payload_storage; /* adoptable heap block holding payload, or NULL (copy it) */
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

/* Encodes, counts, logs and queues one reply. */
static void send_reply(fg_session *s, const reply *r) {
    size_t backend_len = r->backend ? strlen(r->backend) : 0;
    if (backend_len > UINT8_MAX)
        backend_len = UINT8_MAX;
    uint8_t *data;
    fg_ws_msg *msg;
    size_t head_len = FG_REPLY_HEADER_LEN + backend_len;
    if (r->payload_storage) {
        /* The image stays in the backend reply's buffer: the message adopts it. */
        msg = fg_ws_msg_new_tail(head_len, &data, r->payload, r->payload_len, *r->payload_storage);
        *r->payload_storage = NULL;
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
    fg_ws_send(s->ws, msg); /* refused only when the session is closing: nobody to tell */

    fg_stats_reply(r->status);
    fg_stats_observe_total_us(total_us);
    if (r->attempts > 1)
        fg_stats_add(FG_STAT_frame_retries_total, r->attempts - 1);
    if (s->env->log_frames)
        log_reply(r, total_us);
}

static void send_error(fg_session *s, const fg_render_request *req, uint64_t start_us, int status,
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
    send_reply(s, &r);
}

static void unlink_call(fg_session *s, pending *p) {
    if (p->prev)
        p->prev->next = p->next;
    else
        s->calls = p->next;
    if (p->next)
        p->next->prev = p->prev;
    s->ncalls--;
}

static void on_frame_done(void *user, const fg_frame_result *res) {
    pending *p = user;
    fg_session *s = p->session;
    unlink_call(s, p);
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
    if (res->status == 0) {
        r.payload = res->image;
        r.payload_len = res->image_len;
        r.payload_storage = res->image_storage;
        r.width = res->width;
        r.height = res->height;
        r.format = res->format;
    } else {
        r.payload = (const uint8_t *)(res->message ? res->message : "");
        r.payload_len = strlen((const char *)r.payload);
    }
    send_reply(s, &r);
    free(p);
    s->on_output(s->user);
}

void fg_session_on_message(fg_session *s, const uint8_t *msg, size_t len) {
    uint64_t start_us = fg_now_us();
    fg_stats_add(FG_STAT_frame_requests_total, 1);
    fg_render_request req;
    const char *why;
    if (fg_codec_parse_request(msg, len, &req, &why) != 0) {
        send_error(s, &req, start_us, FG_STATUS_INVALID_ARGUMENT, why);
        return;
    }
    if (s->env->draining) {
        send_error(s, &req, start_us, FG_STATUS_UNAVAILABLE, "proxy shutting down");
        return;
    }
    if (s->ncalls >= s->env->max_inflight) {
        char text[96];
        snprintf(text, sizeof(text), "too many requests in flight (limit %u)",
                 s->env->max_inflight);
        send_error(s, &req, start_us, FG_STATUS_RESOURCE_EXHAUSTED, text);
        return;
    }
    pending *p = fg_calloc(1, sizeof(*p));
    p->session = s;
    p->request_id = req.request_id;
    p->frame = req.frame;
    p->start_us = start_us;
    p->model_len = (uint8_t)req.model_len;
    memcpy(p->model, req.model, req.model_len);
    fg_frame_request fr = {
        .model = req.model,
        .model_len = req.model_len,
        .frame = req.frame,
        .input = req.input,
        .input_len = req.input_len,
    };
    int rc = fg_pool_submit(s->env->pool, &fr, on_frame_done, p, &p->call);
    if (rc != 0) {
        free(p);
        send_error(s, &req, start_us, FG_STATUS_UNAVAILABLE,
                   rc == FG_ERR_AGAIN ? "no backends available" : fg_strerror(rc));
        return;
    }
    p->next = s->calls;
    if (s->calls)
        s->calls->prev = p;
    s->calls = p;
    s->ncalls++;
}

fg_session *fg_session_new(fg_session_env *env, fg_ws *ws, void (*on_output)(void *user),
                           void *user) {
    fg_session *s = fg_calloc(1, sizeof(*s));
    s->env = env;
    s->ws = ws;
    s->on_output = on_output;
    s->user = user;
    return s;
}

void fg_session_free(fg_session *s) {
    if (!s)
        return;
    while (s->calls) {
        pending *p = s->calls;
        unlink_call(s, p);
        fg_call_cancel(p->call);
        free(p);
    }
    free(s);
}

void fg_session_abort_calls(fg_session *s, const char *message) {
    while (s->calls) {
        pending *p = s->calls;
        unlink_call(s, p);
        fg_call_cancel(p->call);
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
        send_reply(s, &r);
        free(p);
    }
}

size_t fg_session_inflight(const fg_session *s) {
    return s->ncalls;
}
