/*
 * fc_codec: the client's half of the WebSocket messages of the wire contract: writes the 12-byte
 * RENDER request header and parses the 28-byte FRAME/ERROR reply. The proxy's half is
 * src/wire/fg_codec (whose types and sizes this reuses); the tests check one against the other.
 * Pure functions over caller-owned bytes.
 */
#ifndef FC_CODEC_H
#define FC_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "fg_codec.h"

/* Writes the header of a RENDER request whose model name is model_len (1..255) bytes long,
 * with flags (0 or FG_FLAG_LATEST). 0 or FG_ERR_INVALID. The model name and the input follow
 * the header in the message. */
int fc_codec_write_request_header(uint8_t out[FG_REQUEST_HEADER_LEN], uint32_t request_id,
                                  uint32_t frame, size_t model_len, uint16_t flags);

typedef struct fc_reply {
    fg_reply_header h;
    const char *backend;    /* h.backend_len bytes, not NUL-terminated; points into the message */
    const uint8_t *payload; /* FRAME: the image; ERROR: the UTF-8 message */
    size_t payload_len;
} fc_reply;

/* Parses a reply message. 0, or FG_ERR_PROTO (too short, unknown type, backend past the end). */
int fc_codec_parse_reply(const uint8_t *msg, size_t len, fc_reply *out);

/* Parses a HINT message: exactly FG_HINT_LEN bytes of type FG_MSG_HINT (the reserved fields
 * are not checked: a later version may use them). 0 or FG_ERR_PROTO. */
int fc_codec_parse_hint(const uint8_t *msg, size_t len, fg_hint *out);

#endif
