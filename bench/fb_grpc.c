/*
 * framebench grpc: load straight on backends, the original's two multi-process tests:
 * --mode concurrent hits every server at once (--concurrency calls in flight per server);
 * --mode round-robin is one client keeping --concurrency calls in flight, each to the next
 * server in turn. A probe call per server first turns "not a FrameService" and "connection
 * refused" into clear errors; a baseline phase on the first server alone gives the speedup.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <uv.h>

#include "fb_modes.h"
#include "fb_rpc.h"
#include "fc_report.h"
#include "fc_url.h"
#include "fg_alloc.h"
#include "fg_args.h"
#include "fg_clock.h"
#include "fg_err.h"
#include "fg_hist.h"
#include "fg_status.h"

#define MAX_TARGETS 64
#define MAX_ERRORS 8
#define DRAIN_MS 3000
#define RETRY_MS 10

typedef enum phase { PH_PROBE, PH_BASELINE, PH_BASELINE_DRAIN, PH_RUN, PH_DRAIN, PH_DONE } phase;

typedef struct grpc_opts {
    const char *targets;
    const char *mode;
    uint64_t concurrency;
    double duration_s;
    double baseline_s;
    const char *model;
    uint64_t input_bytes;
    double timeout_s;
    const char *tls_ca; /* --tls-ca: grpcs, the backends' certificates verified against it */
    const char *tls_cert, *tls_key; /* mTLS */
    bool json;
} grpc_opts;

typedef struct grpc_run grpc_run;

typedef struct target {
    fc_url addr;
    fg_grpc_conn *conn;
    uint64_t frames_in_window;
    fc_status_counts statuses;
    fg_hist *latency;
} target;

typedef struct worker {
    grpc_run *r;
    uint32_t target;
    uint64_t start_us;
    bool busy;
} worker;

struct grpc_run {
    grpc_opts o;
    fg_tls_ctx *tls; /* --tls-ca */
    bool round_robin;
    uv_loop_t loop;
    uv_timer_t phase_timer;
    uv_timer_t retry_timer; /* restarts workers whose call could not start */
    target targets[MAX_TARGETS];
    uint32_t ntargets;
    worker *workers;
    uint32_t nworkers; /* allocated */
    uint32_t nactive;  /* in use in this phase */
    phase ph;
    uint32_t probes_left;
    bool probe_failed;
    fg_buf msg;
    uint8_t *input;
    uint32_t next_frame;
    uint32_t rr_cursor;
    uint64_t outstanding;
    uint64_t phase_start_us, phase_end_us;
    uint64_t baseline_frames;
    double baseline_secs;
    double run_secs;
    fc_status_counts statuses;
    char errors[MAX_ERRORS][300];
    uint32_t nerrors;
};

static void note_error(grpc_run *r, const char *msg) {
    for (uint32_t i = 0; i < r->nerrors; i++)
        if (strcmp(r->errors[i], msg) == 0)
            return;
    if (r->nerrors < MAX_ERRORS)
        snprintf(r->errors[r->nerrors++], sizeof(r->errors[0]), "%s", msg);
}

static bool phase_is_loading(const grpc_run *r) {
    return r->ph == PH_BASELINE || r->ph == PH_RUN;
}

static void on_call_done(void *user, const fg_grpc_result *res);

static void start_call(worker *w) {
    grpc_run *r = w->r;
    target *t = &r->targets[w->target];
    fb_rpc_pack_render(&r->msg, r->o.model, r->next_frame++, r->input, r->o.input_bytes);
    w->start_us = fg_now_us();
    int rc = fg_grpc_conn_call(t->conn, FB_RENDER_PATH, r->msg.data, r->msg.len,
                               (uint64_t)(r->o.timeout_s * 1e6), on_call_done, w, NULL);
    if (rc < 0) {
        w->busy = false; /* the retry timer tries again; a refused call is not a reply */
        return;
    }
    w->busy = true;
    r->outstanding++;
}

static void on_retry_timer(uv_timer_t *timer) {
    grpc_run *r = timer->data;
    if (!phase_is_loading(r))
        return;
    for (uint32_t i = 0; i < r->nactive; i++)
        if (!r->workers[i].busy)
            start_call(&r->workers[i]);
}

static void finish(grpc_run *r) {
    r->ph = PH_DONE;
    uv_close((uv_handle_t *)&r->phase_timer, NULL);
    uv_close((uv_handle_t *)&r->retry_timer, NULL);
    for (uint32_t i = 0; i < r->ntargets; i++)
        fg_grpc_conn_close(r->targets[i].conn, NULL, NULL);
}

