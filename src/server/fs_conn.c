#include "fs_conn.h"

#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_buf.h"
#include "fg_err.h"
#include "fg_log.h"
#include "fg_tls.h"
#include "fs_call.h"
#include "fs_rpc.h"
#include "fs_server.h"

#define READ_BUF_SIZE (32 * 1024)
/* nghttp2 stops serialising once this much output waits for the socket. */
#define OUT_HIGH_WATER (256 * 1024)
#define OUT_MAX (64u << 20)
#define STREAM_WINDOW (1 << 20)
#define CONN_WINDOW (16 << 20)

struct fs_conn {
    fs_server *srv;
    fs_conn *prev, *next;
    uv_tcp_t tcp;
    nghttp2_session *session;
    fs_call *calls;
    fg_buf out[2]; /* out[filling] takes new frames; the other one may be in uv_write */
    int filling;
    bool writing;
    bool dirty;
    bool closing;
    bool in_recv; /* inside nghttp2_session_mem_recv(): no flushing, no closing */
    uv_write_t write_req;
    fg_tls *tls;  /* --tls-cert: the connection's TLS session (writes into out[filling]) */
    fg_buf h2out; /* TLS: nghttp2's plaintext, encrypted by fs_conn_flush */
    char read_buf[READ_BUF_SIZE];
    uint8_t plain[READ_BUF_SIZE]; /* TLS: decrypted */
};

nghttp2_session *fs_conn_session(fs_conn *c) {
    return c->session;
}

fs_server *fs_conn_server(fs_conn *c) {
    return c->srv;
}

fs_conn *fs_conn_next(fs_conn *c) {
    return c->next;
}

void fs_conn_count_status(fs_conn *c, int status) {
    if (status >= 0 && status <= FG_STATUS_MAX)
        c->srv->calls[status]++;
}

void fs_conn_mark_dirty(fs_conn *c) {
    c->dirty = true;
}

/* ---- nghttp2 callbacks ---- */

/* Where nghttp2's frames go: the buffer being filled, or with TLS the plaintext that
 * fs_conn_flush encrypts into it. */
static fg_buf *nghttp2_out(fs_conn *c) {
    return c->tls ? &c->h2out : &c->out[c->filling];
}

static ssize_t send_callback(nghttp2_session *session, const uint8_t *data, size_t length,
                             int flags, void *user_data) {
    fs_conn *c = user_data;
    fg_buf *out = nghttp2_out(c);
    if (out->len >= OUT_HIGH_WATER)
        return NGHTTP2_ERR_WOULDBLOCK;
    if (fg_buf_append(out, data, length) < 0)
        return NGHTTP2_ERR_WOULDBLOCK;
    return (ssize_t)length;
}

static int send_data_callback(nghttp2_session *session, nghttp2_frame *frame,
                              const uint8_t *framehd, size_t length, nghttp2_data_source *source,
                              void *user_data) {
    fs_conn *c = user_data;
    fg_buf *out = nghttp2_out(c);
    if (out->len >= OUT_HIGH_WATER)
        return NGHTTP2_ERR_WOULDBLOCK;
    if (fs_call_write_data(source->ptr, framehd, length, out) < 0)
        return NGHTTP2_ERR_WOULDBLOCK;
    return 0;
}

static fs_call *stream_call(nghttp2_session *session, int32_t stream_id) {
    return nghttp2_session_get_stream_user_data(session, stream_id);
}

static int on_begin_headers_callback(nghttp2_session *session, const nghttp2_frame *frame,
                                     void *user_data) {
    fs_conn *c = user_data;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    fs_call *call = fs_call_new(c, frame->hd.stream_id, (uint32_t)c->srv->cfg->max_recv_bytes);
    if (nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, call) != 0) {
        fs_call_free(call); /* no such stream (already refused): nothing will close it */
        return 0;
    }
    call->next = c->calls;
    if (c->calls)
        c->calls->prev = call;
    c->calls = call;
    return 0;
}

static int on_header_callback(nghttp2_session *session, const nghttp2_frame *frame,
                              const uint8_t *name, size_t namelen, const uint8_t *value,
                              size_t valuelen, uint8_t flags, void *user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    fs_call *call = stream_call(session, frame->hd.stream_id);
    if (call)
        fs_call_on_header(call, name, namelen, value, valuelen);
    return 0;
}

