#include "fg_conn.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_err.h"
#include "fg_log.h"
#include "fg_stats.h"
#include "fg_tls.h"
#include "fg_ws.h"

#define OUT_MAX (64u * 1024 * 1024) /* far above any answer; bounds a runaway bug, not a client */
#define TRIM_AFTER_CONNS 64

typedef enum conn_state {
    CONN_HTTP,
    CONN_WS,
    CONN_LINGER, /* our side is done and shut down; dropping input until the client closes */
} conn_state;

/* The one timer of a connection plays one of these roles at a time (timer_set). */
typedef enum timer_role {
    TIMER_OFF,
    TIMER_HEAD,      /* HTTP: the request head in progress is due (408) */
    TIMER_IDLE,      /* HTTP: no request for FG_CONN_IDLE_MS, or the last answer not written */
    TIMER_KEEPALIVE, /* WebSocket: periodic; ping a silent client, close a silent pinged one */
    TIMER_CLOSING,   /* WebSocket: our close frame is out; the client's answer is due */
    TIMER_LINGER,    /* shut down: the client's close is due */
} timer_role;

struct fg_conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* plays one role at a time: timer_role */
    timer_role role;
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    fg_conn_env *env;
    fg_conn *prev, *next;
    conn_state state;
    fg_buf out;          /* being filled */
    fg_buf wbuf;         /* being written by write_req, from wbuf_off on */
    size_t wbuf_off;     /* taken by uv_try_write already */
    size_t direct_bytes; /* of replies written straight from their buffers, not yet written */
    size_t ndirect;      /* their uv_write requests in flight */
    fg_http *http;
    fg_ws *ws;
    fg_session *session;
    fg_tls *tls;    /* NULL: plaintext */
    fg_buf tls_out; /* ciphertext for the socket: what fg_tls made of out, alerts, handshake */
    int open_handles;
    bool writing;
    bool write_failed; /* a direct reply could not be queued: close at the next update */
    bool reading;
    bool finishing;      /* write what is queued, then shut down */
    bool closed;         /* uv_close called */
    bool drain_now;      /* shutting down: no more waiting for frames in flight */
    bool ping_sent;      /* keepalive: a ping is out and nothing came back since */
    uint64_t bytes_seen; /* fg_ws_bytes_received() at the last keepalive tick */
    bool tls_up;         /* handshake done and counted */
    bool tls_notified;   /* close_notify queued */
};

static void conn_update(fg_conn *c);

fg_conn *fg_conn_next(const fg_conn *c) {
    return c->next;
}

void fg_conn_peer(const fg_conn *c, char *buf, size_t len) {
    struct sockaddr_storage ss;
    int n = sizeof ss;
    char ip[64] = "?";
    uint16_t port = 0;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &n) == 0) {
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((const struct sockaddr_in6 *)&ss, ip, sizeof ip);
            port = ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
        } else {
            uv_ip4_name((const struct sockaddr_in *)&ss, ip, sizeof ip);
            port = ntohs(((const struct sockaddr_in *)&ss)->sin_port);
        }
    }
    snprintf(buf, len, "%s:%u", ip, port);
}

static void on_handle_closed(uv_handle_t *handle) {
    fg_conn *c = handle->data;
    if (--c->open_handles > 0)
        return;
    fg_buf_free(&c->out);
    fg_buf_free(&c->wbuf);
    fg_buf_free(&c->tls_out);
    fg_tls_free(c->tls);
    fg_conn_env *env = c->env;
    free(c);
    if (--env->nalive == 0) {
        fg_buf_free(&env->spare);
        /* Many clients left: give their memory back to the system (not after every lone
         * HTTP request: the trim walks the whole heap). */
        if (env->nalive_peak >= TRIM_AFTER_CONNS)
            malloc_trim(0);
        env->nalive_peak = 0;
    }
    /* Last: the owner may free env in there. */
    if (env->on_conn_freed)
        env->on_conn_freed(env->on_conn_freed_arg);
}

