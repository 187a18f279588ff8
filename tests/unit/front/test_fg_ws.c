/* fg_ws: client frames fed from memory, server frames decoded back from the out buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "fg_err.h"
#include "fg_ws.h"

#define MAX_MESSAGE 1000

typedef struct fixture {
    fg_ws *ws;
    fg_buf out;
    fg_buf got; /* the binary messages received, concatenated */
    int messages;
    int direct_calls;
    bool refuse_direct;
    const uint8_t *fed; /* the last buffer fed through feed() */
    size_t fed_len;
    int in_place;    /* messages delivered from inside it (the frame-level path) */
    int close_after; /* > 0: on_message closes the session (1008) at that message */
    size_t lens[16]; /* of the first 16 messages */
} fixture;

static void on_message(void *user, const uint8_t *data, size_t len) {
    fixture *f = user;
    fg_buf_append(&f->got, data, len);
    if (f->messages < 16)
        f->lens[f->messages] = len;
    f->messages++;
    if (f->fed && data >= f->fed && data + len <= f->fed + f->fed_len)
        f->in_place++;
    if (f->close_after && f->messages == f->close_after)
        fg_ws_close(f->ws, 1008, "policy");
}

/* fg_ws_feed on buf, remembered so on_message can tell where its data lies. */
static int feed(fixture *f, uint8_t *buf, size_t n) {
    f->fed = buf;
    f->fed_len = n;
    int rv = fg_ws_feed(f->ws, buf, n);
    f->fed = NULL;
    return rv;
}

/* A socket that takes everything: the pieces go to out, in order with wslay's frames. */
static int on_send_direct(void *user, const fg_ws_iov *iov, size_t niov, fg_ws_msg *msg) {
    fixture *f = user;
    f->direct_calls++;
    if (f->refuse_direct)
        return FG_ERR_AGAIN;
    for (size_t i = 0; i < niov; i++)
        fg_buf_append(&f->out, iov[i].base, iov[i].len);
    fg_ws_msg_free(msg);
    return 0;
}

static fixture *make_opts(size_t high_water, bool direct, unsigned options) {
    fixture *f = calloc(1, sizeof(*f));
    fg_buf_init(&f->out, 1 << 20);
    fg_buf_init(&f->got, 1 << 20);
    fg_ws_callbacks cbs = {.on_message = on_message, .send_direct = direct ? on_send_direct : NULL};
    f->ws = fg_ws_new(MAX_MESSAGE, &f->out, high_water, &cbs, f, options);
    return f;
}

static fixture *make_with(size_t high_water, bool direct) {
    return make_opts(high_water, direct, 0);
}

static fixture *make(size_t high_water) {
    return make_with(high_water, false);
}

static int setup(void **state) {
    *state = make(1 << 16);
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    fg_ws_free(f->ws);
    fg_buf_free(&f->out);
    fg_buf_free(&f->got);
    free(f);
    return 0;
}

/* A client frame: masked unless told otherwise. Returns its length. */
static size_t client_frame(uint8_t *buf, uint8_t first_byte, const void *payload, size_t len,
                           bool masked) {
    static const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    size_t n = 0;
    buf[n++] = first_byte;
    uint8_t m = masked ? 0x80 : 0;
    if (len < 126) {
        buf[n++] = m | (uint8_t)len;
    } else {
        buf[n++] = m | 126;
        buf[n++] = (uint8_t)(len >> 8);
        buf[n++] = (uint8_t)len;
    }
    if (masked) {
        memcpy(buf + n, mask, 4);
        n += 4;
    }
    for (size_t i = 0; i < len; i++)
        buf[n + i] = ((const uint8_t *)payload)[i] ^ (masked ? mask[i % 4] : 0);
    return n + len;
}

typedef struct server_frame {
    uint8_t fin, opcode;
    const uint8_t *payload;
    size_t len;
} server_frame;

/* Decodes the frame at out[*off]; false at the end of out. */
static bool next_frame(fixture *f, size_t *off, server_frame *fr) {
    const uint8_t *p = f->out.data + *off;
    size_t left = f->out.len - *off;
    if (left < 2)
        return false;
    assert_int_equal(p[1] & 0x80, 0); /* servers never mask */
    fr->fin = p[0] >> 7;
    fr->opcode = p[0] & 0x0F;
    size_t len = p[1] & 0x7F, h = 2;
    if (len == 126) {
        len = (size_t)p[2] << 8 | p[3];
        h = 4;
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p[2 + i];
        h = 10;
    }
    assert_true(left >= h + len);
    fr->payload = p + h;
    fr->len = len;
    *off += h + len;
    return true;
}

/* The first frame in out, which must be there. */
static server_frame first_frame(fixture *f) {
    size_t off = 0;
    server_frame fr;
    assert_true(next_frame(f, &off, &fr));
    return fr;
}

/* Asserts out holds exactly one close frame with code. */
static void expect_close(fixture *f, uint16_t code) {
    size_t off = 0;
    server_frame fr;
    assert_true(next_frame(f, &off, &fr));
    assert_int_equal(fr.opcode, 8);
    assert_true(fr.len >= 2);
    assert_int_equal(fr.payload[0] << 8 | fr.payload[1], code);
    assert_false(next_frame(f, &off, &fr));
}

static void binary_message_delivered(void **state) {
    fixture *f = *state;
    uint8_t buf[64];
    size_t n = client_frame(buf, 0x82, "hello", 5, true);
    assert_int_equal(fg_ws_feed(f->ws, buf, n), 0);
    assert_int_equal(f->messages, 1);
    assert_memory_equal(f->got.data, "hello", 5);
}

