/* fg_limit: the adaptive per-backend concurrency limit and the peak-EWMA cost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "fg_limit.h"

static const fg_limit_policy policy = {.initial = 1, .max = 32};

/* A serial backend (one 17 ms pass at a time, frames queue inside it): latency is 17 ms times
 * the frames it holds. The limit must hover between one and two: it keeps trying a second
 * frame (so the GPU need not wait for the proxy between passes) and never queues a third. */
static void serial_backend_hovers_between_one_and_two(void **state) {
    fg_limit l;
    fg_limit_init(&l, &policy);
    assert_int_equal(fg_limit_get(&l), 1);
    uint64_t now = 0;
    int twos = 0;
    for (int i = 0; i < 2000; i++) {
        uint32_t held = fg_limit_get(&l); /* the proxy keeps it full: 2x overload */
        uint64_t lat = 17000u * held;
        now += 17000;
        fg_limit_on_sample(&l, &policy, lat, held, true, now);
        if (i > 200) {
            assert_true(fg_limit_get(&l) >= 1);
            assert_true(fg_limit_get(&l) <= 2);
            twos += fg_limit_get(&l) == 2;
        }
    }
    assert_true(twos > 100);
}

/* The pool's policy: measured backends hold at least two (one in the pass, one waiting), so a
 * serial GPU never idles for the proxy's round trip, and never a third. */
static void serial_backend_holds_two_with_min_two(void **state) {
    const fg_limit_policy p = {.initial = 1, .min = 2, .max = 32};
    fg_limit l;
    fg_limit_init(&l, &p);
    assert_int_equal(fg_limit_get(&l), 1); /* the first call measures the unloaded latency */
    uint64_t now = 0;
    for (int i = 0; i < 2000; i++) {
        uint32_t held = fg_limit_get(&l);
        now += 17000;
        fg_limit_on_sample(&l, &p, 17000u * held, held, true, now);
        assert_int_equal(fg_limit_get(&l), 2);
    }
}

/* A backend that serves many at once without slowing down: the limit grows to the cap. */
static void parallel_backend_grows_to_the_cap(void **state) {
    fg_limit l;
    fg_limit_init(&l, &policy);
    uint64_t now = 0;
    for (int i = 0; i < 5000; i++) {
        now += 100;
        fg_limit_on_sample(&l, &policy, 2000, fg_limit_get(&l), true, now);
    }
    assert_int_equal(fg_limit_get(&l), 32);
}

/* A backend below its limit proves nothing about holding more: the limit stays. */
static void idle_backend_does_not_grow(void **state) {
    fg_limit l;
    fg_limit_init(&l, &policy);
    fg_limit_on_sample(&l, &policy, 1000, 1, true, 1000); /* at its limit of 1: grows */
    fg_limit_on_sample(&l, &policy, 1000, 1, true, 2000);
    uint32_t grown = fg_limit_get(&l);
    assert_true(grown >= 2);
    for (int i = 0; i < 1000; i++)
        fg_limit_on_sample(&l, &policy, 1000, 1, true, (uint64_t)i * 1000 + 3000);
    assert_int_equal(fg_limit_get(&l), grown);
}

/* Failures do not move the limit or the latency estimate. */
static void failures_are_ignored(void **state) {
    fg_limit l;
    fg_limit_init(&l, &policy);
    fg_limit_on_sample(&l, &policy, 1000000, 2, false, 1000);
    assert_int_equal(fg_limit_get(&l), 1);
    assert_true(fg_limit_cost(&l, 0, 1000) == 0.0);  /* never measured: tried first */
    assert_true(fg_limit_latency(&l) == 0.0);        /* not measured */
    assert_true(fg_limit_rate(&l) == 1.0 / 10000.0); /* estimates assume a 10 ms pass */
}

/* Peak EWMA: a slow sample counts at once, a fast one decays in; the cost grows with the
 * frames held, and the rate is limit / latency. */
static void peak_ewma_cost_and_rate(void **state) {
    fg_limit l;
    fg_limit_init(&l, &policy);
    fg_limit_on_sample(&l, &policy, 10000, 1, true, 1000000);
    assert_true(fg_limit_cost(&l, 0, 1000000) == 10000.0);
    assert_true(fg_limit_cost(&l, 3, 1000000) == 40000.0);
    fg_limit_on_sample(&l, &policy, 50000, 1, true, 1000001);
    assert_true(fg_limit_cost(&l, 0, 1000001) == 50000.0); /* the peak at once */
    fg_limit_on_sample(&l, &policy, 10000, 1, true, 1100001);
    double c = fg_limit_cost(&l, 0, 1100001);
    assert_true(c < 50000.0 && c > 40000.0); /* 100 ms into a 1 s decay: most of the peak */
    fg_limit_on_sample(&l, &policy, 10000, 1, true, 11100001);
    assert_true(fg_limit_cost(&l, 0, 11100001) < 10100.0); /* 10 s on: the recent latency */
    /* Not chosen for a while, its cost decays: it will be tried again. */
    assert_true(fg_limit_cost(&l, 0, 13100001) < 10000.0 * 0.2);
    /* The plain average is what estimates use: 10, 50, 10, 10 ms weighted 0.1 each time. */
    assert_true(fabs(fg_limit_latency(&l) - 13240.0) < 1.0);
    /* Each call held one frame: the rate is one frame per average latency. */
    assert_true(fabs(fg_limit_rate(&l) - 1.0 / 13240.0) < 1e-12);
}

/* Little's law: a serial 17 ms backend holding two frames renders one per pass, whatever its
 * limit; one that serves two at once in 17 ms renders two. */
static void rate_is_frames_held_over_latency(void **state) {
    const fg_limit_policy p = {.initial = 1, .min = 2, .max = 32};
    fg_limit serial, parallel;
    fg_limit_init(&serial, &p);
    fg_limit_init(&parallel, &p);
    for (int i = 0; i < 200; i++) {
        fg_limit_on_sample(&serial, &p, 34000, 2, true, (uint64_t)i * 17000);
        fg_limit_on_sample(&parallel, &p, 17000, 2, true, (uint64_t)i * 17000);
    }
    assert_true(fabs(fg_limit_rate(&serial) * 1e6 - 1000.0 / 17) < 0.1);
    assert_true(fabs(fg_limit_rate(&parallel) * 1e6 - 2000.0 / 17) < 0.1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(serial_backend_hovers_between_one_and_two),
        cmocka_unit_test(serial_backend_holds_two_with_min_two),
        cmocka_unit_test(parallel_backend_grows_to_the_cap),
        cmocka_unit_test(idle_backend_does_not_grow),
        cmocka_unit_test(failures_are_ignored),
        cmocka_unit_test(peak_ewma_cost_and_rate),
        cmocka_unit_test(rate_is_frames_held_over_latency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
