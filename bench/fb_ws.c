/*
 * framebench ws: load through the proxy's WebSocket. Closed loop: every connection keeps
 * --inflight requests outstanding. Open loop (--rate): requests are due at start + i/rate and
 * their latency runs from that intended time, so a stalled proxy shows up in the percentiles
 * instead of silently slowing the sender (no coordinated omission).
 *
 * v1.1 session features: --latest sets flag LATEST on every request; --deadline-ms, --order and
 * --hints become the /ws URL's query. Replies are also counted as the overload contract sees
 * them: goodput (FRAME replies per second), shed (ERROR 8 "overloaded"), superseded (ERROR 1),
 * latency of accepted frames, fairness and stalls per connection (fc_flow), the last HINT.
 * --group NAME:CONNECTIONS:INFLIGHT (repeatable) runs several kinds of client at once, each
 * reported on its own as well as in the totals.
 *
 * One thread, one libuv loop; the request bytes are built once and only their header changes,
 * so the loop itself allocates nothing per request.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "fb_modes.h"
#include "fb_tally.h"
#include "fc_codec.h"
#include "fc_flow.h"
#include "fc_group.h"
#include "fc_report.h"
#include "fc_url.h"
#include "fg_tls.h"
#include "fc_ws.h"
#include "fg_alloc.h"
#include "fg_args.h"
#include "fg_clock.h"
#include "fg_err.h"
#include "fg_hist.h"

#define SUBPROTOCOL "framegate.v1"
#define DRAIN_MS 2000
#define MAX_ERRORS 8

typedef enum phase { PH_CONNECTING, PH_RUNNING, PH_DRAINING, PH_DONE } phase;

typedef struct slot {
    uint32_t seq; /* request_id of the request in this slot; seq % inflight == slot index */
    uint32_t frame;
    uint64_t start_us; /* send time (closed loop) or intended send time (open loop) */
    bool busy;
} slot;

/* The bytes of a request's input that make it unique (--unique): its frame number, top bit set. */
#define UNIQUE_TAG_BYTES 4

typedef struct run run;

/* The overload figures, for the whole run and for each group. */
typedef struct stats {
    uint64_t sent, replies, frames_in_window;
    uint64_t shed;       /* ERROR 8 "overloaded" */
    uint64_t superseded; /* ERROR 1 (CANCELLED "superseded") */
    uint64_t hints;
    fg_hint last_hint;
    fc_status_counts statuses;
    fg_hist *accepted; /* round trip of FRAME replies */
    fg_hist *shed_rtt; /* round trip of shed replies */
} stats;

typedef struct group {
    fc_group_spec spec;
    uint64_t first; /* its connections are conns[first .. first + spec.connections) */
    stats st;
} group;

typedef struct conn {
    run *r;
    group *g;
    fc_ws *ws;
    slot *slots; /* g->spec.inflight of them */
    uint32_t busy;
    bool open;
    bool settled; /* opened or failed: counts toward the start */
    fc_flow flow; /* frames over the measured window */
} conn;

typedef struct ws_opts {
    const char *url;
    uint64_t connections;
    uint64_t inflight;
    double duration_s;
    double rate;
    const char *model;
    uint64_t input_bytes;
    double unique; /* fraction of requests with an input of their own (the rest repeat one) */
    double connect_timeout_s;
    uint64_t max_message;
    const char *tls_ca; /* wss: the CA the proxy's certificate must chain to */
    bool json;
    bool latest, order, hints;
    uint64_t deadline_ms; /* 0: not sent */
    fc_group_spec groups[FC_GROUP_MAX];
    size_t ngroups; /* 0: one group of --connections x --inflight */
} ws_opts;

struct run {
    ws_opts o;
    uv_loop_t loop;
    uv_timer_t phase_timer; /* connect timeout, then the end of the run, then the drain */
    uv_timer_t pace_timer;  /* open loop only */
    fc_url url;
    fg_tls_ctx *tls; /* wss:// */
    struct sockaddr_storage addr;
    conn *conns;
    uint32_t settled, opened;
    phase ph;
    uint8_t *request; /* header + model + input; the header is rewritten for each send */
    size_t request_len;
    uint32_t next_frame;
    uint64_t start_us, end_us;
    uint64_t open_next; /* open loop: index of the next request to send */
    uint32_t cursor;    /* open loop: next connection to try */
    uint64_t sent, replies, frames_in_window, unmatched, bad_replies, conn_failures;
    uint64_t outstanding;
    fg_hist *rtt, *grpc_us, *total_us;
    fc_status_counts statuses;
    fb_tally backends;
    char errors[MAX_ERRORS][200];
    uint32_t nerrors;
    char subprotocol[64]; /* what the server selected, from the first connection to open */
    uint16_t flags;       /* on every request */
    group groups[FC_GROUP_MAX];
    size_t ngroups;
    stats all;
    bool window_closed; /* fc_flow_end done for every connection */
};

