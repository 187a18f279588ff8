/* fc_ws: WebSocket client connection: libuv TCP + fc_wshs handshake + wslay event API. */
#include "fc_ws.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <wslay/wslay.h>

#include "fc_wshs.h"
#include "fg_alloc.h"
#include "fg_buf.h"
#include "fg_err.h"
#include "fg_wsin.h"

/* One read buffer per thread: every byte read is consumed before on_read returns. */
#define READ_BUF_SIZE (64 * 1024)
#define OUT_MAX (64u * 1024 * 1024)

/*
 * Buffers for messages being received come from a per-thread spare list and go back once the
 * message is delivered: only connections in the middle of a message hold one, so ten thousand
 * idle connections do not each keep a frame-sized buffer, and a warm loop does not allocate.
 */
#define SPARE_MAX 64

typedef struct msg_buf {
    fg_buf b;
    struct msg_buf *next;
} msg_buf;

static _Thread_local msg_buf *spare_bufs;
static _Thread_local size_t spare_count;

static msg_buf *take_msg_buf(size_t max) {
    msg_buf *m = spare_bufs;
    if (m) {
        spare_bufs = m->next;
        spare_count--;
    } else {
        m = fg_calloc(1, sizeof(*m));
        fg_buf_init(&m->b, max);
    }
    m->b.max = max;
    return m;
}

static void give_msg_buf(msg_buf *m) {
    if (!m)
        return;
    fg_buf_reset(&m->b);
    if (spare_count < SPARE_MAX) {
        m->next = spare_bufs;
        spare_bufs = m;
        spare_count++;
        return;
    }
    fg_buf_free(&m->b);
    free(m);
}

typedef enum ws_state { WS_CONNECTING, WS_HANDSHAKE, WS_OPEN, WS_ENDED } ws_state;

struct fc_ws {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    fc_ws_callbacks cb;
    void *user;
    ws_state state;
    fc_wshs_resp *hs; /* during the handshake only */
    wslay_event_context_ptr ctx;
    fg_buf out_pending; /* filled by wslay's send_callback */
    fg_buf out_writing; /* owned by the uv_write in flight */
    fg_tls *tls;        /* wss; NULL: ws */
    fg_buf tls_out;     /* wss: the session's output, moved to out_writing to be written */
    bool writing;
    bool in_read;    /* inside on_read: the flush waits until the batch is complete */
    bool freed;      /* the user let go: no more callbacks */
    bool tcp_closed; /* libuv's close callback ran */
    fg_wsin in;      /* the current read, pulled by wslay */
    fg_buf joined;   /* head + body of the message being sent */
    msg_buf *msg;    /* the data message being received; NULL between messages */
    size_t max_message;
    bool msg_binary;
    bool frame_is_control;
    bool frame_fin;
    uint64_t rng;
    char protocol[FC_WSHS_VALUE_MAX];
    int local_err; /* why we started closing, reported when the close completes */
    char error[200];
};

static _Thread_local uint8_t read_buf[READ_BUF_SIZE];
static _Thread_local uint8_t plain_buf[READ_BUF_SIZE]; /* wss: decrypted, consumed likewise */

static uint64_t next_random(fc_ws *ws) {
    /* xorshift64*: mask keys only need to vary, the peer is our own test target. */
    ws->rng ^= ws->rng >> 12;
    ws->rng ^= ws->rng << 25;
    ws->rng ^= ws->rng >> 27;
    return ws->rng * UINT64_C(2685821657736338717);
}

static void release(fc_ws *ws) {
    if (ws->ctx)
        wslay_event_context_free(ws->ctx);
    free(ws->hs);
    fg_buf_free(&ws->out_pending);
    fg_buf_free(&ws->out_writing);
    give_msg_buf(ws->msg);
    fg_buf_free(&ws->joined);
    fg_tls_free(ws->tls);
    fg_buf_free(&ws->tls_out);
    free(ws);
}

static void on_tcp_close(uv_handle_t *handle) {
    fc_ws *ws = handle->data;
    ws->tcp_closed = true;
    if (ws->freed)
        release(ws);
}