static void fragmented_and_bytewise(void **state) {
    fixture *f = *state;
    uint8_t buf[128];
    size_t n = client_frame(buf, 0x02, "abc", 3, true); /* binary, not fin */
    n += client_frame(buf + n, 0x89, "p", 1, true);     /* a ping in between */
    n += client_frame(buf + n, 0x00, "def", 3, true);   /* continuation */
    n += client_frame(buf + n, 0x80, "gh", 2, true);    /* final continuation */
    for (size_t i = 0; i < n; i++)
        assert_int_equal(fg_ws_feed(f->ws, buf + i, 1), 0);
    assert_int_equal(f->messages, 1);
    assert_int_equal(f->got.len, 8);
    assert_memory_equal(f->got.data, "abcdefgh", 8);
    /* The ping is answered with a pong carrying its payload. */
    assert_int_equal(fg_ws_flush(f->ws), 0);
    server_frame fr = first_frame(f);
    assert_int_equal(fr.opcode, 0xA);
    assert_int_equal(fr.len, 1);
    assert_int_equal(fr.payload[0], 'p');
}

static void text_closes_1003(void **state) {
    fixture *f = *state;
    uint8_t buf[64];
    size_t n = client_frame(buf, 0x81, "hi", 2, true);
    n += client_frame(buf + n, 0x82, "late", 4, true); /* after the text: ignored */
    fg_ws_feed(f->ws, buf, n);
    assert_int_equal(f->messages, 0);
    assert_true(fg_ws_closing(f->ws));
    fg_ws_flush(f->ws);
    expect_close(f, 1003);
    assert_int_equal(fg_ws_close_code_sent(f->ws), 1003);
    assert_true(fg_ws_close_sent(f->ws));
}

static void oversized_message_closes_1009(void **state) {
    fixture *f = *state;
    static uint8_t payload[MAX_MESSAGE + 1];
    static uint8_t buf[MAX_MESSAGE + 16];
    size_t n = client_frame(buf, 0x82, payload, sizeof(payload), true);
    fg_ws_feed(f->ws, buf, n);
    assert_int_equal(f->messages, 0);
    fg_ws_flush(f->ws);
    expect_close(f, 1009);
    assert_true(fg_ws_finished(f->ws));
}

static void oversized_across_fragments_closes_1009(void **state) {
    fixture *f = *state;
    static uint8_t payload[600];
    static uint8_t buf[1300];
    size_t n = client_frame(buf, 0x02, payload, 600, true);
    n += client_frame(buf + n, 0x80, payload, 600, true);
    fg_ws_feed(f->ws, buf, n);
    assert_int_equal(f->messages, 0);
    fg_ws_flush(f->ws);
    expect_close(f, 1009);
}

static void message_at_the_limit_is_accepted(void **state) {
    fixture *f = *state;
    static uint8_t payload[MAX_MESSAGE];
    static uint8_t buf[MAX_MESSAGE + 16];
    size_t n = client_frame(buf, 0x82, payload, sizeof(payload), true);
    assert_int_equal(fg_ws_feed(f->ws, buf, n), 0);
    assert_int_equal(f->messages, 1);
}

static void unmasked_closes_1002(void **state) {
    fixture *f = *state;
    uint8_t buf[64];
    size_t n = client_frame(buf, 0x82, "abc", 3, false);
    fg_ws_feed(f->ws, buf, n);
    fg_ws_flush(f->ws);
    assert_int_equal(f->messages, 0);
    expect_close(f, 1002);
}

static void reserved_bits_and_bad_opcode_close_1002(void **state) {
    /* RSV1 set; opcode 3 (reserved); a continuation without a start. Each on a fresh fg_ws. */
    const uint8_t first_bytes[] = {0xC2, 0x83, 0x80};
    for (size_t i = 0; i < sizeof(first_bytes); i++) {
        if (i > 0) {
            teardown(state);
            setup(state);
        }
        fixture *f = *state;
        uint8_t buf[64];
        size_t n = client_frame(buf, first_bytes[i], "abc", 3, true);
        fg_ws_feed(f->ws, buf, n);
        fg_ws_flush(f->ws);
        expect_close(f, 1002);
    }
}

static void bad_control_frames_close_1002(void **state) {
    fixture *f = *state;
    uint8_t payload[126] = {0};
    uint8_t buf[256];
    size_t n = client_frame(buf, 0x89, payload, 126, true); /* ping over 125 bytes */
    assert_int_equal(fg_ws_feed(f->ws, buf, n), FG_ERR_PROTO);
    fg_ws_flush(f->ws);
    expect_close(f, 1002);
    assert_true(fg_ws_finished(f->ws));
    teardown(state);
    setup(state);
    f = *state;
    n = client_frame(buf, 0x09, "x", 1, true); /* fragmented ping */
    assert_int_equal(fg_ws_feed(f->ws, buf, n), FG_ERR_PROTO);
    expect_close(f, 1002);
}

static void client_close_is_echoed(void **state) {
    fixture *f = *state;
    uint8_t buf[64];
    const uint8_t code[] = {0x03, 0xE8, 'b', 'y', 'e'};
    size_t n = client_frame(buf, 0x88, code, sizeof(code), true);
    fg_ws_feed(f->ws, buf, n);
    assert_true(fg_ws_closing(f->ws));
    fg_ws_flush(f->ws);
    expect_close(f, 1000);
    assert_true(fg_ws_finished(f->ws));
}

