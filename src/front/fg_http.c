#include "fg_http.h"

#include <http_parser.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fg_alloc.h"
#include "fg_err.h"
#include "fg_counters.h"
#include "fg_web.h"
#include "fg_ws_accept.h"

#define FIELD_MAX 32 /* longest header name we look at is 22 bytes */
#define KEY_MAX 64
#define ORIGIN_MAX 256 /* longer Origins match no allowed one */
#define AUTH_MAX 512   /* longer Authorization values match no token */

enum header_id {
    H_OTHER,
    H_UPGRADE,
    H_CONNECTION,
    H_WS_KEY,
    H_WS_VERSION,
    H_WS_PROTOCOL,
    H_ORIGIN,
    H_AUTHORIZATION,
};

struct fg_http {
    http_parser parser;
    fg_http_routes routes;
    fg_http_result result;
    fg_buf *out; /* valid during fg_http_feed */
    uint64_t answered;

    /* The request being parsed; reset by on_message_begin. */
    size_t head_bytes;
    size_t body_bytes;
    unsigned nheaders;
    int refused_status; /* 431 or 413 set by a callback that stopped the parser */
    fg_buf url;
    char field[FIELD_MAX];
    size_t field_len;
    bool in_value;
    fg_buf value;
    bool upgrade_websocket, connection_upgrade, version_13, version_seen, offers_subprotocol;
    char key[KEY_MAX];
    size_t key_len;
    int key_count;
    bool subprotocol_selected;
    fg_ws_params ws_params;
    bool in_head; /* a request started and its head is not complete */
    char origin[ORIGIN_MAX];
    size_t origin_len; /* ORIGIN_MAX + 1 when too long; 0 when none */
    char auth[AUTH_MAX];
    size_t auth_len; /* AUTH_MAX + 1 when too long */
    fg_buf scratch;  /* dynamic page bodies */
};

