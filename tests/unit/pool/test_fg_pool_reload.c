/*
 * fg_pool_set_backends (the SIGHUP reload) under load, against real backends (python3-grpcio
 * peers on free ports): kept backends untouched, added ones serving once healthy, removed ones
 * drained then gone from /health, and not one frame lost or answered twice meanwhile.
 * argv[1]: path of py_frame_server.py.
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

#define NPEERS 4
#define INFLIGHT 16
#define MAX_FRAMES 4000

static const char *server_script;
static test_peer peers[NPEERS];
static char addr_buf[NPEERS][32];
static const char *addrs[NPEERS];

/* A closed loop of INFLIGHT frames, topped up from the test's wait condition. */
typedef struct load {
    const char *busy_addr; /* for until_busy */
    fg_pool *pool;
    bool running;
    uint32_t submitted, answered, refused, not_ok;
    uint8_t done[MAX_FRAMES]; /* callbacks per frame: must end up exactly 1 each */
    uint32_t per_backend[NPEERS];
    bool (*until)(struct load *l);
    size_t want_count; /* for until_backend_count */
    int want_peer;     /* for until_peer_served */
} load;

static void on_frame_done(void *user, const fg_frame_result *res);

typedef struct frame_ref {
    load *l;
    uint32_t id;
} frame_ref;
static frame_ref refs[MAX_FRAMES];

static void on_frame_done(void *user, const fg_frame_result *res) {
    frame_ref *r = user;
    load *l = r->l;
    l->done[r->id]++;
    l->answered++;
    if (res->status != FG_STATUS_OK) {
        l->not_ok++;
        if (l->running)
            print_message("frame %u: %d %s\n", r->id, res->status, res->message);
        return;
    }
    for (int i = 0; i < NPEERS; i++)
        if (res->backend && strcmp(res->backend, addrs[i]) == 0)
            l->per_backend[i]++;
}

static void top_up(load *l) {
    while (l->running && l->submitted - l->answered < INFLIGHT && l->submitted < MAX_FRAMES) {
        uint32_t id = l->submitted++;
        refs[id] = (frame_ref){l, id};
        fg_frame_request req = {.model = "sanders", .model_len = 7, .frame = id};
        fg_call *call;
        if (fg_pool_submit(l->pool, NULL, &req, on_frame_done, &refs[id], &call) < 0) {
            l->refused++;
            l->done[id]++; /* never called back: counted as answered by the refusal */
            l->answered++;
        }
    }
}

static bool load_until(void *arg) {
    load *l = arg;
    top_up(l);
    return l->until(l);
}

static bool until_backend_count(load *l) {
    return fg_pool_backend_count(l->pool) == l->want_count;
}

static bool until_peer_served(load *l) {
    return l->per_backend[l->want_peer] >= 60;
}

static bool until_healthy_count(load *l) {
    return fg_pool_healthy_count(l->pool) == l->want_count;
}

static const fg_backend *find_backend(const fg_pool *pool, const char *addr);

/* Both A (addrs[0]) and the backend at l->busy_addr hold frames in flight right now. */
static bool until_busy(load *l) {
    const fg_backend *a = find_backend(l->pool, addrs[0]);
    const fg_backend *b = find_backend(l->pool, l->busy_addr);
    return a && b && a->stats.in_flight > 0 && b->stats.in_flight > 0;
}

static bool until_all_answered(load *l) {
    return l->answered == l->submitted;
}

static void run_load_until(uv_loop_t *loop, load *l, bool (*until)(load *), int timeout_ms) {
    l->until = until;
    assert_true(test_run_until(loop, load_until, l, timeout_ms));
}

static fg_pool *new_pool(uv_loop_t *loop, const char *const *a, size_t n) {
    fg_pool *pool = test_pool_new(loop, a, n, 100);
    assert_non_null(pool);
    assert_true(test_pool_wait_healthy(loop, pool, n, 8000));
    return pool;
}

