/*
 * fg_ws: the server side of one WebSocket session (wslay), independent of sockets.
 *
 * Bytes from the client go in with fg_ws_feed(); each complete binary message is handed to
 * on_message. Outgoing frames are appended to the caller's out buffer by fg_ws_flush() while
 * out holds less than high_water bytes (frames are never split across flushes, so out always
 * ends on a frame boundary). Closes, as the wire contract says: a text message 1003, a message
 * over max_message 1009, a protocol violation 1002 (RFC 6455 framing, and a client close frame
 * with a 1-byte body, an invalid code or a reason that is not UTF-8); pings are answered by
 * wslay, pongs ignored. Nothing the client sends after a close is processed, and nothing is
 * sent after our close frame.
 *
 * Replies are fg_ws_msg objects the session owns once given to fg_ws_send(); they are sent as
 * one binary message. When the owner supplies send_direct and wslay holds nothing for the client
 * (no message queued, no frame half in out, no close queued or sent), the message goes out as
 * one unfragmented frame through send_direct: an iovec of [frame header | head | tail], so the
 * image is written straight from the buffer the message adopted (the only copy is the one that
 * assembled the backend's reply). Otherwise wslay sends it in 4 KiB fragments read from the
 * object, after what it already holds.
 */
#ifndef FG_WS_H
#define FG_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fg_buf.h"

typedef struct fg_ws fg_ws;
typedef struct fg_ws_msg fg_ws_msg;

/* A server frame header: FIN, opcode, unmasked 7/16/64-bit length. */
#define FG_WS_FRAME_HEADER_MAX 10

typedef struct fg_ws_iov {
    const uint8_t *base;
    size_t len;
} fg_ws_iov;

typedef struct fg_ws_callbacks {
    /* A complete binary message; data is valid during the call only. Not called once the
     * session is closing. It may send and close, not free the session. */
    void (*on_message)(void *user, const uint8_t *data, size_t len);
    /* Optional. Writes the niov pieces of one complete frame to the client after everything
     * written before and before anything written later. 0: taken, the callee owns msg (which
     * keeps the pieces alive) and gives it to fg_ws_msg_free() once written or dropped;
     * negative: not now (output is pending), msg stays with the caller. */
    int (*send_direct)(void *user, const fg_ws_iov *iov, size_t niov, fg_ws_msg *msg);
} fg_ws_callbacks;

/* Options of fg_ws_new(). */
enum {
    /* Every byte from the client goes through wslay's event API, none through the frame-level
     * path (see fg_ws_feed): the reference the fuzz targets hold that path to. Same behaviour,
     * slower; the proxy does not set it. */
    FG_WS_WSLAY_ONLY = 1 << 0,
};

/* out is borrowed (the caller may swap its contents between calls); cbs is copied; options: 0
 * or FG_WS_* flags. */
fg_ws *fg_ws_new(uint64_t max_message, fg_buf *out, size_t high_water, const fg_ws_callbacks *cbs,
                 void *user, unsigned options);
/* Frees the session and every message not yet sent. */
void fg_ws_free(fg_ws *ws);

/* Feeds bytes read from the client. They stay the caller's, but fg_ws_feed may overwrite them:
 * between messages, each complete unfragmented binary frame (masked, as a client's must be)
 * is unmasked in place and handed to on_message from there, without wslay; the first frame of
 * any other kind (a control frame, text, a fragment, a violation, a frame the read cuts) and
 * everything after it go through wslay, as does everything while wslay holds part of a frame
 * or of a message. 0, or FG_ERR_PROTO after a violation wslay does not answer with a status
 * code itself (the 1002 close is in out, or a close of ours already queued is sent instead by
 * the next fg_ws_flush; either way the session is finished). */
int fg_ws_feed(fg_ws *ws, uint8_t *data, size_t len);

/* Frees wslay's state (its context holds two 4 KiB buffers) when the session is between
 * messages: every byte fed belongs to a complete frame, no fragmented message is open, nothing
 * is queued or half written, no close queued, sent or received. The next fg_ws_feed() that
 * needs wslay, queued message, ping or close creates a fresh one; until then the session behaves
 * exactly as before (a reply may still go out through send_direct). A new session starts resting.
 * true: resting now. For idle connections (the owner's keepalive tick); not per frame. */
bool fg_ws_rest(fg_ws *ws);

/* Queues a ping (keepalive). 0, or FG_ERR_CLOSED when closing. */
int fg_ws_ping(fg_ws *ws);
/* Bytes the client sent so far: any byte (a pong, a slow big frame) proves it is alive. */
uint64_t fg_ws_bytes_received(const fg_ws *ws);

/* A message of len bytes to fill through *data before fg_ws_send(). */
fg_ws_msg *fg_ws_msg_new(size_t len, uint8_t **data);
/* A message of head_len bytes to fill through *head, followed by tail_len bytes read in place
 * at tail (a reply image: never copied into the message). tail lies inside block, a heap block
 * the message now owns and free()s once sent or dropped (block may be NULL). */
fg_ws_msg *fg_ws_msg_new_tail(size_t head_len, uint8_t **head, const uint8_t *tail, size_t tail_len,
                              void *block);
/* Bytes held by every message not yet freed, in the whole process (the replies waiting for
 * their clients to read them: what --max-buffered bounds). */
size_t fg_ws_msgs_bytes(void);
/* Frees a message given by send_direct (and the block it adopted). */
void fg_ws_msg_free(fg_ws_msg *msg);

/* Writes the header of a final unmasked binary frame of payload_len bytes into out (the
 * shortest of the three length encodings, as RFC 6455 5.2 requires); returns its length. */
size_t fg_ws_binary_frame_header(uint8_t out[FG_WS_FRAME_HEADER_MAX], uint64_t payload_len);

/* Sends msg, directly or queued (see above; ownership passes in every case). 0, or
 * FG_ERR_CLOSED when the session no longer sends messages (msg freed). */
int fg_ws_send(fg_ws *ws, fg_ws_msg *msg);

/* Appends queued frames to out (up to high_water). 0, or FG_ERR_PROTO if wslay failed. */
int fg_ws_flush(fg_ws *ws);

/* Queues a close frame with code and reason (<= 123 bytes); later messages are refused. */
void fg_ws_close(fg_ws *ws, uint16_t code, const char *reason);

/* A close was queued or received: no new requests should be served. */
bool fg_ws_closing(const fg_ws *ws);
/* Our close frame is in out. */
bool fg_ws_close_sent(const fg_ws *ws);
/* Nothing left to read or write: close the socket once out is written. */
bool fg_ws_finished(const fg_ws *ws);
/* Messages (replies, pongs, pings, the close) not yet completely in out. */
size_t fg_ws_queued_msgs(const fg_ws *ws);
/* The close code we sent, 0 if none yet. */
uint16_t fg_ws_close_code_sent(const fg_ws *ws);

#endif