static void stats_init(stats *st) {
    memset(st, 0, sizeof(*st));
    st->accepted = fg_hist_new();
    st->shed_rtt = fg_hist_new();
}

static void stats_free(stats *st) {
    fg_hist_free(st->accepted);
    fg_hist_free(st->shed_rtt);
}

/* The measured window ended at r->end_us: close every connection's last gap. */
static void close_window(run *r) {
    if (r->window_closed || r->start_us == 0)
        return;
    r->window_closed = true;
    for (uint64_t i = 0; i < r->o.connections; i++)
        fc_flow_end(&r->conns[i].flow, r->end_us);
}

static void note_error(run *r, const char *msg) {
    for (uint32_t i = 0; i < r->nerrors; i++)
        if (strcmp(r->errors[i], msg) == 0)
            return;
    if (r->nerrors < MAX_ERRORS) /* a long message is cut to fit: it is only shown */
        snprintf(r->errors[r->nerrors++], sizeof(r->errors[0]), "%.*s",
                 (int)sizeof(r->errors[0]) - 1, msg);
}

static void finish(run *r) {
    if (r->ph == PH_DONE)
        return;
    if (r->end_us == 0)
        r->end_us = fg_now_us();
    close_window(r);
    r->ph = PH_DONE;
    for (uint64_t i = 0; i < r->o.connections; i++) {
        fc_ws_free(r->conns[i].ws);
        r->conns[i].ws = NULL;
    }
    uv_timer_stop(&r->phase_timer);
    uv_timer_stop(&r->pace_timer);
    uv_close((uv_handle_t *)&r->phase_timer, NULL);
    uv_close((uv_handle_t *)&r->pace_timer, NULL);
}

static bool send_request(conn *c, uint32_t index, uint64_t start_us) {
    run *r = c->r;
    slot *s = &c->slots[index];
    s->frame = r->next_frame++;
    size_t model_len = strlen(r->o.model);
    fc_codec_write_request_header(r->request, s->seq, s->frame, model_len, r->flags);
    if (r->o.unique > 0) {
        /* A unique input carries its frame number; a repeated one all zeros there. Which is
         * which: a fixed hash of the frame number, so runs are repeatable. */
        uint8_t *tag = r->request + FG_REQUEST_HEADER_LEN + model_len;
        bool unique = (double)((s->frame * 2654435761u) % 10000u) < r->o.unique * 10000.0;
        for (int i = 0; i < UNIQUE_TAG_BYTES; i++)
            tag[i] = unique ? (uint8_t)(s->frame >> (8 * i)) | (i == 3 ? 0x80 : 0) : 0;
    }
    if (fc_ws_send(c->ws, r->request, r->request_len, NULL, 0) != 0)
        return false;
    s->start_us = start_us;
    s->busy = true;
    c->busy++;
    r->sent++;
    r->all.sent++;
    c->g->st.sent++;
    r->outstanding++;
    return true;
}

/* Open loop: sends what is due, as far as free slots allow; the rest waits as backlog. */
static void pace(run *r) {
    if (r->ph != PH_RUNNING)
        return;
    uint64_t now = fg_now_us();
    uint64_t due = (uint64_t)((double)(now - r->start_us) * r->o.rate / 1e6) + 1;
    uint32_t n = (uint32_t)r->o.connections;
    while (r->open_next < due) {
        uint32_t tried = 0;
        conn *c = NULL;
        for (; tried < n; tried++) {
            conn *cand = &r->conns[r->cursor];
            r->cursor = (r->cursor + 1) % n;
            if (cand->open && cand->busy < cand->g->spec.inflight) {
                c = cand;
                break;
            }
        }
        if (!c)
            return; /* every slot busy: the backlog's latency keeps growing from intended time */
        uint32_t index = 0;
        while (c->slots[index].busy)
            index++;
        uint64_t intended = r->start_us + (uint64_t)((double)r->open_next * 1e6 / r->o.rate);
        if (!send_request(c, index, intended))
            return;
        r->open_next++;
    }
}

static void on_pace_timer(uv_timer_t *t) {
    pace(t->data);
}

static void on_phase_timer(uv_timer_t *t);

static void start_measuring(run *r) {
    if (r->opened == 0) {
        finish(r);
        return;
    }
    r->ph = PH_RUNNING;
    r->start_us = fg_now_us();
    for (uint64_t i = 0; i < r->o.connections; i++)
        fc_flow_start(&r->conns[i].flow, r->start_us);
    uv_timer_start(&r->phase_timer, on_phase_timer, (uint64_t)(r->o.duration_s * 1000), 0);
    if (r->o.rate > 0) {
        uv_timer_start(&r->pace_timer, on_pace_timer, 1, 1);
        pace(r);
        return;
    }
    for (uint64_t i = 0; i < r->o.connections; i++) {
        conn *c = &r->conns[i];
        for (uint32_t k = 0; c->open && k < c->g->spec.inflight; k++)
            send_request(c, k, fg_now_us());
    }
}

