/*
 * fg_grpc_conn's mapping of replies that are not plain gRPC, after gRPC's "HTTP to gRPC status
 * code mapping" and PROTOCOL-HTTP2: error pages (their body discarded, bounded), 200 replies of
 * a foreign or missing content-type, a missing grpc-status, content-type parameters; and the
 * ORCA load report of the trailer endpoint-load-metrics-bin in every result.
 * argv[1]: odd_reply_server.py (python3-h2), started here on a free port and always stopped.
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

#include "fg_grpc_conn.h"
#include "fg_status.h"
#include "test_util.h"

static const char *server_script;
static test_peer peer;

typedef struct result {
    bool done;
    int status;
    char message[256];
    char reply[64];
    bool has_orca;
    fg_orca_report orca;
} result;

static void on_result(void *user, const fg_grpc_result *res) {
    result *r = user;
    assert_false(r->done);
    r->done = true;
    r->status = res->status;
    r->has_orca = res->has_orca;
    r->orca = res->orca;
    snprintf(r->message, sizeof r->message, "%s", res->message);
    size_t n = res->reply_len < sizeof r->reply - 1 ? res->reply_len : sizeof r->reply - 1;
    if (n)
        memcpy(r->reply, res->reply, n);
    r->reply[n] = '\0';
}

static bool result_done(void *arg) {
    return ((result *)arg)->done;
}

/* One call to "/t/NAME"; its result. */
static result call(uv_loop_t *loop, fg_grpc_conn *c, const char *name) {
    char path[64];
    snprintf(path, sizeof path, "/t/%s", name);
    result r = {0};
    assert_int_equal(fg_grpc_conn_call(c, path, NULL, 0, 5000000, on_result, &r, NULL), 0);
    assert_true(test_run_until(loop, result_done, &r, 5000));
    return r;
}

static void test_odd_replies(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    fg_grpc_conn *c;
    /* Small replies: the stream window (about max_reply_bytes) then keeps a 200 KiB page from
     * arriving whole before the client's reset. */
    fg_grpc_conn_opts opts = {.max_reply_bytes = 16384};
    assert_int_equal(fg_grpc_conn_new(&loop, "127.0.0.1", peer.port, &opts, &c), 0);

    result r = call(&loop, c, "ok_proto"); /* "application/grpc+proto" is gRPC */
    assert_int_equal(r.status, FG_STATUS_OK);
    assert_string_equal(r.reply, "abc");

    r = call(&loop, c, "html_200");
    assert_int_equal(r.status, FG_STATUS_UNKNOWN);
    assert_non_null(strstr(r.message, "content-type"));
    r = call(&loop, c, "no_content_type");
    assert_int_equal(r.status, FG_STATUS_UNKNOWN);

    r = call(&loop, c, "no_status");
    assert_int_equal(r.status, FG_STATUS_INTERNAL);
    assert_string_equal(r.message, "missing grpc-status");

    r = call(&loop, c, "http_404");
    assert_int_equal(r.status, FG_STATUS_UNIMPLEMENTED);
    assert_string_equal(r.message, "HTTP status 404");

    r = call(&loop, c, "trailers_only_params");
    assert_int_equal(r.status, FG_STATUS_NOT_FOUND);
    assert_string_equal(r.message, "no such thing");

    /* A 200 KiB error page: answered after at most 64 KiB of it, the stream then reset. */
    r = call(&loop, c, "resets");
    int resets_before = atoi(r.reply);
    r = call(&loop, c, "http_503_big");
    assert_int_equal(r.status, FG_STATUS_UNAVAILABLE);
    assert_string_equal(r.message, "HTTP status 503");
    r = call(&loop, c, "resets");
    assert_int_equal(r.status, FG_STATUS_OK);
    assert_int_equal(atoi(r.reply), resets_before + 1);

    /* The connection served all of them: still the same one, still READY. */
    assert_int_equal(fg_grpc_conn_get_state(c), FG_GRPC_CONN_READY);
    bool closed = false;
    fg_grpc_conn_close(c, test_set_flag, &closed);
    assert_true(test_run_until(&loop, test_flag_set, &closed, 2000));
    assert_int_equal(test_loop_close(&loop), 0);
}

/* Contract §1: a backend may attach its load to any reply; the proxy must work without it. */
static void test_orca_trailer(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    fg_grpc_conn *c;
    assert_int_equal(fg_grpc_conn_new(&loop, "127.0.0.1", peer.port, NULL, &c), 0);

    result r = call(&loop, c, "orca_ok");
    assert_int_equal(r.status, FG_STATUS_OK);
    assert_string_equal(r.reply, "abc");
    assert_true(r.has_orca);
    assert_true(r.orca.cpu_utilization == 0.5);
    assert_true(r.orca.application_utilization == 1.25);
    assert_true(r.orca.rps_fractional == 58.5);

    /* The next call reuses the finished call object: no report, none carried over. */
    r = call(&loop, c, "ok_proto");
    assert_int_equal(r.status, FG_STATUS_OK);
    assert_false(r.has_orca);

    r = call(&loop, c, "orca_only_app"); /* fields left out read as 0 */
    assert_true(r.has_orca);
    assert_true(r.orca.application_utilization == 0.75);
    assert_true(r.orca.cpu_utilization == 0 && r.orca.rps_fractional == 0);

    /* A busy backend's trailers-only RESOURCE_EXHAUSTED carries its load too. */
    r = call(&loop, c, "orca_busy");
    assert_int_equal(r.status, FG_STATUS_RESOURCE_EXHAUSTED);
    assert_true(r.has_orca);
    assert_true(r.orca.application_utilization == 3.0 && r.orca.rps_fractional == 7);

    /* The connection keeps the last value it decoded: the same bytes again give the same
     * report, other bytes are decoded afresh. */
    r = call(&loop, c, "orca_busy");
    assert_true(r.has_orca && r.orca.application_utilization == 3.0 && r.orca.rps_fractional == 7);
    r = call(&loop, c, "orca_ok");
    assert_true(r.has_orca && r.orca.application_utilization == 1.25 &&
                r.orca.rps_fractional == 58.5);

    /* A report that does not decode changes nothing else: the call is OK, without a report. */
    r = call(&loop, c, "orca_garbage");
    assert_int_equal(r.status, FG_STATUS_OK);
    assert_string_equal(r.reply, "abc");
    assert_false(r.has_orca);

    r = call(&loop, c, "html_200"); /* not gRPC: no report either */
    assert_false(r.has_orca);

    bool closed = false;
    fg_grpc_conn_close(c, test_set_flag, &closed);
    assert_true(test_run_until(&loop, test_flag_set, &closed, 2000));
    assert_int_equal(test_loop_close(&loop), 0);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH/odd_reply_server.py\n", argv[0]);
        return 2;
    }
    server_script = argv[1];
    signal(SIGPIPE, SIG_IGN);
    char *peer_argv[] = {"/usr/bin/python3", (char *)server_script, NULL};
    if (test_peer_start(&peer, peer_argv) < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_odd_replies),
        cmocka_unit_test(test_orca_trailer),
    };
    int rv = cmocka_run_group_tests(tests, NULL, NULL);
    test_peer_stop(&peer);
    return rv;
}
