/* Tests for fc_wshs: the upgrade request, the RFC 6455 accept value, and response checking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "fc_wshs.h"
#include "fg_err.h"
#include "fg_ws_accept.h"

/* The example of RFC 6455 section 1.3. */
#define RFC_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static void test_key_and_accept(void **state) {
    /* The RFC's key is base64 of the 16 bytes "the sample nonce". */
    char key[FC_WSHS_KEY_LEN + 1];
    fc_wshs_make_key((const uint8_t *)"the sample nonce", key);
    assert_string_equal(key, RFC_KEY);
    char accept[FC_WSHS_ACCEPT_LEN + 1];
    fc_wshs_accept_for(key, accept);
    assert_string_equal(accept, RFC_ACCEPT);
    /* Every nonce gives a key the proxy's own validator accepts. */
    for (unsigned seed = 0; seed < 256; seed++) {
        uint8_t nonce[16];
        for (size_t i = 0; i < 16; i++)
            nonce[i] = (uint8_t)(seed * 31 + i * 97);
        fc_wshs_make_key(nonce, key);
        assert_int_equal(strlen(key), FC_WSHS_KEY_LEN);
        assert_true(fg_ws_key_valid(key, strlen(key)));
    }
}

static void test_request(void **state) {
    fc_url u;
    char err[128];
    assert_int_equal(fc_url_parse_ws("ws://127.0.0.1:8086/ws", &u, err, sizeof(err)), 0);
    fg_buf b;
    fg_buf_init(&b, 4096);
    assert_int_equal(fc_wshs_build_request(&b, &u, RFC_KEY, "framegate.v1"), 0);
    fg_buf_append(&b, "", 1);
    const char *req = (const char *)b.data;
    assert_non_null(strstr(req, "GET /ws HTTP/1.1\r\n"));
    assert_non_null(strstr(req, "\r\nHost: 127.0.0.1:8086\r\n"));
    assert_non_null(strstr(req, "\r\nUpgrade: websocket\r\n"));
    assert_non_null(strstr(req, "\r\nConnection: Upgrade\r\n"));
    assert_non_null(strstr(req, "\r\nSec-WebSocket-Key: " RFC_KEY "\r\n"));
    assert_non_null(strstr(req, "\r\nSec-WebSocket-Version: 13\r\n"));
    assert_non_null(strstr(req, "\r\nSec-WebSocket-Protocol: framegate.v1\r\n"));
    assert_non_null(strstr(req, "\r\n\r\n"));
    fg_buf_reset(&b);
    assert_int_equal(fc_wshs_build_request(&b, &u, RFC_KEY, NULL), 0);
    fg_buf_append(&b, "", 1);
    assert_null(strstr((const char *)b.data, "Protocol"));
    fg_buf_free(&b);
}

static const char good[] = "HTTP/1.1 101 Switching Protocols\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
                           "Sec-WebSocket-Protocol: framegate.v1\r\n"
                           "\r\n";

static int feed_all(fc_wshs_resp *r, const char *text, size_t len) {
    return fc_wshs_resp_feed(r, (const uint8_t *)text, len);
}

static void test_good_response_with_frames_after(void **state) {
    char buf[512];
    /* Two bytes of a WebSocket frame follow the head in the same read. */
    size_t n = strlen(good);
    memcpy(buf, good, n);
    buf[n++] = (char)0x82;
    buf[n++] = 0;
    fc_wshs_resp r;
    fc_wshs_resp_init(&r, RFC_KEY, "framegate.v1");
    assert_int_equal(feed_all(&r, buf, n), (int)strlen(good));
    assert_string_equal(r.protocol, "framegate.v1");
}

static void test_response_byte_by_byte(void **state) {
    fc_wshs_resp r;
    fc_wshs_resp_init(&r, RFC_KEY, "framegate.v1");
    size_t len = strlen(good);
    for (size_t i = 0; i + 1 < len; i++)
        assert_int_equal(feed_all(&r, good + i, 1), FG_ERR_AGAIN);
    assert_int_equal(feed_all(&r, good + len - 1, 1), (int)len);
}

static void expect_refused_n(const char *response, size_t len, const char *offered,
                             const char *why) {
    fc_wshs_resp r;
    fc_wshs_resp_init(&r, RFC_KEY, offered);
    int rc = feed_all(&r, response, len);
    assert_true(rc == FG_ERR_PROTO || rc == FG_ERR_TOO_BIG);
    if (!strstr(r.error, why))
        fail_msg("error '%s' does not mention '%s'", r.error, why);
}

static void expect_refused(const char *response, const char *offered, const char *why) {
    expect_refused_n(response, strlen(response), offered, why);
}

static void test_bad_responses(void **state) {
    expect_refused("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", NULL, "HTTP 404");
    expect_refused(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
        NULL, "Accept");
    expect_refused("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
                   NULL, "Upgrade: websocket");
    expect_refused("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
                   "Sec-WebSocket-Protocol: other\r\n\r\n",
                   "framegate.v1", "subprotocol");
    /* An HTTP/2 server answers the GET with a SETTINGS frame: not HTTP/1.1 at all. */
    static const char settings[] = "\x00\x00\x06\x04\x00\x00\x00\x00\x00";
    expect_refused_n(settings, sizeof(settings) - 1, NULL, "not HTTP/1.1");
    /* A head that never ends is cut at the limit. */
    static char huge[FC_WSHS_HEAD_MAX + 200];
    int n = snprintf(huge, sizeof(huge), "HTTP/1.1 101 Switching Protocols\r\nX: ");
    memset(huge + n, 'a', sizeof(huge) - (size_t)n - 1);
    huge[sizeof(huge) - 1] = '\0';
    expect_refused(huge, NULL, "over");
}

static void test_server_without_subprotocol(void **state) {
    /* The server may decline the offered subprotocol by not naming one. */
    const char *resp =
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\n"
        "connection: keep-alive, Upgrade\r\nsec-websocket-accept: " RFC_ACCEPT "\r\n\r\n";
    fc_wshs_resp r;
    fc_wshs_resp_init(&r, RFC_KEY, "framegate.v1");
    assert_int_equal(feed_all(&r, resp, strlen(resp)), (int)strlen(resp));
    assert_string_equal(r.protocol, "");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_and_accept),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_good_response_with_frames_after),
        cmocka_unit_test(test_response_byte_by_byte),
        cmocka_unit_test(test_bad_responses),
        cmocka_unit_test(test_server_without_subprotocol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
