/* fs_gpu: one job at a time in arrival order, a bounded queue, deadlines, cancellation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "fg_clock.h"
#include "fg_err.h"
#include "fg_status.h"
#include "fs_gpu.h"

#define MAX_DONE 64

typedef struct record {
    int n;
    int id[MAX_DONE];
    int status[MAX_DONE];
    uint64_t model_us[MAX_DONE];
    uint64_t at_us[MAX_DONE];
} record;

static record rec;
static int ids[MAX_DONE];

static void on_done(void *user, int status, uint64_t model_us) {
    int i = rec.n++;
    rec.id[i] = *(int *)user;
    rec.status[i] = status;
    rec.model_us[i] = model_us;
    rec.at_us[i] = fg_now_us();
}

static int setup(void **state) {
    memset(&rec, 0, sizeof(rec));
    for (int i = 0; i < MAX_DONE; i++)
        ids[i] = i;
    uv_loop_t *loop = malloc(sizeof(*loop));
    uv_loop_init(loop);
    *state = loop;
    return 0;
}

static int teardown(void **state) {
    uv_loop_t *loop = *state;
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0); /* every handle was closed */
    free(loop);
    return 0;
}

static fs_job *submit(fs_gpu *gpu, uint64_t cost_ms, uint64_t deadline_in_ms, int id) {
    fs_job *job = NULL;
    uint64_t deadline = deadline_in_ms ? fg_now_us() + deadline_in_ms * 1000 : 0;
    assert_int_equal(fs_gpu_submit(gpu, cost_ms * 1000, deadline, on_done, &ids[id], &job), 0);
    return job;
}

static void test_arrival_order_one_at_a_time(void **state) {
    uv_loop_t *loop = *state;
    fs_gpu *gpu = fs_gpu_new(loop, 16);
    uint64_t t0 = fg_now_us();
    for (int i = 0; i < 4; i++)
        submit(gpu, 10, 0, i);
    assert_int_equal(fs_gpu_waiting(gpu), 3);
    assert_true(fs_gpu_busy(gpu));
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(rec.n, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(rec.id[i], i);
        assert_int_equal(rec.status[i], FG_STATUS_OK);
        assert_true(rec.model_us[i] >= 9000);
        /* Serial: job i cannot finish before (i+1) passes of 10 ms. */
        assert_true(rec.at_us[i] - t0 >= (uint64_t)(i + 1) * 10000 - 1000);
    }
    assert_false(fs_gpu_busy(gpu));
    fs_gpu_close(gpu, NULL, NULL);
}

static void test_queue_bound(void **state) {
    uv_loop_t *loop = *state;
    fs_gpu *gpu = fs_gpu_new(loop, 2);
    fs_job *job;
    submit(gpu, 5, 0, 0); /* running */
    submit(gpu, 5, 0, 1);
    submit(gpu, 5, 0, 2);
    assert_int_equal(fs_gpu_submit(gpu, 5000, 0, on_done, &ids[3], &job), FG_ERR_FULL);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(rec.n, 3);
    fs_gpu_close(gpu, NULL, NULL);
    assert_int_equal(fs_gpu_submit(gpu, 5000, 0, on_done, &ids[3], &job), FG_ERR_CLOSED);
}

static void test_deadline_while_waiting(void **state) {
    uv_loop_t *loop = *state;
    fs_gpu *gpu = fs_gpu_new(loop, 8);
    uint64_t t0 = fg_now_us();
    submit(gpu, 60, 0, 0);
    submit(gpu, 5, 10, 1); /* expires long before job 0 is done */
    submit(gpu, 5, 0, 2);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(rec.n, 3);
    assert_int_equal(rec.id[0], 1);
    assert_int_equal(rec.status[0], FG_STATUS_DEADLINE_EXCEEDED);
    assert_true(rec.at_us[0] - t0 < 50000); /* answered at its deadline, not after job 0 */
    assert_int_equal(rec.id[1], 0);
    assert_int_equal(rec.id[2], 2);
    assert_int_equal(rec.status[2], FG_STATUS_OK);
    fs_gpu_close(gpu, NULL, NULL);
}

static void test_deadline_while_running(void **state) {
    uv_loop_t *loop = *state;
    fs_gpu *gpu = fs_gpu_new(loop, 8);
    uint64_t t0 = fg_now_us();
    submit(gpu, 40, 10, 0);
    submit(gpu, 5, 0, 1);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(rec.n, 2);
    assert_int_equal(rec.id[0], 0);
    assert_int_equal(rec.status[0], FG_STATUS_DEADLINE_EXCEEDED);
    /* The GPU stayed busy for job 0's whole pass before job 1 ran. */
    assert_int_equal(rec.id[1], 1);
    assert_true(rec.at_us[1] - t0 >= 44000);
    fs_gpu_close(gpu, NULL, NULL);
}

static void test_cancel(void **state) {
    uv_loop_t *loop = *state;
    fs_gpu *gpu = fs_gpu_new(loop, 8);
    fs_job *running = submit(gpu, 20, 0, 0);
    fs_job *waiting = submit(gpu, 5, 100, 1);
    submit(gpu, 5, 0, 2);
    fs_gpu_cancel(gpu, waiting);
    assert_int_equal(fs_gpu_waiting(gpu), 1);
    fs_gpu_cancel(gpu, running);
    assert_true(fs_gpu_busy(gpu)); /* a running pass cannot be taken back */
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(rec.n, 1);
    assert_int_equal(rec.id[0], 2);
    fs_gpu_close(gpu, NULL, NULL);
}

static int closed_calls;
static void on_closed(void *user) {
    closed_calls++;
}

static void test_close_fails_pending(void **state) {
    uv_loop_t *loop = *state;
    fs_gpu *gpu = fs_gpu_new(loop, 8);
    submit(gpu, 1000, 0, 0);
    submit(gpu, 1000, 5000, 1);
    closed_calls = 0;
    fs_gpu_close(gpu, on_closed, NULL);
    assert_int_equal(rec.n, 2);
    assert_int_equal(rec.status[0], FG_STATUS_UNAVAILABLE);
    assert_int_equal(rec.status[1], FG_STATUS_UNAVAILABLE);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(closed_calls, 1);
}

static void test_rate_is_exact(void **state) {
    /* Millisecond timers fire late; the GPU must not accumulate that lateness. */
    uv_loop_t *loop = *state;
    fs_gpu *gpu = fs_gpu_new(loop, 64);
    uint64_t t0 = fg_now_us();
    for (int i = 0; i < 30; i++)
        submit(gpu, 7, 0, i);
    uv_run(loop, UV_RUN_DEFAULT);
    uint64_t took = fg_now_us() - t0;
    assert_int_equal(rec.n, 30);
    assert_true(took >= 210000 - 1000);
    if (took > 240000)
        fail_msg("30 passes of 7 ms took %llu us", (unsigned long long)took);
    fs_gpu_close(gpu, NULL, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_arrival_order_one_at_a_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_while_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_while_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_fails_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_is_exact, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
