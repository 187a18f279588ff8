/*
 * fg_pool and fg_stats against real backends (python3-grpcio peers on free ports): health at
 * startup, strict round-robin, request faults never marking a backend, a backend killed under
 * load (no frame lost), recovery, no backends, /health and /metrics rendering.
 * argv[1]: path of py_frame_server.py, argv[2]: no_health_server.py (a backend without health).
 */
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fg_backend.h"
#include "fg_err.h"
#include "fg_pool.h"
#include "fg_stats.h"
#include "fg_status.h"
#include "test_util.h"

#define NPEERS 3

static const char *server_script;
static const char *no_health_script;
static test_peer peers[NPEERS];
static char addr_buf[NPEERS][32];
static const char *addrs[NPEERS];

typedef struct frame_out {
    bool done;
    int status;
    char message[128];
    char backend[32];
    uint8_t attempts;
    uint32_t width, height;
    size_t image_len;
} frame_out;

static void on_frame_done(void *user, const fg_frame_result *res) {
    frame_out *o = user;
    assert_false(o->done);
    o->done = true;
    o->status = res->status;
    snprintf(o->message, sizeof o->message, "%s", res->message);
    snprintf(o->backend, sizeof o->backend, "%s", res->backend ? res->backend : "");
    o->attempts = res->attempts;
    o->width = res->width;
    o->height = res->height;
    o->image_len = res->image_len;
}

static bool frame_done(void *arg) {
    return ((frame_out *)arg)->done;
}

static fg_pool *new_pool(uv_loop_t *loop, const char *const *a, size_t n) {
    fg_pool *pool = test_pool_new(loop, a, n, 200);
    assert_non_null(pool);
    return pool;
}

static void submit(fg_pool *pool, const char *model, uint32_t frame, frame_out *o) {
    memset(o, 0, sizeof *o);
    fg_frame_request req = {.model = model, .model_len = strlen(model), .frame = frame};
    fg_call *call;
    assert_int_equal(fg_pool_submit(pool, NULL, &req, on_frame_done, o, &call), 0);
    assert_false(o->done);
}

static void wait_all_healthy(uv_loop_t *loop, fg_pool *pool, size_t n) {
    assert_true(test_pool_wait_healthy(loop, pool, n, 8000));
}

static void test_round_robin_and_request_faults(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    fg_pool *pool = new_pool(&loop, addrs, NPEERS);
    assert_int_equal(fg_pool_healthy_count(pool), 0); /* unhealthy until the first SERVING */
    wait_all_healthy(&loop, pool, NPEERS);

    /* Sequential frames go to consecutive backends in configuration order: frame i to
     * addrs[(k + i) % NPEERS] for the k of the first one, so exactly 10 each. */
    uint64_t before[NPEERS];
    for (int i = 0; i < NPEERS; i++)
        before[i] = fg_pool_backend(pool, i)->stats.total_requests;
    int k = -1;
    for (int i = 0; i < 10 * NPEERS; i++) {
        frame_out o;
        submit(pool, "sanders", (uint32_t)i, &o);
        assert_true(test_run_until(&loop, frame_done, &o, 5000));
        assert_int_equal(o.status, FG_STATUS_OK);
        assert_int_equal(o.attempts, 1);
        assert_int_equal(o.width, 128);
        assert_int_equal(o.image_len, 128 * 64 * 3);
        if (k < 0)
            for (int j = 0; j < NPEERS; j++)
                if (strcmp(o.backend, addrs[j]) == 0)
                    k = j;
        assert_true(k >= 0);
        assert_string_equal(o.backend, addrs[(k + i) % NPEERS]);
    }
    for (int i = 0; i < NPEERS; i++)
        assert_int_equal(fg_pool_backend(pool, i)->stats.total_requests - before[i], 10);

    /* A client's unknown model is the request's fault: no backend is ever marked. */
    for (int i = 0; i < 12; i++) {
        frame_out o;
        submit(pool, "no-such-model", 1, &o);
        assert_true(test_run_until(&loop, frame_done, &o, 5000));
        assert_int_equal(o.status, FG_STATUS_NOT_FOUND);
        assert_int_equal(o.attempts, 1); /* not retried */
        assert_non_null(strstr(o.message, "unknown model"));
    }
    assert_int_equal(fg_pool_healthy_count(pool), NPEERS);
    for (int i = 0; i < NPEERS; i++)
        assert_int_equal(fg_pool_backend(pool, i)->stats.error_count, 0);
    assert_true(test_pool_close(&loop, pool));
}