static void on_phase_timer(uv_timer_t *t) {
    run *r = t->data;
    switch (r->ph) {
    case PH_CONNECTING:
        note_error(r, "some connections did not open within --connect-timeout");
        start_measuring(r);
        break;
    case PH_RUNNING:
        r->ph = PH_DRAINING;
        r->end_us = fg_now_us();
        close_window(r);
        uv_timer_stop(&r->pace_timer);
        if (r->outstanding == 0)
            finish(r);
        else
            uv_timer_start(&r->phase_timer, on_phase_timer, DRAIN_MS, 0);
        break;
    default:
        finish(r);
    }
}

static void settle(conn *c) {
    run *r = c->r;
    if (c->settled)
        return;
    c->settled = true;
    if (++r->settled == r->o.connections && r->ph == PH_CONNECTING)
        start_measuring(r);
}

static void on_open(fc_ws *ws, void *user) {
    conn *c = user;
    c->open = true;
    if (c->r->opened++ == 0)
        snprintf(c->r->subprotocol, sizeof(c->r->subprotocol), "%s", fc_ws_protocol(ws));
    settle(c);
}

static bool is_overloaded(const fc_reply *rep) {
    static const char msg[] = "overloaded";
    return rep->h.type == FG_MSG_ERROR && rep->h.status == FG_STATUS_RESOURCE_EXHAUSTED &&
           rep->payload_len == sizeof(msg) - 1 && memcmp(rep->payload, msg, sizeof(msg) - 1) == 0;
}

static void stats_reply(stats *st, const fc_reply *rep, uint64_t rtt_us, bool in_window) {
    st->replies++;
    fc_status_count(&st->statuses, rep->h.type == FG_MSG_FRAME ? 0 : rep->h.status);
    if (rep->h.type == FG_MSG_FRAME) {
        fg_hist_record(st->accepted, rtt_us);
        st->frames_in_window += in_window;
    } else if (is_overloaded(rep)) {
        st->shed++;
        fg_hist_record(st->shed_rtt, rtt_us);
    } else if (rep->h.status == FG_STATUS_CANCELLED) {
        st->superseded++;
    }
}

static void stats_hint(stats *st, const fg_hint *h) {
    st->hints++;
    st->last_hint = *h;
}

static void record_reply(run *r, conn *c, const fc_reply *rep, uint64_t start_us, uint64_t now) {
    bool in_window = r->ph == PH_RUNNING;
    stats_reply(&r->all, rep, now - start_us, in_window);
    stats_reply(&c->g->st, rep, now - start_us, in_window);
    if (rep->h.type == FG_MSG_FRAME && in_window)
        fc_flow_frame(&c->flow, now);
    r->replies++;
    fg_hist_record(r->rtt, now - start_us);
    fg_hist_record(r->total_us, rep->h.total_us);
    if (rep->h.attempts > 0)
        fg_hist_record(r->grpc_us, rep->h.grpc_us);
    fc_status_count(&r->statuses, rep->h.type == FG_MSG_FRAME ? 0 : rep->h.status);
    if (rep->h.type != FG_MSG_FRAME)
        return;
    if (r->ph != PH_RUNNING)
        return; /* per-backend figures cover the measured window, like frames/s */
    r->frames_in_window++;
    fb_tally_count(&r->backends, rep->backend, rep->h.backend_len);
}

static void on_message(fc_ws *ws, bool binary, const uint8_t *data, size_t len, void *user) {
    conn *c = user;
    run *r = c->r;
    uint64_t now = fg_now_us();
    fc_reply rep;
    fg_hint hint;
    if (binary && len > 0 && data[0] == FG_MSG_HINT && fc_codec_parse_hint(data, len, &hint) == 0) {
        stats_hint(&r->all, &hint);
        stats_hint(&c->g->st, &hint);
        return;
    }
    if (!binary || fc_codec_parse_reply(data, len, &rep) != 0) {
        r->bad_replies++;
        return;
    }
    uint32_t inflight = c->g->spec.inflight;
    uint32_t index = rep.h.request_id % inflight;
    slot *s = &c->slots[index];
    if (!s->busy || s->seq != rep.h.request_id || s->frame != rep.h.frame) {
        r->unmatched++;
        return;
    }
    record_reply(r, c, &rep, s->start_us, now);
    s->busy = false;
    s->seq += inflight;
    c->busy--;
    r->outstanding--;
    if (r->ph == PH_RUNNING) {
        if (r->o.rate > 0)
            pace(r);
        else
            send_request(c, index, now);
    } else if (r->ph == PH_DRAINING && r->outstanding == 0) {
        finish(r);
    }
}

