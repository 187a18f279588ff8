/*
 * fg_grpc_conn against real gRPC servers, started here on free ports and always stopped: the
 * python3-grpcio FrameService peer (tests/peers/py_frame_server.py) and the project's frameserver.
 * argv[1]: the server (frameserver, or a .py script run with /usr/bin/python3).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fg_err.h"
#include "fg_grpc_conn.h"
#include "fg_status.h"
#include "framegate/v1/frames.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"
#include "test_util.h"

#define RENDER "/framegate.v1.FrameService/Render"
#define CHECK "/grpc.health.v1.Health/Check"

static const char *server_path;
static test_peer fast_peer, slow_peer;

typedef struct result {
    bool done;
    int status;
    char message[256];
    bool not_processed;
    uint8_t *reply;
    size_t reply_len;
} result;

typedef struct conn_watch {
    fg_grpc_conn_state state;
    char reason[128];
    int failures;
    bool closed;
} conn_watch;

static void on_result(void *user, const fg_grpc_result *res) {
    result *r = user;
    assert_false(r->done); /* exactly one callback */
    r->done = true;
    r->status = res->status;
    snprintf(r->message, sizeof r->message, "%s", res->message);
    r->not_processed = res->not_processed;
    r->reply_len = res->reply_len;
    r->reply = res->reply_len ? malloc(res->reply_len) : NULL;
    if (res->reply_len)
        memcpy(r->reply, res->reply, res->reply_len);
}

static void on_state(void *user, fg_grpc_conn_state state, const char *reason) {
    conn_watch *w = user;
    w->state = state;
    snprintf(w->reason, sizeof w->reason, "%s", reason);
    if (state == FG_GRPC_CONN_FAILED)
        w->failures++;
}

static void on_closed(void *arg) {
    ((conn_watch *)arg)->closed = true;
}

static bool result_done(void *arg) {
    return ((result *)arg)->done;
}

static bool conn_ready(void *arg) {
    return ((conn_watch *)arg)->state == FG_GRPC_CONN_READY;
}

static bool conn_failed(void *arg) {
    return ((conn_watch *)arg)->failures > 0;
}

static bool conn_closed(void *arg) {
    return ((conn_watch *)arg)->closed;
}

static size_t pack_render(uint8_t *buf, size_t cap, const char *model, uint32_t frame) {
    Framegate__V1__RenderRequest req = FRAMEGATE__V1__RENDER_REQUEST__INIT;
    req.model = (char *)model;
    req.frame = frame;
    assert_true(framegate__v1__render_request__get_packed_size(&req) <= cap);
    return framegate__v1__render_request__pack(&req, buf);
}

/* Starts the server under test (a .py script runs under /usr/bin/python3) with --load-ms 0,
 * --infer-ms infer_ms and, when port != 0, --port port. */
static int start_server(test_peer *p, const char *infer_ms, uint16_t port) {
    char port_arg[16];
    snprintf(port_arg, sizeof port_arg, "%u", (unsigned)port);
    char *argv[12];
    int n = 0;
    size_t len = strlen(server_path);
    if (len > 3 && strcmp(server_path + len - 3, ".py") == 0)
        argv[n++] = "/usr/bin/python3";
    argv[n++] = (char *)server_path;
    argv[n++] = "--load-ms";
    argv[n++] = "0";
    argv[n++] = "--infer-ms";
    argv[n++] = (char *)infer_ms;
    argv[n++] = "--port";
    argv[n++] = port_arg;
    argv[n] = NULL;
    return test_peer_start(p, argv);
}

static fg_grpc_conn *open_conn(uv_loop_t *loop, uint16_t port, conn_watch *w, uint32_t max_reply) {
    memset(w, 0, sizeof *w);
    fg_grpc_conn_opts opts = {.max_reply_bytes = max_reply, .state_cb = on_state, .user = w};
    fg_grpc_conn *c;
    /* "localhost": may resolve to ::1 first, where nobody listens; the next address works. */
    assert_int_equal(fg_grpc_conn_new(loop, "localhost", port, &opts, &c), 0);
    return c;
}