#define NLOAD 90

static bool load_done(void *arg) {
    frame_out *o = arg;
    for (int i = 0; i < NLOAD; i++)
        if (!o[i].done)
            return false;
    return true;
}

static void test_backend_killed_under_load_then_back(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    fg_pool *pool = new_pool(&loop, addrs, NPEERS);
    wait_all_healthy(&loop, pool, NPEERS);
    static frame_out outs[NLOAD];
    for (int i = 0; i < NLOAD; i++)
        submit(pool, "sanders", (uint32_t)i, &outs[i]);
    test_run_for(&loop, 20);
    uint16_t port = peers[1].port;
    test_peer_stop(&peers[1]);
    assert_true(test_run_until(&loop, load_done, outs, 15000));
    int retried = 0;
    for (int i = 0; i < NLOAD; i++) {
        assert_int_equal(outs[i].status, FG_STATUS_OK); /* none lost, none failed */
        retried += outs[i].attempts > 1;
    }
    assert_true(retried > 0); /* the kill hit frames in flight, and they were retried */
    const fg_backend *b = fg_pool_backend(pool, 1);
    assert_true(test_pool_wait_healthy(&loop, pool, NPEERS - 1, 2000));
    assert_false(fg_backend_healthy(b));
    assert_string_equal(fg_backend_state_name(b), "unhealthy");
    char last_error[160];
    fg_backend_last_error(b, last_error, sizeof last_error);
    assert_memory_equal(last_error, "UNAVAILABLE ", 12);
    /* Frames now skip it. */
    for (int i = 0; i < 6; i++) {
        frame_out o;
        submit(pool, "sanders", 1, &o);
        assert_true(test_run_until(&loop, frame_done, &o, 5000));
        assert_int_equal(o.status, FG_STATUS_OK);
        assert_int_equal(o.attempts, 1);
        assert_string_not_equal(o.backend, addrs[1]);
    }
    /* Restarted on its port, it is healthy again within a few check intervals. */
    char port_arg[16];
    snprintf(port_arg, sizeof port_arg, "%u", (unsigned)port);
    char *argv[] = {
        "/usr/bin/python3", (char *)server_script, "--infer-ms", "3", "--port", port_arg, NULL};
    assert_int_equal(test_peer_start(&peers[1], argv), 0);
    wait_all_healthy(&loop, pool, NPEERS);
    print_message("killed backend: %d of %d frames retried, all answered\n", retried, NLOAD);
    assert_true(test_pool_close(&loop, pool));
}

static void test_no_backends_and_close_in_flight(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    char closed_addr[32];
    snprintf(closed_addr, sizeof closed_addr, "127.0.0.1:%u", (unsigned)test_closed_port());
    const char *a[] = {closed_addr};
    fg_pool *pool = new_pool(&loop, a, 1);
    const fg_backend *b = fg_pool_backend(pool, 0);
    test_run_for(&loop, 300);
    char last_error[160];
    fg_backend_last_error(b, last_error, sizeof last_error);
    assert_string_equal(last_error, "UNAVAILABLE connection refused");
    fg_frame_request req = {.model = "sanders", .model_len = 7, .frame = 1};
    fg_call *call;
    frame_out o = {0};
    assert_int_equal(fg_pool_submit(pool, NULL, &req, on_frame_done, &o, &call), FG_ERR_AGAIN);

    /* /health: the contract's shape, 503 with no healthy backend. */
    int http_status = 0;
    json_t *root = test_pool_health(pool, &http_status);
    assert_non_null(root);
    assert_int_equal(http_status, 503);
    assert_true(json_is_false(json_object_get(root, "healthy")));
    assert_int_equal(json_integer_value(json_object_get(root, "total_backends")), 1);
    assert_int_equal(json_integer_value(json_object_get(root, "healthy_count")), 0);
    json_t *b0 = json_array_get(json_object_get(root, "backends"), 0);
    assert_string_equal(json_string_value(json_object_get(b0, "address")), closed_addr);
    assert_true(json_is_false(json_object_get(b0, "healthy")));
    assert_string_equal(json_string_value(json_object_get(b0, "state")), "unhealthy");
    assert_string_equal(json_string_value(json_object_get(b0, "last_error")),
                        "UNAVAILABLE connection refused");
    json_decref(root);
    assert_true(test_pool_close(&loop, pool));

    /* Closing with frames in flight answers them UNAVAILABLE. */
    uv_loop_init(&loop);
    pool = new_pool(&loop, addrs, NPEERS);
    wait_all_healthy(&loop, pool, NPEERS);
    submit(pool, "sanders", 1, &o);
    bool closed = false;
    fg_pool_close(pool, test_set_flag, &closed);
    assert_true(o.done);
    assert_int_equal(o.status, FG_STATUS_UNAVAILABLE);
    assert_true(test_run_until(&loop, test_flag_set, &closed, 3000));
    assert_int_equal(test_loop_close(&loop), 0);
}

