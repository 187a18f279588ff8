/*
 * fg_grpc_call: the calls of an fg_grpc_conn (see fg_grpc_conn.h and fg_grpc_conn_int.h): the
 * bounded queue, one HTTP/2 stream per unary call, the deadline timer, and the mapping of what
 * arrived on a stream (headers, DATA, trailers, resets) to one gRPC result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_clock.h"
#include "fg_err.h"
#include "fg_grpc_conn_int.h"
#include "fg_status.h"
#include "fg_timeout.h"

/* ---- call lists ---- */

static void list_push(call_list *l, fg_grpc_call *call) {
    call->next = NULL;
    call->prev = l->tail;
    if (l->tail)
        l->tail->next = call;
    else
        l->head = call;
    l->tail = call;
    l->len++;
}

void fg_gcall_list_remove(call_list *l, fg_grpc_call *call) {
    if (call->prev)
        call->prev->next = call->next;
    else
        l->head = call->next;
    if (call->next)
        call->next->prev = call->prev;
    else
        l->tail = call->prev;
    call->prev = call->next = NULL;
    l->len--;
}

/* ---- call objects: a per-connection free list ---- */

static void destroy_call(fg_grpc_call *call) {
    fg_grpc_reader_free(&call->reader);
    free(call->grpc_message);
    free(call);
}

static size_t call_footprint(const fg_grpc_call *call) {
    return sizeof *call + call->cap + call->reader.msg.cap +
           (call->grpc_message ? MAX_GRPC_MESSAGE + 1 : 0);
}

void fg_gcall_free(fg_grpc_call *call) {
    fg_grpc_conn *c = call->conn;
    if (call->reader.msg.cap > READER_KEEP_MAX)
        fg_grpc_reader_free(&call->reader);
    size_t size = call_footprint(call);
    if (c->closing || c->nfree >= FREE_CALLS_MAX || c->free_bytes + size > FREE_BYTES_MAX) {
        destroy_call(call);
        return;
    }
    call->next = c->free_calls;
    c->free_calls = call;
    c->nfree++;
    c->free_bytes += size;
}

void fg_gcall_free_list(fg_grpc_conn *c) {
    while (c->free_calls) {
        fg_grpc_call *call = c->free_calls;
        c->free_calls = call->next;
        destroy_call(call);
    }
    c->nfree = c->free_bytes = 0;
}

/* A zeroed call with room for need bytes of data[]: reused from the free list when it fits. */
static fg_grpc_call *call_get(fg_grpc_conn *c, size_t need) {
    fg_grpc_call *call = c->free_calls;
    if (call) {
        c->free_calls = call->next;
        c->nfree--;
        c->free_bytes -= call_footprint(call);
        if (call->cap < need) {
            destroy_call(call);
            call = NULL;
        }
    }
    if (!call) {
        size_t cap = (need + 255) & ~(size_t)255; /* room for a slightly larger next request */
        call = fg_calloc(1, sizeof *call + cap);
        call->cap = cap;
        fg_grpc_reader_init(&call->reader, c->opts.max_reply_bytes);
        return call;
    }
    fg_grpc_reader reader = call->reader; /* its reply buffer stays allocated */
    char *grpc_message = call->grpc_message;
    size_t cap = call->cap;
    memset(call, 0, sizeof *call);
    call->cap = cap;
    call->grpc_message = grpc_message;
    call->reader = reader;
    fg_grpc_reader_reset(&call->reader);
    return call;
}

void fg_gcall_finish(fg_grpc_call *call, int status, const char *message, const uint8_t *reply,
                     size_t reply_len, bool not_processed) {
    if (call->done)
        return;
    call->done = true;
    fg_grpc_result res = {
        .status = status,
        .message = message ? message : "",
        .reply = reply,
        .reply_len = reply_len,
        .not_processed = not_processed,
        .has_orca = call->has_orca,
        .orca = call->orca,
    };
    fg_buf *storage = &call->reader.msg;
    if (reply_len && reply == storage->data)
        res.reply_storage = &storage->data;
    if (call->cb)
        call->cb(call->user, &res);
    if (res.reply_storage && !storage->data) /* taken by the callback: the next call allocates */
        fg_buf_init(storage, storage->max);
}

/* ---- deadlines: one timer per connection, armed for the earliest deadline ---- */