static int on_data_chunk_recv_callback(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                                       const uint8_t *data, size_t len, void *user_data) {
    fs_call *call = stream_call(session, stream_id);
    if (call)
        fs_call_on_data(call, data, len);
    return 0;
}

static int on_frame_recv_callback(nghttp2_session *session, const nghttp2_frame *frame,
                                  void *user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    fs_call *call = stream_call(session, frame->hd.stream_id);
    if (!call)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
        fs_rpc_on_headers(call);
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        call->request_ended = true;
        fs_rpc_on_request(call);
    }
    return 0;
}

static int on_frame_send_callback(nghttp2_session *session, const nghttp2_frame *frame,
                                  void *user_data) {
    /* A response that ended before the request did: tell the client to stop sending
     * (gRPC over HTTP/2: RST_STREAM with NO_ERROR). */
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        fs_call *call = stream_call(session, frame->hd.stream_id);
        if (call && !call->request_ended)
            nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                      NGHTTP2_NO_ERROR);
    }
    return 0;
}

static void unlink_call(fs_conn *c, fs_call *call) {
    if (call->prev)
        call->prev->next = call->next;
    else
        c->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
}

static int on_stream_close_callback(nghttp2_session *session, int32_t stream_id,
                                    uint32_t error_code, void *user_data) {
    fs_conn *c = user_data;
    fs_call *call = stream_call(session, stream_id);
    if (!call)
        return 0;
    nghttp2_session_set_stream_user_data(session, stream_id, NULL);
    fs_rpc_on_close(call);
    unlink_call(c, call);
    fs_call_free(call);
    return 0;
}

static nghttp2_session_callbacks *make_callbacks(void) {
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        abort(); /* only fails on out-of-memory: the project's policy is to abort */
    nghttp2_session_callbacks_set_send_callback(cbs, send_callback);
    nghttp2_session_callbacks_set_send_data_callback(cbs, send_data_callback);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers_callback);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header_callback);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk_recv_callback);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv_callback);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send_callback);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close_callback);
    return cbs;
}

/* ---- socket ---- */

static void on_close(uv_handle_t *handle) {
    fs_conn *c = handle->data;
    fg_buf_free(&c->out[0]);
    fg_buf_free(&c->out[1]);
    fg_buf_free(&c->h2out);
    fg_tls_free(c->tls);
    free(c);
}

void fs_conn_close(fs_conn *c) {
    if (c->closing)
        return;
    c->closing = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    while (c->calls) {
        fs_call *call = c->calls;
        c->calls = call->next;
        fs_rpc_on_close(call);
        fs_call_free(call);
    }
    nghttp2_session_del(c->session);
    c->session = NULL;
    fs_server *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->n_conns--;
    uv_close((uv_handle_t *)&c->tcp, on_close);
    fs_server_conn_gone(srv);
}

static void maybe_close(fs_conn *c) {
    if (!c->writing && !nghttp2_session_want_read(c->session) &&
        !nghttp2_session_want_write(c->session))
        fs_conn_close(c);
}

static void on_write_done(uv_write_t *req, int status) {
    fs_conn *c = req->data;
    c->writing = false;
    fg_buf_reset(&c->out[!c->filling]);
    if (c->closing)
        return;
    if (status < 0) {
        fs_conn_close(c);
        return;
    }
    fs_conn_flush(c);
}

/* TLS: nghttp2's plaintext is encrypted into out[filling], after any handshake bytes. */
static int encrypt_out(fs_conn *c) {
    if (c->h2out.len > 0 && fg_tls_write(c->tls, c->h2out.data, c->h2out.len) < 0)
        return FG_ERR_PROTO;
    fg_buf_reset(&c->h2out);
    return 0;
}

void fs_conn_flush(fs_conn *c) {
    if (c->closing || c->in_recv)
        return;
    c->dirty = false;
    if (c->writing)
        return; /* on_write_done flushes again */
    /* With TLS, HTTP/2 (our SETTINGS first) waits for the handshake. */
    bool h2 = !c->tls || fg_tls_handshake_done(c->tls);
    if (h2 && nghttp2_session_send(c->session) != 0) {
        fs_conn_close(c);
        return;
    }
    fg_buf *out = &c->out[c->filling];
    if (c->tls && encrypt_out(c) < 0) {
        fs_conn_close(c);
        return;
    }
    if (out->len > 0) {
        uv_buf_t buf = uv_buf_init((char *)out->data, (unsigned)out->len);
        int rv = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &buf, 1, on_write_done);
        if (rv < 0) {
            fs_conn_close(c);
            return;
        }
        c->writing = true;
        c->filling = !c->filling;
        if (c->tls)
            fg_tls_set_output(c->tls, &c->out[c->filling]); /* the other one is in flight */
    }
    if (h2)
        maybe_close(c);
}