static void sends_a_message_in_fragments(void **state) {
    fixture *f = *state;
    uint8_t *data;
    size_t len = 10000;
    fg_ws_msg *m = fg_ws_msg_new(len, &data);
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 7);
    assert_int_equal(fg_ws_send(f->ws, m), 0);
    assert_int_equal(fg_ws_queued_msgs(f->ws), 1);
    assert_int_equal(fg_ws_flush(f->ws), 0);
    assert_int_equal(fg_ws_queued_msgs(f->ws), 0);
    size_t off = 0, total = 0;
    server_frame fr;
    int frames = 0;
    uint8_t last_fin = 0;
    while (next_frame(f, &off, &fr)) {
        assert_int_equal(fr.opcode, frames == 0 ? 2 : 0);
        for (size_t i = 0; i < fr.len; i++)
            assert_int_equal(fr.payload[i], (uint8_t)((total + i) * 7));
        total += fr.len;
        last_fin = fr.fin;
        frames++;
    }
    assert_int_equal(total, len);
    assert_int_equal(last_fin, 1);
    assert_true(frames >= 2);
}

static void high_water_bounds_out_and_frees_unsent(void **state) {
    teardown(state);
    *state = make(100);
    fixture *f = *state;
    for (int i = 0; i < 3; i++) {
        uint8_t *data;
        fg_ws_msg *m = fg_ws_msg_new(5000, &data);
        memset(data, i, 5000);
        assert_int_equal(fg_ws_send(f->ws, m), 0);
    }
    fg_ws_flush(f->ws);
    /* One whole frame (at most a 4 KiB fragment) past the mark, never half a frame. */
    assert_true(f->out.len > 100 && f->out.len <= 100 + 4096 + 14);
    size_t off = 0;
    server_frame fr;
    while (next_frame(f, &off, &fr))
        ;
    assert_int_equal(off, f->out.len);
    fg_buf_reset(&f->out);
    fg_ws_flush(f->ws);
    assert_true(f->out.len > 0);
    /* Two and a half messages are still queued: teardown frees them (ASan checks). */
    assert_true(fg_ws_queued_msgs(f->ws) >= 2);
}

static void close_refuses_later_messages(void **state) {
    fixture *f = *state;
    fg_ws_close(f->ws, 1001, "going away");
    uint8_t *data;
    fg_ws_msg *m = fg_ws_msg_new(10, &data);
    memset(data, 0, 10);
    assert_int_equal(fg_ws_send(f->ws, m), FG_ERR_CLOSED);
    fg_ws_flush(f->ws);
    expect_close(f, 1001);
    assert_true(fg_ws_close_sent(f->ws));
    assert_false(fg_ws_finished(f->ws)); /* waits for the client's close */
}

/* Starts over with a fresh session (for tests that check several inputs). */
static fixture *renew(void **state) {
    teardown(state);
    setup(state);
    return *state;
}

/* Feeds bytes in reads of step bytes (0: at once), flushes, and checks out holds exactly one
 * frame: a close with code. Nothing is delivered. */
static void expect_violation(void **state, const uint8_t *bytes, size_t n, size_t step,
                             uint16_t code) {
    fixture *f = renew(state);
    uint8_t *copy = malloc(n); /* fg_ws_feed may write into what it is fed */
    memcpy(copy, bytes, n);
    for (size_t off = 0; off < n;) {
        size_t k = step && n - off > step ? step : n - off;
        fg_ws_feed(f->ws, copy + off, k);
        fg_ws_flush(f->ws);
        off += k;
    }
    free(copy);
    assert_int_equal(f->messages, 0);
    expect_close(f, code);
    assert_true(fg_ws_closing(f->ws));
    assert_int_equal(fg_ws_close_code_sent(f->ws), code);
}

static size_t close_frame(uint8_t *buf, uint16_t code, const char *reason, size_t reason_len) {
    uint8_t body[125];
    body[0] = (uint8_t)(code >> 8);
    body[1] = (uint8_t)code;
    memcpy(body + 2, reason, reason_len);
    return client_frame(buf, 0x88, body, 2 + reason_len, true);
}

static void invalid_close_codes_close_1002(void **state) {
    static const uint16_t bad[] = {0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999};
    uint8_t buf[64];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = close_frame(buf, bad[i], "", 0);
        expect_violation(state, buf, n, 0, 1002);
        expect_violation(state, buf, n, 1, 1002);
    }
}

static void valid_close_codes_are_echoed(void **state) {
    static const uint16_t good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009,
                                    1010, 1011, 3000, 3999, 4000, 4999};
    uint8_t buf[64];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        fixture *f = renew(state);
        size_t n = close_frame(buf, good[i], "ok", 2);
        assert_int_equal(fg_ws_feed(f->ws, buf, n), 0);
        fg_ws_flush(f->ws);
        expect_close(f, good[i]);
        assert_true(fg_ws_finished(f->ws));
    }
}

static void one_byte_close_and_bad_utf8_reason_close_1002(void **state) {
    uint8_t buf[64];
    size_t n = client_frame(buf, 0x88, "\x03", 1, true);
    expect_violation(state, buf, n, 0, 1002);
    expect_violation(state, buf, n, 1, 1002);
    static const char *bad_reasons[] = {
        "\xff",             /* never valid */
        "ab\xc3",           /* cut sequence */
        "\xc0\xaf",         /* overlong '/' */
        "\xed\xa0\x80",     /* a surrogate */
        "\xf4\x90\x80\x80", /* past U+10FFFF */
    };
    for (size_t i = 0; i < sizeof(bad_reasons) / sizeof(bad_reasons[0]); i++) {
        n = close_frame(buf, 1000, bad_reasons[i], strlen(bad_reasons[i]));
        expect_violation(state, buf, n, 0, 1002);
        expect_violation(state, buf, n, 1, 1002); /* wslay's own check misses this one */
        expect_violation(state, buf, n, 3, 1002);
    }
    /* Valid multi-byte UTF-8 is fine. */
    fixture *f = renew(state);
    static const char good[] = "gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80";
    n = close_frame(buf, 1000, good, sizeof(good) - 1);
    assert_int_equal(fg_ws_feed(f->ws, buf, n), 0);
    fg_ws_flush(f->ws);
    expect_close(f, 1000);
}

