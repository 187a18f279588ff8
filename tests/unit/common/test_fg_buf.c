#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "fg_buf.h"
#include "fg_err.h"

static void append_within_limit(void **state) {
    fg_buf b;
    fg_buf_init(&b, 10);
    assert_int_equal(fg_buf_append(&b, "hello", 5), 0);
    assert_int_equal(fg_buf_append(&b, "world", 5), 0);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "helloworld", 10);
    fg_buf_free(&b);
}

static void append_over_limit_leaves_buffer_unchanged(void **state) {
    fg_buf b;
    fg_buf_init(&b, 8);
    assert_int_equal(fg_buf_append(&b, "abcdef", 6), 0);
    assert_int_equal(fg_buf_append(&b, "xyz", 3), FG_ERR_TOO_BIG);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "abcdef", 6);
    assert_true(b.cap <= 8);
    fg_buf_free(&b);
}

static void consume_and_reset_keep_storage(void **state) {
    fg_buf b;
    fg_buf_init(&b, 1024);
    assert_int_equal(fg_buf_append(&b, "0123456789", 10), 0);
    fg_buf_consume(&b, 4);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "456789", 6);
    uint8_t *storage = b.data;
    fg_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(fg_buf_append(&b, "x", 1), 0);
    assert_ptr_equal(b.data, storage);
    fg_buf_consume(&b, 100);
    assert_int_equal(b.len, 0);
    fg_buf_free(&b);
    assert_null(b.data);
}

static void reserve_is_bounded(void **state) {
    fg_buf b;
    fg_buf_init(&b, 100);
    assert_int_equal(fg_buf_reserve(&b, 100), 0);
    assert_int_equal(fg_buf_reserve(&b, 101), FG_ERR_TOO_BIG);
    assert_int_equal(b.len, 0);
    fg_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(append_within_limit),
        cmocka_unit_test(append_over_limit_leaves_buffer_unchanged),
        cmocka_unit_test(consume_and_reset_keep_storage),
        cmocka_unit_test(reserve_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
