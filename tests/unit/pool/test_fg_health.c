/* The pool's decisions without I/O: the health state machine and the round-robin cursor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fg_health.h"
#include "fg_rr.h"
#include "fg_status.h"

static const fg_health_policy policy = {
    .unhealthy_after = 2,
    .healthy_after = 2,
    .trial_backoff_min_ms = 1000,
    .trial_backoff_max_ms = 4000,
};

static bool eligible(const fg_health *h, uint64_t now, bool *trial) {
    return fg_health_eligible(h, now, trial);
}

static void test_starts_unhealthy_until_serving(void **state) {
    fg_health h;
    bool trial;
    fg_health_init(&h);
    assert_false(eligible(&h, 0, &trial));
    /* The first failure is reported once, with the reason; repeats are not. */
    assert_int_equal(fg_health_on_conn_failed(&h, "connection refused"), FG_HEALTH_DOWN);
    assert_string_equal(h.last_error, "UNAVAILABLE connection refused");
    assert_int_equal(fg_health_on_conn_failed(&h, "connection refused"), FG_HEALTH_SAME);
    /* healthy_after = 2 SERVING checks in a row. */
    assert_int_equal(fg_health_on_check(&h, &policy, FG_STATUS_OK, FG_SERVING_SERVING, "", 0),
                     FG_HEALTH_SAME);
    assert_int_equal(fg_health_on_check(&h, &policy, FG_STATUS_OK, FG_SERVING_SERVING, "", 0),
                     FG_HEALTH_UP);
    assert_true(eligible(&h, 0, &trial));
    assert_false(trial);
}

static void test_loading_backend_gets_nothing(void **state) {
    fg_health h;
    bool trial;
    fg_health_init(&h);
    assert_int_equal(fg_health_on_check(&h, &policy, FG_STATUS_OK, FG_SERVING_NOT_SERVING, "", 0),
                     FG_HEALTH_DOWN);
    assert_string_equal(h.last_error, "NOT_SERVING");
    assert_false(eligible(&h, 0, &trial));
    /* A NOT_SERVING between two SERVING restarts the count. */
    fg_health_on_check(&h, &policy, FG_STATUS_OK, FG_SERVING_SERVING, "", 0);
    fg_health_on_check(&h, &policy, FG_STATUS_OK, FG_SERVING_NOT_SERVING, "", 0);
    assert_int_equal(fg_health_on_check(&h, &policy, FG_STATUS_OK, FG_SERVING_SERVING, "", 0),
                     FG_HEALTH_SAME);
    assert_int_equal(fg_health_on_check(&h, &policy, FG_STATUS_OK, FG_SERVING_SERVING, "", 0),
                     FG_HEALTH_UP);
}

static void make_healthy(fg_health *h) {
    fg_health_init(h);
    fg_health_on_check(h, &policy, FG_STATUS_OK, FG_SERVING_SERVING, "", 0);
    fg_health_on_check(h, &policy, FG_STATUS_OK, FG_SERVING_SERVING, "", 0);
    assert_true(h->healthy);
}

static void test_passive_backend_faults(void **state) {
    fg_health h;
    make_healthy(&h);
    assert_int_equal(fg_health_on_call(&h, &policy, fg_status_fault(FG_STATUS_UNAVAILABLE),
                                       FG_STATUS_UNAVAILABLE, "model gone", false, 0),
                     FG_HEALTH_SAME);
    /* An OK in between resets the run. */
    assert_int_equal(
        fg_health_on_call(&h, &policy, fg_status_fault(FG_STATUS_OK), FG_STATUS_OK, "", false, 0),
        FG_HEALTH_SAME);
    assert_int_equal(fg_health_on_call(&h, &policy, fg_status_fault(FG_STATUS_INTERNAL),
                                       FG_STATUS_INTERNAL, "boom", false, 0),
                     FG_HEALTH_SAME);
    assert_int_equal(fg_health_on_call(&h, &policy, fg_status_fault(FG_STATUS_DEADLINE_EXCEEDED),
                                       FG_STATUS_DEADLINE_EXCEEDED, "deadline exceeded", false, 0),
                     FG_HEALTH_DOWN);
    assert_string_equal(h.last_error, "DEADLINE_EXCEEDED deadline exceeded");
    assert_false(h.healthy);
    /* Checks bring it back. */
    fg_health_on_check(&h, &policy, FG_STATUS_OK, FG_SERVING_SERVING, "", 0);
    assert_int_equal(fg_health_on_check(&h, &policy, FG_STATUS_OK, FG_SERVING_SERVING, "", 0),
                     FG_HEALTH_UP);
}