static void framing_violations_close_1002(void **state) {
    uint8_t buf[256];
    size_t n;
    /* Every reserved opcode, and each reserved bit. */
    for (uint8_t op = 3; op <= 0xF; op++) {
        if (op >= 8 && op <= 0xA)
            continue;
        n = client_frame(buf, (uint8_t)(0x80 | op), "x", 1, true);
        expect_violation(state, buf, n, 0, 1002);
    }
    for (uint8_t rsv = 1; rsv <= 7; rsv++) {
        n = client_frame(buf, (uint8_t)(0x82 | rsv << 4), "x", 1, true);
        expect_violation(state, buf, n, 0, 1002);
    }
    /* A new data frame inside a fragmented message. */
    n = client_frame(buf, 0x02, "ab", 2, true);
    n += client_frame(buf + n, 0x82, "cd", 2, true);
    expect_violation(state, buf, n, 0, 1002);
    /* A 64-bit length with the top bit set. */
    static const uint8_t len64_top[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};
    expect_violation(state, len64_top, sizeof(len64_top), 0, 1002);
    /* Non-minimal lengths: 5 bytes as a 16-bit and as a 64-bit length. */
    static const uint8_t len16_small[] = {0x82, 0xFE, 0, 5, 1, 2, 3, 4, 'a', 'b', 'c', 'd', 'e'};
    expect_violation(state, len16_small, sizeof(len16_small), 0, 1002);
    static const uint8_t len64_small[] = {0x82, 0xFF, 0, 0, 0,   0,   0,   0,   0,  5,
                                          1,    2,    3, 4, 'a', 'b', 'c', 'd', 'e'};
    expect_violation(state, len64_small, sizeof(len64_small), 0, 1002);
    expect_violation(state, len64_small, sizeof(len64_small), 1, 1002);
}

/* The fuzz_ws reproducer: a text frame (close 1003), then a broken frame: still one close. */
static void one_close_only_after_text_then_violation(void **state) {
    static const uint8_t repro[] = {0x01, 0x80, 0x00, 0x10, 0x61, 0x00, 0xff, 0xff};
    uint8_t buf[256];
    size_t n;
    for (size_t step = 0; step <= 3; step++)
        expect_violation(state, repro, sizeof(repro), step, 1003);
    /* Text, then a ping over 125 bytes (a frame-level error) in the same read and later. */
    uint8_t payload[126] = {0};
    n = client_frame(buf, 0x81, "t", 1, true);
    n += client_frame(buf + n, 0x89, payload, 126, true);
    expect_violation(state, buf, n, 0, 1003);
    fixture *f = renew(state);
    n = client_frame(buf, 0x81, "t", 1, true);
    fg_ws_feed(f->ws, buf, n);
    fg_ws_flush(f->ws);
    n = client_frame(buf, 0x89, payload, 126, true);
    fg_ws_feed(f->ws, buf, n);
    fg_ws_flush(f->ws);
    expect_close(f, 1003);
    /* A 1009 close, then a bad close frame: still only the 1009. */
    f = renew(state);
    static uint8_t big[MAX_MESSAGE + 1];
    static uint8_t bigbuf[MAX_MESSAGE + 16];
    n = client_frame(bigbuf, 0x82, big, sizeof(big), true);
    fg_ws_feed(f->ws, bigbuf, n);
    n = client_frame(buf, 0x88, "\x03", 1, true);
    fg_ws_feed(f->ws, buf, n);
    fg_ws_flush(f->ws);
    expect_close(f, 1009);
}

static void nothing_processed_after_close(void **state) {
    fixture *f = *state;
    uint8_t buf[128];
    size_t n = close_frame(buf, 1000, "", 0);
    n += client_frame(buf + n, 0x82, "late", 4, true);
    n += client_frame(buf + n, 0x89, "p", 1, true);
    fg_ws_feed(f->ws, buf, n);
    n = client_frame(buf, 0x82, "later", 5, true);
    fg_ws_feed(f->ws, buf, n);
    fg_ws_flush(f->ws);
    assert_int_equal(f->messages, 0);
    expect_close(f, 1000); /* no pong after it */
}

static void unsolicited_pong_ignored(void **state) {
    fixture *f = *state;
    uint8_t buf[64];
    size_t n = client_frame(buf, 0x8A, "pong", 4, true);
    n += client_frame(buf + n, 0x82, "req", 3, true);
    assert_int_equal(fg_ws_feed(f->ws, buf, n), 0);
    fg_ws_flush(f->ws);
    assert_int_equal(f->out.len, 0); /* nothing answered */
    assert_int_equal(f->messages, 1);
    assert_false(fg_ws_closing(f->ws));
}

