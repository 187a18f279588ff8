/*
 * framebench render: one Render call on one backend (the original's manual per-backend test):
 * prints the reply's fields and writes the image.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <uv.h>

#include "fb_image.h"
#include "fb_modes.h"
#include "fb_rpc.h"
#include "fc_report.h"
#include "fc_url.h"
#include "fg_alloc.h"
#include "fg_args.h"
#include "fg_clock.h"
#include "fg_err.h"
#include "fg_status.h"
#include "framegate/v1/frames.pb-c.h"

typedef struct render_opts {
    const char *target;
    const char *model;
    uint64_t frame;
    uint64_t input_bytes;
    const char *out;
    double timeout_s;
    bool json;
} render_opts;

typedef struct render_run {
    render_opts o;
    fc_url addr;
    fg_grpc_conn *conn;
    uint64_t sent_us, rtt_us;
    int status;
    char message[512]; /* the explanation of a failure */
    Framegate__V1__RenderReply *reply;
    bool done;
} render_run;

static const char *format_name(int format) {
    static const char *const names[] = {"unspecified", "rgb24", "rgba32", "jpeg", "png"};
    return format >= 0 && format <= 4 ? names[format] : "unknown";
}

static void on_render_done(void *user, const fg_grpc_result *res) {
    render_run *r = user;
    r->rtt_us = fg_now_us() - r->sent_us;
    r->status = res->status;
    r->done = true;
    if (res->status == FG_STATUS_OK) {
        r->reply = framegate__v1__render_reply__unpack(NULL, res->reply_len, res->reply);
        if (!r->reply)
            snprintf(r->message, sizeof(r->message), "%s sent a RenderReply that does not parse",
                     r->addr.authority);
    } else {
        int fatal;
        fb_rpc_explain(r->message, sizeof(r->message), r->addr.authority, r->o.model, res,
                       fg_grpc_conn_last_error(r->conn), &fatal);
    }
    fg_grpc_conn_close(r->conn, NULL, NULL);
}

static void print_text(const render_run *r) {
    const Framegate__V1__RenderReply *p = r->reply;
    char rtt[32];
    fc_format_us(rtt, sizeof(rtt), r->rtt_us);
    printf("framebench render %s: %s in %s\n", r->addr.authority, fg_status_name(r->status), rtt);
    printf("  model        %s\n", r->o.model);
    printf("  frame        %u (sent %llu)\n", p->frame, (unsigned long long)r->o.frame);
    printf("  format       %s\n", format_name(p->format));
    printf("  size         %ux%u\n", p->width, p->height);
    printf("  image        %zu bytes\n", p->image.len);
    printf("  inference    %u us\n", p->inference_us);
    if (r->o.out)
        printf("  written to   %s\n", r->o.out);
}

static json_t *result_json(const render_run *r) {
    json_t *j = json_pack("{ss ss sI si ss sI}", "mode", "render", "target", r->addr.authority,
                          "frame_sent", (json_int_t)r->o.frame, "status", r->status, "status_name",
                          fg_status_name(r->status), "round_trip_us", (json_int_t)r->rtt_us);
    json_object_set_new(j, "model", json_string(r->o.model));
    if (r->reply) {
        const Framegate__V1__RenderReply *p = r->reply;
        json_object_set_new(j, "frame", json_integer(p->frame));
        json_object_set_new(j, "format", json_string(format_name(p->format)));
        json_object_set_new(j, "width", json_integer(p->width));
        json_object_set_new(j, "height", json_integer(p->height));
        json_object_set_new(j, "image_bytes", json_integer((json_int_t)p->image.len));
        json_object_set_new(j, "inference_us", json_integer(p->inference_us));
        json_object_set_new(j, "out", r->o.out ? json_string(r->o.out) : json_null());
    }
    if (r->message[0])
        json_object_set_new(j, "error", json_string(r->message));
    return j;
}

static const char usage[] = "framebench render --target HOST:PORT [flags]";
static const char summary[] =
    "One Render call on one backend: prints the reply and writes the image.";

