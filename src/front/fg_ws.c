#include "fg_ws.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "fg_alloc.h"
#include "fg_err.h"
#include "fg_utf8.h"
#include "fg_wsframe.h"
#include "fg_wsin.h"

/* The bytes of a message: data[0..head_len), then tail[0..len - head_len) (inside block). */
struct fg_ws_msg {
    fg_ws_msg *prev, *next;
    size_t len, off, head_len;
    const uint8_t *tail;
    void *block;                                /* owned: freed with the message */
    uint8_t frame_head[FG_WS_FRAME_HEADER_MAX]; /* when sent directly */
    uint8_t data[];
};

/* Bytes of every message alive in the process (all workers): replies waiting for clients. */
static _Atomic size_t msgs_bytes;

size_t fg_ws_msgs_bytes(void) {
    return atomic_load_explicit(&msgs_bytes, memory_order_relaxed);
}

void fg_ws_msg_free(fg_ws_msg *m) {
    atomic_fetch_sub_explicit(&msgs_bytes, m->len, memory_order_relaxed);
    free(m->block);
    free(m);
}

struct fg_ws {
    wslay_event_context_ptr ctx; /* NULL while resting (fg_ws_rest) */
    uint64_t max_message;
    fg_ws_callbacks cbs;
    void *user;
    fg_buf *out;
    size_t high_water;
    fg_wsin in;              /* the bytes of the current fg_ws_feed(), pulled by wslay */
    bool mid_frame;          /* out ends inside a frame (header sent, payload to follow) */
    bool closing;            /* we queued a close (or are about to) */
    bool failed;             /* finished after a protocol error; wslay is not used any more */
    bool peer_close_started; /* the client's close frame is being read */
    bool peer_close_bad;     /* ... and wslay accepted one the contract answers with 1002 */
    bool msg_open;           /* a fragmented message from the client is not complete */
    bool wslay_only;         /* FG_WS_WSLAY_ONLY: no frame-level receive path */
    uint64_t bytes_in;       /* everything fed, for keepalive */
    uint64_t bytes_framed;   /* bytes of the client frames wslay has started (header + payload) */
    uint16_t close_code_sent;
    fg_ws_msg *msgs; /* queued, not yet fully read by wslay */
    size_t nmsgs;
};

static void msg_unlink(fg_ws *ws, fg_ws_msg *m) {
    if (m->prev)
        m->prev->next = m->next;
    else
        ws->msgs = m->next;
    if (m->next)
        m->next->prev = m->prev;
    ws->nmsgs--;
}

static ssize_t recv_callback(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                             void *user_data) {
    fg_ws *ws = user_data;
    return fg_wsin_recv(&ws->in, ctx, buf, len);
}

/*
 * wslay hands us each frame as a header, then (flag MSG_MORE) its payload. We refuse only at
 * frame boundaries, so out never ends inside a frame; the overshoot past high_water is at most
 * one frame (a 4 KiB fragment or a control frame).
 */
static ssize_t send_callback(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                             int flags, void *user_data) {
    fg_ws *ws = user_data;
    if ((!ws->mid_frame && ws->out->len >= ws->high_water) ||
        fg_buf_append(ws->out, data, len) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    ws->mid_frame = (flags & WSLAY_MSG_MORE) != 0;
    return (ssize_t)len;
}

/* The bytes of a client frame on the wire: header (masked: 4-byte key) and payload. wslay
 * refuses non-minimal length encodings and unmasked client frames, so this is exact for every
 * frame it starts. */
static uint64_t client_frame_bytes(uint64_t payload_len) {
    uint64_t head = 2 + 4;
    if (payload_len > UINT16_MAX)
        head += 8;
    else if (payload_len >= 126)
        head += 2;
    return head + payload_len;
}

static void on_frame_recv_start_callback(wslay_event_context_ptr ctx,
                                         const struct wslay_event_on_frame_recv_start_arg *arg,
                                         void *user_data) {
    fg_ws *ws = user_data;
    ws->bytes_framed += client_frame_bytes(arg->payload_length);
    if (arg->opcode < WSLAY_CONNECTION_CLOSE) /* data and continuation frames */
        ws->msg_open = !arg->fin;
    /* Refuse text as soon as its first frame starts, whatever its content. */
    if (arg->opcode == WSLAY_TEXT_FRAME && !ws->closing)
        fg_ws_close(ws, WSLAY_CODE_UNSUPPORTED_DATA, "binary messages only");
    if (arg->opcode == WSLAY_CONNECTION_CLOSE)
        ws->peer_close_started = true;
}

static void on_msg_recv_callback(wslay_event_context_ptr ctx,
                                 const struct wslay_event_on_msg_recv_arg *arg, void *user_data) {
    fg_ws *ws = user_data;
    if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
        /* wslay checked the code; a 1-byte body and a reason that is not UTF-8 (wslay misses
         * it when the frame arrives in small reads) pass it and are ours to refuse. */
        ws->peer_close_bad =
            arg->msg_length == 1 ||
            (arg->msg_length > 2 && !fg_utf8_valid(arg->msg + 2, arg->msg_length - 2));
        if (!ws->peer_close_bad)
            ws->closing = true; /* wslay echoes the close */
        return;
    }
    if (arg->opcode != WSLAY_BINARY_FRAME || ws->closing)
        return;
    static const uint8_t empty[1];
    ws->cbs.on_message(ws->user, arg->msg ? arg->msg : empty, arg->msg_length);
}

