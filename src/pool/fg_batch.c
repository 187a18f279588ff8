#include "fg_batch.h"

#include <string.h>

#include "fg_err.h"

#define FIELD_REQUESTS 0x0A /* field 1, length-delimited */

static size_t varint_len(size_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t put_varint(uint8_t *out, size_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

size_t fg_batch_encoded_len(const size_t *lens, size_t n) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += 1 + varint_len(lens[i]) + lens[i];
    return total;
}

size_t fg_batch_encode(const uint8_t *const *reqs, const size_t *lens, size_t n, uint8_t *out) {
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        out[off++] = FIELD_REQUESTS;
        off += put_varint(out + off, lens[i]);
        memcpy(out + off, reqs[i], lens[i]);
        off += lens[i];
    }
    return off;
}

int fg_batch_decode(const uint8_t *buf, size_t len, size_t n,
                    Framegate__V1__RenderBatchReply **out) {
    Framegate__V1__RenderBatchReply *r = framegate__v1__render_batch_reply__unpack(NULL, len, buf);
    if (!r)
        return FG_ERR_PROTO;
    if (r->n_replies != n) {
        framegate__v1__render_batch_reply__free_unpacked(r, NULL);
        return FG_ERR_PROTO;
    }
    *out = r;
    return 0;
}