void fg_conn_close_now(fg_conn *c) {
    if (c->closed)
        return;
    c->closed = true;
    /* The session first: it cancels calls in flight, and it borrows the ws. */
    fg_session_free(c->session);
    c->session = NULL;
    if (c->ws) {
        fg_ws_free(c->ws);
        c->ws = NULL;
        fg_stats_add(FG_STAT_ws_sessions_open, -1);
    }
    fg_http_free(c->http);
    c->http = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->env->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->env->nconns--;
    fg_stats_add(FG_STAT_connections_open, -1);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

/* ---- the timer: one role at a time, each its own deadline and its own action ---- */

static void timer_set(fg_conn *c, timer_role role);

/* TIMER_HEAD: a request head took too long (slowloris): 408, then close. */
static void head_overdue(fg_conn *c) {
    if (c->tls && !c->tls_up && !c->finishing) {
        char peer[64];
        fg_conn_peer(c, peer, sizeof peer);
        fg_log_warn("TLS client %s: handshake not finished in %u ms: closing", peer,
                    c->env->header_timeout_ms);
        fg_stats_add(FG_STAT_tls_handshake_timeouts_total, 1);
        fg_conn_close_now(c);
        return;
    }
    if (c->state != CONN_HTTP || c->finishing) {
        fg_conn_close_now(c);
        return;
    }
    fg_http_timeout(c->http, &c->out);
    c->finishing = true;
    conn_update(c);
}

/* TIMER_KEEPALIVE: a silent client is pinged; one still silent a period later is gone. Each
 * tick also lets a session between messages drop wslay's 8 KiB until it is needed again: most
 * of an idle connection's memory. */
static void keepalive_tick(fg_conn *c) {
    uint64_t bytes = fg_ws_bytes_received(c->ws);
    if (bytes != c->bytes_seen) {
        c->bytes_seen = bytes;
        c->ping_sent = false;
        fg_ws_rest(c->ws);
        return;
    }
    if (c->ping_sent) {
        fg_log_info("WebSocket client silent for %u ms after a ping: closing", c->env->ws_ping_ms);
        fg_stats_add(FG_STAT_ws_keepalive_closes_total, 1);
        fg_conn_close_now(c);
        return;
    }
    if (fg_ws_ping(c->ws) == 0) {
        c->ping_sent = true;
        conn_update(c); /* the ping goes into out: the session can rest again */
        if (c->ws)
            fg_ws_rest(c->ws);
    }
}

static void on_timer(uv_timer_t *timer) {
    fg_conn *c = timer->data;
    timer_role role = c->role;
    if (role != TIMER_KEEPALIVE)
        c->role = TIMER_OFF; /* one-shot */
    switch (role) {
    case TIMER_HEAD:
        head_overdue(c);
        break;
    case TIMER_KEEPALIVE:
        keepalive_tick(c);
        break;
    case TIMER_IDLE:    /* idle, or the last answer could not be written in time */
    case TIMER_CLOSING: /* the client never answered our close frame */
    case TIMER_LINGER:  /* the client never closed after our shutdown */
    case TIMER_OFF:
        fg_conn_close_now(c);
        break;
    }
}

static void timer_set(fg_conn *c, timer_role role) {
    uint64_t ms = 0, repeat = 0;
    switch (role) {
    case TIMER_OFF:
        break;
    case TIMER_HEAD:
        ms = c->env->header_timeout_ms;
        break;
    case TIMER_IDLE:
        ms = FG_CONN_IDLE_MS;
        break;
    case TIMER_KEEPALIVE:
        ms = repeat = c->env->ws_ping_ms;
        break;
    case TIMER_CLOSING:
        ms = FG_CONN_LINGER_MS;
        break;
    case TIMER_LINGER:
        ms = c->env->session.draining ? 200 : FG_CONN_LINGER_MS;
        break;
    }
    c->role = role;
    if (role == TIMER_OFF)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, ms, repeat);
}