static void test_stats_rendering(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    fg_pool *pool = new_pool(&loop, addrs, NPEERS);
    wait_all_healthy(&loop, pool, NPEERS);
    frame_out o;
    submit(pool, "sanders", 1, &o);
    assert_true(test_run_until(&loop, frame_done, &o, 5000));
    fg_call *cancelled;
    fg_frame_request req = {.model = "sanders", .model_len = 7, .frame = 2};
    frame_out never = {0};
    assert_int_equal(fg_pool_submit(pool, NULL, &req, on_frame_done, &never, &cancelled), 0);
    fg_call_cancel(cancelled);
    fg_stats_add(FG_STAT_connections_total, 3);
    fg_stats_reply(FG_STATUS_OK);
    fg_stats_reply(FG_STATUS_UNAVAILABLE);
    fg_stats_observe_total_us(1500);

    int http_status = 0;
    json_t *root = test_pool_health(pool, &http_status);
    assert_non_null(root);
    assert_int_equal(http_status, 200);
    assert_true(json_is_true(json_object_get(root, "healthy")));
    assert_int_equal(json_integer_value(json_object_get(root, "total_backends")), NPEERS);
    assert_int_equal(json_integer_value(json_object_get(root, "healthy_count")), NPEERS);
    json_t *arr = json_object_get(root, "backends");
    assert_int_equal(json_array_size(arr), NPEERS);
    uint64_t total = 0, in_flight = 0;
    for (size_t i = 0; i < NPEERS; i++) {
        json_t *b = json_array_get(arr, i);
        assert_string_equal(json_string_value(json_object_get(b, "address")), addrs[i]);
        assert_true(json_is_true(json_object_get(b, "healthy")));
        assert_true(json_is_integer(json_object_get(b, "total_requests")));
        assert_int_equal(json_integer_value(json_object_get(b, "error_count")), 0);
        assert_string_equal(json_string_value(json_object_get(b, "state")), "ready");
        total += (uint64_t)json_integer_value(json_object_get(b, "total_requests"));
        in_flight += (uint64_t)json_integer_value(json_object_get(b, "in_flight"));
        json_t *lat = json_object_get(b, "latency_ms");
        assert_true(json_is_number(json_object_get(lat, "p99")));
    }
    assert_int_equal(total, 2);
    assert_int_equal(in_flight, 0); /* the cancelled one is no longer in flight */
    json_decref(root);

    fg_buf buf;
    fg_buf_init(&buf, 1 << 20);
    assert_int_equal(fg_stats_render_prometheus(pool, &buf), 0);
    assert_int_equal(fg_buf_append(&buf, "", 1), 0);
    const char *text = (const char *)buf.data;
    assert_non_null(strstr(text, "# TYPE framegate_connections_total counter\n"));
    assert_non_null(strstr(text, "framegate_replies_total{status=\"UNAVAILABLE\"} "));
    assert_non_null(strstr(text, "# TYPE framegate_request_duration_seconds histogram\n"));
    assert_non_null(strstr(text, "framegate_request_duration_seconds_bucket{le=\"+Inf\"} "));
    char want[128];
    snprintf(want, sizeof want, "framegate_backend_healthy{backend=\"%s\"} 1\n", addrs[0]);
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof want, "framegate_backend_latency_seconds_count{backend=\"%s\"} 1\n",
             addrs[0]);
    assert_non_null(strstr(text, want));
    /* Every non-comment line is "name{labels} value" or "name value". */
    for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
        if (*line != '#') {
            const char *sp = strchr(line, ' ');
            assert_non_null(sp);
            char *end;
            strtod(sp + 1, &end);
            assert_true(*end == '\n');
        }
        assert_non_null(strchr(line, '\n'));
    }
    fg_buf_free(&buf);
    assert_true(test_pool_close(&loop, pool));
}

