#include "fs_rpc.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_clock.h"
#include "fg_err.h"
#include "fg_log.h"
#include "fg_status.h"
#include "framegate/v1/frames.pb-c.h"
#include "fs_server.h"
#include "grpc/health/v1/health.pb-c.h"

/* Frames one RenderBatch may hold: bounds the model time and the reply size of one call. */
#define MAX_BATCH 256
#define MAX_REPLY_BYTES (256u << 20)

typedef enum method {
    M_RENDER,
    M_RENDER_BATCH,
    M_LIST_MODELS,
    M_HEALTH_CHECK,
    M_HEALTH_WATCH,
} method;

static const struct {
    const char *path;
    method m;
} methods[] = {
    {"/framegate.v1.FrameService/Render", M_RENDER},
    {"/framegate.v1.FrameService/RenderBatch", M_RENDER_BATCH},
    {"/framegate.v1.FrameService/ListModels", M_LIST_MODELS},
    {"/grpc.health.v1.Health/Check", M_HEALTH_CHECK},
    {"/grpc.health.v1.Health/Watch", M_HEALTH_WATCH},
};

typedef struct rpc_call {
    fs_call *call;
    method m;
    fs_job *job;               /* while on the GPU */
    ProtobufCMessage *request; /* Render / RenderBatch, until answered */
    int model[MAX_BATCH];      /* model index per frame */
    fs_health_watcher watcher; /* Health.Watch */
    bool watching;
    bool service_known;
    int last_sent;
} rpc_call;

static fs_server *server_of(const fs_call *call) {
    return fs_conn_server(call->conn);
}

/* Render and RenderBatch replies, whatever their status, carry the server's load (contract
 * §1): the GPU's depth at the moment of the reply and the recent frame rate. */
static void attach_load(fs_call *call) {
    rpc_call *rc = call->rpc;
    if (!rc || (rc->m != M_RENDER && rc->m != M_RENDER_BATCH))
        return;
    fs_server *srv = server_of(call);
    size_t depth = fs_gpu_waiting(srv->gpu) + (fs_gpu_busy(srv->gpu) ? 1 : 0);
    fg_orca_report r = fs_load_report(&srv->load, fg_now_us(), depth);
    fs_call_set_load(call, &r);
}

