#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "fg_wsin.h"

static wslay_event_context_ptr new_ctx(void) {
    static const struct wslay_event_callbacks no_callbacks;
    wslay_event_context_ptr ctx;
    assert_int_equal(wslay_event_context_server_init(&ctx, &no_callbacks, NULL), 0);
    return ctx;
}

static void hands_out_the_bytes_in_pieces_then_would_block(void **state) {
    wslay_event_context_ptr ctx = new_ctx();
    const uint8_t data[] = "abcdefg";
    fg_wsin in = {data, 7};
    uint8_t buf[4];
    assert_int_equal(fg_wsin_recv(&in, ctx, buf, sizeof buf), 4);
    assert_memory_equal(buf, "abcd", 4);
    assert_int_equal(fg_wsin_recv(&in, ctx, buf, sizeof buf), 3);
    assert_memory_equal(buf, "efg", 3);
    assert_int_equal(in.len, 0);
    assert_int_equal(fg_wsin_recv(&in, ctx, buf, sizeof buf), -1);
    wslay_event_context_free(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hands_out_the_bytes_in_pieces_then_would_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
