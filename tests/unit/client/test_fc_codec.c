/*
 * Tests for fc_codec, checked against the proxy's own codec (src/wire/fg_codec): what the
 * client writes the proxy parses, and what the proxy writes the client parses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "fc_codec.h"
#include "fg_codec.h"
#include "fg_err.h"

static void test_request_round_trip(void **state) {
    uint8_t msg[64];
    const char *model = "sanders";
    const uint8_t input[] = {1, 2, 3, 4, 5};
    assert_int_equal(fc_codec_write_request_header(msg, 0xA1B2C3D4u, 42, strlen(model), 0), 0);
    memcpy(msg + FG_REQUEST_HEADER_LEN, model, strlen(model));
    memcpy(msg + FG_REQUEST_HEADER_LEN + strlen(model), input, sizeof(input));
    size_t len = FG_REQUEST_HEADER_LEN + strlen(model) + sizeof(input);

    fg_render_request req;
    const char *why = NULL;
    assert_int_equal(fg_codec_parse_request(msg, len, &req, &why), 0);
    assert_int_equal(req.request_id, 0xA1B2C3D4u);
    assert_int_equal(req.frame, 42);
    assert_int_equal(req.model_len, strlen(model));
    assert_memory_equal(req.model, model, strlen(model));
    assert_int_equal(req.input_len, sizeof(input));
    assert_memory_equal(req.input, input, sizeof(input));
    /* Little-endian on the wire, as the contract says. */
    assert_int_equal(msg[0], FG_MSG_RENDER);
    assert_int_equal(msg[1], 7);
    assert_int_equal(msg[4], 0xD4);
    assert_int_equal(msg[7], 0xA1);
}

static void test_request_model_bounds(void **state) {
    uint8_t msg[FG_REQUEST_HEADER_LEN];
    assert_int_equal(fc_codec_write_request_header(msg, 1, 1, 0, 0), FG_ERR_INVALID);
    assert_int_equal(fc_codec_write_request_header(msg, 1, 1, 256, 0), FG_ERR_INVALID);
    assert_int_equal(fc_codec_write_request_header(msg, 1, 1, 255, 0), 0);
}

static void test_reply_round_trip(void **state) {
    fg_reply_header h = {.type = FG_MSG_FRAME,
                         .backend_len = 15,
                         .status = 0,
                         .request_id = 7,
                         .frame = 99,
                         .grpc_us = 16000,
                         .total_us = 18000,
                         .width = 128,
                         .height = 64,
                         .format = 1,
                         .attempts = 2};
    uint8_t msg[128];
    fg_codec_write_reply_header(msg, &h);
    memcpy(msg + FG_REPLY_HEADER_LEN, "localhost:50051", 15);
    memcpy(msg + FG_REPLY_HEADER_LEN + 15, "pixels", 6);
    fc_reply rep;
    assert_int_equal(fc_codec_parse_reply(msg, FG_REPLY_HEADER_LEN + 21, &rep), 0);
    /* Field by field: the struct has padding. */
    assert_int_equal(rep.h.type, h.type);
    assert_int_equal(rep.h.backend_len, h.backend_len);
    assert_int_equal(rep.h.status, h.status);
    assert_int_equal(rep.h.request_id, h.request_id);
    assert_int_equal(rep.h.frame, h.frame);
    assert_int_equal(rep.h.grpc_us, h.grpc_us);
    assert_int_equal(rep.h.total_us, h.total_us);
    assert_int_equal(rep.h.width, h.width);
    assert_int_equal(rep.h.height, h.height);
    assert_int_equal(rep.h.format, h.format);
    assert_int_equal(rep.h.attempts, h.attempts);
    assert_memory_equal(rep.backend, "localhost:50051", 15);
    assert_int_equal(rep.payload_len, 6);
    assert_memory_equal(rep.payload, "pixels", 6);
}