static ssize_t fragment_read_callback(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
                                      const union wslay_event_msg_source *source, int *eof,
                                      void *user_data) {
    fg_ws *ws = user_data;
    fg_ws_msg *m = source->data;
    size_t done = 0;
    if (m->off < m->head_len) {
        done = m->head_len - m->off < len ? m->head_len - m->off : len;
        memcpy(buf, m->data + m->off, done);
        m->off += done;
    }
    size_t n = m->len - m->off < len - done ? m->len - m->off : len - done;
    if (n)
        memcpy(buf + done, m->tail + (m->off - m->head_len), n);
    m->off += n;
    if (m->off == m->len) {
        /* wslay never reads the source again after eof. */
        *eof = 1;
        msg_unlink(ws, m);
        fg_ws_msg_free(m);
    }
    return (ssize_t)(done + n);
}

/* wslay's context, created when first needed (a fresh one is all a resting session needs:
 * it held nothing). */
static wslay_event_context_ptr wake(fg_ws *ws) {
    static const struct wslay_event_callbacks callbacks = {
        .recv_callback = recv_callback,
        .send_callback = send_callback,
        .on_frame_recv_start_callback = on_frame_recv_start_callback,
        .on_msg_recv_callback = on_msg_recv_callback,
    };
    if (ws->ctx)
        return ws->ctx;
    if (wslay_event_context_server_init(&ws->ctx, &callbacks, ws) != 0)
        abort(); /* only fails on out-of-memory: the project's OOM policy */
    wslay_event_config_set_max_recv_msg_length(ws->ctx, ws->max_message);
    return ws->ctx;
}

fg_ws *fg_ws_new(uint64_t max_message, fg_buf *out, size_t high_water, const fg_ws_callbacks *cbs,
                 void *user, unsigned options) {
    fg_ws *ws = fg_calloc(1, sizeof(*ws));
    ws->wslay_only = (options & FG_WS_WSLAY_ONLY) != 0;
    ws->max_message = max_message; /* resting until the first byte or message */
    ws->cbs = *cbs;
    ws->user = user;
    ws->out = out;
    ws->high_water = high_water;
    return ws;
}

void fg_ws_free(fg_ws *ws) {
    if (!ws)
        return;
    wslay_event_context_free(ws->ctx);
    while (ws->msgs) {
        fg_ws_msg *m = ws->msgs;
        msg_unlink(ws, m);
        fg_ws_msg_free(m);
    }
    free(ws);
}

/*
 * wslay answers a frame-level violation (a control frame over 125 bytes or fragmented, a
 * non-minimal length) with a close frame without a status code, and a bad close frame with no
 * code or 1007; the contract says 1002. The session is finished there, so we write that one
 * close frame ourselves and stop using wslay. A close of ours already queued (1003, 1009, 1001)
 * stays the only one: wslay sends it, reading stops. RFC 6455 5.5.1: nothing after a close.
 */
static void fail_protocol(fg_ws *ws) {
    static const uint8_t close_1002[] = {0x88, 0x02, 0x03, 0xEA};
    if (ws->failed)
        return;
    if (ws->closing && !wslay_event_get_close_sent(ws->ctx)) {
        wslay_event_shutdown_read(ws->ctx);
        return;
    }
    if (!wslay_event_get_close_sent(ws->ctx) && !ws->mid_frame &&
        fg_buf_append(ws->out, close_1002, sizeof(close_1002)) == 0)
        ws->close_code_sent = WSLAY_CODE_PROTOCOL_ERROR;
    ws->failed = true;
    ws->closing = true;
}

/* wslay refused the client's close frame itself (bad code, bad UTF-8): reading stopped inside
 * it, no close was received. */
static bool peer_close_refused(const fg_ws *ws) {
    return ws->peer_close_started && !wslay_event_get_close_received(ws->ctx) &&
           !wslay_event_get_read_enabled(ws->ctx);
}

