/*
 * fuzz_reply: the backend reply path. The fuzz input is what a gRPC server sends back on an
 * HTTP/2 connection after the proxy (an nghttp2 CLIENT session, configured as the proxy's
 * backend connection is) submitted one Render call on stream 1:
 *
 *   byte 0     chunking: 0 feeds the rest in one nghttp2_session_mem_recv(), n > 0 in n-byte
 *              pieces (partial frames), with the client's own output drained between pieces
 *   byte 1..   the server's bytes (its SETTINGS first, as a real server's would be)
 *
 * Response headers and trailers, the gRPC 5-byte framing (fg_grpc_reader, bounded) and the
 * RenderReply unpacking (protobuf-c) run exactly as the proxy uses them, and the call is given
 * exactly one gRPC status. An abort() here is a bug: a status outside what the proxy may send
 * a client, or a call answered twice.
 */
#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_err.h"
#include "fg_grpc.h"
#include "fg_status.h"
#include "framegate/v1/frames.pb-c.h"

/* Small so the fuzzer reaches the limit; the proxy's is 4 MiB. */
#define FUZZ_MAX_REPLY 1024
#define FUZZ_FRAME 42

typedef struct reply_call {
    int32_t stream_id;
    int http_status; /* 0 until :status arrived */
    int grpc_status; /* -1 until grpc-status arrived */
    bool bad_header; /* a grpc-status that is not a number */
    fg_grpc_reader reader;
    int reader_err; /* first fg_grpc_reader error, 0 if none */
    bool closed;
    uint32_t close_error;
    int answers; /* how many times a status was given: must end as exactly 1 */
} reply_call;

static int parse_grpc_status(const uint8_t *v, size_t len) {
    int code = 0;
    if (len == 0 || len > 3)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        code = code * 10 + (v[i] - '0');
    }
    return code;
}

static int parse_http_status(const uint8_t *v, size_t len) {
    int code = parse_grpc_status(v, len);
    return len == 3 ? code : -1;
}

static int on_header_callback(nghttp2_session *session, const nghttp2_frame *frame,
                              const uint8_t *name, size_t namelen, const uint8_t *value,
                              size_t valuelen, uint8_t flags, void *user_data) {
    reply_call *call = user_data;
    if (frame->hd.stream_id != call->stream_id)
        return 0;
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        call->http_status = parse_http_status(value, valuelen);
    } else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
        call->grpc_status = parse_grpc_status(value, valuelen);
        call->bad_header = call->grpc_status < 0;
    }
    return 0;
}

static int on_data_chunk_recv_callback(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                                       const uint8_t *data, size_t len, void *user_data) {
    reply_call *call = user_data;
    /* A non-200 reply's body is no gRPC message (gRPC maps the :status instead). */
    if (stream_id != call->stream_id || call->reader_err != 0 || call->http_status != 200)
        return 0;
    int rv = fg_grpc_reader_feed(&call->reader, data, len);
    if (rv < 0) {
        /* As the proxy: stop the stream, nothing more of it is wanted. */
        call->reader_err = rv;
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
    }
    return 0;
}

static int on_stream_close_callback(nghttp2_session *session, int32_t stream_id,
                                    uint32_t error_code, void *user_data) {
    reply_call *call = user_data;
    if (stream_id == call->stream_id) {
        call->closed = true;
        call->close_error = error_code;
    }
    return 0;
}

