/* Tests for fg_hist: relative error under 1% across the whole range, percentiles, count_le, merge.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fg_hist.h"

/* |reported - true| / true must stay under 1%; values below 128 must be exact. */
static void assert_close(uint64_t reported, uint64_t truth) {
    if (truth < 128) {
        assert_int_equal(reported, truth);
        return;
    }
    uint64_t diff = reported > truth ? reported - truth : truth - reported;
    assert_true((double)diff / (double)truth < 0.01);
}

static void test_empty(void **state) {
    fg_hist *h = fg_hist_new();
    assert_int_equal(fg_hist_count(h), 0);
    assert_int_equal(fg_hist_min(h), 0);
    assert_int_equal(fg_hist_max(h), 0);
    assert_int_equal(fg_hist_percentile(h, 50), 0);
    assert_int_equal(fg_hist_count_le(h, 1000), 0);
    fg_hist_free(h);
}

/* One value at a time, from 0 to near UINT64_MAX, at every bucket-edge neighbourhood. */
static void test_error_across_ranges(void **state) {
    fg_hist *h = fg_hist_new();
    for (unsigned bit = 0; bit < 64; bit++) {
        uint64_t base = UINT64_C(1) << bit;
        uint64_t probes[] = {base - 1,         base, base + 1, base + base / 3, base + base / 2,
                             base + (base - 1)};
        for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
            uint64_t v = probes[i];
            fg_hist_reset(h);
            fg_hist_record(h, v);
            /* max caps the answer, so probe a second, larger value too. */
            fg_hist_record(h, UINT64_MAX);
            assert_close(fg_hist_percentile(h, 50), v);
            assert_true(fg_hist_percentile(h, 50) >= v);
        }
    }
    /* A dense sweep of ordinary latencies. */
    for (uint64_t v = 0; v < 200000; v += 7) {
        fg_hist_reset(h);
        fg_hist_record(h, v);
        fg_hist_record(h, UINT64_MAX);
        assert_close(fg_hist_percentile(h, 50), v);
    }
    fg_hist_free(h);
}

static void test_percentiles_uniform(void **state) {
    fg_hist *h = fg_hist_new();
    for (uint64_t v = 1; v <= 100000; v++)
        fg_hist_record(h, v);
    assert_int_equal(fg_hist_count(h), 100000);
    assert_int_equal(fg_hist_sum(h), UINT64_C(100000) * 100001 / 2);
    assert_int_equal(fg_hist_min(h), 1);
    assert_int_equal(fg_hist_max(h), 100000);
    assert_close(fg_hist_percentile(h, 50), 50000);
    assert_close(fg_hist_percentile(h, 90), 90000);
    assert_close(fg_hist_percentile(h, 99), 99000);
    assert_close(fg_hist_percentile(h, 99.9), 99900);
    assert_int_equal(fg_hist_percentile(h, 100), 100000);
    assert_int_equal(fg_hist_percentile(h, 0), 1);
    assert_int_equal(fg_hist_percentile(h, 0.001), 1);
    fg_hist_free(h);
}

static void test_percentile_small_exact(void **state) {
    fg_hist *h = fg_hist_new();
    uint64_t values[] = {5, 1, 9, 3, 7};
    for (size_t i = 0; i < 5; i++)
        fg_hist_record(h, values[i]);
    assert_int_equal(fg_hist_percentile(h, 20), 1);
    assert_int_equal(fg_hist_percentile(h, 40), 3);
    assert_int_equal(fg_hist_percentile(h, 50), 5);
    assert_int_equal(fg_hist_percentile(h, 60), 5);
    assert_int_equal(fg_hist_percentile(h, 99), 9);
    fg_hist_free(h);
}

static void test_count_le(void **state) {
    fg_hist *h = fg_hist_new();
    for (uint64_t v = 0; v < 10000; v++)
        fg_hist_record(h, v);
    assert_int_equal(fg_hist_count_le(h, 0), 1);
    assert_int_equal(fg_hist_count_le(h, 99), 100);
    assert_int_equal(fg_hist_count_le(h, 127), 128);
    assert_int_equal(fg_hist_count_le(h, 1023), 1024);
    assert_int_equal(fg_hist_count_le(h, 8191), 8192);
    assert_int_equal(fg_hist_count_le(h, UINT64_MAX), 10000);
    /* A bound inside a bucket: never more than the truth, and within one bucket of it. */
    uint64_t n = fg_hist_count_le(h, 5000);
    assert_true(n <= 5001 && n >= 5001 - 5001 / 128);
    fg_hist_free(h);
}

static void test_merge(void **state) {
    fg_hist *a = fg_hist_new();
    fg_hist *b = fg_hist_new();
    fg_hist *both = fg_hist_new();
    for (uint64_t v = 10; v < 5000; v += 3) {
        fg_hist_record(a, v);
        fg_hist_record(both, v);
    }
    for (uint64_t v = 3; v < 900000; v += 101) {
        fg_hist_record(b, v);
        fg_hist_record(both, v);
    }
    fg_hist_merge(a, b);
    assert_int_equal(fg_hist_count(a), fg_hist_count(both));
    assert_int_equal(fg_hist_sum(a), fg_hist_sum(both));
    assert_int_equal(fg_hist_min(a), 3);
    assert_int_equal(fg_hist_max(a), fg_hist_max(both));
    const double ps[] = {1, 25, 50, 90, 99, 99.99};
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
        assert_int_equal(fg_hist_percentile(a, ps[i]), fg_hist_percentile(both, ps[i]));
    /* Merging an empty histogram changes nothing, min included. */
    fg_hist_reset(b);
    fg_hist_merge(a, b);
    assert_int_equal(fg_hist_min(a), 3);
    assert_int_equal(fg_hist_count(a), fg_hist_count(both));
    fg_hist_free(a);
    fg_hist_free(b);
    fg_hist_free(both);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_error_across_ranges),
        cmocka_unit_test(test_percentiles_uniform),
        cmocka_unit_test(test_percentile_small_exact),
        cmocka_unit_test(test_count_le),
        cmocka_unit_test(test_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