static void fail(fs_call *call, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(fs_call *call, int status, const char *fmt, ...) {
    char msg[FS_CALL_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fg_log_debug("stream %d: %s: %s", (int)call->stream_id, fg_status_name(status), msg);
    attach_load(call);
    fs_call_finish(call, status, msg);
}

void fs_rpc_on_headers(fs_call *call) {
    if (!call->method_post) {
        fs_call_reject_http(call, 405);
        return;
    }
    if (!call->grpc_content_type) {
        fs_call_reject_http(call, 415);
        return;
    }
    if (call->bad_timeout) {
        fail(call, FG_STATUS_INVALID_ARGUMENT, "malformed grpc-timeout");
        return;
    }
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (strcmp(call->path, methods[i].path) == 0) {
            rpc_call *rc = fg_calloc(1, sizeof(*rc));
            rc->call = call;
            rc->m = methods[i].m;
            call->rpc = rc;
            return;
        }
    }
    fail(call, FG_STATUS_UNIMPLEMENTED, "unknown method %s", call->path);
}

/* ---- FrameService ---- */

static int check_model(fs_call *call, const char *name) {
    fs_server *srv = server_of(call);
    int idx = fs_models_find(srv->models, name, strlen(name));
    if (idx < 0) {
        fail(call, FG_STATUS_NOT_FOUND, "unknown model '%.64s'", name);
        return idx;
    }
    switch (fs_models_state(srv->models, (size_t)idx)) {
    case FS_MODEL_READY:
        return idx;
    case FS_MODEL_LOADING:
        fail(call, FG_STATUS_UNAVAILABLE, "model '%s' is loading", name);
        return FG_ERR_AGAIN;
    case FS_MODEL_FAILED:
        break;
    }
    fail(call, FG_STATUS_UNAVAILABLE, "model '%s' failed to load", name);
    return FG_ERR_CLOSED;
}

/* Fills a reply for one request; the image points into the renderer's cache (no copy). */
static int render_one(fs_server *srv, int model, const Framegate__V1__RenderRequest *req,
                      uint64_t model_us, Framegate__V1__RenderReply *reply) {
    const uint8_t *img;
    size_t len;
    fs_render *r = fs_models_renderer(srv->models, (size_t)model);
    if (!r)
        return FG_ERR_CLOSED; /* cannot happen: models never unload */
    int rv = fs_render_frame(r, req->input.data, req->input.len, req->frame, &img, &len);
    if (rv < 0)
        return rv;
    framegate__v1__render_reply__init(reply);
    reply->frame = req->frame;
    reply->image.data = (uint8_t *)img;
    reply->image.len = len;
    reply->format = (Framegate__V1__ImageFormat)srv->cfg->format;
    reply->width = (uint32_t)srv->cfg->width;
    reply->height = (uint32_t)srv->cfg->height;
    reply->inference_us = model_us > UINT32_MAX ? UINT32_MAX : (uint32_t)model_us;
    return 0;
}

static bool injected_failure(fs_server *srv) {
    if (srv->cfg->fail_rate <= 0)
        return false;
    srv->fail_acc += srv->cfg->fail_rate;
    if (srv->fail_acc < 1.0 - 1e-9)
        return false;
    srv->fail_acc -= 1.0;
    return true;
}

static void reply_render(rpc_call *rc, uint64_t model_us) {
    fs_server *srv = server_of(rc->call);
    Framegate__V1__RenderReply reply;
    if (render_one(srv, rc->model[0], (Framegate__V1__RenderRequest *)rc->request, model_us,
                   &reply) < 0) {
        fail(rc->call, FG_STATUS_INTERNAL, "rendering failed");
        return;
    }
    if (fs_call_send_message(rc->call, &reply.base) == 0) {
        srv->frames_served++;
        fs_load_count(&srv->load, fg_now_us(), 1);
        attach_load(rc->call);
        fs_call_finish(rc->call, FG_STATUS_OK, NULL);
    }
}

static void reply_batch(rpc_call *rc, uint64_t model_us) {
    fs_server *srv = server_of(rc->call);
    Framegate__V1__RenderBatchRequest *req = (Framegate__V1__RenderBatchRequest *)rc->request;
    size_t n = req->n_requests;
    Framegate__V1__RenderReply *replies = fg_calloc(n, sizeof(*replies));
    Framegate__V1__RenderReply **ptrs = fg_calloc(n, sizeof(*ptrs));
    Framegate__V1__RenderBatchReply batch = FRAMEGATE__V1__RENDER_BATCH_REPLY__INIT;
    for (size_t i = 0; i < n; i++) {
        if (render_one(srv, rc->model[i], req->requests[i], model_us, &replies[i]) < 0) {
            fail(rc->call, FG_STATUS_INTERNAL, "rendering failed");
            goto out;
        }
        ptrs[i] = &replies[i];
    }
    batch.n_replies = n;
    batch.replies = ptrs;
    if (fs_call_send_message(rc->call, &batch.base) == 0) {
        srv->frames_served += n;
        fs_load_count(&srv->load, fg_now_us(), n);
        attach_load(rc->call);
        fs_call_finish(rc->call, FG_STATUS_OK, NULL);
    }
out:
    free(ptrs);
    free(replies);
}

static void on_job_done(void *user, int status, uint64_t model_us) {
    rpc_call *rc = user;
    rc->job = NULL;
    if (status == FG_STATUS_DEADLINE_EXCEEDED) {
        fail(rc->call, status, "deadline exceeded before the frame was rendered");
    } else if (status != FG_STATUS_OK) {
        fail(rc->call, status, "server shutting down");
    } else if (injected_failure(server_of(rc->call))) {
        fail(rc->call, FG_STATUS_INTERNAL, "injected inference failure (--fail-rate)");
    } else if (rc->m == M_RENDER) {
        reply_render(rc, model_us);
    } else {
        reply_batch(rc, model_us);
    }
    protobuf_c_message_free_unpacked(rc->request, NULL);
    rc->request = NULL;
}

static void submit(rpc_call *rc, size_t frames) {
    fs_server *srv = server_of(rc->call);
    uint64_t cost_ms = srv->cfg->infer_ms + (frames - 1) * srv->cfg->batch_item_ms;
    int rv =
        fs_gpu_submit(srv->gpu, cost_ms * 1000, rc->call->deadline_us, on_job_done, rc, &rc->job);
    if (rv == FG_ERR_FULL)
        fail(rc->call, FG_STATUS_RESOURCE_EXHAUSTED, "queue full (%llu frames waiting)",
             (unsigned long long)srv->cfg->queue_max);
    else if (rv < 0)
        fail(rc->call, FG_STATUS_UNAVAILABLE, "server shutting down");
}

static void handle_render(rpc_call *rc, const uint8_t *msg, size_t len) {
    Framegate__V1__RenderRequest *req = framegate__v1__render_request__unpack(NULL, len, msg);
    if (!req) {
        fail(rc->call, FG_STATUS_INVALID_ARGUMENT, "RenderRequest does not parse");
        return;
    }
    rc->request = &req->base;
    rc->model[0] = check_model(rc->call, req->model);
    if (rc->model[0] >= 0)
        submit(rc, 1);
}

static void handle_render_batch(rpc_call *rc, const uint8_t *msg, size_t len) {
    fs_server *srv = server_of(rc->call);
    Framegate__V1__RenderBatchRequest *req =
        framegate__v1__render_batch_request__unpack(NULL, len, msg);
    if (!req) {
        fail(rc->call, FG_STATUS_INVALID_ARGUMENT, "RenderBatchRequest does not parse");
        return;
    }
    rc->request = &req->base;
    size_t n = req->n_requests;
    size_t frame_bytes = (size_t)srv->cfg->width * srv->cfg->height * 4;
    if (n > MAX_BATCH || n * frame_bytes > MAX_REPLY_BYTES) {
        fail(rc->call, FG_STATUS_OUT_OF_RANGE, "batch of %zu frames is over the limit of %d", n,
             MAX_BATCH);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        rc->model[i] = check_model(rc->call, req->requests[i]->model);
        if (rc->model[i] < 0)
            return;
    }
    if (n == 0) {
        Framegate__V1__RenderBatchReply empty = FRAMEGATE__V1__RENDER_BATCH_REPLY__INIT;
        if (fs_call_send_message(rc->call, &empty.base) == 0)
            fs_call_finish(rc->call, FG_STATUS_OK, NULL);
        return;
    }
    submit(rc, n);
}

static void handle_list_models(rpc_call *rc, const uint8_t *msg, size_t len) {
    fs_server *srv = server_of(rc->call);
    Framegate__V1__ListModelsRequest *req =
        framegate__v1__list_models_request__unpack(NULL, len, msg);
    if (!req) {
        fail(rc->call, FG_STATUS_INVALID_ARGUMENT, "ListModelsRequest does not parse");
        return;
    }
    framegate__v1__list_models_request__free_unpacked(req, NULL);
    size_t n = fs_models_count(srv->models);
    Framegate__V1__ModelInfo infos[FS_MAX_MODELS];
    Framegate__V1__ModelInfo *ptrs[FS_MAX_MODELS];
    for (size_t i = 0; i < n; i++) {
        framegate__v1__model_info__init(&infos[i]);
        infos[i].name = (char *)fs_models_name(srv->models, i);
        infos[i].ready = fs_models_state(srv->models, i) == FS_MODEL_READY;
        infos[i].width = (uint32_t)srv->cfg->width;
        infos[i].height = (uint32_t)srv->cfg->height;
        infos[i].cacheable = srv->cfg->cacheable;
        ptrs[i] = &infos[i];
    }
    Framegate__V1__ListModelsReply reply = FRAMEGATE__V1__LIST_MODELS_REPLY__INIT;
    reply.n_models = n;
    reply.models = ptrs;
    if (fs_call_send_message(rc->call, &reply.base) == 0)
        fs_call_finish(rc->call, FG_STATUS_OK, NULL);
}

/* ---- Health ---- */

static int send_health(fs_call *call, int status) {
    Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    resp.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)status;
    return fs_call_send_message(call, &resp.base);
}