/* The receiving side is between messages: wslay holds nothing of what the client sent and
 * would deliver the next binary message (every byte fed belongs to a complete frame, no
 * fragmented message is open, no close was started, queued, sent or received). Half of what
 * fg_ws_rest asks, and all the frame-level receive path needs. */
static bool receive_idle(const fg_ws *ws) {
    if (fg_ws_closing(ws))
        return false;
    wslay_event_context_ptr ctx = ws->ctx;
    return !ctx || (ws->bytes_in == ws->bytes_framed && !ws->msg_open && !ws->peer_close_started &&
                    !wslay_event_get_close_received(ctx) && !wslay_event_get_close_sent(ctx));
}

bool fg_ws_rest(fg_ws *ws) {
    if (!ws->ctx)
        return true;
    wslay_event_context_ptr ctx = ws->ctx;
    if (!receive_idle(ws) || ws->mid_frame || ws->msgs || !wslay_event_get_write_enabled(ctx) ||
        wslay_event_want_write(ctx) || wslay_event_get_queued_msg_count(ctx) > 0)
        return false;
    wslay_event_context_free(ctx);
    ws->ctx = NULL;
    return true;
}

/*
 * The frame-level path, for nearly all traffic: between messages, a complete frame that is a
 * whole binary message (FIN, opcode 2), masked, without RSV bits, its length in the shortest
 * encoding and within max_message passes every check wslay would make and is one message. It
 * is unmasked in place and delivered from where it lies: no wslay call, no copy (wslay copies
 * it into its read buffer, then into a message it allocates). Stops at the first frame that is
 * anything else (a control frame, text, a fragment, a violation, a frame cut by the end of the
 * read) and once the session is closing: that frame and everything after it go to wslay, which
 * is then in the state it would be in had it read the frames taken here. Returns the bytes
 * taken; they count as received and framed, as wslay's would.
 */
static size_t recv_messages(fg_ws *ws, uint8_t *data, size_t len) {
    size_t taken = 0;
    while (taken < len && !fg_ws_closing(ws)) {
        fg_wsframe f;
        if (fg_wsframe_parse(data + taken, len - taken, &f) != 0 || !f.fin || f.rsv ||
            f.opcode != FG_WSFRAME_BINARY || !f.masked || f.payload_len > ws->max_message ||
            f.payload_len > len - taken - f.header_len)
            break;
        uint8_t *payload = data + taken + f.header_len;
        size_t n = f.header_len + (size_t)f.payload_len;
        fg_wsframe_unmask(payload, (size_t)f.payload_len, f.mask);
        taken += n;
        ws->bytes_in += n;
        ws->bytes_framed += n;
        /* May queue replies or close the session (checked above), never free it. */
        ws->cbs.on_message(ws->user, payload, (size_t)f.payload_len);
    }
    return taken;
}

int fg_ws_feed(fg_ws *ws, uint8_t *data, size_t len) {
    if (!ws->wslay_only && receive_idle(ws)) {
        size_t taken = recv_messages(ws, data, len);
        data += taken;
        len -= taken;
        if (len == 0)
            return ws->failed ? FG_ERR_PROTO : 0;
    }
    if (!ws->failed && len)
        wake(ws);
    if (ws->failed || !ws->ctx || !wslay_event_get_read_enabled(ws->ctx))
        return ws->failed ? FG_ERR_PROTO : 0; /* nothing is read after a close */
    ws->bytes_in += len;
    ws->in = (fg_wsin){data, len};
    int r = wslay_event_recv(ws->ctx);
    ws->in = (fg_wsin){NULL, 0};
    if (r != 0 || ws->peer_close_bad || peer_close_refused(ws)) {
        fail_protocol(ws);
        return FG_ERR_PROTO;
    }
    return 0;
}

int fg_ws_ping(fg_ws *ws) {
    static const uint8_t payload[] = "framegate";
    struct wslay_event_msg msg = {
        .opcode = WSLAY_PING, .msg = payload, .msg_length = sizeof(payload) - 1};
    if (fg_ws_closing(ws) || wslay_event_queue_msg(wake(ws), &msg) != 0)
        return FG_ERR_CLOSED;
    return 0;
}

uint64_t fg_ws_bytes_received(const fg_ws *ws) {
    return ws->bytes_in;
}

fg_ws_msg *fg_ws_msg_new(size_t len, uint8_t **data) {
    return fg_ws_msg_new_tail(len, data, NULL, 0, NULL);
}

