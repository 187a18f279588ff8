/*
 * fuzz_codec: the client's 12-byte RENDER request header (src/wire/fg_codec). The fuzz input
 * is one whole WebSocket binary message, as the session hands it to the parser.
 *
 * An abort() here is a bug: a request accepted whose model or input points outside the message,
 * a model name that is empty, longer than 255 or not UTF-8 (checked independently below), an
 * ERROR without a reason, or request_id/frame not echoed as the contract says.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fg_codec.h"
#include "fg_err.h"

static uint32_t u32le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A second, deliberately different UTF-8 check: decode code points and judge them. */
static bool utf8_ok(const uint8_t *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n;
        if (s[i] < 0x80) {
            cp = s[i];
            n = 0;
        } else if ((s[i] & 0xE0) == 0xC0) {
            cp = s[i] & 0x1F;
            n = 1;
        } else if ((s[i] & 0xF0) == 0xE0) {
            cp = s[i] & 0x0F;
            n = 2;
        } else if ((s[i] & 0xF8) == 0xF0) {
            cp = s[i] & 0x07;
            n = 3;
        } else {
            return false;
        }
        if (n > len - i - 1)
            return false; /* cut sequence */
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        static const uint32_t min_cp[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

static void check_reply_header(uint32_t request_id, uint32_t frame, uint8_t x) {
    fg_reply_header h = {
        .type = FG_MSG_ERROR,
        .backend_len = x,
        .status = (uint16_t)(x * 257),
        .request_id = request_id,
        .frame = frame,
        .grpc_us = request_id ^ frame,
        .total_us = ~frame,
        .width = x,
        .height = (uint16_t)~x,
        .format = x,
        .attempts = (uint8_t)~x,
    };
    uint8_t out[FG_REPLY_HEADER_LEN];
    memset(out, 0xAA, sizeof out);
    fg_codec_write_reply_header(out, &h);
    if (out[0] != FG_MSG_ERROR || out[1] != x || u32le(out + 4) != request_id ||
        u32le(out + 8) != frame || u32le(out + 12) != (request_id ^ frame) ||
        u32le(out + 16) != ~frame || out[24] != x || out[26] != 0 || out[27] != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* An exact-size heap copy, so ASan catches any read past the message. */
    uint8_t *msg = malloc(size ? size : 1);
    memcpy(msg, data, size);

    fg_render_request req;
    const char *why = NULL;
    int rv = fg_codec_parse_request(msg, size, &req, &why);
    if (why == NULL)
        abort();
    if (req.request_id != (size >= 8 ? u32le(msg + 4) : 0))
        abort();
    if (req.frame != (size >= 12 ? u32le(msg + 8) : 0))
        abort();

    if (rv == 0) {
        /* v1.1: bit 0 of the flags is LATEST; every other bit must be 0. */
        if (size < FG_REQUEST_HEADER_LEN || msg[0] != FG_MSG_RENDER || (msg[2] & ~FG_FLAG_LATEST) ||
            msg[3] || req.flags != (uint16_t)(msg[2] | msg[3] << 8))
            abort();
        if (req.model_len == 0 || req.model_len != msg[1])
            abort();
        if ((const uint8_t *)req.model != msg + FG_REQUEST_HEADER_LEN)
            abort();
        if (req.input != msg + FG_REQUEST_HEADER_LEN + req.model_len ||
            req.input + req.input_len != msg + size)
            abort();
        if (!utf8_ok((const uint8_t *)req.model, req.model_len))
            abort();
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < req.input_len; i++)
            sink ^= req.input[i];
        (void)sink;
    } else {
        if (rv != FG_ERR_INVALID || why[0] == '\0')
            abort();
        /* Rejected though well-formed: only a bad model name may explain it. */
        if (size >= FG_REQUEST_HEADER_LEN && msg[0] == FG_MSG_RENDER && msg[1] != 0 &&
            msg[1] <= size - FG_REQUEST_HEADER_LEN && !(msg[2] & ~FG_FLAG_LATEST) && !msg[3] &&
            utf8_ok(msg + FG_REQUEST_HEADER_LEN, msg[1]))
            abort();
    }
    check_reply_header(req.request_id, req.frame, size ? msg[0] : 0);
    free(msg);
    return 0;
}
