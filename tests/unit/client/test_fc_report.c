/* Tests for fc_report (units, status counts, latency JSON, tables) and bench's fb_tally. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb_tally.h"
#include "fc_report.h"

static void test_format_us(void **state) {
    char buf[32];
    fc_format_us(buf, sizeof(buf), 850);
    assert_string_equal(buf, "850 us");
    fc_format_us(buf, sizeof(buf), 1234);
    assert_string_equal(buf, "1.23 ms");
    fc_format_us(buf, sizeof(buf), 16789);
    assert_string_equal(buf, "16.8 ms");
    fc_format_us(buf, sizeof(buf), 2500000);
    assert_string_equal(buf, "2.50 s");
}

static void test_status_counts(void **state) {
    fc_status_counts c = {0};
    char text[128];
    fc_status_text(&c, text, sizeof(text));
    assert_string_equal(text, "none");
    for (int i = 0; i < 5; i++)
        fc_status_count(&c, 0);
    fc_status_count(&c, 14);
    fc_status_count(&c, 14);
    fc_status_count(&c, 999);
    assert_int_equal(fc_status_total(&c), 8);
    fc_status_text(&c, text, sizeof(text));
    assert_string_equal(text, "OK 5, UNAVAILABLE 2, OTHER 1");
    json_t *j = fc_status_json(&c);
    assert_int_equal(json_integer_value(json_object_get(j, "OK")), 5);
    assert_int_equal(json_integer_value(json_object_get(j, "UNAVAILABLE")), 2);
    assert_null(json_object_get(j, "INTERNAL"));
    json_decref(j);
}

static void test_latency_json(void **state) {
    fg_hist *h = fg_hist_new();
    for (uint64_t v = 1; v <= 1000; v++)
        fg_hist_record(h, v * 10);
    json_t *j = fc_latency_json(h);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 1000);
    assert_int_equal(json_integer_value(json_object_get(j, "min_us")), 10);
    assert_int_equal(json_integer_value(json_object_get(j, "max_us")), 10000);
    json_int_t p50 = json_integer_value(json_object_get(j, "p50_us"));
    assert_true(p50 >= 5000 && p50 <= 5050);
    json_int_t p99 = json_integer_value(json_object_get(j, "p99_us"));
    assert_true(p99 >= 9900 && p99 <= 9990);
    assert_true(json_real_value(json_object_get(j, "mean_us")) > 5004 &&
                json_real_value(json_object_get(j, "mean_us")) < 5006);
    json_decref(j);
    fg_hist_free(h);
}

static void test_table(void **state) {
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    fc_table *t = fc_table_new(2);
    fc_table_cell(t, "server");
    fc_table_cell(t, "frames/s");
    fc_table_cell(t, "a:1");
    fc_table_cell(t, "%.1f", 58.25);
    fc_table_cell(t, "longer:50051");
    fc_table_cell(t, "%d", 7);
    fc_table_print(t, out);
    fc_table_free(t);
    fclose(out);
    assert_string_equal(text, "  server        frames/s\n"
                              "  a:1               58.2\n"
                              "  longer:50051         7\n");
    free(text);
}

static void test_tally(void **state) {
    static fb_tally t;
    memset(&t, 0, sizeof(t));
    for (int i = 0; i < 10; i++) {
        fb_tally_count(&t, "b:2", 3);
        fb_tally_count(&t, "a:1", 3);
    }
    fb_tally_count(&t, "", 0);
    for (int i = 0; i < FB_TALLY_MAX + 5; i++) {
        char name[16];
        int n = snprintf(name, sizeof(name), "x:%d", i);
        fb_tally_count(&t, name, (size_t)n);
    }
    assert_int_equal(t.n, FB_TALLY_MAX);
    assert_int_equal(t.other, 8); /* 3 + 1 + 69 names: 5 + 3 over the 64 entries */
    fb_tally_sort(&t);
    assert_string_equal(t.e[0].name, "-");
    assert_string_equal(t.e[1].name, "a:1");
    assert_int_equal(t.e[1].count, 10);
    assert_string_equal(t.e[2].name, "b:2");
    assert_int_equal(t.e[2].count, 10);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_us),    cmocka_unit_test(test_status_counts),
        cmocka_unit_test(test_latency_json), cmocka_unit_test(test_table),
        cmocka_unit_test(test_tally),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
