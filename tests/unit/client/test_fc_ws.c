/*
 * Tests for fc_ws against wslay's own server side on a loopback libuv server in this process:
 * handshake and subprotocol, messages in two parts, a fragmented 100 KB reply, ping/pong, the
 * close handshake from either side, an oversized message (1009), a refused connection, and
 * fc_ws_free() from inside a callback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include <http_parser.h>
#include <uv.h>
#include <wslay/wslay.h>

#include "fc_ws.h"
#include "fg_alloc.h"
#include "fg_err.h"
#include "fg_ws_accept.h"

#define BIG_ECHO (100 * 1024)
#define CLIENT_MAX (1024 * 1024)

/* ---------------------------------------------------------------- the wslay test server */

typedef struct srv_conn {
    uv_tcp_t tcp;
    http_parser parser;
    char field[64];
    char key[64];
    char protocol[64];
    int value_of; /* 1: key, 2: protocol */
    wslay_event_context_ptr ctx;
    const uint8_t *in;
    size_t in_len;
    const uint8_t *frag; /* the fragmented message being sent */
    size_t frag_len, frag_off;
    uint8_t *frag_copy;
} srv_conn;

static uv_tcp_t listener;
static int port;

static void srv_on_closed(uv_handle_t *h) {
    srv_conn *c = h->data;
    if (c->ctx)
        wslay_event_context_free(c->ctx);
    free(c->frag_copy);
    free(c);
}

static void srv_on_write(uv_write_t *req, int status) {
    free(req->data);
    free(req);
}

static void srv_write(srv_conn *c, const void *data, size_t len) {
    uv_write_t *req = fg_malloc(sizeof(*req));
    req->data = fg_malloc(len);
    memcpy(req->data, data, len);
    uv_buf_t b = uv_buf_init(req->data, (unsigned)len);
    if (uv_write(req, (uv_stream_t *)&c->tcp, &b, 1, srv_on_write) < 0) {
        free(req->data);
        free(req);
    }
}

static ssize_t srv_send_callback(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                                 int flags, void *user) {
    srv_write(user, data, len);
    return (ssize_t)len;
}

static ssize_t srv_recv_callback(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                                 void *user) {
    srv_conn *c = user;
    if (c->in_len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < c->in_len ? len : c->in_len;
    memcpy(buf, c->in, n);
    c->in += n;
    c->in_len -= n;
    return (ssize_t)n;
}

/* Hands wslay the echo 1000 bytes at a time, so it goes out as many continuation frames. */
static ssize_t srv_frag_source(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
                               const union wslay_event_msg_source *source, int *eof, void *user) {
    srv_conn *c = user;
    size_t n = c->frag_len - c->frag_off;
    if (n > 1000)
        n = 1000;
    if (n > len)
        n = len;
    memcpy(buf, c->frag + c->frag_off, n);
    c->frag_off += n;
    *eof = c->frag_off == c->frag_len;
    return (ssize_t)n;
}

static void srv_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                       void *user) {
    srv_conn *c = user;
    if (arg->opcode == WSLAY_PONG) {
        struct wslay_event_msg m = {WSLAY_BINARY_FRAME, (const uint8_t *)"pong-seen", 9};
        wslay_event_queue_msg(ctx, &m);
    } else if (arg->opcode == WSLAY_TEXT_FRAME) {
        if (arg->msg_length == 5 && memcmp(arg->msg, "close", 5) == 0) {
            wslay_event_queue_close(ctx, 4000, (const uint8_t *)"bye", 3);
        } else if (arg->msg_length == 4 && memcmp(arg->msg, "ping", 4) == 0) {
            struct wslay_event_msg m = {WSLAY_PING, (const uint8_t *)"p", 1};
            wslay_event_queue_msg(ctx, &m);
        } else if (arg->msg_length == 3 && memcmp(arg->msg, "big", 3) == 0) {
            uint8_t *big = fg_calloc(1, CLIENT_MAX + 1);
            struct wslay_event_msg m = {WSLAY_BINARY_FRAME, big, CLIENT_MAX + 1};
            wslay_event_queue_msg(ctx, &m);
            free(big);
        }
    } else if (arg->opcode == WSLAY_BINARY_FRAME && arg->msg_length >= BIG_ECHO) {
        free(c->frag_copy);
        c->frag_copy = fg_malloc(arg->msg_length);
        memcpy(c->frag_copy, arg->msg, arg->msg_length);
        c->frag = c->frag_copy;
        c->frag_len = arg->msg_length;
        c->frag_off = 0;
        struct wslay_event_fragmented_msg m = {WSLAY_BINARY_FRAME, {0}, srv_frag_source};
        wslay_event_queue_fragmented_msg(ctx, &m);
    } else if (arg->opcode == WSLAY_BINARY_FRAME) {
        struct wslay_event_msg m = {WSLAY_BINARY_FRAME, arg->msg, arg->msg_length};
        wslay_event_queue_msg(ctx, &m);
    }
}