static void test_request_faults_never_count(void **state) {
    fg_health h;
    make_healthy(&h);
    static const int request_faults[] = {FG_STATUS_INVALID_ARGUMENT, FG_STATUS_NOT_FOUND,
                                         FG_STATUS_OUT_OF_RANGE, FG_STATUS_RESOURCE_EXHAUSTED};
    for (int i = 0; i < 1000; i++)
        assert_int_equal(fg_health_on_call(&h, &policy, fg_status_fault(request_faults[i % 4]),
                                           request_faults[i % 4], "bad", false, 0),
                         FG_HEALTH_SAME);
    assert_true(h.healthy);
    assert_int_equal(h.consecutive_faults, 0);
    /* RESOURCE_EXHAUSTED neither counts nor resets a run of backend faults. */
    fg_health_on_call(&h, &policy, fg_status_fault(FG_STATUS_UNAVAILABLE), FG_STATUS_UNAVAILABLE,
                      "x", false, 0);
    fg_health_on_call(&h, &policy, fg_status_fault(FG_STATUS_RESOURCE_EXHAUSTED),
                      FG_STATUS_RESOURCE_EXHAUSTED, "busy", false, 0);
    assert_int_equal(h.consecutive_faults, 1);
}

static void test_failed_check_marks_unhealthy(void **state) {
    fg_health h;
    make_healthy(&h);
    assert_int_equal(fg_health_on_check(&h, &policy, FG_STATUS_DEADLINE_EXCEEDED,
                                        FG_SERVING_UNKNOWN, "deadline exceeded", 0),
                     FG_HEALTH_DOWN);
    assert_false(h.healthy);
}

static void test_no_health_service_trial_frames(void **state) {
    fg_health h;
    bool trial;
    fg_health_init(&h);
    /* UNIMPLEMENTED health: a trial frame is allowed at once, one at a time. */
    assert_int_equal(
        fg_health_on_check(&h, &policy, FG_STATUS_UNIMPLEMENTED, FG_SERVING_UNKNOWN, "", 5000000),
        FG_HEALTH_SAME);
    assert_true(eligible(&h, 5000000, &trial));
    assert_true(trial);
    h.trial_in_flight = true;
    assert_false(eligible(&h, 5000000, &trial));
    /* The trial fails: the next waits the backoff (1 s), then 2 s, capped at 4 s. */
    assert_int_equal(fg_health_on_call(&h, &policy, fg_status_fault(FG_STATUS_UNAVAILABLE),
                                       FG_STATUS_UNAVAILABLE, "down", true, 5000000),
                     FG_HEALTH_DOWN);
    assert_false(eligible(&h, 5900000, &trial));
    assert_true(eligible(&h, 6000000, &trial));
    assert_true(trial);
    h.trial_in_flight = true;
    fg_health_on_call(&h, &policy, fg_status_fault(FG_STATUS_UNAVAILABLE), FG_STATUS_UNAVAILABLE,
                      "down", true, 6000000);
    assert_false(eligible(&h, 7900000, &trial));
    assert_true(eligible(&h, 8000000, &trial));
    /* A good trial makes it healthy; a request fault counts as good. */
    h.trial_in_flight = true;
    assert_int_equal(fg_health_on_call(&h, &policy, fg_status_fault(FG_STATUS_NOT_FOUND),
                                       FG_STATUS_NOT_FOUND, "no model", true, 8e6),
                     FG_HEALTH_UP);
    assert_true(eligible(&h, 8000000, &trial));
    assert_false(trial);
    /* Checks still answering UNIMPLEMENTED change nothing. */
    assert_int_equal(
        fg_health_on_check(&h, &policy, FG_STATUS_UNIMPLEMENTED, FG_SERVING_UNKNOWN, "", 9e6),
        FG_HEALTH_SAME);
    assert_true(h.healthy);
}

static bool *eligible_set;

static bool is_eligible(void *ctx, size_t i) {
    return eligible_set[i];
}

static void test_round_robin_one_cursor(void **state) {
    bool set[4] = {true, true, true, true};
    eligible_set = set;
    _Atomic size_t cursor = 0;
    size_t counts[4] = {0};
    for (int i = 0; i < 400; i++) {
        size_t pick = fg_rr_pick_atomic(&cursor, 4, is_eligible, NULL);
        assert_int_equal(pick, (size_t)(i % 4)); /* strict rotation */
        counts[pick]++;
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(counts[i], 100);
    set[1] = false; /* skipped, order kept */
    assert_int_equal(fg_rr_pick_atomic(&cursor, 4, is_eligible, NULL), 0);
    assert_int_equal(fg_rr_pick_atomic(&cursor, 4, is_eligible, NULL), 2);
    assert_int_equal(fg_rr_pick_atomic(&cursor, 4, is_eligible, NULL), 3);
    assert_int_equal(fg_rr_pick_atomic(&cursor, 4, is_eligible, NULL), 0);
    set[0] = set[2] = set[3] = false;
    assert_int_equal(fg_rr_pick_atomic(&cursor, 4, is_eligible, NULL), FG_RR_NONE);
    assert_int_equal(fg_rr_pick_atomic(&cursor, 0, is_eligible, NULL), FG_RR_NONE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starts_unhealthy_until_serving),
        cmocka_unit_test(test_loading_backend_gets_nothing),
        cmocka_unit_test(test_passive_backend_faults),
        cmocka_unit_test(test_request_faults_never_count),
        cmocka_unit_test(test_failed_check_marks_unhealthy),
        cmocka_unit_test(test_no_health_service_trial_frames),
        cmocka_unit_test(test_round_robin_one_cursor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