static void on_close(fc_ws *ws, int err, uint16_t code, void *user) {
    conn *c = user;
    run *r = c->r;
    char msg[300];
    if (err == 0)
        snprintf(msg, sizeof(msg), "the server closed the WebSocket (code %u)", code);
    else
        snprintf(msg, sizeof(msg), "%s: %s", r->url.authority, fc_ws_error(ws));
    if (r->ph != PH_DONE) {
        note_error(r, msg);
        r->conn_failures++;
    }
    if (c->open) {
        c->open = false;
        r->opened--;
        r->outstanding -= c->busy; /* those replies are lost */
        c->busy = 0;
    }
    settle(c);
    if (r->ph == PH_DRAINING && r->outstanding == 0)
        finish(r);
    if (r->ph == PH_RUNNING && r->opened == 0)
        finish(r);
}

static const fc_ws_callbacks ws_callbacks = {on_open, on_message, on_close};

static void build_request(run *r) {
    size_t model_len = strlen(r->o.model);
    r->request_len = FG_REQUEST_HEADER_LEN + model_len + r->o.input_bytes;
    r->request = fg_malloc(r->request_len);
    memcpy(r->request + FG_REQUEST_HEADER_LEN, r->o.model, model_len);
    /* A 16-bit PCM tone, so the reference backend's mouth moves. */
    uint8_t *pcm = r->request + FG_REQUEST_HEADER_LEN + model_len;
    for (size_t i = 0; i < r->o.input_bytes; i++)
        pcm[i] = (i & 1) ? (uint8_t)((i / 2) % 64) : 0;
}

static int connect_all(run *r) {
    fc_ws_options wo = {SUBPROTOCOL, r->o.max_message, r->tls};
    r->conns = fg_calloc(r->o.connections, sizeof(*r->conns));
    group *g = r->groups;
    for (uint64_t i = 0; i < r->o.connections; i++) {
        conn *c = &r->conns[i];
        if (i >= g->first + g->spec.connections)
            g++;
        c->r = r;
        c->g = g;
        c->slots = fg_calloc(g->spec.inflight, sizeof(*c->slots));
        for (uint32_t k = 0; k < g->spec.inflight; k++)
            c->slots[k].seq = k;
        int rc = fc_ws_connect(&r->loop, &r->url, (const struct sockaddr *)&r->addr, &wo,
                               &ws_callbacks, c, &c->ws);
        if (rc < 0) {
            char msg[300];
            snprintf(msg, sizeof(msg), "%s: cannot connect: %s", r->url.authority, fg_strerror(rc));
            note_error(r, msg);
            r->conn_failures++;
            c->ws = NULL;
            settle(c);
        }
    }
    return 0;
}

static double window_s(const run *r) {
    return r->end_us > r->start_us ? (double)(r->end_us - r->start_us) / 1e6 : 0.0;
}

/* Shares and stalls over conns[first .. first + n). */
static void fairness_of(const run *r, uint64_t first, uint64_t n, fc_fairness *out) {
    fc_flow *flows = fg_calloc(n ? n : 1, sizeof(*flows));
    uint64_t *scratch = fg_calloc(n ? n : 1, sizeof(*scratch));
    for (uint64_t i = 0; i < n && r->conns; i++)
        flows[i] = r->conns[first + i].flow;
    fc_flow_summarize(flows, r->conns ? n : 0, scratch, out);
    free(scratch);
    free(flows);
}

static double ratio(uint64_t part, uint64_t whole) {
    return whole ? (double)part / (double)whole : 0.0;
}

static json_t *fairness_json(const fc_fairness *fa) {
    return json_pack(
        "{sI sf sf sf sI sI sI sI}", "connections", (json_int_t)fa->connections, "min_share",
        fa->min_share, "max_share", fa->max_share, "jain", fa->jain, "min_frames",
        (json_int_t)fa->min_frames, "max_frames", (json_int_t)fa->max_frames, "longest_stall_us",
        (json_int_t)fa->longest_stall_us, "median_stall_us", (json_int_t)fa->median_stall_us);
}

static json_t *hint_json(const stats *st) {
    if (st->hints == 0)
        return json_null();
    return json_pack("{sI sI sf sI}", "count", (json_int_t)st->hints, "healthy_backends",
                     (json_int_t)st->last_hint.healthy, "fps", st->last_hint.fps_milli / 1000.0,
                     "queue_wait_us", (json_int_t)st->last_hint.queue_wait_us);
}

