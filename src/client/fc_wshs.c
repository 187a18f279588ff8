/* fc_wshs: WebSocket opening handshake, client side (RFC 6455 section 4.1). */
#include "fc_wshs.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fg_err.h"
#include "fg_ws_accept.h"

enum { FIELD_OTHER, FIELD_UPGRADE, FIELD_CONNECTION, FIELD_ACCEPT, FIELD_PROTOCOL };

void fc_wshs_make_key(const uint8_t nonce[16], char *key) {
    /*
     * base64 of 16 bytes is 21 characters of 6 bits, one holding the last 2 bits (so one of
     * A, Q, g, w), then "==". Writing it directly spares a base64 encoder.
     */
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t acc = 0;
    int bits = 0;
    size_t out = 0;
    for (size_t i = 0; i < 16; i++) {
        acc = (acc << 8) | nonce[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            key[out++] = alphabet[(acc >> bits) & 0x3f];
        }
    }
    key[out++] = alphabet[(acc << (6 - bits)) & 0x3f]; /* the last 2 bits, then zeros */
    key[out++] = '=';
    key[out++] = '=';
    key[out] = '\0';
}

void fc_wshs_accept_for(const char *key, char *accept) {
    fg_ws_accept_value(key, strlen(key), accept);
}

int fc_wshs_build_request(fg_buf *out, const fc_url *url, const char *key,
                          const char *subprotocol) {
    char head[FC_WSHS_HEAD_MAX];
    int n = snprintf(head, sizeof(head),
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "%s%s%s"
                     "\r\n",
                     url->path, url->authority, key, subprotocol ? "Sec-WebSocket-Protocol: " : "",
                     subprotocol ? subprotocol : "", subprotocol ? "\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof(head))
        return FG_ERR_TOO_BIG;
    return fg_buf_append(out, head, (size_t)n);
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
    fc_wshs_resp *r = p->data;
    if (!r->field_continues)
        r->name_len = 0;
    r->field_continues = true;
    size_t room = sizeof(r->name) - 1 - r->name_len;
    size_t take = len < room ? len : room;
    memcpy(r->name + r->name_len, at, take);
    r->name_len += take;
    r->name[r->name_len] = '\0';
    return 0;
}

static char *value_slot(fc_wshs_resp *r) {
    switch (r->field) {
    case FIELD_UPGRADE:
        return r->upgrade;
    case FIELD_CONNECTION:
        return r->connection;
    case FIELD_ACCEPT:
        return r->accept;
    case FIELD_PROTOCOL:
        return r->protocol;
    default:
        return NULL;
    }
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
    fc_wshs_resp *r = p->data;
    if (r->field_continues) { /* first piece of this value: which header is it? */
        r->field_continues = false;
        if (strcasecmp(r->name, "upgrade") == 0)
            r->field = FIELD_UPGRADE;
        else if (strcasecmp(r->name, "connection") == 0)
            r->field = FIELD_CONNECTION;
        else if (strcasecmp(r->name, "sec-websocket-accept") == 0)
            r->field = FIELD_ACCEPT;
        else if (strcasecmp(r->name, "sec-websocket-protocol") == 0)
            r->field = FIELD_PROTOCOL;
        else
            r->field = FIELD_OTHER;
    }
    char *slot = value_slot(r);
    if (!slot)
        return 0;
    size_t have = strlen(slot);
    if (have + len >= FC_WSHS_VALUE_MAX)
        return 1; /* a value this long is not a handshake header we accept */
    memcpy(slot + have, at, len);
    slot[have + len] = '\0';
    return 0;
}

static int on_headers_complete(http_parser *p) {
    fc_wshs_resp *r = p->data;
    r->headers_done = true;
    return 0;
}

void fc_wshs_resp_init(fc_wshs_resp *r, const char *key, const char *subprotocol) {
    memset(r, 0, sizeof(*r));
    http_parser_init(&r->parser, HTTP_RESPONSE);
    r->parser.data = r;
    http_parser_settings_init(&r->settings);
    r->settings.on_header_field = on_header_field;
    r->settings.on_header_value = on_header_value;
    r->settings.on_headers_complete = on_headers_complete;
    snprintf(r->key, sizeof(r->key), "%s", key);
    snprintf(r->offered, sizeof(r->offered), "%s", subprotocol ? subprotocol : "");
}

/* Does the comma-separated list hold token (case-insensitive)? */
static bool list_has_token(const char *list, const char *token) {
    size_t tlen = strlen(token);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *last = end;
        while (last > p && (last[-1] == ' ' || last[-1] == '\t'))
            last--;
        if ((size_t)(last - p) == tlen && strncasecmp(p, token, tlen) == 0)
            return true;
        p = end;
    }
    return false;
}

static int refuse(fc_wshs_resp *r, const char *why) {
    snprintf(r->error, sizeof(r->error), "WebSocket handshake failed: %s", why);
    return FG_ERR_PROTO;
}

static int check_head(fc_wshs_resp *r) {
    unsigned status = r->parser.status_code;
    if (status != 101) {
        snprintf(r->error, sizeof(r->error),
                 "WebSocket handshake failed: the server answered HTTP %u %s, not 101", status,
                 http_status_str((enum http_status)status));
        return FG_ERR_PROTO;
    }
    if (strcasecmp(r->upgrade, "websocket") != 0)
        return refuse(r, "missing 'Upgrade: websocket'");
    if (!list_has_token(r->connection, "upgrade"))
        return refuse(r, "missing 'Connection: Upgrade'");
    char expect[FC_WSHS_ACCEPT_LEN + 1];
    fc_wshs_accept_for(r->key, expect);
    if (strcmp(r->accept, expect) != 0)
        return refuse(r, "wrong Sec-WebSocket-Accept");
    if (r->protocol[0] && strcmp(r->protocol, r->offered) != 0)
        return refuse(r, "the server chose a subprotocol that was not offered");
    return 0;
}

int fc_wshs_resp_feed(fc_wshs_resp *r, const uint8_t *data, size_t len) {
    size_t room = FC_WSHS_HEAD_MAX - r->head_len;
    size_t n = len < room ? len : room;
    size_t parsed = http_parser_execute(&r->parser, &r->settings, (const char *)data, n);
    enum http_errno herr = HTTP_PARSER_ERRNO(&r->parser);
    if (r->headers_done) {
        r->head_len += parsed;
        int rc = check_head(r);
        if (rc != 0)
            return rc;
        if (!r->parser.upgrade)
            return refuse(r, "the response is not an upgrade");
        return (int)r->head_len;
    }
    if (herr != HPE_OK) {
        snprintf(r->error, sizeof(r->error),
                 "WebSocket handshake failed: the answer is not HTTP/1.1 (%s); an HTTP/2 "
                 "or gRPC server instead of the proxy?",
                 http_errno_description(herr));
        return FG_ERR_PROTO;
    }
    r->head_len += parsed;
    if (r->head_len >= FC_WSHS_HEAD_MAX) {
        snprintf(r->error, sizeof(r->error),
                 "WebSocket handshake failed: response head over %d bytes", FC_WSHS_HEAD_MAX);
        return FG_ERR_TOO_BIG;
    }
    return FG_ERR_AGAIN;
}