static const fg_backend *find_backend(const fg_pool *pool, const char *addr) {
    for (size_t i = 0; i < fg_pool_backend_count(pool); i++)
        if (strcmp(fg_backend_address(fg_pool_backend(pool, i)), addr) == 0)
            return fg_pool_backend(pool, i);
    return NULL;
}

/* The "state" of addr in /health, or NULL when not listed; also checks the contract's shape. */
static const char *health_state(const fg_pool *pool, const char *addr, char *out, size_t len) {
    int http_status = 0;
    json_t *root = test_pool_health(pool, &http_status);
    assert_non_null(root);
    json_t *arr = json_object_get(root, "backends");
    assert_int_equal(json_array_size(arr),
                     json_integer_value(json_object_get(root, "total_backends")));
    const char *found = NULL;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *b = json_array_get(arr, i);
        if (strcmp(json_string_value(json_object_get(b, "address")), addr) == 0) {
            snprintf(out, len, "%s", json_string_value(json_object_get(b, "state")));
            found = out;
        }
    }
    json_decref(root);
    return found;
}

static void finish_load(uv_loop_t *loop, load *l) {
    l->running = false;
    run_load_until(loop, l, until_all_answered, 10000);
    for (uint32_t i = 0; i < l->submitted; i++)
        assert_int_equal(l->done[i], 1); /* exactly one answer each */
    assert_int_equal(l->refused, 0);     /* never "no backends available" */
    assert_int_equal(l->not_ok, 0);      /* and never an error */
}

/* l's closed loop running on a new pool of A and B, until B has served some frames. */
static void start_load_on_a_and_b(uv_loop_t *loop, load *l) {
    memset(l, 0, sizeof *l);
    const char *ab[] = {addrs[0], addrs[1]};
    l->pool = new_pool(loop, ab, 2);
    l->running = true;
    l->want_peer = 1;
    run_load_until(loop, l, until_peer_served, 8000);
}

static void test_reload_under_load(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    static load l;
    start_load_on_a_and_b(&loop, &l);

    /* Remove B, add C: A untouched, B drains and disappears, C serves once healthy. */
    const fg_backend *a = find_backend(l.pool, addrs[0]);
    const fg_grpc_conn *a_conn = a->conn;
    uint64_t a_requests = a->stats.total_requests;
    l.busy_addr = addrs[1];
    run_load_until(&loop, &l, until_busy, 5000); /* B has frames to drain when it is removed */
    const char *ac[] = {addrs[0], addrs[2]};
    assert_int_equal(fg_pool_set_backends(l.pool, ac, 2), 0);
    assert_ptr_equal(find_backend(l.pool, addrs[0]), a);
    assert_ptr_equal(a->conn, a_conn);
    assert_true(a->stats.total_requests >= a_requests);
    assert_true(fg_backend_healthy(a));
    assert_false(fg_backend_healthy(find_backend(l.pool, addrs[2]))); /* not before a Check */
    char st[32];
    assert_int_equal(fg_pool_backend_count(l.pool), 3);
    assert_string_equal(health_state(l.pool, addrs[1], st, sizeof st), "draining");
    uint32_t b_frames = l.per_backend[1];
    l.want_count = 2;
    run_load_until(&loop, &l, until_backend_count, 5000);
    assert_null(health_state(l.pool, addrs[1], st, sizeof st));
    l.want_peer = 2;
    run_load_until(&loop, &l, until_peer_served, 8000);
    assert_true(l.per_backend[1] - b_frames <= INFLIGHT); /* at most those already in flight */
    assert_int_equal(fg_pool_healthy_count(l.pool), 2);

    /* Remove A and put it straight back while its frames are in flight: kept, not reconnected. */
    l.busy_addr = addrs[2];
    run_load_until(&loop, &l, until_busy, 5000);
    const char *c_only[] = {addrs[2]};
    assert_int_equal(fg_pool_set_backends(l.pool, c_only, 1), 0);
    const char *ca[] = {addrs[2], addrs[0]};
    assert_int_equal(fg_pool_set_backends(l.pool, ca, 2), 0);
    assert_ptr_equal(find_backend(l.pool, addrs[0]), a);
    assert_ptr_equal(a->conn, a_conn);
    assert_string_equal(fg_backend_state_name(a), "ready");
    l.want_count = 2;
    run_load_until(&loop, &l, until_backend_count, 5000);

    /* Add B and D, then drop the others (twice in a row); bad lists change nothing. */
    const char *cabd[] = {addrs[2], addrs[0], addrs[1], addrs[3]};
    assert_int_equal(fg_pool_set_backends(l.pool, cabd, 4), 0);
    l.want_count = 4;
    run_load_until(&loop, &l, until_healthy_count, 8000);
    const char *bd[] = {addrs[1], addrs[3]};
    assert_int_equal(fg_pool_set_backends(l.pool, bd, 2), 0);
    assert_int_equal(fg_pool_set_backends(l.pool, bd, 2), 0);
    const char *bad[] = {addrs[0], "no-port"};
    assert_int_equal(fg_pool_set_backends(l.pool, bad, 2), FG_ERR_INVALID);
    assert_int_equal(fg_pool_set_backends(l.pool, bad, 0), FG_ERR_INVALID);
    l.want_count = 2;
    run_load_until(&loop, &l, until_backend_count, 5000);
    l.want_peer = 3;
    run_load_until(&loop, &l, until_peer_served, 8000);
    assert_non_null(find_backend(l.pool, addrs[1]));
    assert_null(find_backend(l.pool, addrs[0]));

    finish_load(&loop, &l);
    print_message("reload under load: %u frames, all answered OK once (per backend %u %u %u %u)\n",
                  l.submitted, l.per_backend[0], l.per_backend[1], l.per_backend[2],
                  l.per_backend[3]);
    assert_true(test_pool_close(&loop, l.pool));
}