static json_t *group_json(const run *r, const group *g, double secs) {
    const stats *st = &g->st;
    fc_fairness fa;
    fairness_of(r, g->first, g->spec.connections, &fa);
    return json_pack("{ss sI sI sI sI sI sf sI sf sI so so so so}", "name", g->spec.name,
                     "connections", (json_int_t)g->spec.connections, "inflight",
                     (json_int_t)g->spec.inflight, "sent", (json_int_t)st->sent, "replies",
                     (json_int_t)st->replies, "frames", (json_int_t)st->statuses.n[0],
                     "goodput_fps", secs > 0 ? (double)st->frames_in_window / secs : 0.0, "shed",
                     (json_int_t)st->shed, "shed_ratio", ratio(st->shed, st->replies), "superseded",
                     (json_int_t)st->superseded, "replies_by_status", fc_status_json(&st->statuses),
                     "latency",
                     json_pack("{so so}", "accepted", fc_latency_json(st->accepted), "shed",
                               fc_latency_json(st->shed_rtt)),
                     "fairness", fairness_json(&fa), "hint", hint_json(st));
}

/* The v1.1 figures of the whole run, added to the report's top level. */
static void add_overload_json(const run *r, json_t *j, double secs) {
    const stats *st = &r->all;
    fc_fairness fa;
    fairness_of(r, 0, r->o.connections, &fa);
    json_object_set_new(j, "session",
                        json_pack("{sb sI sb sb}", "latest", r->o.latest, "deadline_ms",
                                  (json_int_t)r->o.deadline_ms, "order", r->o.order, "hints",
                                  r->o.hints));
    json_object_set_new(j, "goodput_fps",
                        json_real(secs > 0 ? (double)st->frames_in_window / secs : 0.0));
    json_object_set_new(j, "shed", json_integer((json_int_t)st->shed));
    json_object_set_new(j, "shed_ratio", json_real(ratio(st->shed, st->replies)));
    json_object_set_new(j, "superseded", json_integer((json_int_t)st->superseded));
    json_object_set_new(j, "fairness", fairness_json(&fa));
    json_object_set_new(j, "hint", hint_json(st));
    json_t *latency = json_object_get(j, "latency");
    json_object_set_new(latency, "accepted", fc_latency_json(st->accepted));
    json_object_set_new(latency, "shed", fc_latency_json(st->shed_rtt));
    json_t *groups = json_array();
    for (size_t i = 0; i < r->ngroups; i++)
        json_array_append_new(groups, group_json(r, &r->groups[i], secs));
    json_object_set_new(j, "groups", groups);
}

static json_t *report_json(run *r) {
    double secs = window_s(r);
    json_t *backends = json_array();
    for (size_t i = 0; i < r->backends.n; i++) {
        const fb_tally_entry *e = &r->backends.e[i];
        json_array_append_new(backends, json_pack("{ss sI sf}", "address", e->name, "frames",
                                                  (json_int_t)e->count, "share",
                                                  (double)e->count / (double)r->frames_in_window));
    }
    json_t *errors = json_array();
    for (uint32_t i = 0; i < r->nerrors; i++)
        json_array_append_new(errors, json_string(r->errors[i]));
    json_t *latency =
        json_pack("{so so so}", "round_trip", fc_latency_json(r->rtt), "proxy_grpc",
                  fc_latency_json(r->grpc_us), "proxy_total", fc_latency_json(r->total_us));
    json_t *j = json_pack(
        "{ss ss ss sI sI sI so sf ss sI sf sf sI sI sI sf sI sI sI sI so so so so}", "mode", "ws",
        "url", r->o.url, "subprotocol", r->subprotocol, "connections", (json_int_t)r->o.connections,
        "connections_open", (json_int_t)r->opened, "inflight", (json_int_t)r->o.inflight, "rate",
        r->o.rate > 0 ? json_real(r->o.rate) : json_null(), "duration_s", secs, "model", r->o.model,
        "input_bytes", (json_int_t)r->o.input_bytes, "unique", r->o.unique, "frames_per_s",
        secs > 0 ? (double)r->frames_in_window / secs : 0.0, "sent", (json_int_t)r->sent, "replies",
        (json_int_t)r->replies, "frames", (json_int_t)r->statuses.n[0], "requests_per_s",
        secs > 0 ? (double)r->sent / secs : 0.0, "lost", (json_int_t)(r->sent - r->replies),
        "unmatched", (json_int_t)r->unmatched, "bad_replies", (json_int_t)r->bad_replies,
        "connection_failures", (json_int_t)r->conn_failures, "replies_by_status",
        fc_status_json(&r->statuses), "latency", latency, "backends", backends, "errors", errors);
    add_overload_json(r, j, secs);
    return j;
}