static void test_error_reply(void **state) {
    fg_reply_header h = {.type = FG_MSG_ERROR, .status = 14, .request_id = 3, .frame = 4};
    uint8_t msg[128];
    fg_codec_write_reply_header(msg, &h);
    const char *text = "no backends available";
    memcpy(msg + FG_REPLY_HEADER_LEN, text, strlen(text));
    fc_reply rep;
    assert_int_equal(fc_codec_parse_reply(msg, FG_REPLY_HEADER_LEN + strlen(text), &rep), 0);
    assert_int_equal(rep.h.type, FG_MSG_ERROR);
    assert_int_equal(rep.h.status, 14);
    assert_int_equal(rep.h.backend_len, 0);
    assert_int_equal(rep.payload_len, strlen(text));
    assert_memory_equal(rep.payload, text, strlen(text));
}

static void test_bad_replies(void **state) {
    uint8_t msg[64] = {0};
    fc_reply rep;
    fg_reply_header h = {.type = FG_MSG_FRAME, .backend_len = 10};
    fg_codec_write_reply_header(msg, &h);
    assert_int_equal(fc_codec_parse_reply(msg, FG_REPLY_HEADER_LEN - 1, &rep), FG_ERR_PROTO);
    /* backend_len runs past the end. */
    assert_int_equal(fc_codec_parse_reply(msg, FG_REPLY_HEADER_LEN + 9, &rep), FG_ERR_PROTO);
    assert_int_equal(fc_codec_parse_reply(msg, FG_REPLY_HEADER_LEN + 10, &rep), 0);
    msg[0] = FG_MSG_RENDER; /* a request is not a reply */
    assert_int_equal(fc_codec_parse_reply(msg, sizeof(msg), &rep), FG_ERR_PROTO);
}

/* LATEST is bit 0 of the u16 flags at offset 2 (contract §2); no other bit can be written. */
static void test_request_latest_flag(void **state) {
    uint8_t msg[FG_REQUEST_HEADER_LEN];
    assert_int_equal(fc_codec_write_request_header(msg, 9, 10, 7, FG_FLAG_LATEST), 0);
    assert_int_equal(msg[2], 1);
    assert_int_equal(msg[3], 0);
    assert_int_equal(msg[4], 9);
    assert_int_equal(fc_codec_write_request_header(msg, 9, 10, 7, 0), 0);
    assert_int_equal(msg[2] | msg[3], 0);
    assert_int_equal(fc_codec_write_request_header(msg, 9, 10, 7, 2), FG_ERR_INVALID);
    assert_int_equal(fc_codec_write_request_header(msg, 9, 10, 7, 0x8001), FG_ERR_INVALID);
}

/* HINT: type 4, reserved, u16 healthy backends, u32 frames/s x1000, u32 queue wait us, u32. */
static void test_hint(void **state) {
    const uint8_t msg[FG_HINT_LEN] = {4,    0,    3,    0,    0xD4, 0x30, 0, 0,
                                      0x40, 0x9C, 0x00, 0x00, 0,    0,    0, 0};
    fg_hint h;
    assert_int_equal(fc_codec_parse_hint(msg, sizeof msg, &h), 0);
    assert_int_equal(h.healthy, 3);
    assert_int_equal(h.fps_milli, 12500);
    assert_int_equal(h.queue_wait_us, 40000);
    assert_int_equal(fc_codec_parse_hint(msg, sizeof msg - 1, &h), FG_ERR_PROTO);
    uint8_t longer[FG_HINT_LEN + 1] = {4};
    assert_int_equal(fc_codec_parse_hint(longer, sizeof longer, &h), FG_ERR_PROTO);
    uint8_t other[FG_HINT_LEN];
    memcpy(other, msg, sizeof other);
    other[0] = FG_MSG_FRAME;
    assert_int_equal(fc_codec_parse_hint(other, sizeof other, &h), FG_ERR_PROTO);
    /* A HINT is not a reply. */
    fc_reply rep;
    assert_int_equal(fc_codec_parse_reply(msg, sizeof msg, &rep), FG_ERR_PROTO);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_round_trip),
        cmocka_unit_test(test_request_model_bounds),
        cmocka_unit_test(test_reply_round_trip),
        cmocka_unit_test(test_error_reply),
        cmocka_unit_test(test_bad_replies),
        cmocka_unit_test(test_request_latest_flag),
        cmocka_unit_test(test_hint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
