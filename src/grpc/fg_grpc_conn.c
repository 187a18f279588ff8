/*
 * fg_grpc_conn: the connection half (see fg_grpc_conn.h): resolve, connect (each address in
 * turn), the nghttp2 session, reading, batched writing, GOAWAY, reconnect with backoff, close.
 * Shape after nghttp2's examples/libevent-client.c: one nghttp2_session per TCP connection,
 * output collected with nghttp2_session_mem_send() into one buffer and written with a single
 * uv_try_write() per send cycle (uv_write() for what the kernel did not take). The calls live in
 * fg_grpc_call.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_err.h"
#include "fg_grpc_conn_int.h"
#include "fg_status.h"

static void start_connect(fg_grpc_conn *c);
static void drop_connection(fg_grpc_conn *c, const char *reason, bool reconnect_now);
static void teardown(fg_grpc_conn *c);

static void set_state(fg_grpc_conn *c, fg_grpc_conn_state state, const char *reason) {
    if (c->state == state)
        return;
    c->state = state;
    if (c->opts.state_cb)
        c->opts.state_cb(c->opts.user, state, reason ? reason : "");
}

/* ---- writing ---- */

static void on_write_done(uv_write_t *req, int status);

/* Collects up to WRITE_BATCH_MAX bytes of nghttp2 output into wbuf. false: the session ended or
 * the connection was dropped or torn down meanwhile (c may be gone: teardown). */
static bool collect_output(fg_grpc_conn *c) {
    fg_buf_reset(&c->wbuf);
    while (c->wbuf.len < WRITE_BATCH_MAX) {
        const uint8_t *data;
        c->busy++;
        ssize_t n = nghttp2_session_mem_send(c->session, &data);
        c->busy--;
        if (c->closing) {
            if (!c->busy)
                teardown(c);
            return false;
        }
        if (n < 0) {
            drop_connection(c, nghttp2_strerror((int)n), false);
            return false;
        }
        if (n == 0)
            break;
        fg_buf_append(&c->wbuf, data, (size_t)n); /* cannot fail: WRITE_BUF_MAX has room */
    }
    return true;
}

/*
 * uv_try_write first: most batches fit the socket buffer, and a completed uv_write costs an
 * epoll_ctl (libuv re-arms the watcher). Only what the kernel did not take goes to uv_write,
 * straight from wbuf, which stays untouched until on_write_done.
 */
static void flush(fg_grpc_conn *c) {
    if (!c->link || c->writing || c->closing || (!c->session && !c->tls))
        return;
    for (;;) {
        if (c->session) {
            if (!collect_output(c))
                return;
        } else {
            fg_buf_reset(&c->wbuf); /* TLS handshake: only its own bytes go out */
        }
        fg_buf *wire = &c->wbuf;
        if (c->tls) {
            /* Encrypted into tls_wbuf (after any handshake bytes), written instead of wbuf. */
            if (c->wbuf.len && fg_tls_write(c->tls, c->wbuf.data, c->wbuf.len) < 0) {
                drop_connection(c, "TLS write failed", false);
                return;
            }
            wire = &c->tls_wbuf;
        }
        if (wire->len == 0) {
            if (c->session && !nghttp2_session_want_read(c->session) &&
                !nghttp2_session_want_write(c->session))
                drop_connection(c, c->goaway ? "GOAWAY" : "session ended", c->goaway_graceful);
            return;
        }
        uv_buf_t buf = uv_buf_init((char *)wire->data, (unsigned)wire->len);
        int n = uv_try_write((uv_stream_t *)&c->link->tcp, &buf, 1);
        if (n == UV_EAGAIN)
            n = 0;
        if (n < 0) {
            drop_connection(c, uv_strerror(n), false);
            return;
        }
        if ((size_t)n == wire->len) {
            fg_buf_reset(wire);
            if (!c->session)
                return; /* handshake bytes: the rest comes with the server's answer */
            continue;   /* all taken: more output may be waiting */
        }
        if (c->tls) {
            /* The session may append to tls_wbuf while this write is in flight. */
            fg_buf tmp = c->tls_inflight;
            c->tls_inflight = c->tls_wbuf;
            c->tls_wbuf = tmp;
            wire = &c->tls_inflight;
        }
        buf = uv_buf_init((char *)wire->data + n, (unsigned)(wire->len - (size_t)n));
        int rv = uv_write(&c->write_req, (uv_stream_t *)&c->link->tcp, &buf, 1, on_write_done);
        if (rv < 0) {
            drop_connection(c, uv_strerror(rv), false);
            return;
        }
        c->writing = true;
        return;
    }
}

