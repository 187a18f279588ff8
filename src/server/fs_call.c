#include "fs_call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_clock.h"
#include "fg_err.h"
#include "fg_status.h"
#include "fg_timeout.h"
#include "fs_conn.h"

/* Largest response body queued at once (a RenderBatch of big images stays well under it). */
#define BODY_MAX (512u << 20)

#define MAKE_NV(name, value, valuelen)                                                             \
    {                                                                                              \
        (uint8_t *)(name), (uint8_t *)(value), sizeof(name) - 1, (valuelen),                       \
            NGHTTP2_NV_FLAG_NO_COPY_NAME                                                           \
    }

fs_call *fs_call_new(fs_conn *conn, int32_t stream_id, uint32_t max_recv_bytes) {
    fs_call *call = fg_calloc(1, sizeof(*call));
    call->conn = conn;
    call->stream_id = stream_id;
    call->arrival_us = fg_now_us();
    fg_grpc_reader_init(&call->reader, max_recv_bytes);
    fg_buf_init(&call->body, BODY_MAX);
    return call;
}

void fs_call_free(fs_call *call) {
    fg_grpc_reader_free(&call->reader);
    fg_buf_free(&call->body);
    free(call->message);
    free(call);
}

static bool header_is(const uint8_t *name, size_t namelen, const char *want) {
    return namelen == strlen(want) && memcmp(name, want, namelen) == 0;
}

static bool is_grpc_content_type(const uint8_t *v, size_t len) {
    static const char ct[] = FG_GRPC_CONTENT_TYPE;
    size_t n = sizeof(ct) - 1;
    return len >= n && memcmp(v, ct, n) == 0 && (len == n || v[n] == '+' || v[n] == ';');
}

void fs_call_on_header(fs_call *call, const uint8_t *name, size_t namelen, const uint8_t *value,
                       size_t valuelen) {
    if (header_is(name, namelen, ":path")) {
        if (valuelen < sizeof(call->path)) {
            memcpy(call->path, value, valuelen);
            call->path[valuelen] = '\0';
        }
    } else if (header_is(name, namelen, ":method")) {
        call->method_post = valuelen == 4 && memcmp(value, "POST", 4) == 0;
    } else if (header_is(name, namelen, "content-type")) {
        call->grpc_content_type = is_grpc_content_type(value, valuelen);
    } else if (header_is(name, namelen, "grpc-timeout")) {
        uint64_t us;
        if (fg_timeout_parse((const char *)value, valuelen, &us) < 0) {
            call->bad_timeout = true;
        } else {
            call->deadline_us = call->arrival_us + (us ? us : 1);
        }
    }
}

void fs_call_on_data(fs_call *call, const uint8_t *data, size_t len) {
    if (call->finished)
        return;
    int rv = fg_grpc_reader_feed(&call->reader, data, len);
    if (rv == FG_ERR_TOO_BIG)
        fs_call_finish(call, FG_STATUS_RESOURCE_EXHAUSTED, "request message larger than the limit");
    else if (rv == FG_ERR_COMPRESSED)
        fs_call_finish(call, FG_STATUS_UNIMPLEMENTED, "compressed messages are not supported");
    else if (rv < 0)
        fs_call_finish(call, FG_STATUS_INVALID_ARGUMENT, "more than one request message");
}

/* grpc-message and the load report, when the call has them: up to 2 entries into nv. */
static size_t add_optional_trailers(fs_call *call, nghttp2_nv *nv) {
    size_t n = 0;
    if (call->message)
        nv[n++] = (nghttp2_nv)MAKE_NV("grpc-message", call->message, strlen(call->message));
    if (call->has_load)
        nv[n++] = (nghttp2_nv)MAKE_NV(FG_ORCA_HEADER, call->load, (size_t)call->load_len);
    return n;
}

