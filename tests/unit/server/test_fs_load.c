/* fs_load: the sliding-window frame rate and the ORCA figures frameserver reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fs_load.h"

#define S 1000000ull /* one second in microseconds */

static void steady_rate_reads_as_that_rate(void **state) {
    fs_load l = {0};
    uint64_t t0 = 50 * S;
    /* 60 frames a second for 3 s, one every 1/60 s. */
    for (int i = 0; i < 180; i++)
        fs_load_count(&l, t0 + (uint64_t)i * S / 60, 1);
    double rps = fs_load_rps(&l, t0 + 3 * S);
    assert_true(rps > 58 && rps < 62);
    /* Halfway through the next second with nothing rendered: half of the last second. */
    rps = fs_load_rps(&l, t0 + 3 * S + S / 2);
    assert_true(rps > 28 && rps < 32);
}

static void idle_server_reads_zero(void **state) {
    fs_load l = {0};
    assert_true(fs_load_rps(&l, 7 * S) == 0);
    fs_load_count(&l, 7 * S, 10);
    assert_true(fs_load_rps(&l, 7 * S) == 10);
    assert_true(fs_load_rps(&l, 10 * S) == 0); /* more than 2 s later: all gone */
}

static void batches_count_every_frame(void **state) {
    fs_load l = {0};
    fs_load_count(&l, S, 8);
    fs_load_count(&l, S + S / 4, 8);
    assert_true(fs_load_rps(&l, S + S / 2) == 16);
}

static void report_is_gpu_depth_over_its_slots(void **state) {
    fs_load l = {0};
    fs_load_count(&l, S, 5);
    fg_orca_report r = fs_load_report(&l, S, 0);
    assert_true(r.application_utilization == 0 && r.rps_fractional == 5);
    r = fs_load_report(&l, S, 1); /* one running, none waiting: exactly busy */
    assert_true(r.application_utilization == 1.0 / FS_LOAD_GPU_SLOTS);
    r = fs_load_report(&l, S, 4); /* a queue: above 1 */
    assert_true(r.application_utilization == 4.0 / FS_LOAD_GPU_SLOTS);
    assert_true(r.cpu_utilization == 0);
}

/* Rounded so that a steady load repeats the same bytes: whole frames/s from 10 up, two
 * significant figures from 100 up. */
static void report_rounds_the_rate(void **state) {
    fs_load l = {0};
    fs_load_count(&l, S, 60);
    fs_load_count(&l, 2 * S, 59); /* at 2.5 s: 60 * 0.5 + 59 = 89 */
    assert_true(fs_load_report(&l, 2 * S + S / 2, 0).rps_fractional == 89);
    assert_true(fs_load_report(&l, 2 * S + S / 2 + 7000, 0).rps_fractional == 89); /* 88.58 */
    fs_load l2 = {0};
    fs_load_count(&l2, S, 3);
    fs_load_count(&l2, 2 * S, 1); /* at 2.3 s: 3 * 0.7 + 1 = 3.1 -> 3.125 */
    assert_true(fs_load_report(&l2, 2 * S + 3 * S / 10, 0).rps_fractional == 3.125);
    /* From 100 up two significant figures: 1,523 and 1,547 frames/s send the same bytes. */
    fs_load l3 = {0};
    fs_load_count(&l3, S, 1523);
    assert_true(fs_load_report(&l3, S, 0).rps_fractional == 1500);
    fs_load_count(&l3, S, 24);
    assert_true(fs_load_report(&l3, S, 0).rps_fractional == 1500);
    fs_load l4 = {0};
    fs_load_count(&l4, S, 156);
    assert_true(fs_load_report(&l4, S, 0).rps_fractional == 160);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(steady_rate_reads_as_that_rate),
        cmocka_unit_test(idle_server_reads_zero),
        cmocka_unit_test(batches_count_every_frame),
        cmocka_unit_test(report_is_gpu_depth_over_its_slots),
        cmocka_unit_test(report_rounds_the_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