void fs_conn_flush_if_dirty(fs_conn *c) {
    if (c->dirty)
        fs_conn_flush(c);
}

static void on_alloc(uv_handle_t *handle, size_t suggested_size, uv_buf_t *buf) {
    fs_conn *c = handle->data;
    *buf = uv_buf_init(c->read_buf, sizeof(c->read_buf));
}

/* HTTP/2 bytes into the session. false: the connection was closed. */
static bool h2_recv(fs_conn *c, const uint8_t *data, size_t len) {
    c->in_recv = true;
    ssize_t rv = nghttp2_session_mem_recv(c->session, data, len);
    c->in_recv = false;
    if (rv < 0) {
        fg_log_debug("connection dropped: %s", nghttp2_strerror((int)rv));
        fs_conn_close(c);
        return false;
    }
    return true;
}

/* A failed handshake (or record): one line with the reason, the alert sent if the socket
 * takes it at once, closed. */
static void tls_failed(fs_conn *c) {
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[64] = "?";
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        uv_ip_name((const struct sockaddr *)&ss, ip, sizeof ip);
    fg_log_warn("TLS client %s: %s (%s): closing", ip, fg_tls_reason(c->tls),
                fg_tls_failure_name(fg_tls_failed(c->tls)));
    fg_buf *out = &c->out[c->filling]; /* the alert is there */
    if (!c->writing) {
        uv_buf_t b = uv_buf_init((char *)out->data, (unsigned)out->len);
        if (out->len)
            uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    }
    fs_conn_close(c);
}

/* Ciphertext: the handshake advances, plaintext goes to the session. false: closed. */
static bool tls_recv(fs_conn *c, const uint8_t *data, size_t len) {
    if (fg_tls_feed(c->tls, data, len) < 0) {
        fs_conn_close(c);
        return false;
    }
    for (;;) {
        ssize_t n = fg_tls_read(c->tls, c->plain, sizeof c->plain);
        if (n > 0) {
            if (!h2_recv(c, c->plain, (size_t)n))
                return false;
            continue;
        }
        if (n == 0)
            return true;
        if (n == FG_ERR_CLOSED)
            fs_conn_close(c);
        else
            tls_failed(c);
        return false;
    }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    fs_conn *c = stream->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        fs_conn_close(c);
        return;
    }
    const uint8_t *data = (const uint8_t *)buf->base;
    if (!(c->tls ? tls_recv(c, data, (size_t)nread) : h2_recv(c, data, (size_t)nread)))
        return;
    fs_conn_flush(c);
}

void fs_conn_goaway(fs_conn *c) {
    if (c->closing)
        return;
    nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(c->session), NGHTTP2_NO_ERROR,
                          NULL, 0);
    fs_conn_mark_dirty(c);
}

static void start_session(fs_conn *c) {
    static nghttp2_session_callbacks *callbacks;
    if (!callbacks)
        callbacks = make_callbacks(); /* shared by every connection, kept for the process */
    if (nghttp2_session_server_new(&c->session, callbacks, c) != 0)
        abort(); /* out of memory */
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, FS_MAX_CONCURRENT_STREAMS},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
    };
    nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings, 2);
    nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW);
}

static void on_reject_close(uv_handle_t *handle) {
    free(handle->data);
}

int fs_conn_accept(fs_server *srv) {
    fs_conn *c = fg_calloc(1, sizeof(*c));
    c->srv = srv;
    fg_buf_init(&c->out[0], OUT_MAX);
    fg_buf_init(&c->out[1], OUT_MAX);
    fg_buf_init(&c->h2out, OUT_MAX);
    uv_tcp_init(srv->loop, &c->tcp);
    c->tcp.data = c;
    c->write_req.data = c;
    int rv = uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)&c->tcp);
    if (rv == 0)
        rv = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rv < 0) {
        c->tcp.data = c;
        uv_close((uv_handle_t *)&c->tcp, on_reject_close);
        return rv;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (srv->tls)
        c->tls = fg_tls_new(srv->tls, NULL, &c->out[c->filling]);
    start_session(c);
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->n_conns++;
    fs_conn_flush(c); /* our SETTINGS go out first */
    return 0;
}