static uint64_t earliest_deadline(const call_list *l, uint64_t min) {
    for (const fg_grpc_call *call = l->head; call; call = call->next)
        if (!call->done && call->deadline_us && (min == 0 || call->deadline_us < min))
            min = call->deadline_us;
    return min;
}

static void on_deadline_timer(uv_timer_t *t);

static void arm_deadline(fg_grpc_conn *c, uint64_t deadline_us) {
    uint64_t due = uv_timer_get_due_in(&c->deadline_timer);
    uint64_t now = fg_now_us();
    uint64_t in_ms = deadline_us > now ? (deadline_us - now + 999) / 1000 : 0;
    if (uv_is_active((uv_handle_t *)&c->deadline_timer) && due <= in_ms)
        return;
    uv_timer_start(&c->deadline_timer, on_deadline_timer, in_ms, 0);
}

static fg_grpc_call *find_expired(const call_list *l, uint64_t now) {
    for (fg_grpc_call *call = l->head; call; call = call->next)
        if (!call->done && call->deadline_us && call->deadline_us <= now)
            return call;
    return NULL;
}

static void expire_call(fg_grpc_conn *c, fg_grpc_call *call) {
    if (call->where == CALL_QUEUED) {
        fg_gcall_list_remove(&c->queue, call);
        fg_gcall_finish(call, FG_STATUS_DEADLINE_EXCEEDED, "deadline exceeded (queued)", NULL, 0,
                        true);
        fg_gcall_free(call);
        return;
    }
    fg_gcall_finish(call, FG_STATUS_DEADLINE_EXCEEDED, "deadline exceeded", NULL, 0, false);
    if (c->session && !c->closing) {
        nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_CANCEL);
        fg_gconn_schedule_flush(c);
    }
}

static void on_deadline_timer(uv_timer_t *t) {
    fg_grpc_conn *c = t->data;
    /* One at a time: a callback may start or cancel other calls. */
    for (;;) {
        if (c->closing)
            return;
        uint64_t now = fg_now_us() + 500; /* the timer has millisecond resolution */
        fg_grpc_call *call = find_expired(&c->queue, now);
        if (!call)
            call = find_expired(&c->active, now);
        if (!call)
            break;
        expire_call(c, call);
    }
    uint64_t next = earliest_deadline(&c->active, earliest_deadline(&c->queue, 0));
    if (next)
        arm_deadline(c, next);
}

/* ---- submitting streams ---- */

#define NV_STATIC(n, v)                                                                            \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1,                              \
            NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE                           \
    }
#define NV_NAME_STATIC(n, v, vlen)                                                                 \
    { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, (vlen), NGHTTP2_NV_FLAG_NO_COPY_NAME }

static ssize_t on_data_source_read_callback(nghttp2_session *session, int32_t stream_id,
                                            uint8_t *buf, size_t length, uint32_t *data_flags,
                                            nghttp2_data_source *source, void *user_data) {
    fg_grpc_call *call = source->ptr;
    size_t n = call->body_len - call->body_sent;
    if (n > length)
        n = length;
    memcpy(buf, call->body + call->body_sent, n);
    call->body_sent += n;
    if (call->body_sent == call->body_len)
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static void submit_stream(fg_grpc_conn *c, fg_grpc_call *call) {
    char timeout[FG_TIMEOUT_STRLEN];
    nghttp2_nv hdrs[8] = {
        NV_STATIC(":method", "POST"),
        NV_NAME_STATIC(":scheme", c->opts.tls ? "https" : "http", c->opts.tls ? 5 : 4),
        NV_NAME_STATIC(":path", call->data, strlen(call->data)),
        NV_NAME_STATIC(":authority", c->authority, strlen(c->authority)),
        NV_STATIC("content-type", FG_GRPC_CONTENT_TYPE),
        NV_STATIC("te", "trailers"),
        NV_STATIC("user-agent", "framegate-grpc-c/0.1"),
    };
    size_t nhdrs = 7;
    if (call->deadline_us) {
        uint64_t now = fg_now_us();
        uint64_t left = call->deadline_us > now ? call->deadline_us - now : 1;
        size_t tlen = fg_timeout_format(left, timeout);
        hdrs[nhdrs++] = (nghttp2_nv)NV_NAME_STATIC("grpc-timeout", timeout, tlen);
        /* A new value on every call: indexed, each would push an entry through both sides'
         * HPACK tables (insert, evict, hash lookups) and never be used again. */
        hdrs[nhdrs - 1].flags |= NGHTTP2_NV_FLAG_NO_INDEX;
    }
    nghttp2_data_provider provider = {.source.ptr = call,
                                      .read_callback = on_data_source_read_callback};
    int32_t id = nghttp2_submit_request(c->session, NULL, hdrs, nhdrs, &provider, call);
    if (id < 0) {
        /* Stream ids exhausted or the session is going away: never sent. */
        fg_gcall_finish(call, FG_STATUS_UNAVAILABLE, nghttp2_strerror(id), NULL, 0, true);
        fg_gcall_free(call);
        c->goaway = true;
        return;
    }
    call->stream_id = id;
    call->where = CALL_ACTIVE;
    list_push(&c->active, call);
}

void fg_gcall_pump_queue(fg_grpc_conn *c) {
    if (c->state != FG_GRPC_CONN_READY || c->goaway || c->closing || !c->session)
        return;
    uint32_t max_streams =
        nghttp2_session_get_remote_settings(c->session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    bool submitted = false;
    while (c->queue.head && c->active.len < max_streams && !c->goaway) {
        fg_grpc_call *call = c->queue.head;
        fg_gcall_list_remove(&c->queue, call);
        submit_stream(c, call);
        submitted = true;
    }
    if (submitted)
        fg_gconn_schedule_flush(c);
}

/* ---- nghttp2 callbacks ---- */

static int hex_value(uint8_t ch) {
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* grpc-message is percent-encoded (gRPC's PROTOCOL-HTTP2). out has room for len + 1. */
static void percent_decode(char *out, const uint8_t *in, size_t len) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '%' && i + 2 < len) {
            int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out[o++] = (char)(hi << 4 | lo);
                i += 2;
                continue;
            }
        }
        out[o++] = (char)in[i];
    }
    out[o] = '\0';
}

