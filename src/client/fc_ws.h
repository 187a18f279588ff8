/*
 * fc_ws: one WebSocket client connection on a libuv loop (wslay's client side, RFC 6455).
 *
 * fc_ws_connect() starts the TCP connect and the opening handshake (fc_wshs); on_open reports
 * success, on_message each whole data message, on_close the end (once, whatever the cause).
 * Outgoing bytes are gathered in a buffer and written with one uv_write per batch: messages sent
 * from inside on_message go out together when the read callback returns.
 *
 * With opts.tls every byte goes through an fg_tls session (the server's name from the URL is
 * verified); the opening handshake is sent once the TLS handshake is done.
 *
 * Ownership: fc_ws_free() may be called at any time, also from inside a callback; no callback
 * runs after it, and the memory is released once libuv has closed the socket. Messages passed
 * to fc_ws_send() are copied. Use from the loop's thread only.
 */
#ifndef FC_WS_H
#define FC_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "fc_url.h"
#include "fg_tls.h"

typedef struct fc_ws fc_ws;

typedef struct fc_ws_callbacks {
    /* Handshake done: fc_ws_send() may be used. */
    void (*on_open)(fc_ws *ws, void *user);
    /* One whole message (binary, or text when binary is false); data is valid during the call. */
    void (*on_message)(fc_ws *ws, bool binary, const uint8_t *data, size_t len, void *user);
    /*
     * The connection ended. err is 0 after a close handshake (code is the peer's close code, 0 if
     * none) or a negative code (UV_E* or FG_ERR_*) with fc_ws_error() saying what happened.
     */
    void (*on_close)(fc_ws *ws, int err, uint16_t code, void *user);
} fc_ws_callbacks;

typedef struct fc_ws_options {
    const char *subprotocol; /* offered in the handshake; NULL for none */
    size_t max_message;      /* larger incoming messages close the connection with 1009 */
    fg_tls_ctx *tls;         /* wss: a client ctx (borrowed, outlives the connection); NULL: ws */
} fc_ws_options;

/*
 * Connects to addr and upgrades with url's Host and path. 0 with *out set, or a negative code
 * (no callback will run then).
 */
int fc_ws_connect(uv_loop_t *loop, const fc_url *url, const struct sockaddr *addr,
                  const fc_ws_options *opts, const fc_ws_callbacks *cb, void *user, fc_ws **out);
/* Sends one binary message made of two parts (either may be empty). 0 or FG_ERR_CLOSED. */
int fc_ws_send(fc_ws *ws, const void *head, size_t head_len, const void *body, size_t body_len);
/* Sends one message with any opcode (WSLAY_TEXT_FRAME, WSLAY_PING...); for tests. */
int fc_ws_send_opcode(fc_ws *ws, uint8_t opcode, const void *data, size_t len);
/* Starts the close handshake; on_close follows when the peer answers or the socket ends. */
int fc_ws_close(fc_ws *ws, uint16_t code);
void fc_ws_free(fc_ws *ws);

/* What went wrong, for the user; "" while all is well. */
const char *fc_ws_error(const fc_ws *ws);
/* The subprotocol the server selected, "" for none. */
const char *fc_ws_protocol(const fc_ws *ws);

#endif