static ssize_t request_read_callback(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
                                     size_t length, uint32_t *data_flags,
                                     nghttp2_data_source *source, void *user_data) {
    /* 5-byte prefix + RenderRequest{model:"m", frame:42} */
    static const uint8_t body[] = {0, 0, 0, 0, 5, 0x0a, 0x01, 'm', 0x10, FUZZ_FRAME};
    size_t n = sizeof body < length ? sizeof body : length;
    memcpy(buf, body, n);
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* What the proxy would answer the client for this call; aborts on an impossible state. */
static int settle(reply_call *call) {
    call->answers++;
    if (call->reader_err == FG_ERR_TOO_BIG)
        return FG_STATUS_RESOURCE_EXHAUSTED;
    if (call->reader_err != 0)
        return FG_STATUS_INTERNAL;
    if (!call->closed)
        return FG_STATUS_UNAVAILABLE; /* the connection ended under the call */
    if (call->http_status != 200 && call->http_status != 0 && call->grpc_status < 0)
        return fg_status_from_http(call->http_status < 0 ? 0 : call->http_status);
    if (call->grpc_status < 0)
        return call->close_error != 0 ? fg_status_from_h2_error(call->close_error)
                                      : FG_STATUS_INTERNAL;
    if (call->grpc_status != FG_STATUS_OK)
        return call->grpc_status > FG_STATUS_MAX ? FG_STATUS_UNKNOWN : call->grpc_status;

    const uint8_t *msg;
    size_t len;
    if (fg_grpc_reader_finish(&call->reader, &msg, &len) < 0)
        return FG_STATUS_INTERNAL;
    Framegate__V1__RenderReply *reply = framegate__v1__render_reply__unpack(NULL, len, msg);
    if (reply == NULL)
        return FG_STATUS_INTERNAL;
    /* Touch what the reply codec copies out, so ASan sees any bad pointer. */
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < reply->image.len; i++)
        sink ^= reply->image.data[i];
    (void)sink;
    framegate__v1__render_reply__free_unpacked(reply, NULL);
    return FG_STATUS_OK;
}

static nghttp2_session *client_new(reply_call *call) {
    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header_callback);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk_recv_callback);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close_callback);

    /* The flood bounds a backend connection needs (issue 6 section 3). */
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    nghttp2_option_set_max_settings(opt, 32);
    nghttp2_option_set_max_reserved_remote_streams(opt, 0);

    nghttp2_session *session;
    if (nghttp2_session_client_new2(&session, cbs, call, opt) != 0)
        abort();
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    return session;
}

static void submit_call(nghttp2_session *session, reply_call *call) {
#define HDR(n, v)                                                                                  \
    { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE }
    const nghttp2_nv hdrs[] = {
        HDR(":method", "POST"),
        HDR(":scheme", "http"),
        HDR(":authority", "backend"),
        HDR(":path", "/framegate.v1.FrameService/Render"),
        HDR("content-type", "application/grpc"),
        HDR("te", "trailers"),
        HDR("grpc-timeout", "5S"),
    };
#undef HDR
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
    if (nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, iv, 1) != 0)
        abort();
    nghttp2_data_provider body = {.read_callback = request_read_callback};
    call->stream_id =
        nghttp2_submit_request(session, NULL, hdrs, sizeof hdrs / sizeof hdrs[0], &body, NULL);
    if (call->stream_id != 1)
        abort();
}

/* Drains what the client would write to the socket; false once the session is unusable. */
static bool drain_output(nghttp2_session *session) {
    const uint8_t *out;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(session, &out)) > 0)
        ;
    return n == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    size_t chunk = data[0] == 0 ? size : data[0];
    data++;
    size--;

    reply_call call = {.grpc_status = -1};
    fg_grpc_reader_init(&call.reader, FUZZ_MAX_REPLY);
    nghttp2_session *session = client_new(&call);
    submit_call(session, &call);
    if (!drain_output(session))
        abort();

    while (size > 0) {
        size_t n = size < chunk ? size : chunk;
        ssize_t rv = nghttp2_session_mem_recv(session, data, n);
        /* A negative rv is the connection failing (flood, protocol error): the proxy closes
         * it, and every call on it ends with the transport status below. */
        if (rv < 0 || !drain_output(session))
            break;
        data += n;
        size -= n;
    }

    int status = settle(&call);
    if (status < 0 || status > FG_STATUS_MAX || call.answers != 1)
        abort();
    if (getenv("FUZZ_VERBOSE")) /* to see what a seed or reproducer does */
        fprintf(stderr, "fuzz_reply: status %s (http %d, grpc-status %d, h2 error %u)\n",
                fg_status_name(status), call.http_status, call.grpc_status, call.close_error);
    nghttp2_session_del(session);
    fg_grpc_reader_free(&call.reader);
    return 0;
}