static int parse_small_int(const uint8_t *v, size_t len) {
    if (len == 0 || len > 4)
        return -1;
    int n = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (v[i] - '0');
    }
    return n;
}

static bool name_is(const uint8_t *name, size_t namelen, const char *lit) {
    return namelen == strlen(lit) && memcmp(name, lit, namelen) == 0;
}

/* gRPC's PROTOCOL-HTTP2: "application/grpc", alone or followed by "+codec" or ";params". */
static bool is_grpc_content_type(const uint8_t *v, size_t len) {
    size_t n = sizeof FG_GRPC_CONTENT_TYPE - 1;
    if (len < n || memcmp(v, FG_GRPC_CONTENT_TYPE, n) != 0)
        return false;
    return len == n || v[n] == '+' || v[n] == ';';
}

/* Only a 200 with a gRPC content-type carries gRPC; any other reply's body is not parsed. */
static bool reply_is_grpc(const fg_grpc_call *call) {
    return call->http_status == 200 && call->grpc_content_type;
}

/* The outcome of a reply that is not gRPC, after gRPC's "HTTP to gRPC status code mapping":
 * a non-200 :status maps through fg_status_from_http, a 200 of another content-type is UNKNOWN. */
static int not_grpc_status(const fg_grpc_call *call, char *msg, size_t len) {
    if (call->http_status != 200) {
        snprintf(msg, len, "HTTP status %d", call->http_status);
        return fg_status_from_http(call->http_status);
    }
    snprintf(msg, len, "HTTP 200 without content-type application/grpc");
    return FG_STATUS_UNKNOWN;
}

/* A report that does not decode is ignored: load reports are optional (contract §1). */
static void decode_orca(fg_grpc_conn *c, fg_grpc_call *call, const uint8_t *value, size_t len) {
    if (len && len == c->orca_raw_len && memcmp(value, c->orca_raw, len) == 0) {
        call->orca = c->orca_last;
        call->has_orca = true;
        return;
    }
    if (fg_orca_decode_header(value, len, &call->orca) < 0)
        return;
    call->has_orca = true;
    if (len < sizeof c->orca_raw) {
        memcpy(c->orca_raw, value, len);
        c->orca_raw_len = len;
        c->orca_last = call->orca;
    }
}