static void on_write_done(uv_write_t *req, int status) {
    fg_grpc_conn *c = req->data;
    c->writing = false;
    fg_buf_reset(&c->tls_inflight);
    if (c->closing || status == UV_ECANCELED)
        return;
    if (status < 0) {
        drop_connection(c, uv_strerror(status), false);
        return;
    }
    flush(c);
}

static void on_flush_idle(uv_idle_t *idle) {
    fg_grpc_conn *c = idle->data;
    uv_idle_stop(idle);
    c->flush_scheduled = false;
    flush(c);
}

void fg_gconn_schedule_flush(fg_grpc_conn *c) {
    if (c->flush_scheduled || c->closing)
        return;
    c->flush_scheduled = true;
    uv_idle_start(&c->flush_idle, on_flush_idle);
}

static void set_ready(fg_grpc_conn *c) {
    uv_timer_stop(&c->conn_timer);
    c->tls_failure = FG_TLS_OK;
    c->backoff_attempt = 0;
    c->last_error[0] = '\0';
    set_state(c, FG_GRPC_CONN_READY, "");
    fg_gcall_pump_queue(c);
}

static int on_frame_recv_callback(nghttp2_session *session, const nghttp2_frame *frame,
                                  void *user_data) {
    fg_grpc_conn *c = user_data;
    switch (frame->hd.type) {
    case NGHTTP2_SETTINGS:
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
            if (c->state != FG_GRPC_CONN_READY)
                set_ready(c);
            else
                fg_gcall_pump_queue(c); /* MAX_CONCURRENT_STREAMS may have grown */
        }
        break;
    case NGHTTP2_GOAWAY:
        c->goaway = true;
        c->goaway_graceful = frame->goaway.error_code == NGHTTP2_NO_ERROR;
        snprintf(c->last_error, sizeof c->last_error, "GOAWAY %s",
                 nghttp2_http2_strerror(frame->goaway.error_code));
        break;
    default:
        break;
    }
    return 0;
}

/* ---- connecting ---- */

static void on_link_close(uv_handle_t *h) {
    tcp_link *link = h->data;
    fg_grpc_conn *c = link->conn;
    free(link);
    c->open_handles--;
    teardown(c);
}

static void close_link(fg_grpc_conn *c) {
    fg_tls_free(c->tls); /* one TLS session per TCP connection */
    c->tls = NULL;
    if (!c->link)
        return;
    uv_close((uv_handle_t *)&c->link->tcp, on_link_close);
    c->link = NULL;
}

static void free_addrs(fg_grpc_conn *c) {
    if (c->addrs)
        uv_freeaddrinfo(c->addrs);
    c->addrs = c->next_addr = NULL;
}

static void on_backoff_timer(uv_timer_t *t) {
    start_connect(t->data);
}

static uint64_t backoff_delay_ms(fg_grpc_conn *c) {
    uint64_t d = c->opts.backoff_min_ms;
    for (uint32_t i = 0; i < c->backoff_attempt && d < c->opts.backoff_max_ms; i++)
        d *= 2;
    if (d > c->opts.backoff_max_ms)
        d = c->opts.backoff_max_ms;
    c->backoff_attempt++;
    /* xorshift64 jitter of +-20% so a fleet of proxies does not reconnect in lockstep */
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    uint64_t span = d * 2 / 5;
    return d - d / 5 + (span ? c->rng % (span + 1) : 0);
}