/* HTTP: the deadline of a head runs from its start (or the accept), whatever arrives meanwhile;
 * between requests the idle timeout applies. */
static void timer_set_http(fg_conn *c) {
    if (c->env->header_timeout_ms && fg_http_in_head(c->http)) {
        if (c->role != TIMER_HEAD)
            timer_set(c, TIMER_HEAD);
        return;
    }
    timer_set(c, TIMER_IDLE);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    fg_conn *c = handle->data;
    *buf = uv_buf_init((char *)c->env->read_buf, sizeof(c->env->read_buf));
}

/*
 * A drained buffer keeps no storage: it goes to env->spare (the biggest one is kept there),
 * which the next connection that sends borrows (lend_spare). An idle connection owns no output
 * storage, and a reply costs no malloc and no regrowth (a 24 KiB reply needs 32 KiB).
 */
static void buf_drained(fg_conn *c, fg_buf *b) {
    fg_buf_reset(b);
    if (b->cap == 0)
        return;
    if (c->env->spare.cap < b->cap) {
        fg_buf tmp = c->env->spare;
        c->env->spare = *b;
        *b = tmp;
    }
    fg_buf_free(b);
    fg_buf_init(b, OUT_MAX);
}

static void lend_spare_to(fg_conn *c, fg_buf *b) {
    if (b->len > 0 || b->cap >= c->env->spare.cap)
        return;
    fg_buf tmp = c->env->spare;
    c->env->spare = *b;
    *b = tmp;
}

static void lend_spare(fg_conn *c) {
    lend_spare_to(c, &c->out);
}

static void on_write_done(uv_write_t *req, int status) {
    fg_conn *c = req->data;
    c->writing = false;
    if (c->closed)
        return;
    if (status < 0) {
        fg_conn_close_now(c);
        return;
    }
    fg_stats_add(FG_STAT_client_bytes_out_total, (int64_t)(c->wbuf.len - c->wbuf_off));
    buf_drained(c, &c->wbuf);
    conn_update(c);
}

/*
 * The write paths. Output collects in out. With TLS, out is encrypted into tls_out first
 * (wire_pending), and the wire buffer is out or tls_out. It leaves by path 1 (uv_try_write: a
 * reply usually fits the socket buffer, and a completed uv_write costs an epoll_ctl as libuv
 * re-arms the watcher); what the kernel did not take leaves by path 2 (one uv_write in place:
 * the wire buffer and wbuf swap, wbuf is written from wbuf_off until on_write_done). Path 3
 * (below) writes a reply from its own buffers when out is empty (plaintext only).
 */

/* The buffer whose bytes go on the wire next: out, or with TLS tls_out, where the session
 * appends records (out's plaintext is encrypted into it here). NULL: TLS failed (closed). */
static fg_buf *wire_pending(fg_conn *c) {
    if (!c->tls)
        return &c->out;
    if (c->out.len > 0 && c->tls_up) {
        lend_spare_to(c, &c->tls_out);
        if (fg_tls_write(c->tls, c->out.data, c->out.len) < 0) {
            fg_conn_close_now(c);
            return NULL;
        }
        buf_drained(c, &c->out);
    }
    return &c->tls_out;
}

/* Path 1: as much of src as the kernel takes now. The bytes taken, or a libuv error. */
static int wire_write_now(fg_conn *c, fg_buf *src) {
    uv_buf_t b = uv_buf_init((char *)src->data, (unsigned)src->len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == UV_EAGAIN)
        n = 0;
    if (n > 0)
        fg_stats_add(FG_STAT_client_bytes_out_total, n);
    return n;
}

/* Path 2: the rest of src from byte taken on, as one uv_write. 0 or a libuv error. */
static int wire_write_rest(fg_conn *c, fg_buf *src, size_t taken) {
    fg_buf tmp = c->wbuf;
    c->wbuf = *src;
    *src = tmp;
    c->wbuf_off = taken;
    uv_buf_t b = uv_buf_init((char *)c->wbuf.data + taken, (unsigned)(c->wbuf.len - taken));
    int rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &b, 1, on_write_done);
    if (rc == 0)
        c->writing = true;
    return rc;
}