static int on_header_callback(nghttp2_session *session, const nghttp2_frame *frame,
                              const uint8_t *name, size_t namelen, const uint8_t *value,
                              size_t valuelen, uint8_t flags, void *user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    fg_grpc_call *call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!call || call->done)
        return 0;
    bool response = frame->headers.cat == NGHTTP2_HCAT_RESPONSE; /* not the trailers */
    if (name_is(name, namelen, ":status")) {
        call->http_status = parse_small_int(value, valuelen);
    } else if (response && name_is(name, namelen, "content-type")) {
        call->grpc_content_type = is_grpc_content_type(value, valuelen);
    } else if (name_is(name, namelen, "grpc-status")) {
        call->grpc_status = parse_small_int(value, valuelen);
        /* Not a number, or a code outside 0..16: UNKNOWN (contract section 2), so no status the
         * client cannot interpret, and no fault class, is made up from it. */
        if (call->grpc_status < 0 || call->grpc_status > FG_STATUS_MAX)
            call->grpc_status = FG_STATUS_UNKNOWN;
    } else if (name_is(name, namelen, "grpc-message")) {
        size_t n = valuelen < MAX_GRPC_MESSAGE ? valuelen : MAX_GRPC_MESSAGE;
        if (!call->grpc_message)
            call->grpc_message = fg_malloc(MAX_GRPC_MESSAGE + 1);
        percent_decode(call->grpc_message, value, n);
        call->has_message = true;
    } else if (name_is(name, namelen, FG_ORCA_HEADER)) {
        decode_orca(user_data, call, value, valuelen);
    }
    return 0;
}

static void abort_stream(fg_grpc_conn *c, fg_grpc_call *call, int status, const char *message) {
    fg_gcall_finish(call, status, message, NULL, 0, false);
    nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_CANCEL);
    fg_gconn_schedule_flush(c);
}

static int on_data_chunk_recv_callback(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                                       const uint8_t *data, size_t len, void *user_data) {
    fg_grpc_conn *c = user_data;
    fg_grpc_call *call = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!call || call->done)
        return 0;
    if (!reply_is_grpc(call)) {
        /* An error page: dropped unread, and no longer than MAX_DISCARDED_BODY. */
        call->discarded += len < MAX_DISCARDED_BODY ? (uint32_t)len : MAX_DISCARDED_BODY;
        if (call->discarded > MAX_DISCARDED_BODY) {
            char msg[96];
            int status = not_grpc_status(call, msg, sizeof msg);
            abort_stream(c, call, status, msg);
        }
        return 0;
    }
    int rv = fg_grpc_reader_feed(&call->reader, data, len);
    if (rv == FG_ERR_TOO_BIG) {
        char msg[64];
        snprintf(msg, sizeof msg, "reply larger than %u bytes", c->opts.max_reply_bytes);
        abort_stream(c, call, FG_STATUS_RESOURCE_EXHAUSTED, msg);
    } else if (rv < 0) {
        abort_stream(c, call, FG_STATUS_INTERNAL, fg_strerror(rv));
    }
    return 0;
}

/* The outcome of a stream nghttp2 closed, from what arrived on it. */
static void complete_from_stream(fg_grpc_conn *c, fg_grpc_call *call, uint32_t error_code) {
    char msg[96];
    if (error_code != NGHTTP2_NO_ERROR) {
        bool refused = error_code == NGHTTP2_REFUSED_STREAM;
        snprintf(msg, sizeof msg, "%s: %s", refused && c->goaway ? "GOAWAY" : "stream reset",
                 nghttp2_http2_strerror(error_code));
        fg_gcall_finish(call, fg_status_from_h2_error(error_code), msg, NULL, 0, refused);
        return;
    }
    if (!reply_is_grpc(call)) {
        int status = not_grpc_status(call, msg, sizeof msg);
        fg_gcall_finish(call, status, msg, NULL, 0, false);
        return;
    }
    if (call->grpc_status < 0) {
        fg_gcall_finish(call, FG_STATUS_INTERNAL, "missing grpc-status", NULL, 0, false);
        return;
    }
    const char *grpc_message = call->has_message ? call->grpc_message : "";
    if (call->grpc_status != FG_STATUS_OK) {
        fg_gcall_finish(call, call->grpc_status, grpc_message, NULL, 0, false);
        return;
    }
    const uint8_t *reply = NULL;
    size_t reply_len = 0;
    int rv = fg_grpc_reader_finish(&call->reader, &reply, &reply_len);
    if (rv < 0) {
        fg_gcall_finish(call, FG_STATUS_INTERNAL,
                        rv == FG_ERR_AGAIN ? "no reply message" : "truncated reply message", NULL,
                        0, false);
        return;
    }
    fg_gcall_finish(call, FG_STATUS_OK, grpc_message, reply ? reply : (const uint8_t *)"",
                    reply_len, false);
}

