/* Tests for fc_url: ws:// URLs and HOST:PORT targets, good and bad. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <string.h>

#include "fc_url.h"
#include "fg_err.h"

static void test_ws_url(void **state) {
    fc_url u;
    char err[256];
    assert_int_equal(fc_url_parse_ws("ws://127.0.0.1:8086/ws", &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 8086);
    assert_string_equal(u.path, "/ws");
    assert_string_equal(u.authority, "127.0.0.1:8086");

    assert_int_equal(fc_url_parse_ws("ws://example.com", &u, err, sizeof(err)), 0);
    assert_int_equal(u.port, 80);
    assert_string_equal(u.path, "/");

    assert_int_equal(fc_url_parse_ws("WS://h:1/a/b?x=1#frag", &u, err, sizeof(err)), 0);
    assert_string_equal(u.path, "/a/b?x=1");

    assert_int_equal(fc_url_parse_ws("ws://[::1]:9000/ws", &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "::1");
    assert_string_equal(u.authority, "[::1]:9000");
}

static void test_ws_url_bad(void **state) {
    fc_url u;
    char err[256];
    const char *bad[] = {"",         "127.0.0.1:8086",  "http://h:1/ws",
                         "ws://",    "ws://h:99999/ws", "ws://user@h:1/ws",
                         "ws:/h/ws", "ws://h:0/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(fc_url_parse_ws(bad[i], &u, err, sizeof(err)), FG_ERR_INVALID);
        assert_non_null(strstr(err, "bad address"));
    }
    assert_int_equal(fc_url_parse_ws("wss://h:1/ws", &u, err, sizeof(err)), 0);
    assert_true(u.tls);
    assert_int_equal(fc_url_parse_ws("wss://h/ws", &u, err, sizeof(err)), 0);
    assert_int_equal(u.port, 443);
    assert_int_equal(fc_url_parse_ws("ws://h/ws", &u, err, sizeof(err)), 0);
    assert_false(u.tls);
    assert_int_equal(fc_url_parse_ws("http://h/ws", &u, err, sizeof(err)), FG_ERR_INVALID);
    assert_non_null(strstr(err, "ws:// or wss://"));
}

static void test_hostport(void **state) {
    fc_url u;
    char err[256];
    assert_int_equal(fc_url_parse_hostport("localhost:50051", &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "localhost");
    assert_int_equal(u.port, 50051);
    assert_string_equal(u.authority, "localhost:50051");
    const char *bad[] = {"", "localhost", "localhost:", ":50051", "h:70000", "h:0", "ws://h:1/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(fc_url_parse_hostport(bad[i], &u, err, sizeof(err)), FG_ERR_INVALID);
}

static void test_resolve(void **state) {
    fc_url u;
    char err[256];
    struct sockaddr_storage ss;
    assert_int_equal(fc_url_parse_hostport("127.0.0.1:4242", &u, err, sizeof(err)), 0);
    assert_int_equal(fc_url_resolve(&u, &ss, err, sizeof(err)), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 4242);
    /* .invalid never resolves (RFC 6761). */
    assert_int_equal(fc_url_parse_hostport("no-such-host.invalid:1", &u, err, sizeof(err)), 0);
    assert_int_equal(fc_url_resolve(&u, &ss, err, sizeof(err)), FG_ERR_NOT_FOUND);
    assert_non_null(strstr(err, "cannot resolve"));
}

static void test_add_query(void **state) {
    fc_url u;
    char err[200];
    assert_int_equal(fc_url_parse_ws("ws://localhost:8086/ws", &u, err, sizeof err), 0);
    assert_int_equal(fc_url_add_query(&u, "deadline_ms=250"), 0);
    assert_int_equal(fc_url_add_query(&u, "hints=1"), 0);
    assert_string_equal(u.path, "/ws?deadline_ms=250&hints=1");
    assert_int_equal(fc_url_parse_ws("ws://localhost:8086/ws?token=x", &u, err, sizeof err), 0);
    assert_int_equal(fc_url_add_query(&u, "order=1"), 0);
    assert_string_equal(u.path, "/ws?token=x&order=1");
    /* Past the path limit: refused, the path unchanged. */
    char big[FC_URL_PATH_MAX];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(fc_url_add_query(&u, big), FG_ERR_TOO_BIG);
    assert_string_equal(u.path, "/ws?token=x&order=1");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ws_url),    cmocka_unit_test(test_ws_url_bad),
        cmocka_unit_test(test_hostport),  cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_add_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