static void flush_out(fg_conn *c) {
    if (c->writing)
        return;
    fg_buf *src = wire_pending(c);
    if (!src || src->len == 0)
        return;
    int n = wire_write_now(c, src);
    if (n >= 0 && (size_t)n == src->len) {
        buf_drained(c, src);
        return;
    }
    if (n < 0 || wire_write_rest(c, src, (size_t)n) < 0)
        fg_conn_close_now(c);
}

/* Bytes accepted for the client and not yet written (the backpressure measure). */
static size_t bytes_waiting(const fg_conn *c) {
    return c->out.len + c->wbuf.len + c->direct_bytes + c->tls_out.len;
}

/* Path 3: a reply the kernel did not take at once, written from the message's own buffers. */
typedef struct direct_write {
    uv_write_t req;
    fg_conn *c;
    fg_ws_msg *msg;
    size_t len;
} direct_write;

static void on_direct_write_done(uv_write_t *req, int status) {
    direct_write *w = req->data;
    fg_conn *c = w->c;
    c->direct_bytes -= w->len;
    c->ndirect--;
    fg_ws_msg_free(w->msg);
    size_t len = w->len;
    free(w);
    if (c->closed)
        return;
    if (status < 0) {
        fg_conn_close_now(c);
        return;
    }
    fg_stats_add(FG_STAT_client_bytes_out_total, (int64_t)len);
    conn_update(c);
}

/*
 * Path 3 with TLS: the reply is encrypted from its own buffers into tls_out (no copy into out);
 * the small pieces before the image go as one record. Written by the next flush_out.
 */
static int send_direct_tls(fg_conn *c, const fg_ws_iov *iov, size_t niov, fg_ws_msg *msg) {
    if (!c->tls_up)
        return FG_ERR_AGAIN;
    uint8_t head[512];
    size_t hlen = 0, first = 0;
    while (first + 1 < niov && hlen + iov[first].len <= sizeof head) {
        memcpy(head + hlen, iov[first].base, iov[first].len);
        hlen += iov[first++].len;
    }
    lend_spare_to(c, &c->tls_out);
    int rc = hlen ? fg_tls_write(c->tls, head, hlen) : 0;
    for (size_t i = first; i < niov && rc == 0; i++)
        rc = fg_tls_write(c->tls, iov[i].base, iov[i].len);
    fg_ws_msg_free(msg);
    if (rc < 0)
        c->write_failed = true; /* closed at the next update, not inside fg_ws */
    return 0;
}

/*
 * fg_ws's send_direct: one reply frame as one writev from where its pieces lie. Only when
 * nothing of ours waits in out (a pending write_req or direct write is fine: libuv writes its
 * requests in order, and uv_try_write refuses while any is queued). Never closes here: we may
 * be inside fg_ws_feed; a failure closes at the next conn_update.
 */
static int on_send_direct(void *user, const fg_ws_iov *iov, size_t niov, fg_ws_msg *msg) {
    fg_conn *c = user;
    if (c->closed || c->out.len > 0 || niov > 3)
        return FG_ERR_AGAIN;
    if (c->tls)
        return send_direct_tls(c, iov, niov, msg);
    uv_buf_t bufs[3];
    size_t total = 0;
    for (size_t i = 0; i < niov; i++) {
        bufs[i] = uv_buf_init((char *)iov[i].base, (unsigned)iov[i].len);
        total += iov[i].len;
    }
    int n = uv_try_write((uv_stream_t *)&c->tcp, bufs, (unsigned)niov);
    if (n < 0)
        n = 0; /* EAGAIN; an error comes back from uv_write too */
    fg_stats_add(FG_STAT_client_bytes_out_total, n);
    if ((size_t)n == total) {
        fg_ws_msg_free(msg);
        return 0;
    }
    size_t skip = (size_t)n, first = 0;
    while (skip >= bufs[first].len)
        skip -= bufs[first++].len;
    bufs[first].base += skip;
    bufs[first].len -= skip;
    direct_write *w = fg_malloc(sizeof(*w));
    w->req.data = w;
    w->c = c;
    w->msg = msg;
    w->len = total - (size_t)n;
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs + first, (unsigned)(niov - first),
                 on_direct_write_done) < 0) {
        fg_ws_msg_free(msg);
        free(w);
        c->write_failed = true;
        return 0;
    }
    c->direct_bytes += w->len;
    c->ndirect++;
    return 0;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void set_reading(fg_conn *c, bool on) {
    if (on == c->reading)
        return;
    c->reading = on;
    if (on)
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    else
        uv_read_stop((uv_stream_t *)&c->tcp);
}