static void keepalive_ping_and_byte_count(void **state) {
    fixture *f = *state;
    assert_int_equal(fg_ws_bytes_received(f->ws), 0);
    assert_int_equal(fg_ws_ping(f->ws), 0);
    assert_int_equal(fg_ws_queued_msgs(f->ws), 1);
    fg_ws_flush(f->ws);
    assert_int_equal(fg_ws_queued_msgs(f->ws), 0);
    server_frame fr = first_frame(f);
    assert_int_equal(fr.opcode, 9);
    assert_int_equal(fr.fin, 1);
    uint8_t buf[64];
    size_t n = client_frame(buf, 0x8A, fr.payload, fr.len, true);
    fg_ws_feed(f->ws, buf, n);
    assert_int_equal(fg_ws_bytes_received(f->ws), n);
    fg_ws_close(f->ws, 1001, "bye");
    assert_int_equal(fg_ws_ping(f->ws), FG_ERR_CLOSED);
}

/* A wslay client reading what a server wrote: the frame header builder is checked against the
 * library's own parser (which also refuses a length not in its shortest encoding). */
typedef struct wire {
    const uint8_t *data;
    size_t len, off;
    int messages;
    uint8_t opcode;
    size_t msg_len;
    bool payload_ok;
    const uint8_t *expect;
} wire;

static ssize_t wire_recv_callback(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                                  void *user_data) {
    wire *w = user_data;
    if (w->off == w->len) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < w->len - w->off ? len : w->len - w->off;
    memcpy(buf, w->data + w->off, n);
    w->off += n;
    return (ssize_t)n;
}

static void wire_on_msg_recv_callback(wslay_event_context_ptr ctx,
                                      const struct wslay_event_on_msg_recv_arg *arg,
                                      void *user_data) {
    wire *w = user_data;
    w->messages++;
    w->opcode = arg->opcode;
    w->msg_len = arg->msg_length;
    w->payload_ok = arg->msg_length == 0 || memcmp(arg->msg, w->expect, arg->msg_length) == 0;
}

static void frame_header_in_all_three_encodings(void **state) {
    static const struct {
        size_t len, header;
    } cases[] = {{0, 2},   {1, 2},     {125, 2},    {126, 4},
                 {127, 4}, {65535, 4}, {65536, 10}, {200000, 10}};
    size_t max = 200000;
    uint8_t *payload = malloc(max);
    uint8_t *frame = malloc(max + FG_WS_FRAME_HEADER_MAX);
    for (size_t i = 0; i < max; i++)
        payload[i] = (uint8_t)(i * 13 + 5);
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        size_t h = fg_ws_binary_frame_header(frame, cases[k].len);
        assert_int_equal(h, cases[k].header);
        memcpy(frame + h, payload, cases[k].len);
        wire w = {.data = frame, .len = h + cases[k].len, .expect = payload};
        static const struct wslay_event_callbacks cbs = {
            .recv_callback = wire_recv_callback,
            .on_msg_recv_callback = wire_on_msg_recv_callback,
        };
        wslay_event_context_ptr client;
        assert_int_equal(wslay_event_context_client_init(&client, &cbs, &w), 0);
        wslay_event_config_set_max_recv_msg_length(client, max);
        assert_int_equal(wslay_event_recv(client), 0);
        assert_true(wslay_event_get_read_enabled(client)); /* no protocol error */
        assert_int_equal(w.messages, 1);
        assert_int_equal(w.opcode, WSLAY_BINARY_FRAME);
        assert_int_equal(w.msg_len, cases[k].len);
        assert_true(w.payload_ok);
        assert_int_equal(w.off, w.len);
        wslay_event_context_free(client);
    }
    free(frame);
    free(payload);
}

/* A message of len bytes: head_len in the message, the rest adopted as a heap tail. */
static fg_ws_msg *tail_msg(size_t head_len, size_t len, uint8_t seed) {
    uint8_t *head;
    uint8_t *block = malloc(len - head_len + 1);
    /* The tail is filled before the message adopts it: it is read in place, as an image is. */
    for (size_t i = head_len; i < len; i++)
        block[i - head_len] = (uint8_t)(seed + i);
    fg_ws_msg *m = fg_ws_msg_new_tail(head_len, &head, block, len - head_len, block);
    for (size_t i = 0; i < head_len; i++)
        head[i] = (uint8_t)(seed + i);
    return m;
}

static void expect_message(const server_frame *fr, size_t len, uint8_t seed) {
    assert_int_equal(fr->opcode, 2);
    assert_int_equal(fr->fin, 1);
    assert_int_equal(fr->len, len);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(fr->payload[i], (uint8_t)(seed + i));
}