static const char *reason_phrase(int status) {
    switch (status) {
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Payload Too Large";
    case 426:
        return "Upgrade Required";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

/* The refusals an operator watches for (slowloris, oversized heads, hijacking, bad tokens). */
static void count_refusal(int status) {
    switch (status) {
    case 401:
        fg_stats_add(FG_STAT_ws_unauthorized_total, 1);
        break;
    case 403:
        fg_stats_add(FG_STAT_ws_forbidden_total, 1);
        break;
    case 408:
        fg_stats_add(FG_STAT_http_timeouts_total, 1);
        break;
    case 431:
        fg_stats_add(FG_STAT_http_head_too_large_total, 1);
        break;
    default:
        break;
    }
}

/* Appends one whole response; extra_headers is "" or CRLF-terminated lines. */
static void respond(fg_http *h, int status, const char *content_type, const char *extra_headers,
                    const void *body, size_t body_len, bool send_body, bool keep_alive) {
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\n"
                     "Server: framegate\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "Cache-Control: no-cache\r\n"
                     "%s"
                     "Connection: %s\r\n\r\n",
                     status, reason_phrase(status), content_type, body_len, extra_headers,
                     keep_alive ? "keep-alive" : "close");
    /* The out buffer's limit is far above any answer we build; failing here would be a bug in
     * the caller's sizing, and the connection is then closed with whatever was queued. */
    if (fg_buf_append(h->out, head, (size_t)n) != 0 ||
        (send_body && body_len && fg_buf_append(h->out, body, body_len) != 0))
        h->result = FG_HTTP_CLOSE;
    if (!keep_alive)
        h->result = FG_HTTP_CLOSE;
    h->answered++;
    count_refusal(status);
}

static void respond_text(fg_http *h, int status, const char *extra_headers, const char *text,
                         bool keep_alive) {
    respond(h, status, "text/plain; charset=utf-8", extra_headers, text, strlen(text), true,
            keep_alive);
}

/* True when the comma-separated token list value[0..len) holds token (case-insensitive). */
static bool list_has_token(const char *value, size_t len, const char *token) {
    size_t tlen = strlen(token);
    size_t i = 0;
    while (i < len) {
        while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
            i++;
        size_t start = i;
        while (i < len && value[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
            end--;
        if (end - start == tlen && strncasecmp(value + start, token, tlen) == 0)
            return true;
    }
    return false;
}

static enum header_id header_id(const char *name, size_t len) {
    static const struct {
        const char *name;
        enum header_id id;
    } known[] = {
        {"upgrade", H_UPGRADE},
        {"connection", H_CONNECTION},
        {"sec-websocket-key", H_WS_KEY},
        {"sec-websocket-version", H_WS_VERSION},
        {"sec-websocket-protocol", H_WS_PROTOCOL},
        {"origin", H_ORIGIN},
        {"authorization", H_AUTHORIZATION},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strlen(known[i].name) == len && strncasecmp(known[i].name, name, len) == 0)
            return known[i].id;
    return H_OTHER;
}

static void trim(const char **s, size_t *len) {
    while (*len && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
}

/* Keeps a bounded copy of a header value; *len is max + 1 when it did not fit. */
static void keep_value(char *dst, size_t max, size_t *len, const char *v, size_t vlen) {
    *len = vlen <= max ? vlen : max + 1;
    if (vlen <= max)
        memcpy(dst, v, vlen);
}

/* One header (name in h->field, value in h->value) is complete. */
static void finish_header(fg_http *h) {
    const char *v = (const char *)h->value.data;
    size_t vlen = h->value.len;
    if (!v)
        v = "";
    trim(&v, &vlen);
    switch (header_id(h->field, h->field_len)) {
    case H_UPGRADE:
        h->upgrade_websocket |= list_has_token(v, vlen, "websocket");
        break;
    case H_CONNECTION:
        h->connection_upgrade |= list_has_token(v, vlen, "upgrade");
        break;
    case H_WS_KEY:
        h->key_count++;
        h->key_len = vlen < KEY_MAX ? vlen : KEY_MAX;
        memcpy(h->key, v, h->key_len);
        break;
    case H_WS_VERSION:
        h->version_seen = true;
        h->version_13 = vlen == 2 && memcmp(v, "13", 2) == 0;
        break;
    case H_WS_PROTOCOL:
        h->offers_subprotocol |= list_has_token(v, vlen, FG_WS_SUBPROTOCOL);
        break;
    case H_ORIGIN:
        keep_value(h->origin, ORIGIN_MAX, &h->origin_len, v, vlen);
        break;
    case H_AUTHORIZATION:
        keep_value(h->auth, AUTH_MAX, &h->auth_len, v, vlen);
        break;
    case H_OTHER:
        break;
    }
    fg_buf_reset(&h->value);
    h->field_len = 0;
    h->in_value = false;
}

/* Counts head bytes; false (and the parser stops) once over the limit. */
static bool count_head(fg_http *h, size_t n) {
    h->head_bytes += n;
    if (h->head_bytes > FG_HTTP_MAX_HEAD) {
        h->refused_status = 431;
        return false;
    }
    return true;
}

static int on_message_begin(http_parser *p) {
    fg_http *h = p->data;
    h->head_bytes = 0;
    h->body_bytes = 0;
    h->nheaders = 0;
    fg_buf_reset(&h->url);
    fg_buf_reset(&h->value);
    h->field_len = 0;
    h->in_value = false;
    h->upgrade_websocket = h->connection_upgrade = false;
    h->version_13 = h->version_seen = h->offers_subprotocol = false;
    h->key_len = 0;
    h->key_count = 0;
    h->origin_len = 0;
    h->auth_len = 0;
    h->in_head = true;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
    fg_http *h = p->data;
    if (!count_head(h, len))
        return 1;
    return fg_buf_append(&h->url, at, len) == 0 ? 0 : 1;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
    fg_http *h = p->data;
    if (!count_head(h, len + 4)) /* + ": " and CRLF, roughly the wire size */
        return 1;
    if (h->in_value)
        finish_header(h);
    if (h->field_len == 0) {
        if (++h->nheaders > FG_HTTP_MAX_HEADERS) {
            h->refused_status = 431;
            return 1;
        }
    }
    /* Names longer than any we look at are kept truncated; they never match. */
    size_t room = FIELD_MAX - h->field_len;
    size_t n = len < room ? len : room;
    memcpy(h->field + h->field_len, at, n);
    h->field_len += n;
    if (len > n)
        h->field_len = FIELD_MAX;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
    fg_http *h = p->data;
    if (!count_head(h, len))
        return 1;
    h->in_value = true;
    return fg_buf_append(&h->value, at, len) == 0 ? 0 : 1;
}

static int on_headers_complete(http_parser *p) {
    fg_http *h = p->data;
    if (h->in_value || h->field_len)
        finish_header(h);
    h->in_head = false;
    bool has_body =
        (p->flags & F_CHUNKED) || (p->content_length > 0 && p->content_length != ULLONG_MAX);
    if ((p->method == HTTP_GET || p->method == HTTP_HEAD) && has_body) {
        h->refused_status = 400; /* none of our GET routes takes a body: smuggling or a bug */
        return -1;
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
    fg_http *h = p->data;
    h->body_bytes += len;
    if (h->body_bytes > FG_HTTP_MAX_BODY) {
        h->refused_status = 413;
        return 1;
    }
    return 0;
}

/* Compares without leaking the position of the first difference through timing. */
static bool secret_equal(const char *a, size_t alen, const char *b) {
    size_t blen = strlen(b);
    unsigned char diff = alen != blen;
    for (size_t i = 0; i < blen; i++)
        diff |= (unsigned char)(b[i] ^ (i < alen ? a[i] : 0));
    return diff == 0;
}

/* The Origin is allowed: none given (not a browser), no list configured, or listed (exact,
 * case-insensitive; "*" allows any). */
static bool origin_allowed(const fg_http *h) {
    const char *list = h->routes.allowed_origins;
    if (!list || !*list || h->origin_len == 0)
        return true;
    if (h->origin_len > ORIGIN_MAX)
        return false;
    char origin[ORIGIN_MAX + 1];
    memcpy(origin, h->origin, h->origin_len);
    origin[h->origin_len] = 0;
    return list_has_token(list, strlen(list), "*") || list_has_token(list, strlen(list), origin);
}

/* The token is given as "Authorization: Bearer TOKEN" or as the query parameter token=TOKEN. */
static bool authorized(const fg_http *h, const char *query, size_t query_len) {
    const char *token = h->routes.auth_token;
    if (!token || !*token)
        return true;
    if (h->auth_len > 7 && h->auth_len <= AUTH_MAX && strncasecmp(h->auth, "Bearer ", 7) == 0) {
        const char *v = h->auth + 7;
        size_t vlen = h->auth_len - 7;
        trim(&v, &vlen);
        if (secret_equal(v, vlen, token))
            return true;
    }
    size_t i = 0;
    while (i < query_len) {
        size_t end = i;
        while (end < query_len && query[end] != '&')
            end++;
        if (end - i >= 6 && memcmp(query + i, "token=", 6) == 0 &&
            secret_equal(query + i + 6, end - i - 6, token))
            return true;
        i = end + 1;
    }
    return false;
}

/* An unsigned decimal in [min, max], nothing else. */
static bool parse_uint(const char *s, size_t len, uint32_t min, uint32_t max, uint32_t *out) {
    if (len == 0 || len > 10)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v < min || v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* The session parameters in the query; false on a malformed value of a known one. */
static bool parse_ws_params(const char *query, size_t query_len, fg_ws_params *out) {
    *out = (fg_ws_params){0};
    size_t i = 0;
    while (i < query_len) {
        size_t end = i;
        while (end < query_len && query[end] != '&')
            end++;
        const char *kv = query + i, *eq = memchr(kv, '=', end - i);
        size_t klen = eq ? (size_t)(eq - kv) : end - i;
        const char *v = eq ? eq + 1 : kv + klen;
        size_t vlen = (size_t)(query + end - v);
        uint32_t n;
        if (klen == 11 && memcmp(kv, "deadline_ms", 11) == 0) {
            if (!parse_uint(v, vlen, 1, 3600000, &out->deadline_ms))
                return false;
        } else if (klen == 5 && memcmp(kv, "order", 5) == 0) {
            if (!parse_uint(v, vlen, 0, 1, &n))
                return false;
            out->order = n;
        } else if (klen == 5 && memcmp(kv, "hints", 5) == 0) {
            if (!parse_uint(v, vlen, 0, 1, &n))
                return false;
            out->hints = n;
        }
        i = end + 1;
    }
    return true;
}

/* Answers a GET /ws: 101 when the Origin and the token are accepted and the handshake is
 * valid. */
static void answer_websocket(fg_http *h, const char *query, size_t query_len) {
    if (!origin_allowed(h)) {
        respond_text(h, 403, "", "origin not allowed\n", false);
        return;
    }
    if (!authorized(h, query, query_len)) {
        respond_text(h, 401, "WWW-Authenticate: Bearer\r\n", "token required\n", false);
        return;
    }
    if (!h->upgrade_websocket || !h->connection_upgrade) {
        respond_text(h, 426, "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
                     "WebSocket upgrade required\n", false);
        return;
    }
    if (!h->version_13) {
        respond_text(h, 426, "Sec-WebSocket-Version: 13\r\n", "unsupported Sec-WebSocket-Version\n",
                     false);
        return;
    }
    if (h->key_count != 1 || !fg_ws_key_valid(h->key, h->key_len)) {
        respond_text(h, 400, "", "bad Sec-WebSocket-Key\n", false);
        return;
    }
    if (!parse_ws_params(query, query_len, &h->ws_params)) {
        respond_text(h, 400, "",
                     "bad session parameter (deadline_ms=1..3600000, order=0|1, hints=0|1)\n",
                     false);
        return;
    }
    char accept[FG_WS_ACCEPT_LEN + 1];
    fg_ws_accept_value(h->key, h->key_len, accept);
    char head[256];
    int n = snprintf(
        head, sizeof(head),
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Accept: %s\r\n"
        "%s\r\n",
        accept, h->offers_subprotocol ? "Sec-WebSocket-Protocol: " FG_WS_SUBPROTOCOL "\r\n" : "");
    h->subprotocol_selected = h->offers_subprotocol;
    h->result = fg_buf_append(h->out, head, (size_t)n) == 0 ? FG_HTTP_UPGRADE : FG_HTTP_CLOSE;
}

static void answer(fg_http *h, const char *path, size_t path_len, const char *query,
                   size_t query_len) {
    http_parser *p = &h->parser;
    bool keep_alive = http_should_keep_alive(p) && !p->upgrade;
    bool get = p->method == HTTP_GET, head = p->method == HTTP_HEAD;

    if (path_len == 3 && memcmp(path, "/ws", 3) == 0) {
        if (get)
            answer_websocket(h, query, query_len);
        else
            respond_text(h, 405, "Allow: GET\r\n", "method not allowed\n", keep_alive);
        return;
    }
    const char *ctype = NULL;
    fg_buf_reset(&h->scratch);
    int status = 0;
    const fg_web_asset *asset = NULL;
    if (h->routes.render)
        status = h->routes.render(h->routes.user, path, path_len, &h->scratch, &ctype);
    if (status == 0)
        asset = fg_web_find(path, path_len);
    if (status == 0 && !asset) {
        respond_text(h, 404, "", "not found\n", keep_alive);
        return;
    }
    if (!get && !head) {
        respond_text(h, 405, "Allow: GET, HEAD\r\n", "method not allowed\n", keep_alive);
        return;
    }
    if (asset)
        respond(h, 200, asset->content_type, "", asset->data, asset->len, get, keep_alive);
    else
        respond(h, status, ctype, "", h->scratch.data, h->scratch.len, get, keep_alive);
}

static int on_message_complete(http_parser *p) {
    fg_http *h = p->data;
    struct http_parser_url u;
    http_parser_url_init(&u);
    const char *url = (const char *)h->url.data;
    if (!url || p->method == HTTP_CONNECT || http_parser_parse_url(url, h->url.len, 0, &u) != 0) {
        respond_text(h, 400, "", "bad request target\n", false);
    } else {
        const char *query = "";
        size_t query_len = 0;
        if (u.field_set & (1 << UF_QUERY)) {
            query = url + u.field_data[UF_QUERY].off;
            query_len = u.field_data[UF_QUERY].len;
        }
        if (!(u.field_set & (1 << UF_PATH))) /* absolute-form without a path */
            answer(h, "/", 1, query, query_len);
        else
            answer(h, url + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len, query, query_len);
    }
    if (h->result != FG_HTTP_OPEN)
        http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

fg_http *fg_http_new(const fg_http_routes *routes) {
    fg_http *h = fg_calloc(1, sizeof(*h));
    http_parser_init(&h->parser, HTTP_REQUEST);
    h->parser.data = h;
    if (routes)
        h->routes = *routes;
    h->result = FG_HTTP_OPEN;
    fg_buf_init(&h->url, FG_HTTP_MAX_HEAD);
    fg_buf_init(&h->value, FG_HTTP_MAX_HEAD);
    fg_buf_init(&h->scratch, 64 * 1024 * 1024);
    return h;
}

void fg_http_free(fg_http *h) {
    if (!h)
        return;
    fg_buf_free(&h->url);
    fg_buf_free(&h->value);
    fg_buf_free(&h->scratch);
    free(h);
}

fg_http_result fg_http_feed(fg_http *h, const uint8_t *data, size_t len, fg_buf *out,
                            size_t *consumed) {
    *consumed = 0;
    if (h->result != FG_HTTP_OPEN)
        return h->result;
    h->out = out;
    size_t n = http_parser_execute(&h->parser, &settings, (const char *)data, len);
    *consumed = n;
    enum http_errno err = HTTP_PARSER_ERRNO(&h->parser);
    if (h->result == FG_HTTP_OPEN) {
        if (h->refused_status) {
            respond_text(h, h->refused_status, "",
                         h->refused_status == 400 ? "body not allowed on GET\n"
                                                  : "request too large\n",
                         false);
        } else if (err != HPE_OK && err != HPE_PAUSED) {
            respond_text(h, 400, "", "malformed request\n", false);
        } else if (h->parser.upgrade) {
            /* An upgrade we did not accept (answered above): the rest is not HTTP. */
            h->result = FG_HTTP_CLOSE;
        }
    }
    if (h->result != FG_HTTP_UPGRADE)
        *consumed = len;
    h->out = NULL;
    return h->result;
}

bool fg_http_in_head(const fg_http *h) {
    return h->in_head && h->result == FG_HTTP_OPEN;
}

void fg_http_timeout(fg_http *h, fg_buf *out) {
    if (h->result != FG_HTTP_OPEN)
        return;
    h->out = out;
    respond_text(h, 408, "", "request head not complete in time\n", false);
    h->out = NULL;
}

void fg_http_refuse_connection(fg_buf *out, int status, const char *text) {
    fg_http h = {.out = out};
    respond_text(&h, status, "", text, false);
}

fg_ws_params fg_http_ws_params(const fg_http *h) {
    return h->ws_params;
}

bool fg_http_subprotocol_selected(const fg_http *h) {
    return h->subprotocol_selected;
}

uint64_t fg_http_requests_answered(const fg_http *h) {
    return h->answered;
}