/*
 * The connection is gone (or never came up). Calls on the wire fail with UNAVAILABLE; queued
 * calls wait for the reconnect when it happens at once (graceful GOAWAY), else fail too.
 */
static void drop_connection(fg_grpc_conn *c, const char *reason, bool reconnect_now) {
    char why[sizeof c->last_error];
    snprintf(why, sizeof why, "%s", reason);
    close_link(c);
    free_addrs(c);
    uv_timer_stop(&c->conn_timer);
    nghttp2_session *session = c->session;
    c->session = NULL;
    c->goaway = c->goaway_graceful = false;
    if (session)
        nghttp2_session_del(session); /* invokes no callbacks */
    snprintf(c->last_error, sizeof c->last_error, "%s", why);
    /* The new state first: callbacks below may start calls, which must see it. */
    set_state(c, reconnect_now ? FG_GRPC_CONN_CONNECTING : FG_GRPC_CONN_FAILED, why);
    while (c->active.head) {
        fg_grpc_call *call = c->active.head;
        fg_gcall_list_remove(&c->active, call);
        if (!c->closing)
            fg_gcall_finish(call, FG_STATUS_UNAVAILABLE, why, NULL, 0, false);
        fg_gcall_free(call);
    }
    if (c->closing)
        return;
    if (reconnect_now) {
        start_connect(c);
        return;
    }
    fg_gcall_fail_queue(c, why);
    if (!c->closing)
        uv_timer_start(&c->conn_timer, on_backoff_timer, backoff_delay_ms(c), 0);
}

static void on_connect_timeout(uv_timer_t *t) {
    fg_grpc_conn *c = t->data;
    drop_connection(c, c->link ? "connect timeout (no HTTP/2 SETTINGS)" : "connect timeout", false);
}

_Static_assert(FG_TLS_FEED_MAX >= FG_GRPC_READ_BUF_SIZE + (64u << 10),
               "fg_tls must take a whole read and what OpenSSL left of the one before");

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    tcp_link *link = h->data;
    *buf = uv_buf_init((char *)link->conn->rbuf, FG_GRPC_READ_BUF_SIZE);
}

/* Plaintext HTTP/2 from the server into the session. false: the connection is gone (dropped,
 * or closing). */
static bool h2_recv(fg_grpc_conn *c, const uint8_t *data, size_t len) {
    c->busy++;
    ssize_t rv = nghttp2_session_mem_recv(c->session, data, len);
    c->busy--;
    if (c->closing) {
        if (!c->busy)
            teardown(c);
        return false;
    }
    if (rv < 0) {
        drop_connection(c, nghttp2_strerror((int)rv), false);
        return false;
    }
    return true;
}

static int start_session(fg_grpc_conn *c);

/* Ciphertext from the server: the handshake advances (the session starts once it is done and
 * h2 was selected), plaintext goes to h2_recv. false: the connection is gone. */