static Grpc__Health__V1__HealthCheckRequest *parse_health(rpc_call *rc, const uint8_t *msg,
                                                          size_t len) {
    Grpc__Health__V1__HealthCheckRequest *req =
        grpc__health__v1__health_check_request__unpack(NULL, len, msg);
    if (!req)
        fail(rc->call, FG_STATUS_INVALID_ARGUMENT, "HealthCheckRequest does not parse");
    return req;
}

static void handle_health_check(rpc_call *rc, const uint8_t *msg, size_t len) {
    Grpc__Health__V1__HealthCheckRequest *req = parse_health(rc, msg, len);
    if (!req)
        return;
    if (!fs_health_known_service(req->service)) {
        fail(rc->call, FG_STATUS_NOT_FOUND, "unknown service '%.64s'", req->service);
    } else if (send_health(rc->call, fs_health_get(&server_of(rc->call)->health)) == 0) {
        fs_call_finish(rc->call, FG_STATUS_OK, NULL);
    }
    grpc__health__v1__health_check_request__free_unpacked(req, NULL);
}

static void on_health_changed(fs_health_watcher *w, int status) {
    rpc_call *rc = (rpc_call *)((char *)w - offsetof(rpc_call, watcher));
    if (!rc->service_known || status == rc->last_sent)
        return;
    rc->last_sent = status;
    send_health(rc->call, status);
}