/* Closing the pool while a removed backend still drains: every frame answered once, no leak. */
static void test_close_while_draining(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    static load l;
    start_load_on_a_and_b(&loop, &l);
    const char *a_only[] = {addrs[0]};
    assert_int_equal(fg_pool_set_backends(l.pool, a_only, 1), 0);
    l.running = false;
    bool closed = false;
    fg_pool_close(l.pool, test_set_flag, &closed);
    assert_int_equal(fg_pool_set_backends(l.pool, a_only, 1), FG_ERR_CLOSED);
    assert_int_equal(l.answered, l.submitted); /* answered UNAVAILABLE by the close */
    for (uint32_t i = 0; i < l.submitted; i++)
        assert_int_equal(l.done[i], 1);
    assert_true(test_run_until(&loop, test_flag_set, &closed, 3000));
    assert_int_equal(test_loop_close(&loop), 0);

    /* Closing while an idle removed backend's connection is still closing. */
    uv_loop_init(&loop);
    const char *ab[] = {addrs[0], addrs[1]};
    fg_pool *pool = new_pool(&loop, ab, 2);
    assert_int_equal(fg_pool_set_backends(pool, a_only, 1), 0);
    assert_int_equal(fg_pool_backend_count(pool), 2); /* B listed until its close completes */
    assert_true(test_pool_close(&loop, pool));
}

static int start_peers(void **state) {
    char *argv[] = {"/usr/bin/python3", (char *)server_script, "--infer-ms", "2", NULL};
    return test_peers_start(peers, NPEERS, argv, "127.0.0.1", addr_buf, addrs);
}

static int stop_peers(void **state) {
    test_peers_stop(peers, NPEERS);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH/py_frame_server.py\n", argv[0]);
        return 2;
    }
    server_script = argv[1];
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reload_under_load),
        cmocka_unit_test(test_close_while_draining),
    };
    return cmocka_run_group_tests(tests, start_peers, stop_peers);
}