fg_ws_msg *fg_ws_msg_new_tail(size_t head_len, uint8_t **head, const uint8_t *tail, size_t tail_len,
                              void *block) {
    fg_ws_msg *m = fg_malloc(sizeof(*m) + head_len);
    m->prev = m->next = NULL;
    m->len = head_len + tail_len;
    atomic_fetch_add_explicit(&msgs_bytes, m->len, memory_order_relaxed);
    m->head_len = head_len;
    m->off = 0;
    m->tail = tail;
    m->block = block;
    *head = m->data;
    return m;
}

size_t fg_ws_binary_frame_header(uint8_t out[FG_WS_FRAME_HEADER_MAX], uint64_t payload_len) {
    out[0] = 0x80 | WSLAY_BINARY_FRAME; /* FIN, no RSV bits */
    if (payload_len < 126) {
        out[1] = (uint8_t)payload_len;
        return 2;
    }
    if (payload_len <= UINT16_MAX) {
        out[1] = 126;
        out[2] = (uint8_t)(payload_len >> 8);
        out[3] = (uint8_t)payload_len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
    return 10;
}

/*
 * The one frame we build by hand. wslay has no zero-copy send: its only way to send a message
 * it does not copy whole is the fragmented one, whose read callback copies the reply 4 KiB at a
 * time into wslay's buffer and from there into out (one more copy, and writing each fragment
 * straight to the socket instead costs a syscall per 4 KiB). A server frame is unmasked, so a
 * whole message is just its header then its bytes: one writev from where they lie. Only while
 * wslay holds nothing for the client, so wslay's frames and ours never interleave; the close
 * handshake, pings, pongs and everything queued behind them stay wslay's.
 */
static int send_direct(fg_ws *ws, fg_ws_msg *m) {
    if (!ws->cbs.send_direct || fg_ws_closing(ws) || ws->mid_frame ||
        (ws->ctx && (!wslay_event_get_write_enabled(ws->ctx) ||
                     wslay_event_get_queued_msg_count(ws->ctx) > 0)))
        return FG_ERR_AGAIN;
    fg_ws_iov iov[3] = {
        {m->frame_head, fg_ws_binary_frame_header(m->frame_head, m->len)},
        {m->data, m->head_len},
        {m->tail, m->len - m->head_len},
    };
    return ws->cbs.send_direct(ws->user, iov, iov[2].len ? 3 : 2, m);
}

int fg_ws_send(fg_ws *ws, fg_ws_msg *msg) {
    if (!ws->failed && msg->len > 0 && send_direct(ws, msg) == 0)
        return 0;
    struct wslay_event_fragmented_msg arg = {
        .opcode = WSLAY_BINARY_FRAME,
        .source.data = msg,
        .read_callback = fragment_read_callback,
    };
    if (ws->failed || ws->closing || msg->len == 0 ||
        wslay_event_queue_fragmented_msg(wake(ws), &arg) != 0) {
        fg_ws_msg_free(msg);
        return FG_ERR_CLOSED;
    }
    msg->next = ws->msgs;
    if (ws->msgs)
        ws->msgs->prev = msg;
    ws->msgs = msg;
    ws->nmsgs++;
    return 0;
}

int fg_ws_flush(fg_ws *ws) {
    if (ws->failed || !ws->ctx)
        return 0;
    int r = wslay_event_send(ws->ctx);
    if (wslay_event_get_close_sent(ws->ctx))
        ws->close_code_sent = wslay_event_get_status_code_sent(ws->ctx);
    if (r != 0) {
        fail_protocol(ws);
        return FG_ERR_PROTO;
    }
    return 0;
}

void fg_ws_close(fg_ws *ws, uint16_t code, const char *reason) {
    if (ws->failed)
        return;
    size_t len = strlen(reason);
    wslay_event_queue_close(wake(ws), code, (const uint8_t *)reason, len > 123 ? 123 : len);
    ws->closing = true;
}

bool fg_ws_closing(const fg_ws *ws) {
    /* wslay itself stops reading when it queues a close (1009, 1002). */
    return ws->closing || ws->failed || (ws->ctx && !wslay_event_get_read_enabled(ws->ctx));
}

bool fg_ws_close_sent(const fg_ws *ws) {
    return ws->failed || (ws->ctx && wslay_event_get_close_sent(ws->ctx));
}

bool fg_ws_finished(const fg_ws *ws) {
    return ws->failed ||
           (ws->ctx && !wslay_event_want_read(ws->ctx) && !wslay_event_want_write(ws->ctx));
}

size_t fg_ws_queued_msgs(const fg_ws *ws) {
    return ws->ctx ? wslay_event_get_queued_msg_count(ws->ctx) : 0;
}

uint16_t fg_ws_close_code_sent(const fg_ws *ws) {
    return ws->close_code_sent;
}