static void on_phase_timer(uv_timer_t *timer);

/* Puts nactive workers to work: all on target 0 (baseline), or spread per the mode. */
static void start_phase(grpc_run *r, phase ph, double seconds) {
    r->ph = ph;
    r->phase_start_us = fg_now_us();
    r->nactive = ph == PH_BASELINE || r->round_robin ? (uint32_t)r->o.concurrency
                                                     : (uint32_t)r->o.concurrency * r->ntargets;
    for (uint32_t i = 0; i < r->nactive; i++) {
        worker *w = &r->workers[i];
        if (ph == PH_BASELINE)
            w->target = 0;
        else if (r->round_robin)
            w->target = r->rr_cursor++ % r->ntargets;
        else
            w->target = i % r->ntargets;
        start_call(w);
    }
    uv_timer_start(&r->phase_timer, on_phase_timer, (uint64_t)(seconds * 1000), 0);
    uv_timer_start(&r->retry_timer, on_retry_timer, RETRY_MS, RETRY_MS);
}

static void after_drain(grpc_run *r) {
    uv_timer_stop(&r->phase_timer);
    if (r->ph == PH_BASELINE_DRAIN)
        start_phase(r, PH_RUN, r->o.duration_s);
    else
        finish(r);
}

static void end_window(grpc_run *r, phase drain) {
    r->phase_end_us = fg_now_us();
    double secs = (double)(r->phase_end_us - r->phase_start_us) / 1e6;
    if (r->ph == PH_BASELINE)
        r->baseline_secs = secs;
    else
        r->run_secs = secs;
    r->ph = drain;
    uv_timer_stop(&r->retry_timer);
    if (r->outstanding == 0)
        after_drain(r);
    else
        uv_timer_start(&r->phase_timer, on_phase_timer, DRAIN_MS, 0);
}

static void on_phase_timer(uv_timer_t *timer) {
    grpc_run *r = timer->data;
    switch (r->ph) {
    case PH_BASELINE:
        end_window(r, PH_BASELINE_DRAIN);
        break;
    case PH_RUN:
        end_window(r, PH_DRAIN);
        break;
    case PH_BASELINE_DRAIN:
    case PH_DRAIN:
        note_error(r, "some calls were still unanswered after the drain period");
        after_drain(r);
        break;
    default:
        break;
    }
}

static void start_load(grpc_run *r) {
    if (r->probe_failed) {
        finish(r);
        return;
    }
    if (r->ntargets > 1 && r->o.baseline_s > 0)
        start_phase(r, PH_BASELINE, r->o.baseline_s);
    else
        start_phase(r, PH_RUN, r->o.duration_s);
}

/* Notes why a call to t failed; returns whether the failure means t cannot serve at all. */
static bool note_call_error(grpc_run *r, const target *t, const fg_grpc_result *res) {
    char why[300];
    int fatal;
    fb_rpc_explain(why, sizeof(why), t->addr.authority, r->o.model, res,
                   fg_grpc_conn_last_error(t->conn), &fatal);
    note_error(r, why);
    return fatal != 0;
}

static void on_probe_result(grpc_run *r, worker *w, const fg_grpc_result *res) {
    if (res->status != FG_STATUS_OK && note_call_error(r, &r->targets[w->target], res))
        r->probe_failed = true;
    if (--r->probes_left == 0)
        start_load(r);
}

static void on_call_done(void *user, const fg_grpc_result *res) {
    worker *w = user;
    grpc_run *r = w->r;
    uint64_t now = fg_now_us();
    w->busy = false;
    r->outstanding--;
    if (r->ph == PH_PROBE) {
        on_probe_result(r, w, res);
        return;
    }
    bool baseline = r->ph == PH_BASELINE || r->ph == PH_BASELINE_DRAIN;
    if (baseline) {
        if (r->ph == PH_BASELINE && res->status == FG_STATUS_OK)
            r->baseline_frames++;
    } else {
        target *t = &r->targets[w->target];
        fg_hist_record(t->latency, now - w->start_us);
        fc_status_count(&t->statuses, (unsigned)res->status);
        fc_status_count(&r->statuses, (unsigned)res->status);
        if (r->ph == PH_RUN && res->status == FG_STATUS_OK)
            t->frames_in_window++;
        if (res->status != FG_STATUS_OK)
            note_call_error(r, t, res);
    }
    if (phase_is_loading(r)) {
        if (r->round_robin && r->ph == PH_RUN)
            w->target = r->rr_cursor++ % r->ntargets;
        start_call(w);
    } else if (r->outstanding == 0 && r->ph != PH_DONE) {
        after_drain(r);
    }
}

