/* fs_call: request header parsing, request DATA limits, grpc-message encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "fg_clock.h"
#include "fs_call.h"

static void header(fs_call *call, const char *name, const char *value) {
    fs_call_on_header(call, (const uint8_t *)name, strlen(name), (const uint8_t *)value,
                      strlen(value));
}

static void test_headers(void **state) {
    fs_call *call = fs_call_new(NULL, 1, 1024);
    header(call, ":method", "POST");
    header(call, ":path", "/framegate.v1.FrameService/Render");
    header(call, "content-type", "application/grpc+proto");
    header(call, "grpc-timeout", "250m");
    assert_true(call->method_post);
    assert_true(call->grpc_content_type);
    assert_string_equal(call->path, "/framegate.v1.FrameService/Render");
    assert_false(call->bad_timeout);
    assert_int_equal(call->deadline_us - call->arrival_us, 250000);
    fs_call_free(call);

    call = fs_call_new(NULL, 3, 1024);
    header(call, ":method", "GET");
    header(call, "content-type", "application/grpcx");
    header(call, "grpc-timeout", "1x");
    char long_path[200];
    memset(long_path, 'a', sizeof(long_path) - 1);
    long_path[sizeof(long_path) - 1] = '\0';
    header(call, ":path", long_path);
    assert_false(call->method_post);
    assert_false(call->grpc_content_type);
    assert_true(call->bad_timeout);
    assert_int_equal(call->deadline_us, 0);
    assert_string_equal(call->path, ""); /* too long: matches no method */
    fs_call_free(call);
}

static void test_message_encoding(void **state) {
    char *s = fs_call_encode_message("model 'x' is 100% \xc3\xa9\n");
    assert_string_equal(s, "model 'x' is 100%25 %C3%A9%0A");
    free(s);
    char big[FS_CALL_MESSAGE_MAX * 2];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    s = fs_call_encode_message(big);
    assert_int_equal(strlen(s), FS_CALL_MESSAGE_MAX);
    free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_message_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
