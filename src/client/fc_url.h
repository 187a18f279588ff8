/*
 * fc_url: the addresses framebench and the tests are given: "ws://HOST[:PORT]/PATH" URLs and
 * "HOST:PORT" targets, parsed with http-parser's URL parser, and resolved to a socket address.
 *
 * Everything is copied into the caller's fc_url; nothing is allocated. Errors come back as
 * FG_ERR_INVALID (bad syntax) or FG_ERR_NOT_FOUND (name does not resolve) with a one-line
 * message in err, ready to print.
 */
#ifndef FC_URL_H
#define FC_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define FC_URL_HOST_MAX 256
#define FC_URL_PATH_MAX 1024

typedef struct fc_url {
    char host[FC_URL_HOST_MAX]; /* without IPv6 brackets */
    uint16_t port;
    char path[FC_URL_PATH_MAX];           /* path and query, "/" when absent */
    char authority[FC_URL_HOST_MAX + 10]; /* "host:port" as written, for Host: and reports */
    bool tls;                             /* wss:// */
} fc_url;

/* "ws://HOST[:PORT][/PATH[?QUERY]]" (port 80 by default) or "wss://..." (tls set, 443). */
int fc_url_parse_ws(const char *text, fc_url *out, char *err, size_t errlen);
/* "HOST:PORT" (or "[V6]:PORT"); the port is required. path is set to "/". */
int fc_url_parse_hostport(const char *text, fc_url *out, char *err, size_t errlen);
/* Appends one query parameter ("name=value", as given) to url->path: "?" before the first,
 * "&" after. 0, or FG_ERR_TOO_BIG (path left unchanged) past FC_URL_PATH_MAX. */
int fc_url_add_query(fc_url *url, const char *param);
/* Resolves url->host (blocking getaddrinfo: call at start-up, not on a loop in use). */
int fc_url_resolve(const fc_url *url, struct sockaddr_storage *out, char *err, size_t errlen);

#endif
