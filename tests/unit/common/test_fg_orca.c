/* fg_orca against reports built byte by byte from the OrcaLoadReport field numbers (cncf/xds),
 * not from our own encoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fg_err.h"
#include "fg_orca.h"

static int decode(const char *s, fg_orca_report *out) {
    return fg_orca_decode_header((const uint8_t *)s, strlen(s), out);
}

/* cpu_utilization (1) 0.5, application_utilization (9) 1.25, rps_fractional (6) 58.5. */
static void decodes_the_three_fields(void **state) {
    fg_orca_report r;
    assert_int_equal(decode("CQAAAAAAAOA/SQAAAAAAAPQ/MQAAAAAAQE1A", &r), 0);
    assert_true(r.cpu_utilization == 0.5);
    assert_true(r.application_utilization == 1.25);
    assert_true(r.rps_fractional == 58.5);
}

/* mem_utilization (2), rps (3, varint), named_metrics (8, a map entry) and eps (7) are skipped;
 * application_utilization 0.75 is read. Padded and unpadded forms are the same report. */
static void skips_other_fields_padding_optional(void **state) {
    const char *padded = "EQAAAAAAANA/GKwCQgwKAXERAAAAAAAAAEA5AAAAAAAA8D9JAAAAAAAA6D8=";
    char unpadded[128];
    snprintf(unpadded, sizeof unpadded, "%.*s", (int)strlen(padded) - 1, padded);
    const char *forms[] = {padded, unpadded, "SQAAAAAAAOg/"};
    for (size_t i = 0; i < 3; i++) {
        fg_orca_report r = {1, 1, 1};
        assert_int_equal(decode(forms[i], &r), 0);
        assert_true(r.application_utilization == 0.75);
        assert_true(r.cpu_utilization == 0 && r.rps_fractional == 0);
    }
}

static void empty_value_is_an_empty_report(void **state) {
    fg_orca_report r = {1, 1, 1};
    assert_int_equal(fg_orca_decode_header((const uint8_t *)"", 0, &r), 0);
    assert_true(r.cpu_utilization == 0 && r.application_utilization == 0 && r.rps_fractional == 0);
}

/* -0.0 passes ">= 0"; it reads as 0, the one zero the encoder writes (found by fuzz_orca). */
static void negative_zero_reads_as_zero(void **state) {
    fg_orca_report r;
    assert_int_equal(decode("CQAAAAAAAACA", &r), 0);
    assert_true(r.cpu_utilization == 0 && !signbit(r.cpu_utilization));
}

static void rejects_bad_values_and_leaves_out_untouched(void **state) {
    const char *bad[] = {
        "SQAA AAAAAOg/", /* whitespace inside */
        "SQAAAAAAAOg-",  /* URL-safe alphabet is not gRPC's */
        "SQAAA",         /* 5 characters: no base64 ends with one */
        "SQAAAAAAAOg/=", /* padding where none fits */
        "SQAAAAAAAPC/",  /* application_utilization -1 */
        "SQAAAAAAAPh/",  /* NaN */
        "CQAAAAAAAPB/",  /* cpu_utilization +inf */
        "SQAAAAA=",      /* a double cut short */
        "SAU=",          /* field 9 with the varint wire type */
        "/w==",          /* a lone 0xff: not a field key */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fg_orca_report r = {7, 7, 7};
        assert_int_equal(decode(bad[i], &r), FG_ERR_INVALID);
        assert_true(r.cpu_utilization == 7 && r.application_utilization == 7 &&
                    r.rps_fractional == 7);
    }
}

static void bounds_the_input(void **state) {
    static uint8_t big[FG_ORCA_MAX_HEADER + 1];
    memset(big, 'A', sizeof big);
    fg_orca_report r;
    assert_int_equal(fg_orca_decode_header(big, sizeof big, &r), FG_ERR_TOO_BIG);
    /* FG_ORCA_MAX_HEADER characters of zero bytes: 3072 bytes of field 0, which is no field. */
    assert_int_equal(fg_orca_decode_header(big, FG_ORCA_MAX_HEADER, &r), FG_ERR_INVALID);
}

/* 1,500 unknown varint fields (field 3, "GAE" = 0x18 0x01 ...) fit the length limit but need
 * more than the fixed arena for protobuf-c's unknown-field table: refused, not allocated. */
static void refuses_a_report_past_the_arena(void **state) {
    static char many[FG_ORCA_MAX_HEADER];
    size_t n = 0;
    for (int i = 0; i < 500; i++) { /* 3 fields (6 bytes) per 8 characters */
        memcpy(many + n, "GAEYARgB", 8);
        n += 8;
    }
    assert_true(n <= FG_ORCA_MAX_HEADER);
    fg_orca_report r;
    assert_int_equal(fg_orca_decode_header((const uint8_t *)many, n, &r), FG_ERR_INVALID);
    /* The same fields, few of them, decode. */
    assert_int_equal(fg_orca_decode_header((const uint8_t *)many, 8, &r), 0);
}

static void encodes_the_standard_bytes_and_round_trips(void **state) {
    char out[FG_ORCA_ENCODED_MAX];
    fg_orca_report r = {
        .cpu_utilization = 0.5, .application_utilization = 1.25, .rps_fractional = 58.5};
    int n = fg_orca_encode_header(&r, out);
    /* protobuf writes fields in number order: 1, 6, 9. */
    assert_string_equal(out, "CQAAAAAAAOA/MQAAAAAAQE1ASQAAAAAAAPQ/");
    assert_int_equal(n, (int)strlen(out));
    fg_orca_report back;
    assert_int_equal(decode(out, &back), 0);
    assert_memory_equal(&back, &r, sizeof r);

    fg_orca_report zero = {0};
    assert_int_equal(fg_orca_encode_header(&zero, out), 0);
    assert_string_equal(out, "");

    fg_orca_report neg = {.rps_fractional = -1};
    assert_int_equal(fg_orca_encode_header(&neg, out), FG_ERR_INVALID);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decodes_the_three_fields),
        cmocka_unit_test(skips_other_fields_padding_optional),
        cmocka_unit_test(empty_value_is_an_empty_report),
        cmocka_unit_test(negative_zero_reads_as_zero),
        cmocka_unit_test(rejects_bad_values_and_leaves_out_untouched),
        cmocka_unit_test(bounds_the_input),
        cmocka_unit_test(refuses_a_report_past_the_arena),
        cmocka_unit_test(encodes_the_standard_bytes_and_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
