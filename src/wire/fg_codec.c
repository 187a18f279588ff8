#include "fg_codec.h"

#include <stdbool.h>
#include <string.h>

#include "fg_bytes.h"
#include "fg_err.h"
#include "fg_utf8.h"

/*
 * The model name becomes a protobuf string, which backends (grpcio, grpc-js) reject when it is
 * not UTF-8: that would look like a backend fault, so it is refused here as the request's fault
 * (fg_utf8_valid: strict RFC 3629).
 */
int fg_codec_parse_request(const uint8_t *msg, size_t len, fg_render_request *req,
                           const char **why) {
    memset(req, 0, sizeof(*req));
    if (len >= 8)
        req->request_id = fg_get_u32le(msg + 4);
    if (len >= FG_REQUEST_HEADER_LEN)
        req->frame = fg_get_u32le(msg + 8);
    if (len < FG_REQUEST_HEADER_LEN) {
        *why = "message shorter than the 12-byte header";
        return FG_ERR_INVALID;
    }
    if (msg[0] != FG_MSG_RENDER) {
        *why = "unknown message type";
        return FG_ERR_INVALID;
    }
    size_t model_len = msg[1];
    if (model_len == 0) {
        *why = "empty model name";
        return FG_ERR_INVALID;
    }
    if (model_len > len - FG_REQUEST_HEADER_LEN) {
        *why = "model name past the end of the message";
        return FG_ERR_INVALID;
    }
    uint16_t flags = fg_get_u16le(msg + 2);
    if (flags & ~FG_FLAG_LATEST) {
        *why = "unknown flags (only bit 0, LATEST, is defined)";
        return FG_ERR_INVALID;
    }
    req->flags = flags;
    const uint8_t *model = msg + FG_REQUEST_HEADER_LEN;
    if (!fg_utf8_valid(model, model_len)) {
        *why = "model name is not UTF-8";
        return FG_ERR_INVALID;
    }
    req->model = (const char *)model;
    req->model_len = model_len;
    req->input = model + model_len;
    req->input_len = len - FG_REQUEST_HEADER_LEN - model_len;
    *why = "";
    return 0;
}

void fg_codec_write_hint(uint8_t out[FG_HINT_LEN], const fg_hint *h) {
    out[0] = FG_MSG_HINT;
    out[1] = 0;
    fg_put_u16le(out + 2, h->healthy);
    fg_put_u32le(out + 4, h->fps_milli);
    fg_put_u32le(out + 8, h->queue_wait_us);
    fg_put_u32le(out + 12, 0);
}

void fg_codec_write_reply_header(uint8_t out[FG_REPLY_HEADER_LEN], const fg_reply_header *h) {
    out[0] = h->type;
    out[1] = h->backend_len;
    fg_put_u16le(out + 2, h->status);
    fg_put_u32le(out + 4, h->request_id);
    fg_put_u32le(out + 8, h->frame);
    fg_put_u32le(out + 12, h->grpc_us);
    fg_put_u32le(out + 16, h->total_us);
    fg_put_u16le(out + 20, h->width);
    fg_put_u16le(out + 22, h->height);
    out[24] = h->format;
    out[25] = h->attempts;
    fg_put_u16le(out + 26, 0);
}