static void sends_directly_only_when_wslay_holds_nothing(void **state) {
    teardown(state);
    fixture *f = make_with(1 << 16, true);
    *state = f;
    /* Idle: one frame, header and pieces straight out, nothing queued. */
    assert_int_equal(fg_ws_send(f->ws, tail_msg(28, 300, 1)), 0);
    assert_int_equal(f->direct_calls, 1);
    assert_int_equal(fg_ws_queued_msgs(f->ws), 0);
    /* A ping queued in wslay: the next reply queues behind it, in order. */
    assert_int_equal(fg_ws_ping(f->ws), 0);
    assert_int_equal(fg_ws_send(f->ws, tail_msg(28, 5000, 2)), 0);
    assert_int_equal(f->direct_calls, 1);
    assert_int_equal(fg_ws_queued_msgs(f->ws), 2);
    assert_int_equal(fg_ws_flush(f->ws), 0);
    /* Drained: direct again (a head-only message too); a refusal falls back to wslay. */
    assert_int_equal(fg_ws_send(f->ws, tail_msg(40, 40, 3)), 0);
    assert_int_equal(f->direct_calls, 2);
    f->refuse_direct = true;
    assert_int_equal(fg_ws_send(f->ws, tail_msg(10, 20000, 4)), 0);
    assert_int_equal(f->direct_calls, 3);
    assert_int_equal(fg_ws_flush(f->ws), 0);
    f->refuse_direct = false;

    size_t off = 0;
    server_frame fr;
    assert_true(next_frame(f, &off, &fr));
    expect_message(&fr, 300, 1);
    assert_true(next_frame(f, &off, &fr));
    assert_int_equal(fr.opcode, 9);
    size_t total = 0;
    do {
        assert_true(next_frame(f, &off, &fr));
        assert_int_equal(fr.opcode, total == 0 ? 2 : 0);
        for (size_t i = 0; i < fr.len; i++)
            assert_int_equal(fr.payload[i], (uint8_t)(2 + total + i));
        total += fr.len;
    } while (!fr.fin);
    assert_int_equal(total, 5000);
    assert_true(next_frame(f, &off, &fr));
    expect_message(&fr, 40, 3);
    total = 0;
    do {
        assert_true(next_frame(f, &off, &fr));
        total += fr.len;
    } while (!fr.fin);
    assert_int_equal(total, 20000);
    assert_false(next_frame(f, &off, &fr));

    /* Once a close is queued nothing more is sent, directly or not. */
    fg_ws_close(f->ws, 1001, "bye");
    assert_int_equal(fg_ws_send(f->ws, tail_msg(28, 100, 5)), FG_ERR_CLOSED);
    assert_int_equal(f->direct_calls, 3);
}

/* Between messages the session drops wslay's state and picks up exactly where it was: partial
 * frames, open fragmented messages, a queued pong and a queued close keep it awake; a fresh
 * context still applies the size limit. */
static void rests_only_between_messages(void **state) {
    fixture *f = *state;
    uint8_t buf[1200], big[1001];
    assert_true(fg_ws_rest(f->ws)); /* a new session holds nothing */
    size_t n = client_frame(buf, 0x82, "hello", 5, true);
    assert_int_equal(fg_ws_feed(f->ws, buf, 3), 0); /* inside the header */
    assert_false(fg_ws_rest(f->ws));
    assert_int_equal(fg_ws_feed(f->ws, buf + 3, n - 3), 0);
    assert_int_equal(f->messages, 1);
    assert_true(fg_ws_rest(f->ws));

    memset(big, 'x', sizeof big);
    n = client_frame(buf, 0x02, big, 200, true); /* 16-bit length, not fin */
    assert_int_equal(fg_ws_feed(f->ws, buf, n), 0);
    assert_false(fg_ws_rest(f->ws)); /* the message is open */
    n = client_frame(buf, 0x80, "abc", 3, true);
    assert_int_equal(fg_ws_feed(f->ws, buf, n - 1), 0);
    assert_false(fg_ws_rest(f->ws)); /* inside the payload */
    assert_int_equal(fg_ws_feed(f->ws, buf + n - 1, 1), 0);
    assert_int_equal(f->messages, 2);
    assert_int_equal(f->got.len, 5 + 203);
    assert_true(fg_ws_rest(f->ws));

    n = client_frame(buf, 0x89, "p", 1, true);
    assert_int_equal(fg_ws_feed(f->ws, buf, n), 0);
    assert_false(fg_ws_rest(f->ws)); /* the pong is queued */
    assert_int_equal(fg_ws_flush(f->ws), 0);
    assert_int_equal(first_frame(f).opcode, 0xA);
    assert_true(fg_ws_rest(f->ws));
    assert_int_equal(fg_ws_flush(f->ws), 0); /* resting: nothing to write */
    assert_int_equal(fg_ws_queued_msgs(f->ws), 0);
    assert_false(fg_ws_closing(f->ws));

    f->out.len = 0;
    n = client_frame(buf, 0x82, big, sizeof big, true); /* past MAX_MESSAGE */
    fg_ws_feed(f->ws, buf, n);
    fg_ws_flush(f->ws);
    expect_close(f, 1009);
    assert_false(fg_ws_rest(f->ws));
    assert_int_equal(f->messages, 2);
}

/* ---- the frame-level receive path (fg_ws_feed without wslay between messages) ---- */

/* A fresh session, taking every byte through wslay when told (the reference). */
static fixture *renew_opts(void **state, unsigned options) {
    teardown(state);
    *state = make_opts(1 << 16, false, options);
    return *state;
}

/* Three whole binary frames (7-bit, 16-bit and empty lengths) in one read: delivered in order
 * from the read buffer itself, each once, every byte counted; wslay alone agrees. */
static void several_frames_in_one_feed_in_order(void **state) {
    static const unsigned modes[] = {0, FG_WS_WSLAY_ONLY};
    uint8_t payload[300];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 31 + 7);
    for (size_t m = 0; m < 2; m++) {
        fixture *f = renew_opts(state, modes[m]);
        uint8_t buf[512];
        size_t n = client_frame(buf, 0x82, "first", 5, true);
        n += client_frame(buf + n, 0x82, payload, sizeof payload, true);
        n += client_frame(buf + n, 0x82, "", 0, true);
        assert_int_equal(feed(f, buf, n), 0);
        assert_int_equal(f->messages, 3);
        assert_int_equal(f->in_place, modes[m] ? 0 : 3);
        assert_int_equal(f->lens[0], 5);
        assert_int_equal(f->lens[1], sizeof payload);
        assert_int_equal(f->lens[2], 0);
        assert_int_equal(f->got.len, 5 + sizeof payload);
        assert_memory_equal(f->got.data, "first", 5);
        assert_memory_equal(f->got.data + 5, payload, sizeof payload);
        assert_int_equal(fg_ws_bytes_received(f->ws), n);
        assert_int_equal(fg_ws_flush(f->ws), 0);
        assert_int_equal(f->out.len, 0);
        assert_false(fg_ws_closing(f->ws));
        assert_true(fg_ws_rest(f->ws));
    }
}