static void close_conn(uv_loop_t *loop, fg_grpc_conn *c, conn_watch *w) {
    fg_grpc_conn_close(c, on_closed, w);
    assert_false(w->closed); /* never from inside close */
    assert_true(test_run_until(loop, conn_closed, w, 2000));
    assert_int_equal(test_loop_close(loop), 0);
}

static void call_render(fg_grpc_conn *c, const char *model, uint32_t frame, uint64_t timeout_us,
                        result *r) {
    uint8_t buf[128];
    size_t len = pack_render(buf, sizeof buf, model, frame);
    memset(r, 0, sizeof *r);
    assert_int_equal(fg_grpc_conn_call(c, RENDER, buf, len, timeout_us, on_result, r, NULL), 0);
    assert_false(r->done); /* never from inside the call */
}

static void free_result(result *r) {
    free(r->reply);
    r->reply = NULL;
}

static void test_render_ok_and_statuses(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    conn_watch w;
    fg_grpc_conn *c = open_conn(&loop, fast_peer.port, &w, 0);
    result r;
    /* Started while CONNECTING: queued until the server's SETTINGS arrive. */
    call_render(c, "sanders", 7, 2000000, &r);
    assert_true(test_run_until(&loop, result_done, &r, 5000));
    assert_int_equal(w.state, FG_GRPC_CONN_READY);
    assert_int_equal(r.status, FG_STATUS_OK);
    Framegate__V1__RenderReply *reply =
        framegate__v1__render_reply__unpack(NULL, r.reply_len, r.reply);
    assert_non_null(reply);
    assert_int_equal(reply->frame, 7);
    assert_int_equal(reply->width, 128);
    assert_int_equal(reply->height, 64);
    assert_int_equal(reply->image.len, 128 * 64 * 3);
    framegate__v1__render_reply__free_unpacked(reply, NULL);
    free_result(&r);

    /* A request fault passes through with the server's (percent-decoded) grpc-message. */
    call_render(c, "nobody here", 1, 2000000, &r);
    assert_true(test_run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.status, FG_STATUS_NOT_FOUND);
    assert_non_null(strstr(r.message, "nobody here"));
    free_result(&r);

    /* Health: HealthCheckRequest{} is zero bytes. */
    memset(&r, 0, sizeof r);
    assert_int_equal(fg_grpc_conn_call(c, CHECK, NULL, 0, 1000000, on_result, &r, NULL), 0);
    assert_true(test_run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.status, FG_STATUS_OK);
    Grpc__Health__V1__HealthCheckResponse *hc =
        grpc__health__v1__health_check_response__unpack(NULL, r.reply_len, r.reply);
    assert_non_null(hc);
    assert_int_equal(hc->status, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
    grpc__health__v1__health_check_response__free_unpacked(hc, NULL);
    free_result(&r);

    /* An unknown method: UNIMPLEMENTED (a Trailers-Only response). */
    memset(&r, 0, sizeof r);
    assert_int_equal(fg_grpc_conn_call(c, "/framegate.v1.FrameService/Nope", NULL, 0, 1000000,
                                       on_result, &r, NULL),
                     0);
    assert_true(test_run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.status, FG_STATUS_UNIMPLEMENTED);
    assert_false(r.not_processed);
    free_result(&r);
    close_conn(&loop, c, &w);
}

#define NCONC 150

static bool all_done(void *arg) {
    result *rs = arg;
    for (int i = 0; i < NCONC; i++)
        if (!rs[i].done)
            return false;
    return true;
}

static void test_many_concurrent_calls(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    conn_watch w;
    fg_grpc_conn *c = open_conn(&loop, fast_peer.port, &w, 0);
    assert_true(test_run_until(&loop, conn_ready, &w, 5000));
    static result rs[NCONC];
    /* More than grpcio's default MAX_CONCURRENT_STREAMS (100): the rest wait in the queue. */
    for (int i = 0; i < NCONC; i++)
        call_render(c, "sanders", (uint32_t)i, 10000000, &rs[i]);
    assert_int_equal(fg_grpc_conn_pending(c), NCONC);
    assert_true(test_run_until(&loop, all_done, rs, 20000));
    for (int i = 0; i < NCONC; i++) {
        assert_int_equal(rs[i].status, FG_STATUS_OK);
        Framegate__V1__RenderReply *reply =
            framegate__v1__render_reply__unpack(NULL, rs[i].reply_len, rs[i].reply);
        assert_non_null(reply);
        assert_int_equal(reply->frame, (uint32_t)i);
        framegate__v1__render_reply__free_unpacked(reply, NULL);
        free_result(&rs[i]);
    }
    assert_int_equal(fg_grpc_conn_pending(c), 0);
    close_conn(&loop, c, &w);
}

static void test_reply_too_big(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    conn_watch w;
    fg_grpc_conn *c = open_conn(&loop, fast_peer.port, &w, 1000);
    result r;
    call_render(c, "sanders", 1, 2000000, &r);
    assert_true(test_run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.status, FG_STATUS_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(r.message, "larger than 1000"));
    free_result(&r);
    /* Only that stream was reset: the connection still serves small replies. */
    memset(&r, 0, sizeof r);
    assert_int_equal(fg_grpc_conn_call(c, CHECK, NULL, 0, 1000000, on_result, &r, NULL), 0);
    assert_true(test_run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.status, FG_STATUS_OK);
    free_result(&r);
    close_conn(&loop, c, &w);
}

static void test_deadline_and_cancel(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    conn_watch w;
    fg_grpc_conn *c = open_conn(&loop, slow_peer.port, &w, 0);
    assert_true(test_run_until(&loop, conn_ready, &w, 5000));
    result r, cancelled;
    uint64_t t0 = uv_hrtime();
    call_render(c, "sanders", 1, 50000, &r); /* the server takes 400 ms per frame */
    fg_grpc_call *to_cancel = NULL;
    memset(&cancelled, 0, sizeof cancelled);
    uint8_t buf[64];
    size_t len = pack_render(buf, sizeof buf, "sanders", 3);
    assert_int_equal(fg_grpc_conn_call(c, RENDER, buf, len, 0, on_result, &cancelled, &to_cancel),
                     0);
    fg_grpc_call_cancel(to_cancel);
    assert_true(test_run_until(&loop, result_done, &r, 3000));
    uint64_t took_ms = (uv_hrtime() - t0) / 1000000;
    assert_int_equal(r.status, FG_STATUS_DEADLINE_EXCEEDED);
    assert_true(took_ms < 300);
    test_run_for(&loop, 100);
    assert_false(cancelled.done);
    free_result(&r);
    close_conn(&loop, c, &w);
}

static void test_connection_refused(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    conn_watch w;
    fg_grpc_conn *c = open_conn(&loop, test_closed_port(), &w, 0);
    result r;
    call_render(c, "sanders", 1, 1000000, &r);
    assert_true(test_run_until(&loop, conn_failed, &w, 5000));
    assert_string_equal(w.reason, "connection refused");
    assert_string_equal(fg_grpc_conn_last_error(c), "connection refused");
    assert_true(test_run_until(&loop, result_done, &r, 1000));
    assert_int_equal(r.status, FG_STATUS_UNAVAILABLE);
    assert_true(r.not_processed); /* never sent: safe to retry elsewhere */
    /* While FAILED, calls are refused at once and the callback is never called. */
    result never;
    memset(&never, 0, sizeof never);
    assert_int_equal(fg_grpc_conn_call(c, CHECK, NULL, 0, 0, on_result, &never, NULL),
                     FG_ERR_AGAIN);
    /* Backoff keeps retrying (100 ms, 200 ms, ... with jitter). */
    int before = w.failures;
    test_run_for(&loop, 700);
    assert_true(w.failures > before);
    assert_true(w.failures < before + 6);
    assert_false(never.done);
    close_conn(&loop, c, &w);
}

static void test_server_killed_then_back(void **state) {
    test_peer p;
    assert_int_equal(start_server(&p, "500", 0), 0);
    uint16_t port = p.port;
    uv_loop_t loop;
    uv_loop_init(&loop);
    conn_watch w;
    fg_grpc_conn *c = open_conn(&loop, port, &w, 0);
    assert_true(test_run_until(&loop, conn_ready, &w, 5000));
    result r;
    call_render(c, "sanders", 1, 5000000, &r);
    test_run_for(&loop, 100); /* on the wire */
    test_peer_stop(&p);
    assert_true(test_run_until(&loop, result_done, &r, 3000));
    assert_int_equal(r.status, FG_STATUS_UNAVAILABLE);
    assert_true(test_run_until(&loop, conn_failed, &w, 3000));

    /* The server comes back on the same port: reconnect_now brings the connection up. */
    assert_int_equal(start_server(&p, "500", port), 0);
    fg_grpc_conn_reconnect_now(c);
    assert_true(test_run_until(&loop, conn_ready, &w, 8000));
    memset(&r, 0, sizeof r);
    assert_int_equal(fg_grpc_conn_call(c, CHECK, NULL, 0, 2000000, on_result, &r, NULL), 0);
    assert_true(test_run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.status, FG_STATUS_OK);
    free_result(&r);
    close_conn(&loop, c, &w);
    test_peer_stop(&p);
}

/* SIGTERM: grpcio sends GOAWAY and drains; the call in flight still completes OK. */
static void test_graceful_goaway_drains(void **state) {
    test_peer p;
    assert_int_equal(start_server(&p, "300", 0), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    conn_watch w;
    fg_grpc_conn *c = open_conn(&loop, p.port, &w, 0);
    assert_true(test_run_until(&loop, conn_ready, &w, 5000));
    result r;
    call_render(c, "sanders", 5, 5000000, &r);
    test_run_for(&loop, 80);
    test_peer_signal(&p, SIGTERM);
    assert_true(test_run_until(&loop, result_done, &r, 5000));
    assert_int_equal(r.status, FG_STATUS_OK);
    free_result(&r);
    /* Once the server is gone the connection says so. */
    assert_true(test_run_until(&loop, conn_failed, &w, 5000));
    close_conn(&loop, c, &w);
    test_peer_stop(&p);
}

static void test_close_with_calls_pending(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    conn_watch w;
    fg_grpc_conn *c = open_conn(&loop, slow_peer.port, &w, 0);
    assert_true(test_run_until(&loop, conn_ready, &w, 5000));
    result r1, r2;
    call_render(c, "sanders", 1, 0, &r1);
    call_render(c, "sanders", 2, 0, &r2);
    test_run_for(&loop, 20);
    close_conn(&loop, c, &w); /* checks the loop ends with nothing left open */
    assert_false(r1.done);
    assert_false(r2.done);
}

static int start_peers(void **state) {
    if (start_server(&fast_peer, "1", 0) < 0 || start_server(&slow_peer, "400", 0) < 0)
        return -1;
    return 0;
}

static int stop_peers(void **state) {
    test_peer_stop(&fast_peer);
    test_peer_stop(&slow_peer);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s SERVER (frameserver or py_frame_server.py)\n", argv[0]);
        return 2;
    }
    server_path = argv[1];
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_ok_and_statuses),
        cmocka_unit_test(test_many_concurrent_calls),
        cmocka_unit_test(test_reply_too_big),
        cmocka_unit_test(test_deadline_and_cancel),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_server_killed_then_back),
        cmocka_unit_test(test_graceful_goaway_drains),
        cmocka_unit_test(test_close_with_calls_pending),
    };
    return cmocka_run_group_tests(tests, start_peers, stop_peers);
}
