/* fg_ws: client frames fed from memory, server frames decoded back from the out buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "fg_err.h"
#include "fg_ws.h"

#define MAX_MESSAGE 1000

typedef struct fixture {
    fg_ws *ws;
    fg_buf out;
    fg_buf got; /* the binary messages received, concatenated */
    int messages;
} fixture;

static void on_message(void *user, const uint8_t *data, size_t len) {
    fixture *f = user;
    fg_buf_append(&f->got, data, len);
    f->messages++;
}

static fixture *make(size_t high_water) {
    fixture *f = calloc(1, sizeof(*f));
    fg_buf_init(&f->out, 1 << 20);
    fg_buf_init(&f->got, 1 << 20);
    fg_ws_callbacks cbs = {.on_message = on_message};
    f->ws = fg_ws_new(MAX_MESSAGE, &f->out, high_water, &cbs, f);
    return f;
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
    size_t off = 0;
    server_frame fr;
    assert_true(next_frame(f, &off, &fr));
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
    fixture *f = *state;
    uint8_t buf[64];
    size_t n = client_frame(buf, 0xC2, "abc", 3, true); /* RSV1 set */
    fg_ws_feed(f->ws, buf, n);
    fg_ws_flush(f->ws);
    expect_close(f, 1002);
    teardown(state);
    setup(state);
    f = *state;
    n = client_frame(buf, 0x83, "abc", 3, true); /* opcode 3 is reserved */
    fg_ws_feed(f->ws, buf, n);
    fg_ws_flush(f->ws);
    expect_close(f, 1002);
    teardown(state);
    setup(state);
    f = *state;
    n = client_frame(buf, 0x80, "abc", 3, true); /* continuation without a start */
    fg_ws_feed(f->ws, buf, n);
    fg_ws_flush(f->ws);
    expect_close(f, 1002);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
