/* fg_wsframe: client frame headers in each length encoding, cut at every byte, the lengths RFC
 * 6455 5.2 forbids, and the masking of payloads of every length from any address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "fg_err.h"
#include "fg_wsframe.h"

static void reads_each_length_encoding(void **state) {
    static const struct {
        uint8_t bytes[FG_WSFRAME_HEADER_MAX];
        size_t header_len;
        uint64_t payload_len;
    } cases[] = {
        {{0x82, 0x85, 1, 2, 3, 4}, 6, 5},
        {{0x82, 0xFD, 1, 2, 3, 4}, 6, 125},
        {{0x82, 0xFE, 0x00, 0x7E, 1, 2, 3, 4}, 8, 126},
        {{0x82, 0xFE, 0xFF, 0xFF, 1, 2, 3, 4}, 8, 65535},
        {{0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}, 14, 65536},
        {{0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4}, 14, INT64_MAX},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fg_wsframe f;
        /* Every cut of the header is incomplete; the whole header reads the same with or
         * without payload bytes after it. */
        for (size_t k = 0; k < cases[i].header_len; k++)
            assert_int_equal(fg_wsframe_parse(cases[i].bytes, k, &f), FG_ERR_AGAIN);
        for (size_t k = cases[i].header_len; k <= FG_WSFRAME_HEADER_MAX; k++) {
            assert_int_equal(fg_wsframe_parse(cases[i].bytes, k, &f), 0);
            assert_true(f.fin);
            assert_int_equal(f.rsv, 0);
            assert_int_equal(f.opcode, FG_WSFRAME_BINARY);
            assert_true(f.masked);
            assert_memory_equal(f.mask, "\x01\x02\x03\x04", 4);
            assert_int_equal(f.header_len, cases[i].header_len);
            assert_true(f.payload_len == cases[i].payload_len);
        }
    }
}

static void reads_flags_opcode_and_no_mask(void **state) {
    const uint8_t close_unmasked[] = {0x88, 0x02, 0x03, 0xE8};
    fg_wsframe f;
    assert_int_equal(fg_wsframe_parse(close_unmasked, sizeof close_unmasked, &f), 0);
    assert_true(f.fin);
    assert_int_equal(f.opcode, FG_WSFRAME_CLOSE);
    assert_false(f.masked);
    assert_memory_equal(f.mask, "\0\0\0\0", 4);
    assert_int_equal(f.header_len, 2);
    assert_int_equal(f.payload_len, 2);
    const uint8_t continuation_rsv[] = {0x50, 0x80, 9, 9, 9, 9}; /* RSV1 and RSV3, not fin */
    assert_int_equal(fg_wsframe_parse(continuation_rsv, sizeof continuation_rsv, &f), 0);
    assert_false(f.fin);
    assert_int_equal(f.rsv, 5);
    assert_int_equal(f.opcode, FG_WSFRAME_CONTINUATION);
    assert_int_equal(f.payload_len, 0);
    assert_int_equal(f.header_len, 6);
}

static void refuses_lengths_the_rfc_forbids(void **state) {
    const uint8_t len16_small[] = {0x82, 0xFE, 0x00, 0x7D, 1, 2, 3, 4};
    const uint8_t len64_small[] = {0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 1, 2, 3, 4};
    const uint8_t len64_top[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    fg_wsframe f;
    assert_int_equal(fg_wsframe_parse(len16_small, sizeof len16_small, &f), FG_ERR_PROTO);
    assert_int_equal(fg_wsframe_parse(len16_small, 4, &f), FG_ERR_PROTO); /* before the key */
    assert_int_equal(fg_wsframe_parse(len16_small, 3, &f), FG_ERR_AGAIN);
    assert_int_equal(fg_wsframe_parse(len64_small, sizeof len64_small, &f), FG_ERR_PROTO);
    assert_int_equal(fg_wsframe_parse(len64_top, sizeof len64_top, &f), FG_ERR_PROTO);
}

static void unmasks_any_length_from_any_address(void **state) {
    const uint8_t mask[4] = {0xA1, 0x02, 0xF3, 0x44};
    uint8_t plain[64], buf[72];
    for (size_t i = 0; i < sizeof plain; i++)
        plain[i] = (uint8_t)(i * 37 + 1);
    for (size_t start = 0; start < 8; start++) {
        for (size_t len = 0; len <= sizeof plain; len++) {
            memset(buf, 0xEE, sizeof buf);
            for (size_t i = 0; i < len; i++)
                buf[start + i] = plain[i] ^ mask[i % 4];
            fg_wsframe_unmask(buf + start, len, mask);
            assert_memory_equal(buf + start, plain, len);
            for (size_t i = 0; i < start; i++) /* nothing outside touched */
                assert_int_equal(buf[i], 0xEE);
            for (size_t i = start + len; i < sizeof buf; i++)
                assert_int_equal(buf[i], 0xEE);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_each_length_encoding),
        cmocka_unit_test(reads_flags_opcode_and_no_mask),
        cmocka_unit_test(refuses_lengths_the_rfc_forbids),
        cmocka_unit_test(unmasks_any_length_from_any_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