/* A frame cut by the end of a read goes to wslay, which delivers it once when the rest comes;
 * the read that completes it stays with wslay; the next read is the fast path's again. */
static void frame_split_across_feeds(void **state) {
    fixture *f = *state;
    uint8_t a[64], b[300], c[64];
    uint8_t payload[200];
    memset(payload, 'p', sizeof payload);
    size_t n1 = client_frame(a, 0x82, "one", 3, true);
    uint8_t frame2[256];
    size_t n2 = client_frame(frame2, 0x82, payload, sizeof payload, true);
    memcpy(a + n1, frame2, 10); /* header and 2 payload bytes */
    assert_int_equal(feed(f, a, n1 + 10), 0);
    assert_int_equal(f->messages, 1);
    assert_int_equal(f->in_place, 1);
    assert_false(fg_ws_rest(f->ws)); /* wslay holds part of a frame */
    memcpy(b, frame2 + 10, n2 - 10);
    size_t nb = n2 - 10 + client_frame(b + n2 - 10, 0x82, "three", 5, true);
    assert_int_equal(feed(f, b, nb), 0);
    assert_int_equal(f->messages, 3);
    assert_int_equal(f->in_place, 1);
    size_t nc = client_frame(c, 0x82, "four", 4, true);
    assert_int_equal(feed(f, c, nc), 0);
    assert_int_equal(f->messages, 4);
    assert_int_equal(f->in_place, 2);
    assert_int_equal(f->lens[1], sizeof payload);
    assert_int_equal(f->got.len, 3 + sizeof payload + 5 + 4);
    assert_memory_equal(f->got.data, "one", 3);
    assert_memory_equal(f->got.data + 3, payload, sizeof payload);
    assert_memory_equal(f->got.data + 3 + sizeof payload, "threefour", 9);
    assert_int_equal(fg_ws_bytes_received(f->ws), n1 + 10 + nb + nc);
    assert_true(fg_ws_rest(f->ws));
}

/* A binary frame, a ping, a binary frame in one read: both messages in order, the ping
 * answered with its payload. */
static void fast_frame_then_ping_in_one_feed(void **state) {
    fixture *f = *state;
    uint8_t buf[128];
    size_t n = client_frame(buf, 0x82, "AA", 2, true);
    n += client_frame(buf + n, 0x89, "pi", 2, true);
    n += client_frame(buf + n, 0x82, "BBB", 3, true);
    assert_int_equal(feed(f, buf, n), 0);
    assert_int_equal(f->messages, 2);
    assert_int_equal(f->in_place, 1); /* the one after the ping is wslay's */
    assert_int_equal(f->got.len, 5);
    assert_memory_equal(f->got.data, "AABBB", 5);
    assert_int_equal(fg_ws_bytes_received(f->ws), n);
    assert_int_equal(fg_ws_flush(f->ws), 0);
    size_t off = 0;
    server_frame fr;
    assert_true(next_frame(f, &off, &fr));
    assert_int_equal(fr.opcode, 0xA);
    assert_int_equal(fr.len, 2);
    assert_memory_equal(fr.payload, "pi", 2);
    assert_false(next_frame(f, &off, &fr));
}

/* A fragmented message, then whole frames, in one read and across reads: every message once,
 * in order; the fast path takes over once the fragmented message is complete. */
static void fragmented_message_then_fast_frames(void **state) {
    fixture *f = *state;
    uint8_t buf[128];
    size_t n = client_frame(buf, 0x02, "ab", 2, true);
    n += client_frame(buf + n, 0x80, "cd", 2, true);
    n += client_frame(buf + n, 0x82, "ef", 2, true);
    n += client_frame(buf + n, 0x82, "gh", 2, true);
    assert_int_equal(feed(f, buf, n), 0);
    assert_int_equal(f->messages, 3);
    assert_int_equal(f->in_place, 0); /* wslay had the read from its first frame on */
    size_t total = n;
    n = client_frame(buf, 0x02, "ij", 2, true);
    assert_int_equal(feed(f, buf, n), 0);
    total += n;
    n = client_frame(buf, 0x80, "kl", 2, true);
    n += client_frame(buf + n, 0x82, "mn", 2, true);
    assert_int_equal(feed(f, buf, n), 0);
    total += n;
    assert_int_equal(f->messages, 5);
    n = client_frame(buf, 0x82, "op", 2, true);
    assert_int_equal(feed(f, buf, n), 0);
    total += n;
    assert_int_equal(f->messages, 6);
    assert_int_equal(f->in_place, 1);
    assert_int_equal(f->got.len, 16);
    assert_memory_equal(f->got.data, "abcdefghijklmnop", 16);
    assert_int_equal(f->lens[0], 4);
    assert_int_equal(f->lens[3], 4);
    assert_int_equal(fg_ws_bytes_received(f->ws), total);
}

/* Behind a fast frame in the same read, an oversized frame still closes 1009 and an unmasked
 * one 1002 (wslay's answers); the frame before is delivered, nothing after. */
