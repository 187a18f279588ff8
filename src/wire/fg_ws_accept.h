/*
 * fg_ws_accept: the RFC 6455 handshake value Sec-WebSocket-Accept =
 * base64(SHA-1(Sec-WebSocket-Key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
 * SHA-1 and base64 are OpenSSL's (libcrypto, which the stack has for TLS); SHA-1 serves here
 * only as the RFC's fixed checksum, not for security.
 */
#ifndef FG_WS_ACCEPT_H
#define FG_WS_ACCEPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FG_SHA1_LEN 20
#define FG_WS_ACCEPT_LEN 28 /* base64 of 20 bytes, without NUL */

/* True when key[0..len) is a valid Sec-WebSocket-Key: base64 of exactly 16 bytes. */
bool fg_ws_key_valid(const char *key, size_t len);

/* Writes the 28-character accept value plus a NUL into out. */
void fg_ws_accept_value(const char *key, size_t len, char out[FG_WS_ACCEPT_LEN + 1]);

#endif
