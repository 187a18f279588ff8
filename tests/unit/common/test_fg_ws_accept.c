/* fg_ws_accept: the RFC 6455 handshake example and others, key checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "fg_ws_accept.h"

static void rfc6455_example(void **state) {
    char accept[FG_WS_ACCEPT_LEN + 1];
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    assert_true(fg_ws_key_valid(key, strlen(key)));
    fg_ws_accept_value(key, strlen(key), accept);
    assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

/* More keys, their values computed apart (Python's hashlib and base64). */
static void other_keys(void **state) {
    static const char *const pairs[][2] = {
        {"x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk="},
        {"AAAAAAAAAAAAAAAAAAAAAA==", "ICX+Yqv66kxgM0FcWaLWlFLwTAI="},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        char accept[FG_WS_ACCEPT_LEN + 1];
        fg_ws_accept_value(pairs[i][0], strlen(pairs[i][0]), accept);
        assert_int_equal(strlen(accept), FG_WS_ACCEPT_LEN);
        assert_string_equal(accept, pairs[i][1]);
    }
}

static void key_validation(void **state) {
    assert_false(fg_ws_key_valid("", 0));
    assert_false(fg_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=", 23));
    assert_false(fg_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ==x", 25));
    assert_false(fg_ws_key_valid("dGhlIHNhbXBsZSBub25j!Q==", 24));
    assert_false(fg_ws_key_valid("dGhlIHNhbXBsZSBub25jZR==", 24)); /* non-zero pad bits */
    assert_true(fg_ws_key_valid("AAAAAAAAAAAAAAAAAAAAAA==", 24));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc6455_example),
        cmocka_unit_test(other_keys),
        cmocka_unit_test(key_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
