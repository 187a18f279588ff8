/*
 * fg_http: the HTTP/1.1 side of one client connection (http-parser), independent of sockets.
 *
 * Bytes read from the client go in with fg_http_feed(); the responses come out appended to the
 * caller's fg_buf, in request order (pipelining and keep-alive work). Routes: GET / and the
 * other embedded web assets (fg_web_find), the dynamic pages through routes->render (/health,
 * /metrics), GET /ws with a valid RFC 6455 upgrade (answered 101, subprotocol framegate.v1
 * selected when offered), 404 for anything else. A malformed request (a bad request line, a
 * body on GET or HEAD) gets 400 and the connection closes; a head over FG_HTTP_MAX_HEAD bytes or
 * FG_HTTP_MAX_HEADERS headers gets 431 and the connection closes.
 *
 * /ws only: an Origin not in routes->allowed_origins gets 403 (cross-site WebSocket hijacking;
 * requests without Origin are not from a browser and pass), and with routes->auth_token set a
 * request without "Authorization: Bearer TOKEN" or the query parameter token=TOKEN gets 401.
 * A bad handshake: Sec-WebSocket-Version other than 13 gets 426 with Sec-WebSocket-Version: 13,
 * a missing or malformed Sec-WebSocket-Key 400 (RFC 6455 4.2.2).
 */
#ifndef FG_HTTP_H
#define FG_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fg_buf.h"

#define FG_HTTP_MAX_HEAD (16 * 1024)
#define FG_HTTP_MAX_HEADERS 100
#define FG_HTTP_MAX_BODY                                                                           \
    (64 * 1024) /* bodies are read and dropped; none of our routes take one                        \
                 */
#define FG_WS_SUBPROTOCOL "framegate.v1"

typedef struct fg_http fg_http;

typedef struct fg_http_routes {
    /*
     * Renders a dynamic page: for a path it serves, fills body, sets *content_type (static
     * string) and returns the HTTP status; returns 0 for paths it does not serve.
     */
    int (*render)(void *user, const char *path, size_t path_len, fg_buf *body,
                  const char **content_type);
    void *user;
    const char *allowed_origins; /* comma list of Origins for /ws; NULL or "" allows any */
    const char *auth_token;      /* required on /ws when not NULL or "" */
} fg_http_routes;

/* Session parameters of a /ws upgrade (contract v1.1 section 2): ?deadline_ms=N (1..3600000),
 * ?order=0|1, ?hints=0|1; unknown parameters are ignored, a malformed value gets 400. */
typedef struct fg_ws_params {
    uint32_t deadline_ms; /* 0: the proxy's --deadline-ms */
    bool order;
    bool hints;
} fg_ws_params;

typedef enum fg_http_result {
    FG_HTTP_OPEN,    /* keep reading */
    FG_HTTP_CLOSE,   /* send what is in out, then close the connection */
    FG_HTTP_UPGRADE, /* out holds the 101 answer; the bytes after *consumed are WebSocket */
} fg_http_result;

/* routes is copied (its strings are borrowed, they must outlive h); routes->render may be
 * NULL (no dynamic pages). */
fg_http *fg_http_new(const fg_http_routes *routes);
void fg_http_free(fg_http *h);

/*
 * Feeds data[0..len) and appends every answer to out. *consumed is set to the bytes that
 * belonged to HTTP (all of them unless FG_HTTP_UPGRADE). After FG_HTTP_CLOSE or
 * FG_HTTP_UPGRADE the object must not be fed again.
 */
fg_http_result fg_http_feed(fg_http *h, const uint8_t *data, size_t len, fg_buf *out,
                            size_t *consumed);

/* A request has started and its head is not complete yet (for the header timeout). */
bool fg_http_in_head(const fg_http *h);
/* The head did not complete in time: appends 408 to out; h is finished (FG_HTTP_CLOSE). */
void fg_http_timeout(fg_http *h, fg_buf *out);
/* Appends a whole "Connection: close" answer with status and text to out, for a connection
 * refused before it gets an fg_http (e.g. 503 over --max-connections). */
void fg_http_refuse_connection(fg_buf *out, int status, const char *text);

/* The session parameters of the request that was upgraded (after FG_HTTP_UPGRADE). */
fg_ws_params fg_http_ws_params(const fg_http *h);

/* True when the client asked to upgrade and the 101 selected FG_WS_SUBPROTOCOL. */
bool fg_http_subprotocol_selected(const fg_http *h);

/* Counts plain HTTP requests answered (for stats). */
uint64_t fg_http_requests_answered(const fg_http *h);

#endif