static void handle_health_watch(rpc_call *rc, const uint8_t *msg, size_t len) {
    fs_server *srv = server_of(rc->call);
    Grpc__Health__V1__HealthCheckRequest *req = parse_health(rc, msg, len);
    if (!req)
        return;
    rc->service_known = fs_health_known_service(req->service);
    grpc__health__v1__health_check_request__free_unpacked(req, NULL);
    /* An unknown service stays SERVICE_UNKNOWN; the call stays open, as the protocol says. */
    rc->last_sent = rc->service_known ? fs_health_get(&srv->health) : FS_HEALTH_SERVICE_UNKNOWN;
    if (send_health(rc->call, rc->last_sent) < 0)
        return;
    if (srv->shutting_down) {
        fail(rc->call, FG_STATUS_UNAVAILABLE, "server shutting down");
        return;
    }
    rc->watcher.changed = on_health_changed;
    fs_health_watch(&srv->health, &rc->watcher);
    rc->watching = true;
}

void fs_rpc_end_watches(fs_server *srv) {
    while (srv->health.watchers) {
        fs_health_watcher *w = srv->health.watchers;
        rpc_call *rc = (rpc_call *)((char *)w - offsetof(rpc_call, watcher));
        fs_health_unwatch(&srv->health, w);
        rc->watching = false;
        if (rc->service_known && rc->last_sent != FS_HEALTH_NOT_SERVING)
            send_health(rc->call, FS_HEALTH_NOT_SERVING);
        fail(rc->call, FG_STATUS_UNAVAILABLE, "server shutting down");
    }
}

/* ---- dispatch ---- */

void fs_rpc_on_request(fs_call *call) {
    rpc_call *rc = call->rpc;
    if (call->finished || !rc)
        return;
    const uint8_t *msg;
    size_t len;
    int rv = fg_grpc_reader_finish(&call->reader, &msg, &len);
    if (rv == FG_ERR_AGAIN) {
        fail(call, FG_STATUS_INVALID_ARGUMENT, "request without a message");
        return;
    }
    if (rv < 0) {
        fail(call, FG_STATUS_INVALID_ARGUMENT, "request message cut short");
        return;
    }
    switch (rc->m) {
    case M_RENDER:
        handle_render(rc, msg, len);
        break;
    case M_RENDER_BATCH:
        handle_render_batch(rc, msg, len);
        break;
    case M_LIST_MODELS:
        handle_list_models(rc, msg, len);
        break;
    case M_HEALTH_CHECK:
        handle_health_check(rc, msg, len);
        break;
    case M_HEALTH_WATCH:
        handle_health_watch(rc, msg, len);
        break;
    }
}

void fs_rpc_on_close(fs_call *call) {
    rpc_call *rc = call->rpc;
    if (!rc)
        return;
    fs_server *srv = server_of(call);
    if (!call->finished)
        srv->cancelled++;
    if (rc->job)
        fs_gpu_cancel(srv->gpu, rc->job);
    if (rc->watching)
        fs_health_unwatch(&srv->health, &rc->watcher);
    if (rc->request)
        protobuf_c_message_free_unpacked(rc->request, NULL);
    free(rc);
    call->rpc = NULL;
}
