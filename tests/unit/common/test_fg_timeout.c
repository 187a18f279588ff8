#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "fg_err.h"
#include "fg_timeout.h"

static uint64_t parse_ok(const char *s) {
    uint64_t us = 0;
    assert_int_equal(fg_timeout_parse(s, strlen(s), &us), 0);
    return us;
}

static void parses_every_unit(void **state) {
    assert_int_equal(parse_ok("2H"), 7200000000ULL);
    assert_int_equal(parse_ok("3M"), 180000000ULL);
    assert_int_equal(parse_ok("1S"), 1000000ULL);
    assert_int_equal(parse_ok("250m"), 250000ULL);
    assert_int_equal(parse_ok("17u"), 17ULL);
    assert_int_equal(parse_ok("1500n"), 2ULL); /* rounded up */
    assert_int_equal(parse_ok("99999999S"), 99999999000000ULL);
}

static void rejects_malformed(void **state) {
    const char *bad[] = {"", "S", "10", "10x", "-1S", "1 S", "123456789S", "1.5S"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t us;
        assert_int_equal(fg_timeout_parse(bad[i], strlen(bad[i]), &us), FG_ERR_INVALID);
    }
}

static void formats_smallest_exact_unit_and_round_trips(void **state) {
    char out[FG_TIMEOUT_STRLEN];
    assert_int_equal(fg_timeout_format(1000000, out), 8);
    assert_string_equal(out, "1000000u");
    fg_timeout_format(100000000, out); /* 100 s does not fit 8 digits of u */
    assert_string_equal(out, "100000m");
    fg_timeout_format(100000001, out); /* rounded up, never shorter */
    assert_string_equal(out, "100001m");
    assert_int_equal(fg_timeout_format(0, out), 2);
    assert_string_equal(out, "0u");
    assert_int_equal(fg_timeout_format(UINT64_MAX / 2, out), 9); /* capped */
    assert_string_equal(out, "99999999H");
    fg_timeout_format(99999999, out); /* 8 digits exactly */
    assert_string_equal(out, "99999999u");
    const uint64_t samples[] = {0, 1, 999, 1000, 123456789, 3600000000ULL, 987654321012ULL};
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        size_t n = fg_timeout_format(samples[i], out);
        uint64_t back;
        assert_int_equal(fg_timeout_parse(out, n, &back), 0);
        assert_true(back >= samples[i]);
        assert_true(back - samples[i] <= samples[i] / 1000 + 1);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_every_unit),
        cmocka_unit_test(rejects_malformed),
        cmocka_unit_test(formats_smallest_exact_unit_and_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
