/* fg_codec: every malformed case of the contract's WebSocket error table, and the reply layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "fg_codec.h"
#include "fg_err.h"

/* Builds a request into buf; returns its length. */
static size_t build(uint8_t *buf, uint8_t type, uint8_t model_len, uint16_t flags, uint32_t id,
                    uint32_t frame, const char *model, const char *input) {
    buf[0] = type;
    buf[1] = model_len;
    buf[2] = (uint8_t)flags;
    buf[3] = (uint8_t)(flags >> 8);
    for (int i = 0; i < 4; i++) {
        buf[4 + i] = (uint8_t)(id >> (8 * i));
        buf[8 + i] = (uint8_t)(frame >> (8 * i));
    }
    size_t n = 12;
    memcpy(buf + n, model, strlen(model));
    n += strlen(model);
    memcpy(buf + n, input, strlen(input));
    return n + strlen(input);
}

/* Parses a message that must be valid; its fields. */
static fg_render_request parse_ok(const uint8_t *buf, size_t n) {
    fg_render_request r;
    const char *why;
    assert_int_equal(fg_codec_parse_request(buf, n, &r, &why), 0);
    return r;
}

static void parses_valid_request(void **state) {
    uint8_t buf[64];
    size_t n = build(buf, 1, 7, 0, 0x01020304, 42, "sanders", "pcm");
    fg_render_request r = parse_ok(buf, n);
    assert_int_equal(r.request_id, 0x01020304);
    assert_int_equal(r.frame, 42);
    assert_int_equal(r.model_len, 7);
    assert_memory_equal(r.model, "sanders", 7);
    assert_int_equal(r.input_len, 3);
    assert_memory_equal(r.input, "pcm", 3);
}

static void empty_input_is_valid(void **state) {
    uint8_t buf[64];
    size_t n = build(buf, 1, 1, 0, 7, 8, "m", "");
    assert_int_equal(parse_ok(buf, n).input_len, 0);
}

static void model_of_255_bytes_is_valid(void **state) {
    uint8_t buf[300];
    char model[256];
    memset(model, 'a', 255);
    model[255] = '\0';
    size_t n = build(buf, 1, 255, 0, 1, 2, model, "");
    assert_int_equal(parse_ok(buf, n).model_len, 255);
}

static void short_messages_echo_what_is_present(void **state) {
    uint8_t buf[64];
    build(buf, 1, 7, 0, 0xAABBCCDD, 0x11223344, "sanders", "");
    fg_render_request r;
    const char *why;
    for (size_t len = 0; len < 12; len++) {
        assert_int_equal(fg_codec_parse_request(buf, len, &r, &why), FG_ERR_INVALID);
        assert_int_equal(r.request_id, len >= 8 ? 0xAABBCCDD : 0);
        assert_int_equal(r.frame, 0);
        assert_non_null(why);
    }
}

static void wrong_type_is_invalid(void **state) {
    uint8_t buf[64];
    fg_render_request r;
    const char *why;
    for (int type = 0; type < 256; type++) {
        if (type == 1)
            continue;
        size_t n = build(buf, (uint8_t)type, 7, 0, 5, 6, "sanders", "");
        assert_int_equal(fg_codec_parse_request(buf, n, &r, &why), FG_ERR_INVALID);
        assert_int_equal(r.request_id, 5);
        assert_int_equal(r.frame, 6);
    }
}

static void zero_model_len_is_invalid(void **state) {
    uint8_t buf[64];
    size_t n = build(buf, 1, 0, 0, 5, 6, "", "input");
    fg_render_request r;
    const char *why;
    assert_int_equal(fg_codec_parse_request(buf, n, &r, &why), FG_ERR_INVALID);
    assert_int_equal(r.frame, 6);
}

static void model_past_the_end_is_invalid(void **state) {
    uint8_t buf[64];
    size_t n = build(buf, 1, 8, 0, 5, 6, "sanders", ""); /* 7 bytes there, 8 claimed */
    fg_render_request r;
    const char *why;
    assert_int_equal(fg_codec_parse_request(buf, n, &r, &why), FG_ERR_INVALID);
    n = build(buf, 1, 255, 0, 5, 6, "", "");
    assert_int_equal(fg_codec_parse_request(buf, n, &r, &why), FG_ERR_INVALID);
}

