#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "fg_err.h"
#include "fg_grpc.h"

static void prefix_is_big_endian_uncompressed(void **state) {
    uint8_t p[FG_GRPC_PREFIX_LEN];
    fg_grpc_prefix_write(p, 0x01020304);
    const uint8_t want[] = {0, 1, 2, 3, 4};
    assert_memory_equal(p, want, sizeof(want));
}

static void reads_message_split_across_chunks(void **state) {
    uint8_t wire[5 + 6];
    fg_grpc_prefix_write(wire, 6);
    memcpy(wire + 5, "abcdef", 6);
    fg_grpc_reader r;
    fg_grpc_reader_init(&r, 100);
    for (size_t i = 0; i < sizeof(wire); i++) {
        assert_false(fg_grpc_reader_done(&r));
        assert_int_equal(fg_grpc_reader_feed(&r, wire + i, 1), 0);
    }
    assert_true(fg_grpc_reader_done(&r));
    const uint8_t *msg;
    size_t len;
    assert_int_equal(fg_grpc_reader_finish(&r, &msg, &len), 0);
    assert_int_equal(len, 6);
    assert_memory_equal(msg, "abcdef", 6);
    fg_grpc_reader_free(&r);
}

static void empty_message_is_a_message(void **state) {
    uint8_t wire[5];
    fg_grpc_prefix_write(wire, 0);
    fg_grpc_reader r;
    fg_grpc_reader_init(&r, 100);
    assert_int_equal(fg_grpc_reader_feed(&r, wire, 5), 0);
    const uint8_t *msg;
    size_t len = 99;
    assert_int_equal(fg_grpc_reader_finish(&r, &msg, &len), 0);
    assert_int_equal(len, 0);
    fg_grpc_reader_free(&r);
}

static void no_bytes_means_no_message(void **state) {
    fg_grpc_reader r;
    fg_grpc_reader_init(&r, 100);
    const uint8_t *msg;
    size_t len;
    assert_int_equal(fg_grpc_reader_finish(&r, &msg, &len), FG_ERR_AGAIN);
    fg_grpc_reader_free(&r);
}

static void rejects_over_limit_before_buffering(void **state) {
    uint8_t wire[5];
    fg_grpc_prefix_write(wire, 101);
    fg_grpc_reader r;
    fg_grpc_reader_init(&r, 100);
    assert_int_equal(fg_grpc_reader_feed(&r, wire, 5), FG_ERR_TOO_BIG);
    assert_null(r.msg.data);
    fg_grpc_reader_free(&r);
}

static void rejects_compressed_and_bad_flag(void **state) {
    uint8_t wire[5] = {1, 0, 0, 0, 1};
    fg_grpc_reader r;
    fg_grpc_reader_init(&r, 100);
    assert_int_equal(fg_grpc_reader_feed(&r, wire, 5), FG_ERR_COMPRESSED);
    fg_grpc_reader_free(&r);
    wire[0] = 7;
    fg_grpc_reader_init(&r, 100);
    assert_int_equal(fg_grpc_reader_feed(&r, wire, 5), FG_ERR_PROTO);
    fg_grpc_reader_free(&r);
}

static void rejects_second_message_and_cut_message(void **state) {
    uint8_t wire[12];
    fg_grpc_prefix_write(wire, 1);
    wire[5] = 'x';
    fg_grpc_prefix_write(wire + 6, 1);
    fg_grpc_reader r;
    fg_grpc_reader_init(&r, 100);
    assert_int_equal(fg_grpc_reader_feed(&r, wire, 12), FG_ERR_PROTO);
    fg_grpc_reader_free(&r);

    fg_grpc_prefix_write(wire, 4);
    fg_grpc_reader_init(&r, 100);
    assert_int_equal(fg_grpc_reader_feed(&r, wire, 7), 0);
    const uint8_t *msg;
    size_t len;
    assert_int_equal(fg_grpc_reader_finish(&r, &msg, &len), FG_ERR_PROTO);
    fg_grpc_reader_free(&r);
}

static void reset_keeps_storage_for_the_next_message(void **state) {
    uint8_t wire[5 + 3];
    fg_grpc_prefix_write(wire, 3);
    memcpy(wire + 5, "abc", 3);
    fg_grpc_reader r;
    fg_grpc_reader_init(&r, 100);
    assert_int_equal(fg_grpc_reader_feed(&r, wire, sizeof(wire)), 0);
    uint8_t *storage = r.msg.data;
    fg_grpc_reader_reset(&r);
    assert_false(fg_grpc_reader_done(&r));
    assert_int_equal(r.msg.len, 0);
    assert_ptr_equal(r.msg.data, storage);
    memcpy(wire + 5, "xyz", 3);
    assert_int_equal(fg_grpc_reader_feed(&r, wire, sizeof(wire)), 0);
    const uint8_t *msg;
    size_t len;
    assert_int_equal(fg_grpc_reader_finish(&r, &msg, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(msg, "xyz", 3);
    assert_ptr_equal(msg, storage);
    fg_grpc_reader_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prefix_is_big_endian_uncompressed),
        cmocka_unit_test(reads_message_split_across_chunks),
        cmocka_unit_test(empty_message_is_a_message),
        cmocka_unit_test(no_bytes_means_no_message),
        cmocka_unit_test(rejects_over_limit_before_buffering),
        cmocka_unit_test(rejects_compressed_and_bad_flag),
        cmocka_unit_test(rejects_second_message_and_cut_message),
        cmocka_unit_test(reset_keeps_storage_for_the_next_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
