/*
 * fc_wshs: the client side of the RFC 6455 opening handshake, without I/O.
 *
 * Builds the upgrade request and checks the server's answer with http-parser: status 101,
 * "Upgrade: websocket", "Connection: upgrade", the Sec-WebSocket-Accept that matches our key,
 * and, when a subprotocol was offered, that the server picked that one or none.
 * The response parser owns no heap memory; it bounds the response head to FC_WSHS_HEAD_MAX.
 */
#ifndef FC_WSHS_H
#define FC_WSHS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#include "fc_url.h"
#include "fg_buf.h"

#define FC_WSHS_KEY_LEN 24    /* base64 of 16 bytes */
#define FC_WSHS_ACCEPT_LEN 28 /* base64 of a SHA-1 digest */
#define FC_WSHS_HEAD_MAX 8192
#define FC_WSHS_VALUE_MAX 256

/* key (FC_WSHS_KEY_LEN + 1 bytes) = base64(nonce). */
void fc_wshs_make_key(const uint8_t nonce[16], char *key);
/* accept (FC_WSHS_ACCEPT_LEN + 1 bytes) = base64(SHA-1(key + RFC 6455 GUID)). */
void fc_wshs_accept_for(const char *key, char *accept);
/* Appends the GET request to out. subprotocol may be NULL (none offered). 0 or FG_ERR_TOO_BIG. */
int fc_wshs_build_request(fg_buf *out, const fc_url *url, const char *key, const char *subprotocol);

typedef struct fc_wshs_resp {
    http_parser parser;
    http_parser_settings settings;
    char key[FC_WSHS_KEY_LEN + 1];
    char offered[FC_WSHS_VALUE_MAX]; /* subprotocol offered, "" for none */
    size_t head_len;
    bool headers_done;
    int field; /* which header the current value belongs to (internal) */
    bool field_continues;
    char name[32]; /* current header name, truncated (internal) */
    size_t name_len;
    char upgrade[FC_WSHS_VALUE_MAX];
    char connection[FC_WSHS_VALUE_MAX];
    char accept[FC_WSHS_VALUE_MAX];
    char protocol[FC_WSHS_VALUE_MAX]; /* the server's choice, "" for none */
    char error[160];                  /* why the handshake failed, for the user */
} fc_wshs_resp;

void fc_wshs_resp_init(fc_wshs_resp *r, const char *key, const char *subprotocol);
/*
 * Feeds response bytes. Returns the number of bytes of the response head (the bytes after it are
 * WebSocket frames) once the handshake succeeded; FG_ERR_AGAIN when more bytes are needed;
 * FG_ERR_PROTO (not HTTP, refused, bad accept...) or FG_ERR_TOO_BIG with r->error set.
 * Not to be fed again after a result other than FG_ERR_AGAIN.
 */
int fc_wshs_resp_feed(fc_wshs_resp *r, const uint8_t *data, size_t len);

#endif