/* v1.1: bit 0 is LATEST; every other bit must be 0. */
static void flags_other_than_latest_are_invalid(void **state) {
    uint8_t buf[64];
    fg_render_request r;
    const char *why;
    const uint16_t flags[] = {2, 3, 0x100, 0x8000, 0xFFFF};
    for (size_t i = 0; i < 5; i++) {
        size_t n = build(buf, 1, 7, flags[i], 5, 6, "sanders", "");
        assert_int_equal(fg_codec_parse_request(buf, n, &r, &why), FG_ERR_INVALID);
        assert_int_equal(r.request_id, 5);
    }
    size_t n = build(buf, 1, 7, FG_FLAG_LATEST, 5, 6, "sanders", "");
    assert_int_equal(fg_codec_parse_request(buf, n, &r, &why), 0);
    assert_int_equal(r.flags, FG_FLAG_LATEST);
    n = build(buf, 1, 7, 0, 5, 6, "sanders", "");
    assert_int_equal(fg_codec_parse_request(buf, n, &r, &why), 0);
    assert_int_equal(r.flags, 0);
}

static void hint_layout_follows_the_contract(void **state) {
    uint8_t out[FG_HINT_LEN];
    memset(out, 0xAA, sizeof out);
    fg_hint h = {.healthy = 0x0304, .fps_milli = 0x05060708, .queue_wait_us = 0x090A0B0C};
    fg_codec_write_hint(out, &h);
    const uint8_t want[FG_HINT_LEN] = {4,    0,    0x04, 0x03, 0x08, 0x07, 0x06, 0x05,
                                       0x0C, 0x0B, 0x0A, 0x09, 0,    0,    0,    0};
    assert_memory_equal(out, want, FG_HINT_LEN);
}

static void model_must_be_utf8(void **state) {
    uint8_t buf[64];
    fg_render_request r;
    const char *why;
    const char *bad[] = {"\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\x80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = build(buf, 1, (uint8_t)strlen(bad[i]), 0, 1, 2, bad[i], "");
        assert_int_equal(fg_codec_parse_request(buf, n, &r, &why), FG_ERR_INVALID);
    }
    const char *good = "s\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"; /* s, e-acute, euro, emoji */
    size_t n = build(buf, 1, (uint8_t)strlen(good), 0, 1, 2, good, "");
    assert_int_equal(fg_codec_parse_request(buf, n, &r, &why), 0);
}

static void reply_header_layout(void **state) {
    uint8_t out[FG_REPLY_HEADER_LEN];
    memset(out, 0xEE, sizeof(out));
    fg_reply_header h = {
        .type = FG_MSG_FRAME,
        .backend_len = 15,
        .status = 0x0E0D,
        .request_id = 0x04030201,
        .frame = 0x08070605,
        .grpc_us = 0x0C0B0A09,
        .total_us = 0x100F0E0D,
        .width = 0x1211,
        .height = 0x1413,
        .format = 3,
        .attempts = 2,
    };
    fg_codec_write_reply_header(out, &h);
    const uint8_t want[FG_REPLY_HEADER_LEN] = {
        2,    15,   0x0D, 0x0E, 1,    2,    3,    4,    5,    6,    7, 8, 9, 0x0A,
        0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13, 0x14, 3, 2, 0, 0,
    };
    assert_memory_equal(out, want, sizeof(want));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_valid_request),
        cmocka_unit_test(empty_input_is_valid),
        cmocka_unit_test(model_of_255_bytes_is_valid),
        cmocka_unit_test(short_messages_echo_what_is_present),
        cmocka_unit_test(wrong_type_is_invalid),
        cmocka_unit_test(zero_model_len_is_invalid),
        cmocka_unit_test(model_past_the_end_is_invalid),
        cmocka_unit_test(flags_other_than_latest_are_invalid),
        cmocka_unit_test(hint_layout_follows_the_contract),
        cmocka_unit_test(model_must_be_utf8),
        cmocka_unit_test(reply_header_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