static void on_shutdown_done(uv_shutdown_t *req, int status) {
    fg_conn *c = req->data;
    if (c->closed)
        return;
    if (status < 0) {
        fg_conn_close_now(c);
        return;
    }
    timer_set(c, TIMER_LINGER);
}

static void begin_linger(fg_conn *c) {
    c->state = CONN_LINGER;
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown_done) < 0) {
        fg_conn_close_now(c);
        return;
    }
    set_reading(c, true);
}

static bool ws_done(fg_conn *c) {
    if (fg_ws_finished(c->ws))
        return true;
    if (!c->env->session.draining || fg_ws_closing(c->ws))
        return false;
    /* Shutting down: 1001 once every frame in flight was answered and its reply is out;
     * past the grace, the frames still in flight are answered UNAVAILABLE first. */
    if (c->drain_now && fg_session_inflight(c->session) > 0) {
        fg_session_abort_calls(c->session, "proxy shutting down");
        fg_ws_flush(c->ws);
    }
    if (fg_session_inflight(c->session) == 0 && fg_ws_queued_msgs(c->ws) == 0) {
        fg_ws_close(c->ws, 1001, "proxy shutting down");
        fg_ws_flush(c->ws);
    }
    return fg_ws_finished(c->ws);
}

/* The one place that moves a connection forward after anything happened to it. */
static void conn_update(fg_conn *c) {
    if (c->closed)
        return;
    if (c->write_failed) {
        fg_conn_close_now(c);
        return;
    }
    bool more;
    do {
        if (c->state == CONN_WS) {
            lend_spare(c);
            fg_ws_flush(c->ws);
            if (ws_done(c))
                c->finishing = true;
            else if (fg_ws_close_sent(c->ws) && c->role != TIMER_CLOSING) {
                /* Our close is out; the client's answer gets a deadline. */
                timer_set(c, TIMER_CLOSING);
            }
        }
        size_t had = c->out.len;
        flush_out(c);
        if (c->closed)
            return;
        if (c->out.len == 0)
            buf_drained(c, &c->out); /* a borrowed spare goes back */
        /* The kernel took everything at once: no on_write_done will come back for the frames
         * wslay held back at the high-water mark. */
        more = c->state == CONN_WS && had > 0 && c->out.len == 0 && !c->writing &&
               fg_ws_queued_msgs(c->ws) > 0;
    } while (more);
    if (c->finishing && c->tls && c->tls_up && !c->tls_notified && c->state != CONN_LINGER &&
        !c->writing && c->ndirect == 0 && c->out.len == 0) {
        /* The last answer is out: close_notify, so the client tells our end from a cut. */
        c->tls_notified = true;
        fg_tls_close_notify(c->tls);
        flush_out(c);
        if (c->closed)
            return;
    }
    if (c->finishing && c->state != CONN_LINGER && !c->writing && c->ndirect == 0 &&
        c->out.len == 0 && c->tls_out.len == 0) {
        begin_linger(c);
        return;
    }
    if (c->state != CONN_LINGER)
        set_reading(c, bytes_waiting(c) < FG_CONN_HIGH_WATER && !c->finishing);
}

