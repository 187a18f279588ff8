#include "fuzz_session.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_buf.h"
#include "fg_codec.h"
#include "fg_err.h"
#include "fg_ws.h"

#define MAX_DEFERRED 8
#define BACKEND "127.0.0.1:50051"

typedef struct fuzz_session {
    fg_ws *ws;
    fg_buf out;
    bool close_out; /* our close frame was written */
    fg_ws_msg *deferred[MAX_DEFERRED];
    size_t ndeferred;
    size_t messages;
    uint64_t msg_digest; /* of every message delivered, in order */
    uint64_t out_digest; /* of everything written to the client */
} fuzz_session;

/* FNV-1a, continued from h. */
static uint64_t digest(uint64_t h, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* The reply the proxy would send: FRAME echoing the input as the image, or ERROR. */
static fg_ws_msg *build_reply(const uint8_t *data, size_t len) {
    fg_render_request req;
    const char *why;
    int rv = fg_codec_parse_request(data, len, &req, &why);
    const uint8_t *payload = rv == 0 ? req.input : (const uint8_t *)why;
    size_t payload_len = rv == 0 ? req.input_len : strlen(why);
    size_t backend_len = rv == 0 ? strlen(BACKEND) : 0;
    fg_reply_header h = {
        .type = rv == 0 ? FG_MSG_FRAME : FG_MSG_ERROR,
        .backend_len = (uint8_t)backend_len,
        .status = rv == 0 ? 0 : 3,
        .request_id = req.request_id,
        .frame = req.frame,
        .attempts = rv == 0,
    };
    uint8_t *p;
    fg_ws_msg *m = fg_ws_msg_new(FG_REPLY_HEADER_LEN + backend_len + payload_len, &p);
    fg_codec_write_reply_header(p, &h);
    memcpy(p + FG_REPLY_HEADER_LEN, BACKEND, backend_len);
    memcpy(p + FG_REPLY_HEADER_LEN + backend_len, payload, payload_len);
    return m;
}

static void on_message(void *user, const uint8_t *data, size_t len) {
    fuzz_session *s = user;
    if (len > FUZZ_MAX_MESSAGE || fg_ws_closing(s->ws))
        abort();
    s->messages++;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (uint8_t)(len >> (8 * i));
    s->msg_digest = digest(digest(s->msg_digest, len8, sizeof len8), data, len);
    fg_ws_msg *m = build_reply(data, len);
    /* Odd request ids are answered later, like a backend reply arriving after more reads. */
    if (len >= 8 && (data[4] & 1) && s->ndeferred < MAX_DEFERRED) {
        s->deferred[s->ndeferred++] = m;
        return;
    }
    if (fg_ws_send(s->ws, m) != 0)
        abort(); /* not closing, so the session must take it */
}

/* Walks the server frames in out: whole, unmasked, well-formed, nothing after our close. */
static void check_output(fuzz_session *s) {
    const uint8_t *p = s->out.data;
    size_t left = s->out.len;
    while (left > 0) {
        if (s->close_out)
            abort(); /* RFC 6455 5.5.1: nothing after our close frame */
        if (left < 2 || (p[1] & 0x80) || (p[0] & 0x70))
            abort(); /* cut, masked or with reserved bits */
        uint8_t opcode = p[0] & 0x0F;
        uint64_t n = p[1] & 0x7F;
        size_t head = 2;
        if (n == 126) {
            head = 4;
            if (left < head)
                abort();
            n = (uint64_t)p[2] << 8 | p[3];
        } else if (n == 127) {
            head = 10;
            if (left < head)
                abort();
            n = 0;
            for (int i = 2; i < 10; i++)
                n = n << 8 | p[i];
        }
        if (left - head < n)
            abort(); /* a frame cut at the end of the output */
        if (opcode >= 8 && (n > 125 || !(p[0] & 0x80)))
            abort();
        if (opcode == 8) {
            if (n == 1)
                abort();
            s->close_out = true;
        }
        p += head + n;
        left -= head + n;
    }
    s->out_digest = digest(s->out_digest, s->out.data, s->out.len);
    fg_buf_reset(&s->out); /* the socket took it */
}

static void flush_all(fuzz_session *s) {
    for (;;) {
        int rv = fg_ws_flush(s->ws);
        size_t wrote = s->out.len;
        check_output(s);
        if (rv != 0 || wrote == 0)
            return;
    }
}

static void send_deferred(fuzz_session *s) {
    for (size_t i = 0; i < s->ndeferred; i++) {
        bool closing = fg_ws_closing(s->ws);
        int rv = fg_ws_send(s->ws, s->deferred[i]);
        if (rv != 0 && (rv != FG_ERR_CLOSED || !closing))
            abort();
    }
    s->ndeferred = 0;
}

/* As fg_conn: a reply goes straight to the socket only while nothing waits in out. */
static int on_send_direct(void *user, const fg_ws_iov *iov, size_t niov, fg_ws_msg *msg) {
    fuzz_session *s = user;
    if (s->out.len > 0)
        return FG_ERR_AGAIN;
    for (size_t i = 0; i < niov; i++)
        fg_buf_append(&s->out, iov[i].base, iov[i].len);
    fg_ws_msg_free(msg);
    check_output(s);
    return 0;
}

typedef struct outcome {
    size_t messages;
    bool failed;
    uint16_t close_code;
    uint64_t msg_digest, out_digest;
} outcome;

/* One run; with rest, the session is offered fg_ws_rest() after every read, as the proxy's
 * keepalive tick may do between any two reads. options: fg_ws_new's. The client's bytes are
 * copied first: fg_ws_feed may unmask frames in place, and the input is read three times. */
static outcome run_once(const uint8_t *input, size_t len, size_t read_size, size_t high_water,
                        bool rest, unsigned options) {
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        abort();
    memcpy(copy, input, len);
    uint8_t *in = copy;
    fuzz_session s = {.msg_digest = 0xcbf29ce484222325ULL, .out_digest = 0xcbf29ce484222325ULL};
    fg_buf_init(&s.out, 16 * 1024 * 1024);
    /* An odd multiple of 16 as high-water mark sends replies directly when wslay holds
     * nothing, like the proxy (fuzz_ws: an even byte 1). */
    fg_ws_callbacks cbs = {.on_message = on_message,
                           .send_direct = (high_water / 16) & 1 ? on_send_direct : NULL};
    s.ws = fg_ws_new(FUZZ_MAX_MESSAGE, &s.out, high_water, &cbs, &s, options);

    bool failed = false;
    while (len > 0 && !failed) {
        size_t n = read_size == 0 || read_size > len ? len : read_size;
        failed = fg_ws_feed(s.ws, in, n) != 0;
        in += n;
        len -= n;
        flush_all(&s);
        send_deferred(&s);
        flush_all(&s);
        if (rest)
            fg_ws_rest(s.ws);
    }
    if (failed && !s.close_out && fg_ws_close_code_sent(s.ws) == 0)
        abort();                /* a protocol error must be answered with a close */
    if (getenv("FUZZ_VERBOSE")) /* to see what a seed or reproducer does */
        fprintf(stderr, "fuzz_session: %zu messages, protocol error %d, close sent %u\n",
                s.messages, failed, fg_ws_close_code_sent(s.ws));
    outcome o = {s.messages, failed, fg_ws_close_code_sent(s.ws), s.msg_digest, s.out_digest};
    if (!fg_ws_closing(s.ws))
        fg_ws_close(s.ws, 1001, "going away");
    send_deferred(&s);
    flush_all(&s);
    fg_ws_free(s.ws);
    fg_buf_free(&s.out);
    free(copy);
    return o;
}

void fuzz_session_run(const uint8_t *in, size_t len, size_t read_size, size_t high_water) {
    outcome awake = run_once(in, len, read_size, high_water, false, 0);
    outcome rested = run_once(in, len, read_size, high_water, true, 0);
    outcome wslay = run_once(in, len, read_size, high_water, false, FG_WS_WSLAY_ONLY);
    /* Resting never changes what the client gets. */
    if (awake.messages != rested.messages || awake.failed != rested.failed ||
        awake.close_code != rested.close_code || awake.msg_digest != rested.msg_digest)
        abort();
    /* The frame-level path delivers what wslay alone delivers and the client gets the same
     * bytes, frame for frame. */
    if (awake.messages != wslay.messages || awake.failed != wslay.failed ||
        awake.close_code != wslay.close_code || awake.msg_digest != wslay.msg_digest ||
        awake.out_digest != wslay.out_digest)
        abort();
}
