/*
 * fuzz_wsframe: the frame header reader and the masking of src/wire/fg_wsframe, which fg_ws's
 * frame-level receive path trusts with every client frame it takes from wslay. The fuzz input
 * is bytes where a frame starts.
 *
 * abort() on: an accepted header that is not exactly the input's first header_len bytes as RFC
 * 6455 5.2 lays its fields out in the shortest length encoding (re-encoded independently below),
 * FG_ERR_PROTO for a length that is in its shortest encoding (and not 64 bits with the top bit
 * set), a result that is not "incomplete" for every shorter prefix and the same for every
 * longer one; a payload unmasked otherwise than byte by byte, or masked twice not back as it was.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fg_err.h"
#include "fg_wsframe.h"

/* The header RFC 6455 5.2 gives these fields; returns its length. */
static size_t encode(const fg_wsframe *f, uint8_t out[FG_WSFRAME_HEADER_MAX]) {
    size_t n = 0;
    out[n++] = (uint8_t)((f->fin ? 0x80 : 0) | f->rsv << 4 | f->opcode);
    uint8_t m = f->masked ? 0x80 : 0;
    if (f->payload_len < 126) {
        out[n++] = (uint8_t)(m | f->payload_len);
    } else if (f->payload_len < 65536) {
        out[n++] = m | 126;
        out[n++] = (uint8_t)(f->payload_len >> 8);
        out[n++] = (uint8_t)f->payload_len;
    } else {
        out[n++] = m | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (uint8_t)(f->payload_len >> (8 * i));
    }
    if (f->masked) {
        memcpy(out + n, f->mask, 4);
        n += 4;
    }
    return n;
}

static bool same(const fg_wsframe *a, const fg_wsframe *b) {
    return a->fin == b->fin && a->rsv == b->rsv && a->opcode == b->opcode &&
           a->masked == b->masked && memcmp(a->mask, b->mask, 4) == 0 &&
           a->payload_len == b->payload_len && a->header_len == b->header_len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fg_wsframe f;
    int r = fg_wsframe_parse(data, size, &f);
    if (r != 0 && r != FG_ERR_AGAIN && r != FG_ERR_PROTO)
        abort();
    /* Every prefix: incomplete until some length, then this very result. */
    size_t upto = size < FG_WSFRAME_HEADER_MAX + 1 ? size : FG_WSFRAME_HEADER_MAX + 1;
    bool settled = false;
    for (size_t k = 0; k <= upto; k++) {
        fg_wsframe g;
        int rk = fg_wsframe_parse(data, k, &g);
        if (rk == FG_ERR_AGAIN) {
            if (settled || (r == 0 && k >= f.header_len))
                abort();
            continue;
        }
        settled = true;
        if (rk != r || (r == 0 && !same(&f, &g)))
            abort();
        if (r == 0 && k < f.header_len)
            abort();
    }
    if (r == FG_ERR_AGAIN && size >= FG_WSFRAME_HEADER_MAX)
        abort(); /* a whole header was in hand */
    if (r == FG_ERR_PROTO) {
        /* Only a 16- or 64-bit length that is not the shortest, or has the top bit set. */
        uint8_t b1 = data[1] & 0x7F;
        uint64_t n = 0;
        if (b1 == 126)
            n = (uint64_t)data[2] << 8 | data[3];
        else if (b1 == 127)
            for (int i = 2; i < 10; i++)
                n = n << 8 | data[i];
        else
            abort();
        if ((b1 == 126 && n >= 126) || (b1 == 127 && n > 65535 && !(n >> 63)))
            abort();
    }
    if (r != 0)
        return 0;
    uint8_t head[FG_WSFRAME_HEADER_MAX];
    size_t h = encode(&f, head);
    if (h != f.header_len || h > size || memcmp(head, data, h) != 0 || f.rsv > 7 || f.opcode > 15 ||
        (!f.masked && memcmp(f.mask, "\0\0\0\0", 4) != 0))
        abort();

    /* The payload bytes in hand, unmasked from an odd address (unaligned) and back. */
    size_t n = size - h < f.payload_len ? size - h : (size_t)f.payload_len;
    uint8_t *buf = malloc(n + 1);
    if (!buf)
        abort();
    uint8_t *p = buf + 1;
    memcpy(p, data + h, n);
    fg_wsframe_unmask(p, n, f.mask);
    for (size_t i = 0; i < n; i++)
        if (p[i] != (data[h + i] ^ f.mask[i % 4]))
            abort();
    fg_wsframe_unmask(p, n, f.mask);
    if (memcmp(p, data + h, n) != 0)
        abort();
    free(buf);
    return 0;
}