static ssize_t on_data_source_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
                                   size_t length, uint32_t *data_flags, nghttp2_data_source *source,
                                   void *user_data) {
    fs_call *call = source->ptr;
    size_t left = call->body.len - call->body_off;
    if (left == 0 && !call->trailers_pending)
        return NGHTTP2_ERR_DEFERRED; /* a streaming call waiting for its next message */
    size_t n = left < length ? left : length;
    *data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (n == left && call->trailers_pending) {
        char status[4];
        int slen = snprintf(status, sizeof(status), "%d", call->status);
        nghttp2_nv trailers[3] = {MAKE_NV("grpc-status", status, (size_t)slen)};
        size_t n_trailers = 1 + add_optional_trailers(call, trailers + 1);
        *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        call->trailers_pending = false;
        if (nghttp2_submit_trailer(session, stream_id, trailers, n_trailers) != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets just this stream */
    }
    return (ssize_t)n;
}

int fs_call_write_data(fs_call *call, const uint8_t *framehd, size_t length, fg_buf *out) {
    if (fg_buf_reserve(out, 9 + length) < 0)
        return FG_ERR_TOO_BIG;
    fg_buf_append(out, framehd, 9);
    fg_buf_append(out, call->body.data + call->body_off, length);
    call->body_off += length;
    if (call->body_off == call->body.len) {
        fg_buf_reset(&call->body); /* drained: a streaming call reuses the storage */
        call->body_off = 0;
    }
    return 0;
}

static void send_headers(fs_call *call) {
    static const char ct[] = FG_GRPC_CONTENT_TYPE;
    nghttp2_nv hdrs[2] = {
        MAKE_NV(":status", "200", 3),
        MAKE_NV("content-type", ct, sizeof(ct) - 1),
    };
    nghttp2_data_provider prd = {.source.ptr = call, .read_callback = on_data_source_read};
    call->headers_sent = true;
    if (nghttp2_submit_response(fs_conn_session(call->conn), call->stream_id, hdrs, 2, &prd) != 0)
        call->finished = true; /* the stream is already gone */
}

static void resume(fs_call *call) {
    nghttp2_session_resume_data(fs_conn_session(call->conn), call->stream_id);
    fs_conn_mark_dirty(call->conn);
}

int fs_call_send_message(fs_call *call, const ProtobufCMessage *msg) {
    if (call->finished)
        return FG_ERR_CLOSED;
    size_t size = protobuf_c_message_get_packed_size(msg);
    if (size > UINT32_MAX || fg_buf_reserve(&call->body, FG_GRPC_PREFIX_LEN + size) < 0) {
        fs_call_finish(call, FG_STATUS_INTERNAL, "response too large");
        return FG_ERR_TOO_BIG;
    }
    uint8_t *p = call->body.data + call->body.len;
    fg_grpc_prefix_write(p, (uint32_t)size);
    protobuf_c_message_pack(msg, p + FG_GRPC_PREFIX_LEN);
    call->body.len += FG_GRPC_PREFIX_LEN + size;
    if (!call->headers_sent)
        send_headers(call);
    else
        resume(call);
    fs_conn_mark_dirty(call->conn);
    return 0;
}

char *fs_call_encode_message(const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strnlen(s, FS_CALL_MESSAGE_MAX);
    char *out = fg_malloc(n * 3 + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c <= 0x7e && c != '%') {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

static void send_trailers_only(fs_call *call) {
    static const char ct[] = FG_GRPC_CONTENT_TYPE;
    char status[4];
    int slen = snprintf(status, sizeof(status), "%d", call->status);
    nghttp2_nv hdrs[5] = {
        MAKE_NV(":status", "200", 3),
        MAKE_NV("content-type", ct, sizeof(ct) - 1),
        MAKE_NV("grpc-status", status, (size_t)slen),
    };
    size_t n_hdrs = 3 + add_optional_trailers(call, hdrs + 3);
    call->headers_sent = true;
    nghttp2_submit_response(fs_conn_session(call->conn), call->stream_id, hdrs, n_hdrs, NULL);
    fs_conn_mark_dirty(call->conn);
}

void fs_call_finish(fs_call *call, int status, const char *message) {
    if (call->finished)
        return;
    call->finished = true;
    call->status = status;
    call->message = message && *message ? fs_call_encode_message(message) : NULL;
    fs_conn_count_status(call->conn, status);
    if (!call->headers_sent) {
        send_trailers_only(call);
        return;
    }
    call->trailers_pending = true;
    resume(call);
}

void fs_call_set_load(fs_call *call, const fg_orca_report *load) {
    int n = fg_orca_encode_header(load, call->load);
    call->has_load = n >= 0; /* a negative figure (never computed) is simply not reported */
    call->load_len = n >= 0 ? n : 0;
}

void fs_call_reject_http(fs_call *call, int http_status) {
    if (call->finished)
        return;
    char code[4];
    int len = snprintf(code, sizeof(code), "%d", http_status);
    nghttp2_nv hdrs[1] = {MAKE_NV(":status", code, (size_t)len)};
    call->finished = true;
    call->headers_sent = true;
    nghttp2_submit_response(fs_conn_session(call->conn), call->stream_id, hdrs, 1, NULL);
    fs_conn_mark_dirty(call->conn);
}