static bool conn_ready(void *arg) {
    return fg_grpc_conn_get_state(((const fg_backend *)arg)->conn) == FG_GRPC_CONN_READY;
}

static bool no_health_seen(void *arg) {
    fg_health h;
    fg_bshared_snapshot(((const fg_backend *)arg)->shared, &h);
    return h.no_health_service;
}

/* A backend without the health service is recovered by a trial frame, also after a restart. */
static void test_no_health_service_trial_frames(void **state) {
    test_peer p;
    char *argv[] = {"/usr/bin/python3", (char *)no_health_script, NULL, NULL, NULL};
    assert_int_equal(test_peer_start(&p, argv), 0);
    uint16_t port = p.port;
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)port);
    const char *a[] = {addr};
    uv_loop_t loop;
    uv_loop_init(&loop);
    fg_pool *pool = new_pool(&loop, a, 1);
    const fg_backend *b = fg_pool_backend(pool, 0);
    assert_true(test_run_until(&loop, no_health_seen, (void *)b, 5000));
    assert_false(fg_backend_healthy(b));
    frame_out o;
    submit(pool, "sanders", 42, &o); /* the trial frame */
    assert_true(test_run_until(&loop, frame_done, &o, 5000));
    assert_int_equal(o.status, FG_STATUS_OK);
    assert_int_equal(o.width, 4);
    assert_int_equal(fg_pool_healthy_count(pool), 1);

    test_peer_stop(&p);
    assert_true(test_pool_wait_healthy(&loop, pool, 0, 3000));
    fg_frame_request req = {.model = "sanders", .model_len = 7, .frame = 1};
    fg_call *call;
    assert_int_equal(fg_pool_submit(pool, NULL, &req, on_frame_done, &o, &call), FG_ERR_AGAIN);

    char port_arg[16];
    snprintf(port_arg, sizeof port_arg, "%u", (unsigned)port);
    argv[2] = "--port";
    argv[3] = port_arg;
    assert_int_equal(test_peer_start(&p, argv), 0);
    assert_true(test_run_until(&loop, conn_ready, (void *)b, 5000));
    submit(pool, "sanders", 43, &o);
    assert_true(test_run_until(&loop, frame_done, &o, 5000));
    assert_int_equal(o.status, FG_STATUS_OK);
    assert_int_equal(fg_pool_healthy_count(pool), 1);
    assert_true(test_pool_close(&loop, pool));
    test_peer_stop(&p);
}

static int start_peers(void **state) {
    /* 3 ms per frame, one frame at a time: a burst keeps each backend busy for a while. */
    char *argv[] = {"/usr/bin/python3", (char *)server_script, "--infer-ms", "3", NULL};
    return test_peers_start(peers, NPEERS, argv, "localhost", addr_buf, addrs);
}

static int stop_peers(void **state) {
    test_peers_stop(peers, NPEERS);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s PATH/py_frame_server.py PATH/no_health_server.py\n", argv[0]);
        return 2;
    }
    server_script = argv[1];
    no_health_script = argv[2];
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_robin_and_request_faults),
        cmocka_unit_test(test_backend_killed_under_load_then_back),
        cmocka_unit_test(test_no_backends_and_close_in_flight),
        cmocka_unit_test(test_stats_rendering),
        cmocka_unit_test(test_no_health_service_trial_frames),
    };
    return cmocka_run_group_tests(tests, start_peers, stop_peers);
}
