#include "fg_codec.h"

#include <stdbool.h>
#include <string.h>

#include "fg_err.h"

static uint32_t get_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get_u16le(const uint8_t *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}

static void put_u16le(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32le(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/*
 * The model name becomes a protobuf string, which backends (grpcio, grpc-js) reject when it is
 * not UTF-8: that would look like a backend fault, so it is refused here as the request's fault.
 * Strict RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF.
 */
static bool is_utf8(const uint8_t *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t n;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            return false;
        }
        if (len - i - 1 < n)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return false;
        i += n + 1;
    }
    return true;
}

int fg_codec_parse_request(const uint8_t *msg, size_t len, fg_render_request *req,
                           const char **why) {
    memset(req, 0, sizeof(*req));
    if (len >= 8)
        req->request_id = get_u32le(msg + 4);
    if (len >= FG_REQUEST_HEADER_LEN)
        req->frame = get_u32le(msg + 8);
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
    uint16_t flags = get_u16le(msg + 2);
    if (flags & ~FG_FLAG_LATEST) {
        *why = "unknown flags (only bit 0, LATEST, is defined)";
        return FG_ERR_INVALID;
    }
    req->flags = flags;
    const uint8_t *model = msg + FG_REQUEST_HEADER_LEN;
    if (!is_utf8(model, model_len)) {
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
    put_u16le(out + 2, h->healthy);
    put_u32le(out + 4, h->fps_milli);
    put_u32le(out + 8, h->queue_wait_us);
    put_u32le(out + 12, 0);
}

void fg_codec_write_reply_header(uint8_t out[FG_REPLY_HEADER_LEN], const fg_reply_header *h) {
    out[0] = h->type;
    out[1] = h->backend_len;
    put_u16le(out + 2, h->status);
    put_u32le(out + 4, h->request_id);
    put_u32le(out + 8, h->frame);
    put_u32le(out + 12, h->grpc_us);
    put_u32le(out + 16, h->total_us);
    put_u16le(out + 20, h->width);
    put_u16le(out + 22, h->height);
    out[24] = h->format;
    out[25] = h->attempts;
    put_u16le(out + 26, 0);
}
