/* fg_rr_pick_atomic and fg_shared: the shared round-robin cursor and the shared health state
 * of --workers, driven from several threads at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "fg_backend.h"
#include "fg_rr.h"
#include "fg_shared.h"
#include "fg_status.h"

#define THREADS 4
#define PICKS 20000
#define N 4

static bool all_but_2(void *ctx, size_t i) {
    (void)ctx;
    return i != 2;
}

static bool all(void *ctx, size_t i) {
    (void)ctx;
    (void)i;
    return true;
}

typedef struct picker {
    _Atomic size_t *cursor;
    fg_rr_eligible_fn eligible;
    size_t counts[N];
} picker;

static void *pick_many(void *arg) {
    picker *p = arg;
    for (int k = 0; k < PICKS; k++)
        p->counts[fg_rr_pick_atomic(p->cursor, N, p->eligible, NULL)]++;
    return NULL;
}

/* Concurrent picks rotate exactly: every eligible backend gets the same share. */
static void shared_cursor_rotates_exactly(void **state) {
    fg_rr_eligible_fn cases[] = {all, all_but_2};
    size_t eligible_n[] = {4, 3};
    for (int c = 0; c < 2; c++) {
        _Atomic size_t cursor = 0;
        picker ps[THREADS];
        pthread_t t[THREADS];
        for (int i = 0; i < THREADS; i++) {
            memset(&ps[i], 0, sizeof ps[i]);
            ps[i].cursor = &cursor;
            ps[i].eligible = cases[c];
            pthread_create(&t[i], NULL, pick_many, &ps[i]);
        }
        size_t total[N] = {0};
        for (int i = 0; i < THREADS; i++) {
            pthread_join(t[i], NULL);
            for (int j = 0; j < N; j++)
                total[j] += ps[i].counts[j];
        }
        size_t want = THREADS * PICKS / eligible_n[c];
        for (int j = 0; j < N; j++) {
            if (c == 1 && j == 2)
                assert_int_equal(total[j], 0);
            else /* exact up to the one round left incomplete */
                assert_true(total[j] >= want - 1 && total[j] <= want + 1);
        }
    }
    _Atomic size_t cursor = 7; /* a cursor past a shrunk list is taken modulo n */
    assert_int_equal(fg_rr_pick_atomic(&cursor, 4, all, NULL), 3);
    assert_int_equal(fg_rr_pick_atomic(&cursor, 4, all, NULL), 0);
    assert_int_equal(fg_rr_pick_atomic(&cursor, 0, all, NULL), FG_RR_NONE);
}

static fg_health_policy policy = {.unhealthy_after = 3,
                                  .healthy_after = 1,
                                  .trial_backoff_min_ms = 100,
                                  .trial_backoff_max_ms = 800};

typedef struct faulter {
    fg_bshared *e;
} faulter;

static void *fault_many(void *arg) {
    faulter *f = arg;
    for (int k = 0; k < 1000; k++)
        fg_bshared_on_call(f->e, fg_status_fault(FG_STATUS_UNAVAILABLE), FG_STATUS_UNAVAILABLE,
                           "down", false, 0);
    return NULL;
}

static void *succeed_many(void *arg) {
    faulter *f = arg;
    bool trial;
    for (int k = 0; k < 100000; k++) {
        fg_bshared_on_call(f->e, fg_status_fault(FG_STATUS_OK), FG_STATUS_OK, "", false, 0);
        assert_true(fg_bshared_eligible(f->e, 0, false, &trial));
    }
    return NULL;
}

static void count_backend(const fg_backend *b, void *arg) {
    (void)b;
    (*(int *)arg)++;
}

static void run_threads(void *(*fn)(void *), fg_bshared *e) {
    pthread_t t[THREADS];
    faulter f = {e};
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, fn, &f);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
}