/* The v1.1 lines for one set of connections (the run, or one group). */
static void overload_text(const run *r, FILE *out, const stats *st, uint64_t first, uint64_t n,
                          double secs) {
    fc_fairness fa;
    fairness_of(r, first, n, &fa);
    char stall[32], median[32];
    fc_format_us(stall, sizeof(stall), fa.longest_stall_us);
    fc_format_us(median, sizeof(median), fa.median_stall_us);
    fprintf(out, "  goodput      %.1f frames/s; shed %llu (%.1f%%), superseded %llu\n",
            secs > 0 ? (double)st->frames_in_window / secs : 0.0, (unsigned long long)st->shed,
            100.0 * ratio(st->shed, st->replies), (unsigned long long)st->superseded);
    fc_latency_line(out, "accepted", st->accepted);
    if (st->shed)
        fc_latency_line(out, "shed reply", st->shed_rtt);
    fprintf(out,
            "  fairness     share per connection min %.1f%% max %.1f%% (fair %.1f%%), Jain %.3f; "
            "longest stall %s, median %s\n",
            100.0 * fa.min_share, 100.0 * fa.max_share, n ? 100.0 / (double)n : 0.0, fa.jain, stall,
            median);
    if (st->hints) {
        char wait[32];
        fc_format_us(wait, sizeof(wait), st->last_hint.queue_wait_us);
        fprintf(out,
                "  hint         %.1f frames/s, %u healthy backends, queue wait %s (%llu hints)\n",
                st->last_hint.fps_milli / 1000.0, st->last_hint.healthy, wait,
                (unsigned long long)st->hints);
    }
}

static void report_text(run *r, FILE *out) {
    double secs = window_s(r);
    char statuses[512];
    fc_status_text(&r->statuses, statuses, sizeof(statuses));
    fprintf(out, "framebench ws %s: %llu connections (%u open) ", r->o.url,
            (unsigned long long)r->o.connections, r->opened);
    if (r->ngroups > 1)
        fprintf(out, "in %zu groups, ", r->ngroups);
    else
        fprintf(out, "x %u in flight, ", r->groups[0].spec.inflight);
    if (r->o.rate > 0)
        fprintf(out, "open loop at %.0f req/s", r->o.rate);
    else
        fprintf(out, "closed loop");
    fprintf(out, ", %.2f s, model %s, %llu-byte input\n", secs, r->o.model,
            (unsigned long long)r->o.input_bytes);
    fprintf(out, "  frames/s     %.1f\n", secs > 0 ? (double)r->frames_in_window / secs : 0.0);
    fprintf(out, "  replies      %llu of %llu sent: %s\n", (unsigned long long)r->replies,
            (unsigned long long)r->sent, statuses);
    if (r->sent != r->replies || r->unmatched || r->bad_replies)
        fprintf(out, "  lost %llu, unmatched %llu, malformed %llu\n",
                (unsigned long long)(r->sent - r->replies), (unsigned long long)r->unmatched,
                (unsigned long long)r->bad_replies);
    fprintf(out, "latency (%s)\n", r->o.rate > 0 ? "from the intended send time" : "round trip");
    fc_latency_line(out, "round trip", r->rtt);
    fc_latency_line(out, "proxy grpc", r->grpc_us);
    fc_latency_line(out, "proxy total", r->total_us);
    overload_text(r, out, &r->all, 0, r->o.connections, secs);
    for (size_t i = 0; r->ngroups > 1 && i < r->ngroups; i++) {
        const group *g = &r->groups[i];
        char statuses_g[512];
        fc_status_text(&g->st.statuses, statuses_g, sizeof(statuses_g));
        fprintf(out, "group %s: %u connections x %u in flight, %llu replies of %llu sent: %s\n",
                g->spec.name, g->spec.connections, g->spec.inflight,
                (unsigned long long)g->st.replies, (unsigned long long)g->st.sent, statuses_g);
        overload_text(r, out, &g->st, g->first, g->spec.connections, secs);
    }
    if (r->backends.n) {
        fc_table *t = fc_table_new(4);
        fc_table_cell(t, "backend");
        fc_table_cell(t, "frames");
        fc_table_cell(t, "frames/s");
        fc_table_cell(t, "share");
        for (size_t i = 0; i < r->backends.n; i++) {
            const fb_tally_entry *e = &r->backends.e[i];
            fc_table_cell(t, "%s", e->name);
            fc_table_cell(t, "%llu", (unsigned long long)e->count);
            fc_table_cell(t, "%.1f", secs > 0 ? (double)e->count / secs : 0.0);
            fc_table_cell(t, "%.1f%%", 100.0 * (double)e->count / (double)r->frames_in_window);
        }
        fprintf(out, "backends\n");
        fc_table_print(t, out);
        fc_table_free(t);
    }
    for (uint32_t i = 0; i < r->nerrors; i++)
        fprintf(out, "error: %s\n", r->errors[i]);
}

