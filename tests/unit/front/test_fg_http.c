/* fg_http: requests fed from memory, answers read back from the out buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_http.h"
#include "fg_web.h"

/* The dynamic pages of these tests: /health answers 503 with a fixed body. */
static int render_calls;

static int render(void *user, const char *path, size_t len, fg_buf *body, const char **ctype) {
    if (len == 7 && memcmp(path, "/health", 7) == 0) {
        render_calls++;
        *ctype = "application/json";
        fg_buf_append(body, "{\"healthy\":false}", 17);
        return 503;
    }
    return 0;
}

typedef struct fixture {
    fg_http *http;
    fg_buf out;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof(*f));
    fg_http_routes routes = {.render = render};
    f->http = fg_http_new(&routes);
    fg_buf_init(&f->out, 1 << 20);
    render_calls = 0;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    fg_http_free(f->http);
    fg_buf_free(&f->out);
    free(f);
    return 0;
}

static fg_http_result feed(fixture *f, const char *text, size_t *consumed) {
    size_t dummy;
    return fg_http_feed(f->http, (const uint8_t *)text, strlen(text), &f->out,
                        consumed ? consumed : &dummy);
}

/* The out buffer as a NUL-terminated string (bodies here are text). */
static const char *out_str(fixture *f) {
    fg_buf_append(&f->out, "", 1);
    f->out.len--;
    return (const char *)f->out.data;
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void serves_index_page(void **state) {
    fixture *f = *state;
    assert_int_equal(feed(f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", NULL), FG_HTTP_OPEN);
    const fg_web_asset *a = fg_web_find("/", 1);
    assert_non_null(a);
    const char *out = out_str(f);
    assert_true(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_non_null(strstr(out, "Content-Type: text/html"));
    assert_non_null(strstr(out, "Connection: keep-alive"));
    const char *body = strstr(out, "\r\n\r\n") + 4;
    assert_int_equal(f->out.len - (size_t)(body - out), a->len);
    assert_memory_equal(body, a->data, a->len);
}

static void dynamic_page_status_and_query(void **state) {
    fixture *f = *state;
    assert_int_equal(feed(f, "GET /health?verbose=1 HTTP/1.1\r\n\r\n", NULL), FG_HTTP_OPEN);
    const char *out = out_str(f);
    assert_true(strncmp(out, "HTTP/1.1 503 ", 13) == 0);
    assert_non_null(strstr(out, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(out, "Content-Length: 17\r\n"));
    assert_non_null(strstr(out, "\r\n\r\n{\"healthy\":false}"));
    assert_int_equal(render_calls, 1);
}

static void unknown_path_is_404_and_keeps_alive(void **state) {
    fixture *f = *state;
    assert_int_equal(feed(f, "GET /nope HTTP/1.1\r\n\r\n", NULL), FG_HTTP_OPEN);
    assert_true(strncmp(out_str(f), "HTTP/1.1 404 ", 13) == 0);
    assert_int_equal(feed(f, "POST /other HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", NULL),
                     FG_HTTP_OPEN);
    assert_int_equal(count(out_str(f), "HTTP/1.1 404 "), 2);
    assert_int_equal(fg_http_requests_answered(f->http), 2);
}

static void wrong_method_on_known_path_is_405(void **state) {
    fixture *f = *state;
    assert_int_equal(feed(f, "DELETE /health HTTP/1.1\r\n\r\n", NULL), FG_HTTP_OPEN);
    assert_true(strncmp(out_str(f), "HTTP/1.1 405 ", 13) == 0);
}

static void head_has_no_body(void **state) {
    fixture *f = *state;
    assert_int_equal(feed(f, "HEAD /health HTTP/1.1\r\n\r\n", NULL), FG_HTTP_OPEN);
    const char *out = out_str(f);
    assert_non_null(strstr(out, "Content-Length: 17\r\n"));
    assert_null(strstr(out, "healthy"));
}

static void pipelined_and_split_requests(void **state) {
    fixture *f = *state;
    const char *two = "GET /nope HTTP/1.1\r\n\r\nGET /health HTTP/1.1\r\n\r\n";
    for (size_t i = 0; two[i]; i++) {
        size_t consumed;
        assert_int_equal(fg_http_feed(f->http, (const uint8_t *)two + i, 1, &f->out, &consumed),
                         FG_HTTP_OPEN);
        assert_int_equal(consumed, 1);
    }
    const char *out = out_str(f);
    const char *a = strstr(out, "HTTP/1.1 404");
    const char *b = strstr(out, "HTTP/1.1 503");
    assert_non_null(a);
    assert_non_null(b);
    assert_true(a < b);
}

static void malformed_gets_400_and_close(void **state) {
    fixture *f = *state;
    assert_int_equal(feed(f, "GARBAGE\r\n\r\n", NULL), FG_HTTP_CLOSE);
    const char *out = out_str(f);
    assert_true(strncmp(out, "HTTP/1.1 400 ", 13) == 0);
    assert_non_null(strstr(out, "Connection: close"));
    /* Nothing more is parsed or answered. */
    size_t len = f->out.len;
    assert_int_equal(feed(f, "GET / HTTP/1.1\r\n\r\n", NULL), FG_HTTP_CLOSE);
    assert_int_equal(f->out.len, len);
}

static void bad_header_line_gets_400(void **state) {
    fixture *f = *state;
    assert_int_equal(feed(f, "GET / HTTP/1.1\r\nNo colon here\r\n\r\n", NULL), FG_HTTP_CLOSE);
    assert_true(strncmp(out_str(f), "HTTP/1.1 400 ", 13) == 0);
}

static void oversized_head_is_refused(void **state) {
    fixture *f = *state;
    enum { n = FG_HTTP_MAX_HEAD + 100 };
    static char req[n + 64];
    int k = sprintf(req, "GET / HTTP/1.1\r\nX-Big: ");
    memset(req + k, 'a', n);
    strcpy(req + k + n, "\r\n\r\n");
    assert_int_equal(feed(f, req, NULL), FG_HTTP_CLOSE);
    assert_true(strncmp(out_str(f), "HTTP/1.1 431 ", 13) == 0);
}

static void too_many_headers_are_refused(void **state) {
    fixture *f = *state;
    char req[4096];
    int k = sprintf(req, "GET / HTTP/1.1\r\n");
    for (int i = 0; i <= FG_HTTP_MAX_HEADERS; i++)
        k += sprintf(req + k, "X-%d: v\r\n", i);
    strcpy(req + k, "\r\n");
    assert_int_equal(feed(f, req, NULL), FG_HTTP_CLOSE);
    assert_true(strncmp(out_str(f), "HTTP/1.1 431 ", 13) == 0);
}

static void exactly_max_headers_are_fine(void **state) {
    fixture *f = *state;
    char req[4096];
    int k = sprintf(req, "GET /nope HTTP/1.1\r\n");
    for (int i = 0; i < FG_HTTP_MAX_HEADERS; i++)
        k += sprintf(req + k, "X-%d: v\r\n", i);
    strcpy(req + k, "\r\n");
    assert_int_equal(feed(f, req, NULL), FG_HTTP_OPEN);
    assert_true(strncmp(out_str(f), "HTTP/1.1 404 ", 13) == 0);
}

static void http10_closes(void **state) {
    fixture *f = *state;
    assert_int_equal(feed(f, "GET /nope HTTP/1.0\r\n\r\n", NULL), FG_HTTP_CLOSE);
    assert_non_null(strstr(out_str(f), "Connection: close"));
}

static void connection_close_is_honoured(void **state) {
    fixture *f = *state;
    assert_int_equal(
        feed(f, "GET /nope HTTP/1.1\r\nConnection: close\r\n\r\nGET /nope HTTP/1.1\r\n\r\n", NULL),
        FG_HTTP_CLOSE);
    assert_int_equal(count(out_str(f), "HTTP/1.1 404"), 1);
}

#define WS_REQ(extra)                                                                              \
    "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"     \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" extra "\r\n"

static void websocket_upgrade(void **state) {
    fixture *f = *state;
    const char *req = WS_REQ("");
    char buf[512];
    snprintf(buf, sizeof(buf), "%s\x82\x80", req); /* the first WebSocket bytes follow at once */
    size_t consumed;
    assert_int_equal(feed(f, buf, &consumed), FG_HTTP_UPGRADE);
    assert_int_equal(consumed, strlen(req));
    const char *out = out_str(f);
    assert_true(strncmp(out, "HTTP/1.1 101 Switching Protocols\r\n", 34) == 0);
    assert_non_null(strstr(out, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert_null(strstr(out, "Sec-WebSocket-Protocol"));
    assert_false(fg_http_subprotocol_selected(f->http));
}

static void websocket_subprotocol_selected(void **state) {
    fixture *f = *state;
    assert_int_equal(feed(f, WS_REQ("Sec-WebSocket-Protocol: chat, framegate.v1\r\n"), NULL),
                     FG_HTTP_UPGRADE);
    assert_non_null(strstr(out_str(f), "Sec-WebSocket-Protocol: framegate.v1\r\n"));
    assert_true(fg_http_subprotocol_selected(f->http));
}

static void websocket_other_subprotocol_not_selected(void **state) {
    fixture *f = *state;
    assert_int_equal(feed(f, WS_REQ("Sec-WebSocket-Protocol: chat\r\n"), NULL), FG_HTTP_UPGRADE);
    assert_null(strstr(out_str(f), "Sec-WebSocket-Protocol"));
}

static void websocket_bad_handshakes(void **state) {
    fixture *f = *state;
    /* No upgrade at all. */
    assert_int_equal(feed(f, "GET /ws HTTP/1.1\r\n\r\n", NULL), FG_HTTP_CLOSE);
    assert_true(strncmp(out_str(f), "HTTP/1.1 426 ", 13) == 0);
    teardown(state);
    setup(state);
    f = *state;
    /* Wrong version. */
    assert_int_equal(feed(f,
                          "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 8\r\n\r\n",
                          NULL),
                     FG_HTTP_CLOSE);
    const char *out = out_str(f);
    assert_true(strncmp(out, "HTTP/1.1 426 ", 13) == 0);
    assert_non_null(strstr(out, "Sec-WebSocket-Version: 13\r\n"));
    teardown(state);
    setup(state);
    f = *state;
    /* Bad key. */
    assert_int_equal(feed(f,
                          "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n",
                          NULL),
                     FG_HTTP_CLOSE);
    assert_true(strncmp(out_str(f), "HTTP/1.1 400 ", 13) == 0);
}

/* A fresh parser with an Origin list and a token on /ws. */
static fixture *with_policy(void **state, const char *origins, const char *token) {
    teardown(state);
    fixture *f = calloc(1, sizeof(*f));
    fg_http_routes routes = {.render = render, .allowed_origins = origins, .auth_token = token};
    f->http = fg_http_new(&routes);
    fg_buf_init(&f->out, 1 << 20);
    *state = f;
    return f;
}

static void expect_status(void **state, const char *origins, const char *token, const char *req,
                          fg_http_result want, const char *status_line) {
    fixture *f = with_policy(state, origins, token);
    assert_int_equal(feed(f, req, NULL), want);
    const char *out = out_str(f);
    if (strncmp(out, status_line, strlen(status_line)) != 0)
        fail_msg("%s answered:\n%s", req, out);
}

static void websocket_missing_or_duplicate_key_is_400(void **state) {
    expect_status(state, NULL, NULL,
                  "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n",
                  FG_HTTP_CLOSE, "HTTP/1.1 400 ");
    expect_status(state, NULL, NULL, WS_REQ("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"),
                  FG_HTTP_CLOSE, "HTTP/1.1 400 ");
    expect_status(
        state, NULL, NULL,
        "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        FG_HTTP_CLOSE, "HTTP/1.1 400 ");
}

static void body_on_get_is_400(void **state) {
    expect_status(state, NULL, NULL, "GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
                  FG_HTTP_CLOSE, "HTTP/1.1 400 ");
    expect_status(
        state, NULL, NULL,
        "GET /health HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        FG_HTTP_CLOSE, "HTTP/1.1 400 ");
    expect_status(state, NULL, NULL, "HEAD / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", FG_HTTP_CLOSE,
                  "HTTP/1.1 400 ");
    /* An empty body is no body. */
    expect_status(state, NULL, NULL, "GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", FG_HTTP_OPEN,
                  "HTTP/1.1 200 ");
}

static void origin_allow_list(void **state) {
    const char *list = "https://good.example, http://localhost:8086";
    expect_status(state, list, NULL, WS_REQ("Origin: https://evil.example\r\n"), FG_HTTP_CLOSE,
                  "HTTP/1.1 403 ");
    expect_status(state, list, NULL, WS_REQ("Origin: https://good.example.evil\r\n"), FG_HTTP_CLOSE,
                  "HTTP/1.1 403 ");
    expect_status(state, list, NULL, WS_REQ("Origin: null\r\n"), FG_HTTP_CLOSE, "HTTP/1.1 403 ");
    expect_status(state, list, NULL, WS_REQ("Origin: HTTPS://GOOD.example\r\n"), FG_HTTP_UPGRADE,
                  "HTTP/1.1 101 ");
    expect_status(state, list, NULL, WS_REQ("Origin: http://localhost:8086\r\n"), FG_HTTP_UPGRADE,
                  "HTTP/1.1 101 ");
    expect_status(state, list, NULL, WS_REQ(""), FG_HTTP_UPGRADE, "HTTP/1.1 101 ");
    expect_status(state, "*", NULL, WS_REQ("Origin: https://any.example\r\n"), FG_HTTP_UPGRADE,
                  "HTTP/1.1 101 ");
    expect_status(state, NULL, NULL, WS_REQ("Origin: https://any.example\r\n"), FG_HTTP_UPGRADE,
                  "HTTP/1.1 101 ");
    /* Other paths are not affected. */
    expect_status(state, list, NULL, "GET /health HTTP/1.1\r\nOrigin: https://evil.example\r\n\r\n",
                  FG_HTTP_OPEN, "HTTP/1.1 503 ");
}

static void auth_token_on_ws(void **state) {
    const char *tok = "s3cret-T0ken";
    expect_status(state, NULL, tok, WS_REQ(""), FG_HTTP_CLOSE, "HTTP/1.1 401 ");
    expect_status(state, NULL, tok, WS_REQ("Authorization: Bearer s3cret-T0ke\r\n"), FG_HTTP_CLOSE,
                  "HTTP/1.1 401 ");
    expect_status(state, NULL, tok, WS_REQ("Authorization: Bearer s3cret-T0ken2\r\n"),
                  FG_HTTP_CLOSE, "HTTP/1.1 401 ");
    expect_status(state, NULL, tok, WS_REQ("Authorization: Basic s3cret-T0ken\r\n"), FG_HTTP_CLOSE,
                  "HTTP/1.1 401 ");
    expect_status(state, NULL, tok, WS_REQ("Authorization: Bearer s3cret-T0ken\r\n"),
                  FG_HTTP_UPGRADE, "HTTP/1.1 101 ");
    expect_status(state, NULL, tok, WS_REQ("Authorization: bearer   s3cret-T0ken \r\n"),
                  FG_HTTP_UPGRADE, "HTTP/1.1 101 ");
    static const char q_ok[] = "GET /ws?a=1&token=s3cret-T0ken HTTP/1.1\r\nUpgrade: websocket\r\n"
                               "Connection: Upgrade\r\nSec-WebSocket-Key: "
                               "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    expect_status(state, NULL, tok, q_ok, FG_HTTP_UPGRADE, "HTTP/1.1 101 ");
    static const char q_bad[] = "GET /ws?token=s3cret&x=T0ken HTTP/1.1\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Key: "
                                "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    expect_status(state, NULL, tok, q_bad, FG_HTTP_CLOSE, "HTTP/1.1 401 ");
    fixture *f = *state;
    assert_non_null(strstr(out_str(f), "WWW-Authenticate: Bearer\r\n"));
    /* /health, /metrics and the page stay readable without the token. */
    expect_status(state, NULL, tok, "GET /health HTTP/1.1\r\n\r\n", FG_HTTP_OPEN, "HTTP/1.1 503 ");
    expect_status(state, NULL, tok, "GET / HTTP/1.1\r\n\r\n", FG_HTTP_OPEN, "HTTP/1.1 200 ");
}

static void head_progress_and_timeout(void **state) {
    fixture *f = *state;
    assert_false(fg_http_in_head(f->http));
    assert_int_equal(feed(f, "GET / HTTP/1.1\r\nHost: x\r\n", NULL), FG_HTTP_OPEN);
    assert_true(fg_http_in_head(f->http));
    assert_int_equal(feed(f, "\r\n", NULL), FG_HTTP_OPEN);
    assert_false(fg_http_in_head(f->http));
    fg_buf_reset(&f->out);
    assert_int_equal(feed(f, "GET /hea", NULL), FG_HTTP_OPEN);
    assert_true(fg_http_in_head(f->http));
    fg_http_timeout(f->http, &f->out);
    const char *out = out_str(f);
    assert_true(strncmp(out, "HTTP/1.1 408 Request Timeout\r\n", 30) == 0);
    assert_non_null(strstr(out, "Connection: close\r\n"));
    assert_false(fg_http_in_head(f->http));
    assert_int_equal(feed(f, "lth HTTP/1.1\r\n\r\n", NULL), FG_HTTP_CLOSE);
}

static void refused_connection_answer(void **state) {
    fixture *f = *state;
    fg_http_refuse_connection(&f->out, 503, "too many connections\n");
    const char *out = out_str(f);
    assert_true(strncmp(out, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0);
    assert_non_null(strstr(out, "Connection: close\r\n"));
    assert_non_null(strstr(out, "\r\n\r\ntoo many connections\n"));
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(serves_index_page),
        T(dynamic_page_status_and_query),
        T(unknown_path_is_404_and_keeps_alive),
        T(wrong_method_on_known_path_is_405),
        T(head_has_no_body),
        T(pipelined_and_split_requests),
        T(malformed_gets_400_and_close),
        T(bad_header_line_gets_400),
        T(oversized_head_is_refused),
        T(too_many_headers_are_refused),
        T(exactly_max_headers_are_fine),
        T(http10_closes),
        T(connection_close_is_honoured),
        T(websocket_upgrade),
        T(websocket_subprotocol_selected),
        T(websocket_other_subprotocol_not_selected),
        T(websocket_bad_handshakes),
        T(websocket_missing_or_duplicate_key_is_400),
        T(body_on_get_is_400),
        T(origin_allow_list),
        T(auth_token_on_ws),
        T(head_progress_and_timeout),
        T(refused_connection_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