static int srv_on_field(http_parser *p, const char *at, size_t len) {
    srv_conn *c = p->data;
    snprintf(c->field, sizeof(c->field), "%.*s", (int)len, at);
    return 0;
}

static int srv_on_value(http_parser *p, const char *at, size_t len) {
    srv_conn *c = p->data;
    if (strcasecmp(c->field, "sec-websocket-key") == 0)
        snprintf(c->key, sizeof(c->key), "%.*s", (int)len, at);
    if (strcasecmp(c->field, "sec-websocket-protocol") == 0)
        snprintf(c->protocol, sizeof(c->protocol), "%.*s", (int)len, at);
    return 0;
}

static const http_parser_settings srv_http = {.on_header_field = srv_on_field,
                                              .on_header_value = srv_on_value};

static const struct wslay_event_callbacks srv_ws = {
    .recv_callback = srv_recv_callback,
    .send_callback = srv_send_callback,
    .on_msg_recv_callback = srv_on_msg,
};

static void srv_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    static char rbuf[65536];
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void srv_feed(srv_conn *c, const uint8_t *data, size_t len) {
    c->in = data;
    c->in_len = len;
    wslay_event_recv(c->ctx);
    wslay_event_send(c->ctx);
    if (!wslay_event_want_read(c->ctx) && !wslay_event_want_write(c->ctx) &&
        !uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, srv_on_closed);
}

static void srv_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    srv_conn *c = s->data;
    if (nread < 0) {
        if (!uv_is_closing((uv_handle_t *)s))
            uv_close((uv_handle_t *)s, srv_on_closed);
        return;
    }
    if (c->ctx) {
        srv_feed(c, (const uint8_t *)buf->base, (size_t)nread);
        return;
    }
    size_t used = http_parser_execute(&c->parser, &srv_http, buf->base, (size_t)nread);
    if (!c->parser.upgrade)
        return; /* the test requests fit in one read */
    char accept[FG_WS_ACCEPT_LEN + 1];
    fg_ws_accept_value(c->key, strlen(c->key), accept);
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                     accept, c->protocol[0] ? "Sec-WebSocket-Protocol: " : "", c->protocol,
                     c->protocol[0] ? "\r\n" : "");
    srv_write(c, head, (size_t)n);
    wslay_event_context_server_init(&c->ctx, &srv_ws, c);
    if (used < (size_t)nread)
        srv_feed(c, (const uint8_t *)buf->base + used, (size_t)nread - used);
}

static void srv_on_connection(uv_stream_t *server, int status) {
    srv_conn *c = fg_calloc(1, sizeof(*c));
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0)
        uv_read_start((uv_stream_t *)&c->tcp, srv_alloc, srv_on_read);
    else
        uv_close((uv_handle_t *)&c->tcp, srv_on_closed);
}