static bool tls_recv(fg_grpc_conn *c, const uint8_t *data, size_t len) {
    if (fg_tls_feed(c->tls, data, len) < 0) {
        drop_connection(c, "TLS: input not consumed", false);
        return false;
    }
    for (;;) {
        ssize_t n = fg_tls_read(c->tls, c->tls_plain, TLS_PLAIN_SIZE);
        if (n >= 0 && !c->session && fg_tls_handshake_done(c->tls)) {
            int rv = start_session(c);
            if (rv < 0) {
                drop_connection(c, fg_strerror(rv), false);
                return false;
            }
        }
        if (n > 0) {
            if (!h2_recv(c, c->tls_plain, (size_t)n))
                return false;
            continue;
        }
        if (n == 0)
            return true;
        char why[sizeof c->last_error];
        if (n == FG_ERR_CLOSED) {
            snprintf(why, sizeof why, "connection closed (TLS close_notify)");
        } else {
            c->tls_failure = fg_tls_failed(c->tls);
            snprintf(why, sizeof why, "TLS %s: %s", fg_tls_failure_name(c->tls_failure),
                     fg_tls_reason(c->tls));
        }
        drop_connection(c, why, false);
        return false;
    }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    tcp_link *link = stream->data;
    fg_grpc_conn *c = link->conn;
    if (link != c->link || c->closing)
        return;
    if (nread < 0) {
        bool graceful = c->goaway && c->goaway_graceful && c->active.len == 0;
        drop_connection(c,
                        nread == UV_EOF ? (c->goaway ? c->last_error : "connection closed")
                                        : uv_strerror((int)nread),
                        graceful);
        return;
    }
    if (nread == 0)
        return;
    const uint8_t *data = (const uint8_t *)buf->base;
    if (!(c->tls ? tls_recv(c, data, (size_t)nread) : h2_recv(c, data, (size_t)nread)))
        return;
    if (c->goaway && c->active.len == 0 && c->goaway_graceful) {
        drop_connection(c, "GOAWAY", true);
        return;
    }
    /* Not now: the replies just read start new calls, and so may the client reads that come
     * in the same loop iteration; one write at its end carries them all. */
    fg_gconn_schedule_flush(c);
}

/* nghttp2's allocations (several per call) from the loop's slab, when there is one. */
static void *slab_malloc(size_t size, void *slab) {
    return fg_slab_alloc(slab, size);
}

static void slab_free(void *ptr, void *slab) {
    fg_slab_release(slab, ptr);
}

static void *slab_calloc(size_t nmemb, size_t size, void *slab) {
    return fg_slab_calloc(slab, nmemb, size);
}

static void *slab_realloc(void *ptr, size_t size, void *slab) {
    return fg_slab_realloc(slab, ptr, size);
}

static int start_session(fg_grpc_conn *c) {
    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv_callback);
    fg_gcall_set_callbacks(cbs);
    nghttp2_mem mem = {c->opts.slab, slab_malloc, slab_free, slab_calloc, slab_realloc};
    int rv = nghttp2_session_client_new3(&c->session, cbs, c, NULL, c->opts.slab ? &mem : NULL);
    nghttp2_session_callbacks_del(cbs);
    if (rv != 0)
        return FG_ERR_PROTO;
    uint32_t stream_window = c->opts.max_reply_bytes + FG_GRPC_PREFIX_LEN + 1024;
    if (stream_window > NGHTTP2_MAX_WINDOW_SIZE)
        stream_window = NGHTTP2_MAX_WINDOW_SIZE;
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, stream_window},
    };
    nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings, 2);
    nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW);
    return 0; /* the caller flushes the preface and SETTINGS */
}

static void try_next_addr(fg_grpc_conn *c);

static void on_connect(uv_connect_t *req, int status) {
    tcp_link *link = req->data;
    fg_grpc_conn *c = link->conn;
    if (link != c->link || c->closing)
        return; /* superseded or cancelled by uv_close */
    if (status < 0) {
        c->last_connect_err = status;
        close_link(c);
        try_next_addr(c);
        return;
    }
    free_addrs(c);
    int rv = uv_read_start((uv_stream_t *)&c->link->tcp, on_alloc, on_read);
    if (rv == 0 && c->opts.tls) {
        /* The session starts once the handshake is done (tls_recv). */
        fg_buf_reset(&c->tls_wbuf); /* nothing of an earlier connection */
        c->tls = fg_tls_new(c->opts.tls, c->host, &c->tls_wbuf);
        fg_tls_read(c->tls, NULL, 0); /* the ClientHello */
        flush(c);
        return;
    }
    if (rv == 0)
        rv = start_session(c);
    if (rv < 0) {
        drop_connection(c, fg_strerror(rv), false);
        return;
    }
    flush(c);
}