static const char usage[] = "framebench ws --url ws[s]://HOST:PORT/ws [flags]";
static const char summary[] =
    "Load through the framegate proxy's WebSocket: closed loop (--inflight requests per\n"
    "connection), or open loop at --rate requests/s with latency from the intended send time.";

static int parse_flags(ws_opts *o, int argc, char **argv) {
    const char *group_seen = NULL; /* only for --help: --group is collected below */
    fg_arg_spec specs[] = {
        {"url", FG_ARG_STRING, &o->url, 0, 0, 0, 0, "URL", "ws[s]://HOST:PORT/PATH of the proxy"},
        {"tls-ca", FG_ARG_STRING, &o->tls_ca, 0, 0, 0, 0, "PATH",
         "wss: PEM CA of the proxy's certificate (default: the system's)"},
        {"connections", FG_ARG_UINT, &o->connections, 1, 100000, 0, 0, "N",
         "WebSocket connections"},
        {"inflight", FG_ARG_UINT, &o->inflight, 1, 65536, 0, 0, "K",
         "requests in flight per connection (the most, in open loop)"},
        {"duration", FG_ARG_DOUBLE, &o->duration_s, 0, 0, 0.01, 86400, "S", "seconds of load"},
        {"rate", FG_ARG_DOUBLE, &o->rate, 0, 0, 0, 1e7, "R",
         "requests/s over all connections (open loop); 0: closed loop"},
        {"model", FG_ARG_STRING, &o->model, 0, 0, 0, 0, "M", "model name"},
        {"input-bytes", FG_ARG_UINT, &o->input_bytes, 0, 16 << 20, 0, 0, "B",
         "bytes of model input per request"},
        {"unique", FG_ARG_DOUBLE, &o->unique, 0, 0, 0, 1, "FRACTION",
         "fraction of requests whose input is their own (needs --input-bytes >= 4); the rest "
         "repeat one input (default 0: all repeat it), e.g. 0.1 for a frame cache's 90% hits"},
        {"connect-timeout", FG_ARG_DOUBLE, &o->connect_timeout_s, 0, 0, 0.01, 600, "S",
         "seconds to wait for the connections to open"},
        {"max-message", FG_ARG_UINT, &o->max_message, 1024, 1u << 30, 0, 0, "BYTES",
         "largest reply accepted"},
        {"json", FG_ARG_SWITCH, &o->json, 0, 0, 0, 0, NULL, "print the results as JSON"},
        {"latest", FG_ARG_SWITCH, &o->latest, 0, 0, 0, 0, NULL,
         "set flag LATEST on every request (superseding the unsent ones)"},
        {"deadline-ms", FG_ARG_UINT, &o->deadline_ms, 0, 3600000, 0, 0, "MS",
         "ask for this per-request deadline (?deadline_ms=); 0: the proxy's default"},
        {"order", FG_ARG_SWITCH, &o->order, 0, 0, 0, 0, NULL,
         "ask for in-order replies (?order=1)"},
        {"hints", FG_ARG_SWITCH, &o->hints, 0, 0, 0, 0, NULL,
         "ask for HINT messages (?hints=1) and report the last one"},
        {"group", FG_ARG_STRING, &group_seen, 0, 0, 0, 0, "NAME:CONNS:INFLIGHT",
         "a group of connections, reported on its own; repeatable; replaces --connections and "
         "--inflight"},
    };
    /* --group may be given many times: fg_args keeps the last, so collect them all first. */
    char **rest = fg_calloc((size_t)argc + 1, sizeof(*rest));
    int nrest = 0;
    int rc = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *name = a[0] == '-' ? a + 1 + (a[1] == '-') : NULL;
        if (i < 2 || !name || strncmp(name, "group", 5) != 0 || (name[5] && name[5] != '=')) {
            rest[nrest++] = argv[i];
            continue;
        }
        const char *value = name[5] == '=' ? name + 6 : (i + 1 < argc ? argv[++i] : NULL);
        char err[200];
        if (!value || o->ngroups == FC_GROUP_MAX) {
            fprintf(stderr, "framebench ws: --group needs a value, at most %d groups\n",
                    FC_GROUP_MAX);
            rc = 2;
        } else if (fc_group_parse(value, &o->groups[o->ngroups], err, sizeof(err)) != 0) {
            fprintf(stderr, "framebench ws: %s\n", err);
            rc = 2;
        } else {
            o->ngroups++;
        }
    }
    if (rc == 0)
        rc = fg_args_run("framebench ws", usage, summary, specs, sizeof(specs) / sizeof(specs[0]),
                         nrest, rest, 2);
    free(rest);
    if (rc != 0)
        return rc == FG_ARGS_HELP ? 0 : 2;
    if (!o->url) {
        fprintf(stderr, "framebench ws: --url is required\n");
        return 2;
    }
    if (o->unique > 0 && o->input_bytes < UNIQUE_TAG_BYTES) {
        fprintf(stderr, "framebench ws: --unique needs --input-bytes of at least %d\n",
                UNIQUE_TAG_BYTES);
        return 2;
    }
    size_t model_len = strlen(o->model);
    if (model_len == 0 || model_len > 255) {
        fprintf(stderr, "framebench ws: --model must be 1 to 255 bytes\n");
        return 2;
    }
    return -1;
}