static void start_probes(grpc_run *r) {
    r->ph = PH_PROBE;
    r->probes_left = r->ntargets;
    for (uint32_t i = 0; i < r->ntargets; i++) {
        worker *w = &r->workers[i];
        w->target = i;
        start_call(w);
        if (!w->busy) { /* cannot even queue: count it as a failed probe */
            fg_grpc_result res = {.status = FG_STATUS_UNAVAILABLE, .message = ""};
            on_probe_result(r, w, &res);
        }
    }
}

static double run_fps(const grpc_run *r, uint64_t frames) {
    return r->run_secs > 0 ? (double)frames / r->run_secs : 0.0;
}

static uint64_t total_frames(const grpc_run *r) {
    uint64_t n = 0;
    for (uint32_t i = 0; i < r->ntargets; i++)
        n += r->targets[i].frames_in_window;
    return n;
}

/* Total frames/s over the first server's alone; 1 with one server; < 0 when not measured. */
static double speedup(const grpc_run *r) {
    if (r->ntargets == 1)
        return 1.0;
    if (r->baseline_secs <= 0 || r->baseline_frames == 0)
        return -1;
    return run_fps(r, total_frames(r)) / ((double)r->baseline_frames / r->baseline_secs);
}

static json_t *report_json(const grpc_run *r, const fg_hist *all) {
    json_t *servers = json_array();
    for (uint32_t i = 0; i < r->ntargets; i++) {
        const target *t = &r->targets[i];
        json_array_append_new(servers, json_pack("{ss sI sf so so}", "address", t->addr.authority,
                                                 "frames", (json_int_t)t->frames_in_window,
                                                 "frames_per_s", run_fps(r, t->frames_in_window),
                                                 "replies_by_status", fc_status_json(&t->statuses),
                                                 "latency", fc_latency_json(t->latency)));
    }
    json_t *baseline = json_null();
    if (r->baseline_secs > 0)
        baseline = json_pack("{ss sf sI sf}", "address", r->targets[0].addr.authority, "duration_s",
                             r->baseline_secs, "frames", (json_int_t)r->baseline_frames,
                             "frames_per_s", (double)r->baseline_frames / r->baseline_secs);
    double sp = speedup(r);
    json_t *errors = json_array();
    for (uint32_t i = 0; i < r->nerrors; i++)
        json_array_append_new(errors, json_string(r->errors[i]));
    uint64_t frames = total_frames(r);
    json_t *total = json_pack("{sI sf so so}", "frames", (json_int_t)frames, "frames_per_s",
                              run_fps(r, frames), "replies_by_status", fc_status_json(&r->statuses),
                              "latency", fc_latency_json(all));
    return json_pack("{ss ss sI sf ss sI so so so so so}", "mode", "grpc", "load",
                     r->round_robin ? "round-robin" : "concurrent", "concurrency",
                     (json_int_t)r->o.concurrency, "duration_s", r->run_secs, "model", r->o.model,
                     "input_bytes", (json_int_t)r->o.input_bytes, "servers", servers, "total",
                     total, "baseline", baseline, "speedup", sp >= 0 ? json_real(sp) : json_null(),
                     "errors", errors);
}

static void target_row(fc_table *t, const char *name, uint64_t frames, double fps, const fg_hist *h,
                       uint64_t errors) {
    char p50[24], p90[24], p99[24], max[24];
    fc_format_us(p50, sizeof(p50), fg_hist_percentile(h, 50));
    fc_format_us(p90, sizeof(p90), fg_hist_percentile(h, 90));
    fc_format_us(p99, sizeof(p99), fg_hist_percentile(h, 99));
    fc_format_us(max, sizeof(max), fg_hist_max(h));
    fc_table_cell(t, "%s", name);
    fc_table_cell(t, "%llu", (unsigned long long)frames);
    fc_table_cell(t, "%.1f", fps);
    fc_table_cell(t, "%s", p50);
    fc_table_cell(t, "%s", p90);
    fc_table_cell(t, "%s", p99);
    fc_table_cell(t, "%s", max);
    fc_table_cell(t, "%llu", (unsigned long long)errors);
}