static void violations_after_fast_frames_keep_their_codes(void **state) {
    static uint8_t big[MAX_MESSAGE + 1];
    static uint8_t buf[MAX_MESSAGE + 64];
    fixture *f = renew(state);
    size_t n = client_frame(buf, 0x82, "ok", 2, true);
    n += client_frame(buf + n, 0x82, big, sizeof big, true);
    n += client_frame(buf + n, 0x82, "no", 2, true);
    feed(f, buf, n);
    fg_ws_flush(f->ws);
    assert_int_equal(f->messages, 1);
    assert_int_equal(f->in_place, 1);
    expect_close(f, 1009);
    assert_int_equal(fg_ws_close_code_sent(f->ws), 1009);

    f = renew(state);
    n = client_frame(buf, 0x82, "ok", 2, true);
    n += client_frame(buf + n, 0x82, "bare", 4, false);
    n += client_frame(buf + n, 0x82, "no", 2, true);
    feed(f, buf, n);
    fg_ws_flush(f->ws);
    assert_int_equal(f->messages, 1);
    expect_close(f, 1002);
    assert_int_equal(fg_ws_close_code_sent(f->ws), 1002);

    /* A length not in its shortest encoding after a fast frame: wslay's 1002 too. */
    f = renew(state);
    n = client_frame(buf, 0x82, "ok", 2, true);
    static const uint8_t len16_small[] = {0x82, 0xFE, 0, 5, 1, 2, 3, 4, 'a', 'b', 'c', 'd', 'e'};
    memcpy(buf + n, len16_small, sizeof len16_small);
    n += sizeof len16_small;
    assert_int_equal(feed(f, buf, n), FG_ERR_PROTO);
    assert_int_equal(f->messages, 1);
    expect_close(f, 1002);
}

/* The exact count of bytes received whatever path took them, for the keepalive. */
static void bytes_received_exact_on_both_paths(void **state) {
    fixture *f = *state;
    uint8_t buf[600], payload[500];
    memset(payload, 'z', sizeof payload);
    uint64_t total = 0;
    size_t n = client_frame(buf, 0x82, payload, 125, true); /* 7-bit length */
    assert_int_equal(feed(f, buf, n), 0);
    total += n;
    assert_int_equal(fg_ws_bytes_received(f->ws), total);
    n = client_frame(buf, 0x82, payload, 500, true); /* 16-bit length, fed in three reads */
    assert_int_equal(feed(f, buf, 1), 0);
    assert_int_equal(feed(f, buf + 1, 200), 0);
    assert_int_equal(fg_ws_bytes_received(f->ws), total + 201);
    assert_int_equal(feed(f, buf + 201, n - 201), 0);
    total += n;
    assert_int_equal(fg_ws_bytes_received(f->ws), total);
    n = client_frame(buf, 0x8A, "pong", 4, true);
    n += client_frame(buf + n, 0x82, payload, 126, true);
    assert_int_equal(feed(f, buf, n), 0);
    total += n;
    assert_int_equal(fg_ws_bytes_received(f->ws), total);
    assert_int_equal(f->messages, 3);
    assert_true(fg_ws_rest(f->ws));
}

/* on_message closing the session stops delivery at once: the frames after it in the same
 * read and in later reads are not delivered; the close goes out alone. */
static void close_from_on_message_stops_delivery(void **state) {
    static const unsigned modes[] = {0, FG_WS_WSLAY_ONLY};
    for (size_t m = 0; m < 2; m++) {
        fixture *f = renew_opts(state, modes[m]);
        f->close_after = 2;
        uint8_t buf[128];
        size_t n = client_frame(buf, 0x82, "a", 1, true);
        n += client_frame(buf + n, 0x82, "b", 1, true);
        n += client_frame(buf + n, 0x82, "c", 1, true);
        n += client_frame(buf + n, 0x89, "p", 1, true);
        assert_int_equal(feed(f, buf, n), 0);
        assert_int_equal(f->messages, 2);
        assert_true(fg_ws_closing(f->ws));
        n = client_frame(buf, 0x82, "d", 1, true);
        feed(f, buf, n);
        assert_int_equal(f->messages, 2);
        assert_memory_equal(f->got.data, "ab", 2);
        fg_ws_flush(f->ws);
        expect_close(f, 1008); /* no pong: nothing after our close */
    }
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(binary_message_delivered),
        T(fragmented_and_bytewise),
        T(text_closes_1003),
        T(oversized_message_closes_1009),
        T(oversized_across_fragments_closes_1009),
        T(message_at_the_limit_is_accepted),
        T(unmasked_closes_1002),
        T(reserved_bits_and_bad_opcode_close_1002),
        T(bad_control_frames_close_1002),
        T(client_close_is_echoed),
        T(sends_a_message_in_fragments),
        T(high_water_bounds_out_and_frees_unsent),
        T(close_refuses_later_messages),
        T(invalid_close_codes_close_1002),
        T(valid_close_codes_are_echoed),
        T(one_byte_close_and_bad_utf8_reason_close_1002),
        T(framing_violations_close_1002),
        T(one_close_only_after_text_then_violation),
        T(nothing_processed_after_close),
        T(unsolicited_pong_ignored),
        T(keepalive_ping_and_byte_count),
        T(frame_header_in_all_three_encodings),
        T(sends_directly_only_when_wslay_holds_nothing),
        T(rests_only_between_messages),
        T(several_frames_in_one_feed_in_order),
        T(frame_split_across_feeds),
        T(fast_frame_then_ping_in_one_feed),
        T(fragmented_message_then_fast_frames),
        T(violations_after_fast_frames_keep_their_codes),
        T(bytes_received_exact_on_both_paths),
        T(close_from_on_message_stops_delivery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