static void on_session_output(void *user) {
    conn_update(user);
}

static size_t session_backlog(void *user) {
    fg_conn *c = user;
    return c->out.len + c->wbuf.len + c->direct_bytes;
}

static void on_ws_message(void *user, const uint8_t *data, size_t len) {
    fg_conn *c = user;
    fg_session_on_message(c->session, data, len);
}

static void become_websocket(fg_conn *c) {
    static const fg_ws_callbacks cbs = {.on_message = on_ws_message, .send_direct = on_send_direct};
    fg_ws_params params = fg_http_ws_params(c->http);
    fg_http_free(c->http);
    c->http = NULL;
    c->state = CONN_WS;
    timer_set(c, c->env->ws_ping_ms ? TIMER_KEEPALIVE : TIMER_OFF);
    c->ws = fg_ws_new(c->env->max_message, &c->out, FG_CONN_HIGH_WATER, &cbs, c, 0);
    static const fg_session_io io = {.on_output = on_session_output, .backlog = session_backlog};
    c->session = fg_session_new(&c->env->session, c->ws, &params, &io, c);
    fg_stats_add(FG_STAT_ws_sessions_total, 1);
    fg_stats_add(FG_STAT_ws_sessions_open, 1);
}

static void feed_http(fg_conn *c, uint8_t *data, size_t len) {
    size_t consumed;
    uint64_t before = fg_http_requests_answered(c->http);
    fg_http_result r = fg_http_feed(c->http, data, len, &c->out, &consumed);
    fg_stats_add(FG_STAT_http_requests_total,
                 (int64_t)(fg_http_requests_answered(c->http) - before));
    if (r == FG_HTTP_CLOSE) {
        c->finishing = true;
        timer_set(c, TIMER_IDLE); /* no head is due any more: a bound for writing the rest */
    } else if (r == FG_HTTP_UPGRADE) {
        become_websocket(c);
        if (consumed < len)
            fg_ws_feed(c->ws, data + consumed, len - consumed);
    } else {
        timer_set_http(c);
        if (c->env->session.draining)
            c->finishing = true; /* this read's answers go out, then we close */
    }
}

/* The client is gone (EOF or error). Answers still queued for a plain HTTP client that
 * half-closed are written first; a WebSocket client that vanished cancels its frames. */
static void client_gone(fg_conn *c, bool eof) {
    if (eof && c->state == CONN_HTTP && (c->writing || bytes_waiting(c) > 0)) {
        c->finishing = true;
        set_reading(c, false);
        conn_update(c);
    } else {
        fg_conn_close_now(c);
    }
}

/* Plaintext from the client, to whatever the connection is now. data is a read buffer of env,
 * consumed here: fg_ws_feed may unmask frames in it. */
static void deliver(fg_conn *c, uint8_t *data, size_t len) {
    switch (c->state) {
    case CONN_HTTP:
        if (!c->finishing)
            feed_http(c, data, len);
        break;
    case CONN_WS:
        fg_ws_feed(c->ws, data, len);
        break;
    case CONN_LINGER:
        break; /* dropped: we are done, waiting for the client's close */
    }
}

/* The handshake or a record failed: said once, counted, answered (an alert, or for plain HTTP
 * on the TLS port a plain 400), then the connection closes. */
static void tls_failed(fg_conn *c) {
    fg_tls_failure f = fg_tls_failed(c->tls);
    char peer[64];
    fg_conn_peer(c, peer, sizeof peer);
    fg_log_warn("TLS client %s: %s (%s): closing", peer, fg_tls_reason(c->tls),
                fg_tls_failure_name(f));
    if (c->tls_up) { /* a bad record mid-session: nothing more can be said to it */
        fg_stats_add(FG_STAT_tls_failures_total, 1);
        fg_conn_close_now(c);
        return;
    }
    if (f == FG_TLS_PLAINTEXT) {
        fg_stats_add(FG_STAT_tls_plaintext_total, 1);
        fg_http_refuse_connection(&c->tls_out, 400,
                                  "This port speaks TLS: use https:// or wss://\n");
    } else { /* the alert is in tls_out already */
        fg_stats_add(f == FG_TLS_CERTIFICATE ? FG_STAT_tls_certificate_failures_total
                                             : FG_STAT_tls_failures_total,
                     1);
    }
    c->finishing = true;
    timer_set(c, TIMER_IDLE); /* a bound for writing the answer */
}