static int parse_flags(render_opts *o, int argc, char **argv) {
    fg_arg_spec specs[] = {
        {"target", FG_ARG_STRING, &o->target, 0, 0, 0, 0, "HOST:PORT", "the backend"},
        {"model", FG_ARG_STRING, &o->model, 0, 0, 0, 0, "M", "model name"},
        {"frame", FG_ARG_UINT, &o->frame, 0, UINT32_MAX, 0, 0, "N", "frame number"},
        {"input-bytes", FG_ARG_UINT, &o->input_bytes, 0, 16 << 20, 0, 0, "B",
         "bytes of model input (a PCM tone)"},
        {"out", FG_ARG_STRING, &o->out, 0, 0, 0, 0, "FILE",
         "write the image: .ppm, .jpg, or .png (PNG only when the backend sends PNG)"},
        {"timeout", FG_ARG_DOUBLE, &o->timeout_s, 0, 0, 0.001, 3600, "S", "call deadline, seconds"},
        {"json", FG_ARG_SWITCH, &o->json, 0, 0, 0, 0, NULL, "print the reply as JSON"},
    };
    int rc = fg_args_run("framebench render", usage, summary, specs,
                         sizeof(specs) / sizeof(specs[0]), argc, argv, 2);
    if (rc != 0)
        return rc == FG_ARGS_HELP ? 0 : 2;
    if (!o->target) {
        fprintf(stderr, "framebench render: --target is required\n");
        return 2;
    }
    return -1;
}

static int call_once(render_run *r) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    fg_grpc_conn_opts copts = {.max_reply_bytes = 64u << 20,
                               .connect_timeout_ms = (uint32_t)(r->o.timeout_s * 1000)};
    int rc = fg_grpc_conn_new(&loop, r->addr.host, r->addr.port, &copts, &r->conn);
    if (rc < 0) {
        snprintf(r->message, sizeof(r->message), "%s: %s", r->addr.authority, fg_strerror(rc));
        goto out_loop;
    }
    fg_buf msg;
    fg_buf_init(&msg, 32u << 20);
    uint8_t *input = fg_malloc(r->o.input_bytes + 1);
    fb_rpc_fill_input(input, r->o.input_bytes);
    fb_rpc_pack_render(&msg, r->o.model, (uint32_t)r->o.frame, input, r->o.input_bytes);
    r->sent_us = fg_now_us();
    rc = fg_grpc_conn_call(r->conn, FB_RENDER_PATH, msg.data, msg.len,
                           (uint64_t)(r->o.timeout_s * 1e6), on_render_done, r, NULL);
    free(input);
    fg_buf_free(&msg);
    if (rc < 0) {
        snprintf(r->message, sizeof(r->message), "%s: %s", r->addr.authority, fg_strerror(rc));
        fg_grpc_conn_close(r->conn, NULL, NULL);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
out_loop:
    uv_loop_close(&loop);
    return rc;
}

int fb_render_main(int argc, char **argv) {
    render_run r = {.o = {.model = "sanders", .timeout_s = 5}};
    int status = parse_flags(&r.o, argc, argv);
    if (status >= 0)
        return status;
    char err[300];
    if (fc_url_parse_hostport(r.o.target, &r.addr, err, sizeof(err)) != 0) {
        fprintf(stderr, "framebench render: %s\n", err);
        return 2;
    }
    if (call_once(&r) < 0 || !r.done) {
        fprintf(stderr, "framebench render: %s\n", r.message[0] ? r.message : "no answer");
        return 1;
    }
    status = r.reply ? 0 : 1;
    if (r.reply && r.o.out &&
        fb_image_write(r.o.out, r.reply->format, r.reply->width, r.reply->height,
                       r.reply->image.data, r.reply->image.len, err, sizeof(err)) != 0) {
        snprintf(r.message, sizeof(r.message), "%s", err);
        r.o.out = NULL;
        status = 1;
    }
    if (r.o.json) {
        json_t *j = result_json(&r);
        fc_json_print(stdout, j);
        json_decref(j);
    } else if (r.reply) {
        print_text(&r);
    }
    if (r.message[0])
        fprintf(stderr, "framebench render: %s\n", r.message);
    if (r.reply)
        framegate__v1__render_reply__free_unpacked(r.reply, NULL);
    return status;
}
