/* fc_flow: per-connection shares and stalls over a load run's window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "fc_flow.h"

static void stall_counts_start_middle_and_end(void **state) {
    fc_flow f;
    fc_flow_start(&f, 1000);
    fc_flow_frame(&f, 1300); /* 300 from the start */
    fc_flow_frame(&f, 1400);
    fc_flow_frame(&f, 2400); /* 1000 between frames: the longest */
    fc_flow_end(&f, 2500);
    assert_int_equal(f.frames, 3);
    assert_int_equal(f.max_gap_us, 1000);

    fc_flow_start(&f, 0); /* no frame at all: the whole window is one stall */
    fc_flow_end(&f, 5000000);
    assert_int_equal(f.frames, 0);
    assert_int_equal(f.max_gap_us, 5000000);

    fc_flow_start(&f, 0); /* frames stop early: the gap to the end counts */
    fc_flow_frame(&f, 10);
    fc_flow_end(&f, 900);
    assert_int_equal(f.max_gap_us, 890);
}

static void shares_and_jain(void **state) {
    fc_flow flows[4];
    uint64_t scratch[4];
    uint64_t frames[4] = {10, 30, 30, 30};
    uint64_t stalls[4] = {400, 100, 200, 300};
    for (int i = 0; i < 4; i++) {
        fc_flow_start(&flows[i], 0);
        flows[i].frames = frames[i];
        flows[i].max_gap_us = stalls[i];
    }
    fc_fairness fa;
    fc_flow_summarize(flows, 4, scratch, &fa);
    assert_int_equal(fa.connections, 4);
    assert_int_equal(fa.frames, 100);
    assert_int_equal(fa.min_frames, 10);
    assert_int_equal(fa.max_frames, 30);
    assert_true(fabs(fa.min_share - 0.10) < 1e-12);
    assert_true(fabs(fa.max_share - 0.30) < 1e-12);
    /* (100)^2 / (4 * (100 + 3 * 900)) = 10000 / 11200 */
    assert_true(fabs(fa.jain - 10000.0 / 11200.0) < 1e-12);
    assert_int_equal(fa.longest_stall_us, 400);
    assert_int_equal(fa.median_stall_us, 300); /* of 100, 200, 300, 400: the upper middle */

    for (int i = 0; i < 4; i++)
        flows[i].frames = 25;
    fc_flow_summarize(flows, 4, scratch, &fa);
    assert_true(fa.jain == 1.0 && fa.min_share == 0.25 && fa.max_share == 0.25);
}

static void empty_sets(void **state) {
    fc_fairness fa;
    uint64_t scratch[1];
    fc_flow_summarize(NULL, 0, scratch, &fa);
    assert_int_equal(fa.connections, 0);
    assert_true(fa.jain == 0 && fa.min_share == 0);
    fc_flow f;
    fc_flow_start(&f, 0);
    fc_flow_end(&f, 50);
    fc_flow_summarize(&f, 1, scratch, &fa); /* no frames: shares 0, the stall is the window */
    assert_true(fa.min_share == 0 && fa.max_share == 0 && fa.jain == 0);
    assert_int_equal(fa.longest_stall_us, 50);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stall_counts_start_middle_and_end),
        cmocka_unit_test(shares_and_jain),
        cmocka_unit_test(empty_sets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