/* One state per address, whichever pool's backend registers it; events from every thread. */
static void one_health_state_per_address(void **state) {
    fg_pool_shared *s = fg_shared_new(&policy);
    fg_backend b1, b2, b3;
    memset(&b1, 0, sizeof b1);
    memset(&b2, 0, sizeof b2);
    memset(&b3, 0, sizeof b3);
    fg_bshared *e1 = fg_shared_attach(s, "a:1", &b1);
    fg_bshared *e2 = fg_shared_attach(s, "a:1", &b2);
    fg_bshared *e3 = fg_shared_attach(s, "b:2", &b3);
    assert_ptr_equal(e1, e2);
    assert_ptr_not_equal(e1, e3);
    int n = 0;
    fg_shared_each_backend(s, e1, count_backend, &n);
    assert_int_equal(n, 2);

    /* Passive faults from every thread count into the one state. */
    run_threads(fault_many, e1);
    assert_int_equal(fg_bshared_consecutive_faults(e1), THREADS * 1000);
    assert_false(fg_bshared_healthy(e1));
    assert_false(fg_bshared_healthy(e3));
    fg_bshared_on_check(e1, FG_STATUS_OK, FG_SERVING_SERVING, "", 0);
    assert_true(fg_bshared_healthy(e1));
    assert_int_equal(fg_bshared_consecutive_faults(e1), 0);
    /* The lock-free path: good frames and picks from every thread keep it healthy. */
    run_threads(succeed_many, e1);
    assert_true(fg_bshared_healthy(e1));
    /* unhealthy_after 3: two faults keep it, a success resets, three mark it down. */
    fg_bshared_on_call(e1, fg_status_fault(FG_STATUS_INTERNAL), FG_STATUS_INTERNAL, "x", false, 0);
    fg_bshared_on_call(e1, fg_status_fault(FG_STATUS_INTERNAL), FG_STATUS_INTERNAL, "x", false, 0);
    assert_true(fg_bshared_healthy(e1));
    fg_bshared_on_call(e1, fg_status_fault(FG_STATUS_OK), FG_STATUS_OK, "", false, 0);
    for (int i = 0; i < 3; i++)
        fg_bshared_on_call(e1, fg_status_fault(FG_STATUS_INTERNAL), FG_STATUS_INTERNAL, "boom",
                           false, 0);
    assert_false(fg_bshared_healthy(e1));
    fg_health h;
    fg_bshared_snapshot(e1, &h);
    assert_string_equal(h.last_error, "INTERNAL boom");

    /* Without health service: one trial frame at a time, whoever claims it first. */
    bool trial;
    fg_bshared_on_check(e3, FG_STATUS_UNIMPLEMENTED, FG_SERVING_UNKNOWN, "", 1000);
    assert_true(fg_bshared_eligible(e3, 1000, false, &trial)); /* a look does not claim */
    assert_true(trial);
    assert_true(fg_bshared_eligible(e3, 1000, true, &trial));
    assert_true(trial);
    assert_false(fg_bshared_eligible(e3, 1000, true, &trial)); /* taken */
    fg_bshared_trial_release(e3);                              /* it never went out */
    assert_true(fg_bshared_eligible(e3, 1000, true, &trial));
    fg_bshared_on_call(e3, fg_status_fault(FG_STATUS_OK), FG_STATUS_OK, "", true,
                       2000); /* the trial worked */
    assert_true(fg_bshared_healthy(e3));

    fg_shared_detach(s, e1, &b1);
    n = 0;
    fg_shared_each_backend(s, e2, count_backend, &n);
    assert_int_equal(n, 1);
    fg_shared_detach(s, e2, &b2);
    fg_shared_detach(s, e3, &b3);
    /* A fresh entry after the last one went: health unknown again. */
    fg_bshared *again = fg_shared_attach(s, "b:2", &b3);
    assert_false(fg_bshared_healthy(again));
    fg_shared_detach(s, again, &b3);
    fg_shared_unref(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shared_cursor_rotates_exactly),
        cmocka_unit_test(one_health_state_per_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
