/* fc_codec: client side of the WebSocket message formats (little-endian, contract section 2). */
#include "fc_codec.h"

#include "fg_bytes.h"
#include "fg_err.h"

int fc_codec_write_request_header(uint8_t out[FG_REQUEST_HEADER_LEN], uint32_t request_id,
                                  uint32_t frame, size_t model_len, uint16_t flags) {
    if (model_len == 0 || model_len > 255 || (flags & ~FG_FLAG_LATEST))
        return FG_ERR_INVALID;
    out[0] = FG_MSG_RENDER;
    out[1] = (uint8_t)model_len;
    fg_put_u16le(out + 2, flags);
    fg_put_u32le(out + 4, request_id);
    fg_put_u32le(out + 8, frame);
    return 0;
}

int fc_codec_parse_reply(const uint8_t *msg, size_t len, fc_reply *out) {
    if (len < FG_REPLY_HEADER_LEN)
        return FG_ERR_PROTO;
    fg_reply_header *h = &out->h;
    h->type = msg[0];
    if (h->type != FG_MSG_FRAME && h->type != FG_MSG_ERROR)
        return FG_ERR_PROTO;
    h->backend_len = msg[1];
    h->status = fg_get_u16le(msg + 2);
    h->request_id = fg_get_u32le(msg + 4);
    h->frame = fg_get_u32le(msg + 8);
    h->grpc_us = fg_get_u32le(msg + 12);
    h->total_us = fg_get_u32le(msg + 16);
    h->width = fg_get_u16le(msg + 20);
    h->height = fg_get_u16le(msg + 22);
    h->format = msg[24];
    h->attempts = msg[25];
    size_t rest = len - FG_REPLY_HEADER_LEN;
    if (h->backend_len > rest)
        return FG_ERR_PROTO;
    out->backend = (const char *)msg + FG_REPLY_HEADER_LEN;
    out->payload = msg + FG_REPLY_HEADER_LEN + h->backend_len;
    out->payload_len = rest - h->backend_len;
    return 0;
}

int fc_codec_parse_hint(const uint8_t *msg, size_t len, fg_hint *out) {
    if (len != FG_HINT_LEN || msg[0] != FG_MSG_HINT)
        return FG_ERR_PROTO;
    out->healthy = fg_get_u16le(msg + 2);
    out->fps_milli = fg_get_u32le(msg + 4);
    out->queue_wait_us = fg_get_u32le(msg + 8);
    return 0;
}