static void release_stream(fg_grpc_conn *c, fg_grpc_call *call, uint32_t error_code) {
    fg_gcall_list_remove(&c->active, call);
    if (!call->done && !c->closing)
        complete_from_stream(c, call, error_code);
    fg_gcall_free(call);
    fg_gcall_pump_queue(c);
}

static int on_stream_close_callback(nghttp2_session *session, int32_t stream_id,
                                    uint32_t error_code, void *user_data) {
    fg_grpc_call *call = nghttp2_session_get_stream_user_data(session, stream_id);
    if (call)
        release_stream(user_data, call, error_code);
    return 0;
}

/* A request HEADERS frame nghttp2 gave up on never opened its stream: release the call here. */
static int on_frame_not_send_callback(nghttp2_session *session, const nghttp2_frame *frame,
                                      int lib_error_code, void *user_data) {
    fg_grpc_conn *c = user_data;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    if (nghttp2_session_find_stream(session, frame->hd.stream_id))
        return 0; /* the stream exists: on_stream_close_callback follows and releases it */
    for (fg_grpc_call *call = c->active.head; call; call = call->next) {
        if (call->stream_id == frame->hd.stream_id) {
            release_stream(c, call, NGHTTP2_REFUSED_STREAM);
            break;
        }
    }
    return 0;
}
void fg_gcall_fail_queue(fg_grpc_conn *c, const char *reason) {
    while (c->queue.head && !c->closing) {
        fg_grpc_call *call = c->queue.head;
        fg_gcall_list_remove(&c->queue, call);
        fg_gcall_finish(call, FG_STATUS_UNAVAILABLE, reason, NULL, 0, true);
        fg_gcall_free(call);
    }
}

int fg_grpc_conn_call(fg_grpc_conn *c, const char *path, const uint8_t *msg, size_t len,
                      uint64_t timeout_us, fg_grpc_call_cb cb, void *user, fg_grpc_call **out) {
    if (c->closing)
        return FG_ERR_CLOSED;
    if (len > UINT32_MAX)
        return FG_ERR_TOO_BIG;
    if (c->state == FG_GRPC_CONN_FAILED)
        return FG_ERR_AGAIN;
    bool wait = c->state != FG_GRPC_CONN_READY || c->goaway || c->queue.head ||
                c->active.len >= nghttp2_session_get_remote_settings(
                                     c->session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    if (wait && c->queue.len >= c->opts.max_queue)
        return FG_ERR_FULL;
    size_t path_len = strlen(path);
    /* One object per call: the call, its path and its framed request body. */
    fg_grpc_call *call = call_get(c, path_len + 1 + FG_GRPC_PREFIX_LEN + len);
    call->conn = c;
    call->cb = cb;
    call->user = user;
    call->grpc_status = -1;
    call->deadline_us = timeout_us ? fg_now_us() + timeout_us : 0;
    memcpy(call->data, path, path_len + 1);
    call->body = (uint8_t *)call->data + path_len + 1;
    fg_grpc_prefix_write(call->body, (uint32_t)len);
    if (len)
        memcpy(call->body + FG_GRPC_PREFIX_LEN, msg, len);
    call->body_len = FG_GRPC_PREFIX_LEN + len;
    call->where = CALL_QUEUED;
    list_push(&c->queue, call);
    if (!wait)
        fg_gcall_pump_queue(c);
    if (call->deadline_us)
        arm_deadline(c, call->deadline_us);
    if (out)
        *out = call;
    return 0;
}

void fg_grpc_call_cancel(fg_grpc_call *call) {
    fg_grpc_conn *c = call->conn;
    if (call->done)
        return;
    if (call->where == CALL_QUEUED) {
        fg_gcall_list_remove(&c->queue, call);
        fg_gcall_free(call);
        return;
    }
    call->done = true; /* freed when nghttp2 releases the stream */
    if (c->session && !c->closing) {
        nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_CANCEL);
        fg_gconn_schedule_flush(c);
    }
}

size_t fg_grpc_conn_pending(const fg_grpc_conn *c) {
    size_t n = c->queue.len;
    for (const fg_grpc_call *call = c->active.head; call; call = call->next)
        n += !call->done;
    return n;
}

void fg_gcall_set_callbacks(nghttp2_session_callbacks *cbs) {
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk_recv_callback);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close_callback);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header_callback);
    nghttp2_session_callbacks_set_on_frame_not_send_callback(cbs, on_frame_not_send_callback);
}