/* Ciphertext from the client: the handshake advances, plaintext is delivered. */
static void read_tls(fg_conn *c, const uint8_t *data, size_t len) {
    if (fg_tls_failed(c->tls))
        return;
    if (fg_tls_feed(c->tls, data, len) < 0) {
        fg_conn_close_now(c); /* cannot happen: every feed is read out below */
        return;
    }
    while (!c->closed) {
        ssize_t n = fg_tls_read(c->tls, c->env->plain_buf, sizeof c->env->plain_buf);
        if (!c->tls_up && fg_tls_handshake_done(c->tls)) {
            c->tls_up = true;
            fg_stats_add(FG_STAT_tls_handshakes_total, 1);
        }
        if (n > 0) {
            deliver(c, c->env->plain_buf, (size_t)n);
            continue;
        }
        if (n == FG_ERR_CLOSED)
            client_gone(c, true);
        else if (n < 0)
            tls_failed(c);
        return;
    }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    fg_conn *c = stream->data;
    if (nread == 0 || c->closed)
        return;
    if (nread < 0) {
        client_gone(c, nread == UV_EOF);
        return;
    }
    fg_stats_add(FG_STAT_client_bytes_in_total, nread);
    uint8_t *data = (uint8_t *)buf->base;
    if (c->tls && c->state != CONN_LINGER)
        read_tls(c, data, (size_t)nread);
    else
        deliver(c, data, (size_t)nread);
    conn_update(c);
}

int fg_conn_accept(fg_conn_env *env, uv_stream_t *server) {
    fg_conn *c = fg_calloc(1, sizeof(*c));
    c->env = env;
    int rc = uv_tcp_init(env->loop, &c->tcp);
    if (rc < 0) {
        free(c);
        return rc;
    }
    c->tcp.data = c;
    c->write_req.data = c;
    uv_timer_init(env->loop, &c->timer);
    c->timer.data = c;
    c->open_handles = 2;
    fg_buf_init(&c->out, OUT_MAX);
    fg_buf_init(&c->wbuf, OUT_MAX);
    fg_buf_init(&c->tls_out, OUT_MAX);
    c->http = fg_http_new(&env->routes);
    if (env->tls)
        c->tls = fg_tls_new(env->tls, NULL, &c->tls_out);
    c->next = env->conns;
    if (env->conns)
        env->conns->prev = c;
    env->conns = c;
    env->nconns++;
    if (++env->nalive > env->nalive_peak)
        env->nalive_peak = env->nalive;
    fg_stats_add(FG_STAT_connections_total, 1);
    fg_stats_add(FG_STAT_connections_open, 1);

    rc = uv_accept(server, (uv_stream_t *)&c->tcp);
    if (rc < 0) {
        fg_conn_close_now(c);
        return rc;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (env->client_sndbuf) {
        int size = (int)env->client_sndbuf;
        uv_send_buffer_size((uv_handle_t *)&c->tcp, &size); /* best effort: the kernel caps it */
    }
    /* the first head is due from the accept on */
    timer_set(c, env->header_timeout_ms ? TIMER_HEAD : TIMER_IDLE);
    set_reading(c, true);
    return 0;
}

void fg_conn_drain(fg_conn *c, bool now) {
    if (c->closed)
        return;
    c->drain_now |= now;
    if (c->state == CONN_HTTP && !c->writing && c->out.len == 0)
        c->finishing = true;
    conn_update(c);
}