/* The groups (or one of --connections x --inflight), the request flags and the URL's query. */
static int setup_groups(run *r) {
    ws_opts *o = &r->o;
    if (o->ngroups == 0) {
        fc_group_spec *g = &o->groups[o->ngroups++];
        snprintf(g->name, sizeof(g->name), "all");
        g->connections = (uint32_t)o->connections;
        g->inflight = (uint32_t)o->inflight;
    }
    r->flags = o->latest ? FG_FLAG_LATEST : 0;
    char param[40];
    int rc = 0;
    if (o->deadline_ms) {
        snprintf(param, sizeof(param), "deadline_ms=%llu", (unsigned long long)o->deadline_ms);
        rc |= fc_url_add_query(&r->url, param);
    }
    if (o->order)
        rc |= fc_url_add_query(&r->url, "order=1");
    if (o->hints)
        rc |= fc_url_add_query(&r->url, "hints=1");
    if (rc != 0) {
        fprintf(stderr, "framebench ws: the URL is too long for its session parameters\n");
        return 2;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < o->ngroups; i++) {
        group *g = &r->groups[i];
        g->spec = o->groups[i];
        g->first = total;
        total += g->spec.connections;
        stats_init(&g->st);
    }
    r->ngroups = o->ngroups;
    o->connections = total;
    stats_init(&r->all);
    return 0;
}

int fb_ws_main(int argc, char **argv) {
    run *r = fg_calloc(1, sizeof(*r));
    r->o = (ws_opts){.connections = 1,
                     .inflight = 1,
                     .duration_s = 5,
                     .model = "sanders",
                     .connect_timeout_s = 5,
                     .max_message = 16u << 20};
    int status = parse_flags(&r->o, argc, argv);
    if (status >= 0)
        goto out_free;
    char err[300];
    status = 2;
    if (fc_url_parse_ws(r->o.url, &r->url, err, sizeof(err)) != 0) {
        fprintf(stderr, "framebench ws: %s\n", err);
        goto out_free;
    }
    if (r->url.tls) {
        fg_tls_ctx_config tc = {.role = FG_TLS_CLIENT, .ca = r->o.tls_ca, .alpn = "http/1.1"};
        if (fg_tls_ctx_new(&tc, &r->tls, err, sizeof err) != 0) {
            fprintf(stderr, "framebench ws: %s\n", err);
            goto out_free;
        }
    }
    status = 1;
    if (fc_url_resolve(&r->url, &r->addr, err, sizeof(err)) != 0) {
        fprintf(stderr, "framebench ws: %s\n", err);
        goto out_free;
    }
    if (setup_groups(r) != 0) {
        status = 2;
        goto out_free;
    }
    build_request(r);
    r->rtt = fg_hist_new();
    r->grpc_us = fg_hist_new();
    r->total_us = fg_hist_new();
    uv_loop_init(&r->loop);
    uv_timer_init(&r->loop, &r->phase_timer);
    uv_timer_init(&r->loop, &r->pace_timer);
    r->phase_timer.data = r;
    r->pace_timer.data = r;
    uv_timer_start(&r->phase_timer, on_phase_timer, (uint64_t)(r->o.connect_timeout_s * 1000), 0);
    connect_all(r);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    uv_loop_close(&r->loop);

    fb_tally_sort(&r->backends);
    if (r->start_us == 0)
        r->end_us = 0; /* never started: no window */
    if (r->o.json) {
        json_t *j = report_json(r);
        fc_json_print(stdout, j);
        json_decref(j);
    } else if (r->start_us != 0) {
        report_text(r, stdout);
    }
    if (r->replies == 0) {
        for (uint32_t i = 0; i < r->nerrors; i++)
            fprintf(stderr, "framebench ws: %s\n", r->errors[i]);
        if (r->nerrors == 0)
            fprintf(stderr, "framebench ws: no replies\n");
    }
    status = r->replies > 0 ? 0 : 1;
    fg_hist_free(r->rtt);
    fg_hist_free(r->grpc_us);
    fg_hist_free(r->total_us);
    stats_free(&r->all);
    for (size_t i = 0; i < r->ngroups; i++)
        stats_free(&r->groups[i].st);
    for (uint64_t i = 0; r->conns && i < r->o.connections; i++)
        free(r->conns[i].slots);
    free(r->conns);
    free(r->request);
out_free:
    fg_tls_ctx_free(r->tls);
    free(r);
    return status;
}