/* Tries the resolved addresses in order (e.g. ::1 then 127.0.0.1 for "localhost"). */
static void try_next_addr(fg_grpc_conn *c) {
    while (c->next_addr) {
        struct addrinfo *ai = c->next_addr;
        c->next_addr = ai->ai_next;
        tcp_link *link = fg_calloc(1, sizeof *link);
        link->conn = c;
        uv_tcp_init(c->loop, &link->tcp);
        link->tcp.data = link;
        link->connect_req.data = link;
        c->link = link;
        c->open_handles++;
        uv_tcp_nodelay(&link->tcp, 1);
        int rv = uv_tcp_connect(&link->connect_req, &link->tcp, ai->ai_addr, on_connect);
        if (rv == 0)
            return;
        c->last_connect_err = rv;
        close_link(c);
    }
    drop_connection(c, uv_strerror(c->last_connect_err ? c->last_connect_err : UV_EAI_NONAME),
                    false);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    fg_grpc_conn *c = req->data;
    c->resolving = false;
    c->open_handles--;
    if (c->closing) {
        if (res)
            uv_freeaddrinfo(res);
        teardown(c);
        return;
    }
    if (c->state != FG_GRPC_CONN_CONNECTING) {
        /* Gave up (connect timeout) while resolving; the backoff timer starts over. */
        if (res)
            uv_freeaddrinfo(res);
        return;
    }
    if (status < 0) {
        char why[128];
        snprintf(why, sizeof why, "resolve %s: %s", c->host, uv_strerror(status));
        drop_connection(c, why, false);
        return;
    }
    c->addrs = c->next_addr = res;
    c->last_connect_err = 0;
    try_next_addr(c);
}

static void start_connect(fg_grpc_conn *c) {
    c->tls_failure = FG_TLS_OK;
    set_state(c, FG_GRPC_CONN_CONNECTING, "");
    uv_timer_start(&c->conn_timer, on_connect_timeout, c->opts.connect_timeout_ms, 0);
    if (c->resolving)
        return; /* a slow resolution still running goes on to connect */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rv = uv_getaddrinfo(c->loop, &c->resolve_req, on_resolved, c->host, c->port_str, &hints);
    if (rv < 0) {
        drop_connection(c, uv_strerror(rv), false);
        return;
    }
    c->resolving = true;
    c->open_handles++;
}

/* ---- closing ---- */

static void on_handle_close(uv_handle_t *h) {
    fg_grpc_conn *c = h->data;
    c->open_handles--;
    teardown(c);
}

/* Called whenever closing may progress; frees the connection when nothing is left open. */
static void teardown(fg_grpc_conn *c) {
    if (!c->closing || c->busy)
        return;
    if (!c->torn_down) {
        c->torn_down = true;
        if (c->session)
            nghttp2_session_del(c->session);
        c->session = NULL;
        while (c->active.head) {
            fg_grpc_call *call = c->active.head;
            fg_gcall_list_remove(&c->active, call);
            fg_gcall_free(call);
        }
        close_link(c);
        free_addrs(c);
        if (c->resolving)
            uv_cancel((uv_req_t *)&c->resolve_req);
        uv_close((uv_handle_t *)&c->conn_timer, on_handle_close);
        uv_close((uv_handle_t *)&c->deadline_timer, on_handle_close);
        uv_close((uv_handle_t *)&c->flush_idle, on_handle_close);
        return;
    }
    if (c->open_handles > 0)
        return;
    void (*closed_cb)(void *) = c->closed_cb;
    void *arg = c->closed_arg;
    fg_gcall_free_list(c);
    fg_buf_free(&c->wbuf);
    fg_buf_free(&c->tls_wbuf);
    fg_buf_free(&c->tls_inflight);
    free(c->tls_plain);
    if (c->own_rbuf)
        free(c->rbuf);
    free(c->authority);
    free(c->host);
    free(c);
    if (closed_cb)
        closed_cb(arg);
}

