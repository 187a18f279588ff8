/* fg_ws_accept: SHA-1 against the FIPS 180 vectors, the RFC 6455 handshake example, key checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "fg_ws_accept.h"

static void hex(const uint8_t *d, size_t n, char *out) {
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void check_sha1(const void *data, size_t len, const char *want) {
    uint8_t digest[FG_SHA1_LEN];
    char got[2 * FG_SHA1_LEN + 1];
    fg_sha1(data, len, digest);
    hex(digest, sizeof(digest), got);
    assert_string_equal(got, want);
}

static void sha1_known_vectors(void **state) {
    check_sha1("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    check_sha1("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check_sha1(two_blocks, strlen(two_blocks), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    static uint8_t million[1000000];
    memset(million, 'a', sizeof(million));
    check_sha1(million, sizeof(million), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

static void sha1_padding_edges(void **state) {
    /* 55, 56 and 64 bytes: the length fits / does not fit in the last block. */
    uint8_t buf[64];
    memset(buf, 'a', sizeof(buf));
    check_sha1(buf, 55, "c1c8bbdc22796e28c0e15163d20899b65621d65a");
    check_sha1(buf, 56, "c2db330f6083854c99d4b5bfb6e8f29f201be699");
    check_sha1(buf, 64, "0098ba824b5c16427bd7a1122a5a442a25ec644d");
}

static void rfc6455_example(void **state) {
    char accept[FG_WS_ACCEPT_LEN + 1];
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    assert_true(fg_ws_key_valid(key, strlen(key)));
    fg_ws_accept_value(key, strlen(key), accept);
    assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
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
        cmocka_unit_test(sha1_known_vectors),
        cmocka_unit_test(sha1_padding_edges),
        cmocka_unit_test(rfc6455_example),
        cmocka_unit_test(key_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