/* Ends the connection once: closes the socket and tells the user. */
static void end_connection(fc_ws *ws, int err, uint16_t code) {
    if (ws->state == WS_ENDED)
        return;
    ws->state = WS_ENDED;
    if (!uv_is_closing((uv_handle_t *)&ws->tcp))
        uv_close((uv_handle_t *)&ws->tcp, on_tcp_close);
    if (!ws->freed && ws->cb.on_close)
        ws->cb.on_close(ws, err, code, ws->user);
}

static void fail(fc_ws *ws, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fail(fc_ws *ws, int err, const char *fmt, ...) {
    if (ws->state == WS_ENDED)
        return;
    if (ws->error[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ws->error, sizeof(ws->error), fmt, ap);
        va_end(ap);
    }
    end_connection(ws, err, 0);
}

static void on_write_done(uv_write_t *req, int status);

/* wss: out_pending is encrypted (once the TLS handshake is done) into tls_out, after any
 * handshake bytes, and that becomes out_writing. false: nothing to write. */
static bool encrypt_pending(fc_ws *ws) {
    if (fg_tls_handshake_done(ws->tls) && ws->out_pending.len > 0) {
        if (fg_tls_write(ws->tls, ws->out_pending.data, ws->out_pending.len) < 0) {
            fail(ws, FG_ERR_PROTO, "TLS: %s", fg_tls_reason(ws->tls));
            return false;
        }
        fg_buf_reset(&ws->out_pending);
    }
    fg_buf tmp = ws->out_writing; /* empty: no write in flight */
    ws->out_writing = ws->tls_out;
    ws->tls_out = tmp;
    return ws->out_writing.len > 0;
}

static void flush(fc_ws *ws) {
    if (ws->writing || ws->state == WS_ENDED)
        return;
    if (ws->tls) {
        if (!encrypt_pending(ws))
            return;
    } else {
        if (ws->out_pending.len == 0)
            return;
        fg_buf tmp = ws->out_writing;
        ws->out_writing = ws->out_pending;
        ws->out_pending = tmp;
    }
    uv_buf_t b = uv_buf_init((char *)ws->out_writing.data, (unsigned)ws->out_writing.len);
    int rc = uv_write(&ws->write_req, (uv_stream_t *)&ws->tcp, &b, 1, on_write_done);
    if (rc < 0) {
        fail(ws, rc, "write failed: %s", uv_strerror(rc));
        return;
    }
    ws->writing = true;
}

/* wslay closes by itself on an oversized message (1009) or a protocol error (1002): say so. */
static int close_error(fc_ws *ws) {
    if (ws->local_err || !wslay_event_get_close_sent(ws->ctx))
        return ws->local_err;
    uint16_t sent = wslay_event_get_status_code_sent(ws->ctx);
    if (sent == WSLAY_CODE_MESSAGE_TOO_BIG) {
        snprintf(ws->error, sizeof(ws->error), "a message from the server is over %zu bytes",
                 ws->max_message);
        ws->local_err = FG_ERR_TOO_BIG;
    } else if (sent == WSLAY_CODE_PROTOCOL_ERROR) {
        snprintf(ws->error, sizeof(ws->error), "the server broke the WebSocket protocol");
        ws->local_err = FG_ERR_PROTO;
    }
    return ws->local_err;
}

/* After the close handshake both directions are done: end cleanly. */
static void maybe_finish(fc_ws *ws) {
    if (ws->state != WS_OPEN || ws->writing || ws->out_pending.len)
        return;
    if (wslay_event_want_read(ws->ctx) || wslay_event_want_write(ws->ctx))
        return;
    uint16_t code = 0;
    if (wslay_event_get_close_received(ws->ctx))
        code = wslay_event_get_status_code_received(ws->ctx);
    if (code == WSLAY_CODE_NO_STATUS_RCVD)
        code = 0;
    end_connection(ws, close_error(ws), code);
}

/* Lets wslay frame what is queued, then writes it unless a read batch is still going on. */
static void pump_send(fc_ws *ws) {
    if (ws->state != WS_OPEN)
        return;
    int rc = wslay_event_send(ws->ctx);
    if (rc != 0) {
        fail(ws, FG_ERR_PROTO, "WebSocket send failed");
        return;
    }
    if (!ws->in_read)
        flush(ws);
    maybe_finish(ws);
}

static void on_write_done(uv_write_t *req, int status) {
    fc_ws *ws = req->data;
    ws->writing = false;
    fg_buf_reset(&ws->out_writing);
    if (status < 0) {
        fail(ws, status, "write failed: %s", uv_strerror(status));
        return;
    }
    if (ws->state == WS_OPEN) {
        pump_send(ws); /* wslay may have held messages back while out_pending was full */
    } else {
        flush(ws); /* the handshake request */
    }
}

static ssize_t recv_callback(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                             void *user_data) {
    fc_ws *ws = user_data;
    return fg_wsin_recv(&ws->in, ctx, buf, len);
}

static ssize_t send_callback(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                             int flags, void *user_data) {
    fc_ws *ws = user_data;
    if (fg_buf_append(&ws->out_pending, data, len) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    return (ssize_t)len;
}

static int genmask_callback(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
                            void *user_data) {
    fc_ws *ws = user_data;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t r = next_random(ws);
        memcpy(buf + i, &r, len - i < 8 ? len - i : 8);
    }
    return 0;
}

static void on_frame_recv_start_callback(wslay_event_context_ptr ctx,
                                         const struct wslay_event_on_frame_recv_start_arg *arg,
                                         void *user_data) {
    fc_ws *ws = user_data;
    ws->frame_is_control = (arg->opcode & 0x8) != 0;
    ws->frame_fin = arg->fin != 0;
    if (ws->frame_is_control || arg->opcode == WSLAY_CONTINUATION_FRAME)
        return;
    if (!ws->msg)
        ws->msg = take_msg_buf(ws->max_message);
    fg_buf_reset(&ws->msg->b);
    ws->msg_binary = arg->opcode == WSLAY_BINARY_FRAME;
}

static void on_frame_recv_chunk_callback(wslay_event_context_ptr ctx,
                                         const struct wslay_event_on_frame_recv_chunk_arg *arg,
                                         void *user_data) {
    fc_ws *ws = user_data;
    if (ws->frame_is_control || ws->state != WS_OPEN || !ws->msg)
        return;
    if (fg_buf_append(&ws->msg->b, arg->data, arg->data_length) != 0) {
        snprintf(ws->error, sizeof(ws->error), "a message from the server is over %zu bytes",
                 ws->max_message);
        ws->local_err = FG_ERR_TOO_BIG;
        wslay_event_queue_close(ctx, WSLAY_CODE_MESSAGE_TOO_BIG, NULL, 0);
        wslay_event_shutdown_read(ctx);
        give_msg_buf(ws->msg);
        ws->msg = NULL;
    }
}

static void on_frame_recv_end_callback(wslay_event_context_ptr ctx, void *user_data) {
    fc_ws *ws = user_data;
    if (ws->frame_is_control || !ws->frame_fin || ws->freed || ws->state != WS_OPEN || !ws->msg)
        return;
    /* Detached first: the callback may free the connection or start the next message. */
    msg_buf *m = ws->msg;
    ws->msg = NULL;
    if (ws->cb.on_message)
        ws->cb.on_message(ws, ws->msg_binary, m->b.data, m->b.len, ws->user);
    give_msg_buf(m);
}

static void feed_wslay(fc_ws *ws, const uint8_t *data, size_t len) {
    ws->in = (fg_wsin){data, len};
    ws->in_read = true;
    int rc = wslay_event_recv(ws->ctx);
    ws->in_read = false;
    ws->in = (fg_wsin){NULL, 0};
    if (rc != 0) {
        fail(ws, FG_ERR_PROTO, "the server broke the WebSocket protocol");
        return;
    }
    pump_send(ws);
}

static void on_handshake_bytes(fc_ws *ws, const uint8_t *data, size_t len) {
    int rc = fc_wshs_resp_feed(ws->hs, data, len);
    if (rc == FG_ERR_AGAIN)
        return;
    if (rc < 0) {
        fail(ws, rc, "%s", ws->hs->error);
        return;
    }
    snprintf(ws->protocol, sizeof(ws->protocol), "%s", ws->hs->protocol);
    free(ws->hs);
    ws->hs = NULL;
    ws->state = WS_OPEN;
    if (ws->cb.on_open)
        ws->cb.on_open(ws, ws->user);
    if (ws->state == WS_OPEN && (size_t)rc < len)
        feed_wslay(ws, data + rc, len - (size_t)rc);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    *buf = uv_buf_init((char *)read_buf, sizeof(read_buf));
}

/* Plaintext from the server: the opening handshake's answer, then WebSocket frames. */
static void deliver(fc_ws *ws, const uint8_t *data, size_t len) {
    if (ws->state == WS_HANDSHAKE)
        on_handshake_bytes(ws, data, len);
    else
        feed_wslay(ws, data, len);
}

static void read_tls(fc_ws *ws, const uint8_t *data, size_t len) {
    if (fg_tls_feed(ws->tls, data, len) < 0) {
        fail(ws, FG_ERR_TOO_BIG, "TLS: input not consumed");
        return;
    }
    while (ws->state == WS_HANDSHAKE || ws->state == WS_OPEN) {
        ssize_t n = fg_tls_read(ws->tls, plain_buf, sizeof plain_buf);
        if (n > 0) {
            deliver(ws, plain_buf, (size_t)n);
            continue;
        }
        if (n == FG_ERR_CLOSED)
            fail(ws, UV_EOF, "the server closed the TLS session");
        else if (n < 0)
            fail(ws, FG_ERR_PROTO, "TLS %s: %s", fg_tls_failure_name(fg_tls_failed(ws->tls)),
                 fg_tls_reason(ws->tls));
        return;
    }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    fc_ws *ws = stream->data;
    if (nread == 0 || ws->state == WS_ENDED)
        return;
    if (nread < 0) {
        if (nread == UV_EOF && ws->state == WS_OPEN && wslay_event_get_close_received(ws->ctx)) {
            end_connection(ws, close_error(ws), wslay_event_get_status_code_received(ws->ctx));
            return;
        }
        if (nread == UV_EOF)
            fail(ws, UV_EOF, "%s",
                 ws->state == WS_HANDSHAKE ? "the server closed the connection during the handshake"
                                           : "the server closed the connection");
        else
            fail(ws, (int)nread, "read failed: %s", uv_strerror((int)nread));
        return;
    }
    if (ws->tls)
        read_tls(ws, (const uint8_t *)buf->base, (size_t)nread);
    else
        deliver(ws, (const uint8_t *)buf->base, (size_t)nread);
    if (ws->state == WS_OPEN || ws->state == WS_HANDSHAKE)
        flush(ws);
    if (ws->state == WS_OPEN)
        maybe_finish(ws);
}

static void on_connect(uv_connect_t *req, int status) {
    fc_ws *ws = req->data;
    if (ws->state == WS_ENDED)
        return;
    if (status < 0) {
        fail(ws, status, "cannot connect: %s", uv_strerror(status));
        return;
    }
    ws->state = WS_HANDSHAKE;
    int rc = uv_read_start((uv_stream_t *)&ws->tcp, on_alloc, on_read);
    if (rc < 0) {
        fail(ws, rc, "read failed: %s", uv_strerror(rc));
        return;
    }
    if (ws->tls)
        fg_tls_read(ws->tls, NULL, 0); /* the ClientHello; the opening handshake waits */
    flush(ws);
}

static const struct wslay_event_callbacks wslay_callbacks = {
    .recv_callback = recv_callback,
    .send_callback = send_callback,
    .genmask_callback = genmask_callback,
    .on_frame_recv_start_callback = on_frame_recv_start_callback,
    .on_frame_recv_chunk_callback = on_frame_recv_chunk_callback,
    .on_frame_recv_end_callback = on_frame_recv_end_callback,
};

int fc_ws_connect(uv_loop_t *loop, const fc_url *url, const struct sockaddr *addr,
                  const fc_ws_options *opts, const fc_ws_callbacks *cb, void *user, fc_ws **out) {
    static _Thread_local uint64_t seed_counter;
    fc_ws *ws = fg_calloc(1, sizeof(*ws));
    ws->cb = *cb;
    ws->user = user;
    ws->state = WS_CONNECTING;
    ws->rng = (uv_hrtime() ^ ((uint64_t)getpid() << 32)) +
              (++seed_counter * UINT64_C(0x9E3779B97F4A7C15));
    if (ws->rng == 0)
        ws->rng = 1;
    fg_buf_init(&ws->out_pending, OUT_MAX);
    fg_buf_init(&ws->out_writing, OUT_MAX);
    fg_buf_init(&ws->tls_out, OUT_MAX);
    ws->max_message = opts->max_message;
    if (opts->tls)
        ws->tls = fg_tls_new(opts->tls, url->host, &ws->tls_out);
    fg_buf_init(&ws->joined, OUT_MAX);

    uint8_t nonce[16];
    for (size_t i = 0; i < sizeof(nonce); i += 8) {
        uint64_t r = next_random(ws);
        memcpy(nonce + i, &r, 8);
    }
    char key[FC_WSHS_KEY_LEN + 1];
    fc_wshs_make_key(nonce, key);
    ws->hs = fg_malloc(sizeof(*ws->hs));
    fc_wshs_resp_init(ws->hs, key, opts->subprotocol);
    int rc = fc_wshs_build_request(&ws->out_pending, url, key, opts->subprotocol);
    if (rc < 0)
        goto fail_alloc;
    if (wslay_event_context_client_init(&ws->ctx, &wslay_callbacks, ws) != 0)
        goto fail_alloc;
    wslay_event_config_set_no_buffering(ws->ctx, 1);
    wslay_event_config_set_max_recv_msg_length(ws->ctx, opts->max_message);

    rc = uv_tcp_init(loop, &ws->tcp);
    if (rc < 0)
        goto fail_alloc;
    ws->tcp.data = ws;
    ws->connect_req.data = ws;
    ws->write_req.data = ws;
    uv_tcp_nodelay(&ws->tcp, 1);
    rc = uv_tcp_connect(&ws->connect_req, &ws->tcp, addr, on_connect);
    if (rc < 0) {
        /* The handle exists now: it must be closed before the memory goes. */
        ws->freed = true;
        ws->state = WS_ENDED;
        uv_close((uv_handle_t *)&ws->tcp, on_tcp_close);
        return rc;
    }
    *out = ws;
    return 0;

fail_alloc:
    release(ws);
    return rc < 0 ? rc : FG_ERR_INVALID;
}

static int queue_and_send(fc_ws *ws, struct wslay_event_msg *msg) {
    if (ws->state != WS_OPEN || ws->freed)
        return FG_ERR_CLOSED;
    if (wslay_event_queue_msg(ws->ctx, msg) != 0)
        return FG_ERR_CLOSED; /* close already sent or queued */
    pump_send(ws);
    return 0;
}

int fc_ws_send(fc_ws *ws, const void *head, size_t head_len, const void *body, size_t body_len) {
    if (body_len == 0) {
        struct wslay_event_msg msg = {WSLAY_BINARY_FRAME, head, head_len};
        return queue_and_send(ws, &msg);
    }
    /* wslay wants one buffer: join the parts in a per-connection buffer that stays warm. */
    fg_buf_reset(&ws->joined);
    if (fg_buf_append(&ws->joined, head, head_len) != 0 ||
        fg_buf_append(&ws->joined, body, body_len) != 0)
        return FG_ERR_TOO_BIG;
    struct wslay_event_msg msg = {WSLAY_BINARY_FRAME, ws->joined.data, ws->joined.len};
    return queue_and_send(ws, &msg);
}

int fc_ws_send_opcode(fc_ws *ws, uint8_t opcode, const void *data, size_t len) {
    struct wslay_event_msg msg = {opcode, data, len};
    return queue_and_send(ws, &msg);
}

int fc_ws_close(fc_ws *ws, uint16_t code) {
    if (ws->state != WS_OPEN || ws->freed)
        return FG_ERR_CLOSED;
    if (wslay_event_queue_close(ws->ctx, code, NULL, 0) != 0)
        return FG_ERR_CLOSED;
    pump_send(ws);
    return 0;
}

void fc_ws_free(fc_ws *ws) {
    if (!ws || ws->freed)
        return;
    ws->freed = true;
    if (ws->state != WS_ENDED) {
        ws->state = WS_ENDED;
        uv_close((uv_handle_t *)&ws->tcp, on_tcp_close);
        return;
    }
    if (ws->tcp_closed)
        release(ws);
}

const char *fc_ws_error(const fc_ws *ws) {
    return ws->error;
}

const char *fc_ws_protocol(const fc_ws *ws) {
    return ws->protocol;
}