void fg_grpc_conn_close(fg_grpc_conn *c, void (*closed_cb)(void *arg), void *arg) {
    if (c->closing)
        return;
    c->closing = true;
    c->closed_cb = closed_cb;
    c->closed_arg = arg;
    while (c->queue.head) {
        fg_grpc_call *call = c->queue.head;
        fg_gcall_list_remove(&c->queue, call);
        fg_gcall_free(call);
    }
    for (fg_grpc_call *call = c->active.head; call; call = call->next)
        call->done = true;
    teardown(c);
}

/* ---- public ---- */

int fg_grpc_conn_new(uv_loop_t *loop, const char *host, uint16_t port,
                     const fg_grpc_conn_opts *opts, fg_grpc_conn **out) {
    if (!host || !*host || port == 0)
        return FG_ERR_INVALID;
    fg_grpc_conn *c = fg_calloc(1, sizeof *c);
    c->loop = loop;
    c->host = fg_strdup(host);
    snprintf(c->port_str, sizeof c->port_str, "%u", (unsigned)port);
    size_t alen = strlen(host) + sizeof c->port_str + 1;
    c->authority = fg_malloc(alen);
    snprintf(c->authority, alen, "%s:%u", host, (unsigned)port);
    if (opts)
        c->opts = *opts;
    if (!c->opts.max_reply_bytes)
        c->opts.max_reply_bytes = FG_GRPC_MAX_REPLY_DEFAULT;
    if (!c->opts.max_queue)
        c->opts.max_queue = FG_GRPC_MAX_QUEUE_DEFAULT;
    if (!c->opts.backoff_min_ms)
        c->opts.backoff_min_ms = DEFAULT_BACKOFF_MIN_MS;
    if (!c->opts.backoff_max_ms)
        c->opts.backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
    if (c->opts.backoff_max_ms < c->opts.backoff_min_ms)
        c->opts.backoff_max_ms = c->opts.backoff_min_ms;
    if (!c->opts.connect_timeout_ms)
        c->opts.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    c->rng = uv_hrtime() ^ (uint64_t)(uintptr_t)c;
    if (!c->rng)
        c->rng = 0x9e3779b97f4a7c15ull;
    fg_buf_init(&c->wbuf, WRITE_BUF_MAX);
    fg_buf_init(&c->tls_wbuf, WRITE_BUF_MAX + TLS_OVERHEAD_MAX);
    fg_buf_init(&c->tls_inflight, WRITE_BUF_MAX + TLS_OVERHEAD_MAX);
    if (c->opts.tls)
        c->tls_plain = fg_malloc(TLS_PLAIN_SIZE);
    c->own_rbuf = !c->opts.read_buf;
    c->rbuf = c->own_rbuf ? fg_malloc(FG_GRPC_READ_BUF_SIZE) : c->opts.read_buf;
    uv_timer_init(loop, &c->conn_timer);
    uv_timer_init(loop, &c->deadline_timer);
    uv_idle_init(loop, &c->flush_idle);
    c->conn_timer.data = c->deadline_timer.data = c->flush_idle.data = c;
    c->resolve_req.data = c;
    c->write_req.data = c;
    c->open_handles = 3;
    c->state = FG_GRPC_CONN_CONNECTING;
    start_connect(c);
    *out = c;
    return 0;
}

fg_grpc_conn_state fg_grpc_conn_get_state(const fg_grpc_conn *c) {
    return c->state;
}

const char *fg_grpc_conn_last_error(const fg_grpc_conn *c) {
    return c->last_error;
}

fg_tls_failure fg_grpc_conn_tls_failure(const fg_grpc_conn *c) {
    return c->tls_failure;
}

void fg_grpc_conn_reconnect_now(fg_grpc_conn *c) {
    if (c->closing || c->state != FG_GRPC_CONN_FAILED)
        return;
    uv_timer_stop(&c->conn_timer);
    start_connect(c);
}
