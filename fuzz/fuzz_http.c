/*
 * fuzz_http: the HTTP/1.1 request path (src/front/fg_http over http-parser, with the proxy's
 * limits), and after a successful upgrade the WebSocket session on the remaining bytes, as the
 * proxy's connection hands them over. The fuzz input:
 *
 *   byte 0     read size: 0 hands everything to one fg_http_feed(), n > 0 n bytes per read
 *   byte 1     policies on /ws: bit 0 --allowed-origins FUZZ_ORIGINS, bit 1 --auth-token
 *              FUZZ_TOKEN (the other bits are ignored)
 *   byte 2..   the client's bytes
 *
 * abort() on: consumed bytes out of range, an answer that is not an HTTP/1.1 status line, an
 * upgrade without a 101 answer, a 101 that is not the last thing written.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fg_buf.h"
#include "fg_http.h"
#include "fuzz_session.h"

#define FUZZ_ORIGINS "http://localhost:8086, https://good.example"
#define FUZZ_TOKEN "secret"

static int render(void *user, const char *path, size_t path_len, fg_buf *body,
                  const char **content_type) {
    static const char health[] = "{\"healthy\":true,\"total_backends\":1,\"healthy_count\":1}";
    static const char metrics[] = "# TYPE framegate_requests_total counter\n"
                                  "framegate_requests_total 1\n";
    if (path_len == 7 && memcmp(path, "/health", 7) == 0) {
        *content_type = "application/json";
        return fg_buf_append(body, health, sizeof health - 1) == 0 ? 200 : 500;
    }
    if (path_len == 8 && memcmp(path, "/metrics", 8) == 0) {
        *content_type = "text/plain; version=0.0.4";
        return fg_buf_append(body, metrics, sizeof metrics - 1) == 0 ? 200 : 500;
    }
    return 0;
}

static void check_answer(const fg_buf *out, fg_http_result r) {
    static const char status_line[] = "HTTP/1.1 ";
    if (out->len > 0 &&
        (out->len < sizeof status_line - 1 || memcmp(out->data, status_line, 9) != 0))
        abort();
    if (r != FG_HTTP_UPGRADE)
        return;
    static const char end[] = "\r\n\r\n";
    const char *s = (const char *)out->data;
    const char *last = NULL;
    for (const char *p = s; (p = memmem(p, out->len - (size_t)(p - s), "HTTP/1.1 ", 9)); p++)
        last = p;
    if (!last || memcmp(last + 9, "101 ", 4) != 0 || out->len < 4 ||
        memcmp(s + out->len - 4, end, 4) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    size_t chunk = data[0] == 0 ? size : data[0];
    fg_http_routes routes = {
        .render = render,
        .allowed_origins = data[1] & 1 ? FUZZ_ORIGINS : NULL,
        .auth_token = data[1] & 2 ? FUZZ_TOKEN : NULL,
    };
    data += 2;
    size -= 2;

    fg_http *h = fg_http_new(&routes);
    fg_buf out;
    fg_buf_init(&out, 64 * 1024 * 1024);
    while (size > 0) {
        size_t n = size < chunk ? size : chunk;
        size_t consumed = n + 1;
        fg_http_result r = fg_http_feed(h, data, n, &out, &consumed);
        if (consumed > n || (r != FG_HTTP_UPGRADE && consumed != n))
            abort();
        check_answer(&out, r);
        fg_buf_reset(&out); /* the socket took it */
        if (r == FG_HTTP_CLOSE)
            break;
        if (r == FG_HTTP_UPGRADE) {
            fuzz_session_run(data + consumed, size - consumed, chunk, 4096);
            break;
        }
        data += n;
        size -= n;
    }
    fg_buf_free(&out);
    fg_http_free(h);
    return 0;
}