static void report_text(const grpc_run *r, const fg_hist *all, FILE *out) {
    fprintf(out, "framebench grpc: %u servers, %s, %llu calls in flight%s, %.2f s, model %s\n",
            r->ntargets, r->round_robin ? "round-robin" : "concurrent",
            (unsigned long long)r->o.concurrency, r->round_robin ? "" : " per server", r->run_secs,
            r->o.model);
    fc_table *t = fc_table_new(8);
    const char *heads[] = {"server", "frames", "frames/s", "p50", "p90", "p99", "max", "errors"};
    for (size_t i = 0; i < 8; i++)
        fc_table_cell(t, "%s", heads[i]);
    for (uint32_t i = 0; i < r->ntargets; i++) {
        const target *tg = &r->targets[i];
        target_row(t, tg->addr.authority, tg->frames_in_window, run_fps(r, tg->frames_in_window),
                   tg->latency, fc_status_total(&tg->statuses) - tg->statuses.n[0]);
    }
    uint64_t frames = total_frames(r);
    target_row(t, "total", frames, run_fps(r, frames), all,
               fc_status_total(&r->statuses) - r->statuses.n[0]);
    fc_table_print(t, out);
    fc_table_free(t);
    char statuses[512];
    fc_status_text(&r->statuses, statuses, sizeof(statuses));
    fprintf(out, "  replies: %s\n", statuses);
    double sp = speedup(r);
    if (r->baseline_secs > 0)
        fprintf(out, "  one server alone (%s, %.2f s): %.1f frames/s; speedup %.2fx\n",
                r->targets[0].addr.authority, r->baseline_secs,
                (double)r->baseline_frames / r->baseline_secs, sp);
    else if (sp >= 0)
        fprintf(out, "  speedup 1.00x (one server)\n");
    for (uint32_t i = 0; i < r->nerrors; i++)
        fprintf(out, "error: %s\n", r->errors[i]);
}

static const char usage[] = "framebench grpc --targets HOST:PORT,... [flags]";
static const char summary[] =
    "gRPC Render load straight on backends: per-server frames/s, total, speedup over the\n"
    "first server alone (measured first for --baseline seconds), latency percentiles.";

static int parse_flags(grpc_opts *o, int argc, char **argv) {
    fg_arg_spec specs[] = {
        {"targets", FG_ARG_STRING, &o->targets, 0, 0, 0, 0, "LIST",
         "comma-separated HOST:PORT of the backends"},
        {"concurrency", FG_ARG_UINT, &o->concurrency, 1, 100000, 0, 0, "N",
         "calls in flight (per server in concurrent mode)"},
        {"duration", FG_ARG_DOUBLE, &o->duration_s, 0, 0, 0.01, 86400, "S", "seconds of load"},
        {"mode", FG_ARG_STRING, &o->mode, 0, 0, 0, 0, "MODE",
         "concurrent (every server at once) or round-robin (one client, servers in turn)"},
        {"baseline", FG_ARG_DOUBLE, &o->baseline_s, 0, 0, 0, 86400, "S",
         "seconds on the first server alone before the run, for the speedup; 0 skips it, "
         "-1 means as long as --duration"},
        {"model", FG_ARG_STRING, &o->model, 0, 0, 0, 0, "M", "model name"},
        {"input-bytes", FG_ARG_UINT, &o->input_bytes, 0, 16 << 20, 0, 0, "B",
         "bytes of model input per request"},
        {"timeout", FG_ARG_DOUBLE, &o->timeout_s, 0, 0, 0.001, 3600, "S", "per-call deadline"},
        {"tls-ca", FG_ARG_STRING, &o->tls_ca, 0, 0, 0, 0, "PATH",
         "TLS (grpcs, ALPN h2) to the backends, verified against this PEM CA"},
        {"tls-cert", FG_ARG_STRING, &o->tls_cert, 0, 0, 0, 0, "PATH",
         "with --tls-ca: client certificate (mTLS)"},
        {"tls-key", FG_ARG_STRING, &o->tls_key, 0, 0, 0, 0, "PATH", "PEM key of --tls-cert"},
        {"json", FG_ARG_SWITCH, &o->json, 0, 0, 0, 0, NULL, "print the results as JSON"},
    };
    int rc = fg_args_run("framebench grpc", usage, summary, specs, sizeof(specs) / sizeof(specs[0]),
                         argc, argv, 2);
    if (rc != 0)
        return rc == FG_ARGS_HELP ? 0 : 2;
    if (!o->targets) {
        fprintf(stderr, "framebench grpc: --targets is required\n");
        return 2;
    }
    if (strcmp(o->mode, "concurrent") != 0 && strcmp(o->mode, "round-robin") != 0) {
        fprintf(stderr, "framebench grpc: --mode must be concurrent or round-robin\n");
        return 2;
    }
    if (o->baseline_s < 0)
        o->baseline_s = o->duration_s;
    return -1;
}

