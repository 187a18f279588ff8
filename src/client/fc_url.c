/* fc_url: URL and HOST:PORT parsing on http_parser_parse_url, and name resolution. */
#include "fc_url.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include <http_parser.h>

#include "fg_err.h"

static int fail(char *err, size_t errlen, const char *text, const char *why) {
    snprintf(err, errlen, "bad address '%s': %s", text, why);
    return FG_ERR_INVALID;
}

static int copy_field(char *dst, size_t cap, const char *text, const struct http_parser_url *u,
                      int field) {
    size_t len = u->field_data[field].len;
    if (len >= cap)
        return FG_ERR_TOO_BIG;
    memcpy(dst, text + u->field_data[field].off, len);
    dst[len] = '\0';
    return 0;
}

static void set_authority(fc_url *out) {
    if (strchr(out->host, ':'))
        snprintf(out->authority, sizeof(out->authority), "[%s]:%u", out->host, out->port);
    else
        snprintf(out->authority, sizeof(out->authority), "%s:%u", out->host, out->port);
}

int fc_url_parse_ws(const char *text, fc_url *out, char *err, size_t errlen) {
    struct http_parser_url u;
    http_parser_url_init(&u);
    size_t len = strlen(text);
    if (len == 0 || len > 4000 || http_parser_parse_url(text, len, 0, &u) != 0)
        return fail(err, errlen, text, "expected ws://HOST:PORT/PATH");
    if (!(u.field_set & (1 << UF_SCHEMA)) || !(u.field_set & (1 << UF_HOST)))
        return fail(err, errlen, text, "expected ws://HOST:PORT/PATH");
    const char *schema = text + u.field_data[UF_SCHEMA].off;
    size_t schema_len = u.field_data[UF_SCHEMA].len;
    out->tls = schema_len == 3 && strncasecmp(schema, "wss", 3) == 0;
    if (!out->tls && (schema_len != 2 || strncasecmp(schema, "ws", 2) != 0))
        return fail(err, errlen, text, "the scheme must be ws:// or wss://");
    if (u.field_set & (1 << UF_USERINFO))
        return fail(err, errlen, text, "user information is not supported");
    if (copy_field(out->host, sizeof(out->host), text, &u, UF_HOST) != 0 || out->host[0] == '\0')
        return fail(err, errlen, text, "bad host");
    out->port = (u.field_set & (1 << UF_PORT)) ? u.port : out->tls ? 443 : 80;
    if (out->port == 0)
        return fail(err, errlen, text, "port 0");
    size_t path_off = (u.field_set & (1 << UF_PATH)) ? u.field_data[UF_PATH].off : len;
    size_t path_end = len;
    if (u.field_set & (1 << UF_FRAGMENT))
        path_end = u.field_data[UF_FRAGMENT].off - 1; /* the '#' and after are not sent */
    if (path_end <= path_off) {
        strcpy(out->path, "/");
    } else {
        if (path_end - path_off >= sizeof(out->path))
            return fail(err, errlen, text, "path too long");
        if (text[path_off] != '/') /* a query without a path: "ws://h:1?x" */
            snprintf(out->path, sizeof(out->path), "/%.*s", (int)(path_end - path_off),
                     text + path_off);
        else
            snprintf(out->path, sizeof(out->path), "%.*s", (int)(path_end - path_off),
                     text + path_off);
    }
    set_authority(out);
    return 0;
}

int fc_url_parse_hostport(const char *text, fc_url *out, char *err, size_t errlen) {
    struct http_parser_url u;
    http_parser_url_init(&u);
    size_t len = strlen(text);
    /* The CONNECT form of http-parser is exactly "host:port" with a required port. */
    if (len == 0 || len > 300 || http_parser_parse_url(text, len, 1, &u) != 0)
        return fail(err, errlen, text, "expected HOST:PORT");
    if (copy_field(out->host, sizeof(out->host), text, &u, UF_HOST) != 0 || out->host[0] == '\0')
        return fail(err, errlen, text, "bad host");
    if (u.port == 0)
        return fail(err, errlen, text, "bad port");
    out->port = u.port;
    out->tls = false;
    strcpy(out->path, "/");
    set_authority(out);
    return 0;
}

int fc_url_resolve(const fc_url *url, struct sockaddr_storage *out, char *err, size_t errlen) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%u", url->port);
    int rc = getaddrinfo(url->host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve '%s': %s", url->host, gai_strerror(rc));
        return FG_ERR_NOT_FOUND;
    }
    /* Prefer IPv4: "localhost" must reach servers that bind 127.0.0.1 only. */
    const struct addrinfo *pick = res;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
    }
    memset(out, 0, sizeof(*out));
    memcpy(out, pick->ai_addr, pick->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

int fc_url_add_query(fc_url *url, const char *param) {
    size_t len = strlen(url->path), plen = strlen(param);
    if (len + 1 + plen >= sizeof(url->path))
        return FG_ERR_TOO_BIG;
    url->path[len] = strchr(url->path, '?') ? '&' : '?';
    memcpy(url->path + len + 1, param, plen + 1);
    return 0;
}