static void start_server(uv_loop_t *loop) {
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    uv_tcp_init(loop, &listener);
    assert_int_equal(uv_tcp_bind(&listener, (const struct sockaddr *)&sa, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&listener, 16, srv_on_connection), 0);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_tcp_getsockname(&listener, (struct sockaddr *)&ss, &len);
    port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* ---------------------------------------------------------------- the client under test */

typedef struct client_state {
    uv_loop_t *loop;
    fc_ws *ws;
    int opened;
    int messages;
    size_t last_len;
    uint8_t *big; /* what was sent, to compare the echo */
    bool echo_ok;
    bool pong_seen;
    int closes;
    int close_err;
    uint16_t close_code;
    const char *script; /* what to do once open */
    bool free_in_message;
} client_state;

static void stop_listener(client_state *s) {
    if (!uv_is_closing((uv_handle_t *)&listener))
        uv_close((uv_handle_t *)&listener, NULL);
}

static void on_open(fc_ws *ws, void *user) {
    client_state *s = user;
    s->opened++;
    if (strcmp(s->script, "echo") == 0) {
        assert_int_equal(fc_ws_send(ws, "head-", 5, "body", 4), 0);
        s->big = fg_malloc(BIG_ECHO);
        for (size_t i = 0; i < BIG_ECHO; i++)
            s->big[i] = (uint8_t)(i * 7);
        assert_int_equal(fc_ws_send(ws, s->big, BIG_ECHO, NULL, 0), 0);
    } else {
        assert_int_equal(fc_ws_send_opcode(ws, WSLAY_TEXT_FRAME, s->script, strlen(s->script)), 0);
    }
}

static void on_message(fc_ws *ws, bool binary, const uint8_t *data, size_t len, void *user) {
    client_state *s = user;
    assert_true(binary);
    s->messages++;
    s->last_len = len;
    if (s->free_in_message) {
        fc_ws_free(ws);
        s->ws = NULL;
        stop_listener(s);
        return;
    }
    if (strcmp(s->script, "ping") == 0) {
        s->pong_seen = len == 9 && memcmp(data, "pong-seen", 9) == 0;
        fc_ws_close(ws, 1000);
        return;
    }
    if (s->messages == 1) {
        assert_int_equal(len, 9);
        assert_memory_equal(data, "head-body", 9);
        return;
    }
    s->echo_ok = len == BIG_ECHO && memcmp(data, s->big, BIG_ECHO) == 0;
    assert_int_equal(fc_ws_close(ws, 1000), 0);
}

static void on_close(fc_ws *ws, int err, uint16_t code, void *user) {
    client_state *s = user;
    s->closes++;
    s->close_err = err;
    s->close_code = code;
    stop_listener(s);
}

static const fc_ws_callbacks callbacks = {on_open, on_message, on_close};

static void run_client(client_state *s, int to_port) {
    fc_url url;
    char err[128];
    char text[64];
    snprintf(text, sizeof(text), "ws://127.0.0.1:%d/ws", to_port);
    assert_int_equal(fc_url_parse_ws(text, &url, err, sizeof(err)), 0);
    struct sockaddr_storage ss;
    assert_int_equal(fc_url_resolve(&url, &ss, err, sizeof(err)), 0);
    fc_ws_options opts = {"framegate.v1", CLIENT_MAX, NULL};
    assert_int_equal(
        fc_ws_connect(s->loop, &url, (struct sockaddr *)&ss, &opts, &callbacks, s, &s->ws), 0);
    uv_run(s->loop, UV_RUN_DEFAULT);
}

static void finish_client(client_state *s) {
    fc_ws_free(s->ws);
    uv_run(s->loop, UV_RUN_DEFAULT); /* let the closes complete */
    assert_int_equal(uv_loop_close(s->loop), 0);
    free(s->big);
}

static void test_echo_fragments_and_close(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    start_server(&loop);
    client_state s = {.loop = &loop, .script = "echo"};
    run_client(&s, port);
    assert_int_equal(s.opened, 1);
    assert_string_equal(fc_ws_protocol(s.ws), "framegate.v1");
    assert_int_equal(s.messages, 2);
    assert_true(s.echo_ok);
    assert_int_equal(s.closes, 1);
    assert_int_equal(s.close_err, 0);
    assert_int_equal(s.close_code, 1000);
    finish_client(&s);
}

static void test_ping_answered(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    start_server(&loop);
    client_state s = {.loop = &loop, .script = "ping"};
    run_client(&s, port);
    assert_true(s.pong_seen);
    assert_int_equal(s.close_err, 0);
    finish_client(&s);
}

static void test_server_closes(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    start_server(&loop);
    client_state s = {.loop = &loop, .script = "close"};
    run_client(&s, port);
    assert_int_equal(s.closes, 1);
    assert_int_equal(s.close_err, 0);
    assert_int_equal(s.close_code, 4000);
    assert_int_equal(fc_ws_send(s.ws, "x", 1, NULL, 0), FG_ERR_CLOSED);
    finish_client(&s);
}

static void test_message_too_big(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    start_server(&loop);
    client_state s = {.loop = &loop, .script = "big"};
    run_client(&s, port);
    assert_int_equal(s.messages, 0);
    assert_int_equal(s.closes, 1);
    assert_int_equal(s.close_err, FG_ERR_TOO_BIG);
    assert_non_null(strstr(fc_ws_error(s.ws), "over"));
    finish_client(&s);
}

static void test_free_inside_callback(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    start_server(&loop);
    client_state s = {.loop = &loop, .script = "echo", .free_in_message = true};
    run_client(&s, port);
    assert_int_equal(s.messages, 1); /* nothing after fc_ws_free(), not even on_close */
    assert_int_equal(s.closes, 0);
    finish_client(&s);
}

static void test_refused(void **state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    /* Bind a port and close it again: nobody listens there now. */
    start_server(&loop);
    int dead = port;
    uv_close((uv_handle_t *)&listener, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    client_state s = {.loop = &loop, .script = "echo"};
    run_client(&s, dead);
    assert_int_equal(s.opened, 0);
    assert_int_equal(s.closes, 1);
    assert_int_equal(s.close_err, UV_ECONNREFUSED);
    assert_non_null(strstr(fc_ws_error(s.ws), "connection refused"));
    finish_client(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_fragments_and_close),
        cmocka_unit_test(test_ping_answered),
        cmocka_unit_test(test_server_closes),
        cmocka_unit_test(test_message_too_big),
        cmocka_unit_test(test_free_inside_callback),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