static int parse_targets(grpc_run *r) {
    char list[4096];
    snprintf(list, sizeof(list), "%s", r->o.targets);
    char *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char err[300];
        if (r->ntargets == MAX_TARGETS) {
            fprintf(stderr, "framebench grpc: at most %d targets\n", MAX_TARGETS);
            return 2;
        }
        if (fc_url_parse_hostport(tok, &r->targets[r->ntargets].addr, err, sizeof(err)) != 0) {
            fprintf(stderr, "framebench grpc: %s\n", err);
            return 2;
        }
        r->ntargets++;
    }
    if (r->ntargets == 0) {
        fprintf(stderr, "framebench grpc: --targets is empty\n");
        return 2;
    }
    return 0;
}

static int run_load(grpc_run *r) {
    if (r->o.tls_ca) {
        char err[300];
        fg_tls_ctx_config tc = {.role = FG_TLS_CLIENT,
                                .cert = r->o.tls_cert,
                                .key = r->o.tls_key,
                                .ca = r->o.tls_ca,
                                .alpn = "h2"};
        if (fg_tls_ctx_new(&tc, &r->tls, err, sizeof err) != 0) {
            fprintf(stderr, "framebench grpc: %s\n", err);
            return FG_ERR_INVALID;
        }
    }
    uv_loop_init(&r->loop);
    uv_timer_init(&r->loop, &r->phase_timer);
    uv_timer_init(&r->loop, &r->retry_timer);
    r->phase_timer.data = r;
    r->retry_timer.data = r;
    fg_grpc_conn_opts copts = {.max_reply_bytes = 64u << 20,
                               .max_queue = (uint32_t)(r->o.concurrency * 2 + 16),
                               .connect_timeout_ms = 3000};
    copts.tls = r->tls;
    for (uint32_t i = 0; i < r->ntargets; i++) {
        target *t = &r->targets[i];
        t->latency = fg_hist_new();
        int rc = fg_grpc_conn_new(&r->loop, t->addr.host, t->addr.port, &copts, &t->conn);
        if (rc < 0) {
            fprintf(stderr, "framebench grpc: %s: %s\n", t->addr.authority, fg_strerror(rc));
            return rc;
        }
    }
    start_probes(r);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    uv_loop_close(&r->loop);
    return 0;
}

int fb_grpc_main(int argc, char **argv) {
    grpc_run *r = fg_calloc(1, sizeof(*r));
    r->o = (grpc_opts){.mode = "concurrent",
                       .concurrency = 1,
                       .duration_s = 5,
                       .baseline_s = -1,
                       .model = "sanders",
                       .timeout_s = 5};
    int status = parse_flags(&r->o, argc, argv);
    if (status >= 0)
        goto out; /* --help, or a usage error */
    status = parse_targets(r);
    if (status != 0)
        goto out;
    r->round_robin = strcmp(r->o.mode, "round-robin") == 0;
    r->nworkers = (uint32_t)r->o.concurrency * r->ntargets;
    r->workers = fg_calloc(r->nworkers, sizeof(*r->workers));
    for (uint32_t i = 0; i < r->nworkers; i++)
        r->workers[i].r = r;
    r->input = fg_malloc(r->o.input_bytes + 1);
    fb_rpc_fill_input(r->input, r->o.input_bytes);
    fg_buf_init(&r->msg, 32u << 20);
    status = 1;
    if (run_load(r) == 0) {
        fg_hist *all = fg_hist_new();
        for (uint32_t i = 0; i < r->ntargets; i++)
            fg_hist_merge(all, r->targets[i].latency);
        if (r->o.json) {
            json_t *j = report_json(r, all);
            fc_json_print(stdout, j);
            json_decref(j);
        } else if (!r->probe_failed) {
            report_text(r, all, stdout);
        }
        if (r->probe_failed)
            for (uint32_t i = 0; i < r->nerrors; i++)
                fprintf(stderr, "framebench grpc: %s\n", r->errors[i]);
        status = !r->probe_failed && total_frames(r) > 0 ? 0 : 1;
        fg_hist_free(all);
    }
    for (uint32_t i = 0; i < r->ntargets; i++)
        fg_hist_free(r->targets[i].latency);
    fg_buf_free(&r->msg);
    free(r->input);
    free(r->workers);
    fg_tls_ctx_free(r->tls);
out:
    free(r);
    return status;
}
