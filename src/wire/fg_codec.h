/*
 * fg_codec: the client WebSocket messages of the wire contract (docs/protocol.md section 2).
 *
 * Pure functions over caller-owned bytes: the 12-byte RENDER request header is parsed (every
 * field bounds-checked), the 28-byte FRAME/ERROR reply header is built. Numbers little-endian.
 */
#ifndef FG_CODEC_H
#define FG_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define FG_REQUEST_HEADER_LEN 12
#define FG_REPLY_HEADER_LEN 28
#define FG_HINT_LEN 16

enum { FG_MSG_RENDER = 1, FG_MSG_FRAME = 2, FG_MSG_ERROR = 3, FG_MSG_HINT = 4 };

/* Request flags (v1.1): LATEST supersedes the connection's frames not yet sent to a backend. */
#define FG_FLAG_LATEST 0x0001u

/* A parsed RENDER request; model and input point into the message given to the parser. */
typedef struct fg_render_request {
    uint32_t request_id;
    uint32_t frame;
    uint16_t flags; /* FG_FLAG_* */
    const char *model;
    size_t model_len;
    const uint8_t *input;
    size_t input_len;
} fg_render_request;

/*
 * Parses one client message. Returns 0 with *req filled, or FG_ERR_INVALID with *why set to a
 * static reason and req->request_id / req->frame set when the message is long enough to hold
 * them (else 0), so the ERROR reply can echo them.
 */
int fg_codec_parse_request(const uint8_t *msg, size_t len, fg_render_request *req,
                           const char **why);

typedef struct fg_reply_header {
    uint8_t type; /* FG_MSG_FRAME or FG_MSG_ERROR */
    uint8_t backend_len;
    uint16_t status;
    uint32_t request_id;
    uint32_t frame;
    uint32_t grpc_us;
    uint32_t total_us;
    uint16_t width;
    uint16_t height;
    uint8_t format;
    uint8_t attempts;
} fg_reply_header;

/* A HINT message (v1.1): what the connection can expect of the pool now. */
typedef struct fg_hint {
    uint16_t healthy;       /* healthy backends */
    uint32_t fps_milli;     /* sustainable frames/s for this connection, x1000 */
    uint32_t queue_wait_us; /* expected queue wait of a new request */
} fg_hint;

/* Writes the 16-byte HINT message (reserved bytes zero). */
void fg_codec_write_hint(uint8_t out[FG_HINT_LEN], const fg_hint *h);

/* Writes the 28-byte reply header (reserved bytes zero). */
void fg_codec_write_reply_header(uint8_t out[FG_REPLY_HEADER_LEN], const fg_reply_header *h);

#endif
