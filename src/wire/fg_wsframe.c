#include "fg_wsframe.h"

#include <string.h>

#include "fg_err.h"

int fg_wsframe_parse(const uint8_t *p, size_t len, fg_wsframe *f) {
    if (len < 2)
        return FG_ERR_AGAIN;
    f->fin = (p[0] & 0x80) != 0;
    f->rsv = (p[0] >> 4) & 0x07;
    f->opcode = p[0] & 0x0F;
    f->masked = (p[1] & 0x80) != 0;
    uint64_t n = p[1] & 0x7F;
    size_t h = 2;
    if (n == 126) {
        if (len < 4)
            return FG_ERR_AGAIN;
        n = (uint64_t)p[2] << 8 | p[3];
        if (n < 126)
            return FG_ERR_PROTO;
        h = 4;
    } else if (n == 127) {
        if (len < 10)
            return FG_ERR_AGAIN;
        n = 0;
        for (int i = 2; i < 10; i++)
            n = n << 8 | p[i];
        if (n <= UINT16_MAX || n >> 63)
            return FG_ERR_PROTO;
        h = 10;
    }
    memset(f->mask, 0, sizeof f->mask);
    if (f->masked) {
        if (len < h + 4)
            return FG_ERR_AGAIN;
        memcpy(f->mask, p + h, 4);
        h += 4;
    }
    f->payload_len = n;
    f->header_len = h;
    return 0;
}

void fg_wsframe_unmask(uint8_t *p, size_t len, const uint8_t mask[4]) {
    /* Eight bytes at a time: the key repeated twice is the mask of any 8-byte run that starts
     * at a multiple of 4 from p (memcpy keeps unaligned loads legal). */
    uint8_t key8[8];
    memcpy(key8, mask, 4);
    memcpy(key8 + 4, mask, 4);
    uint64_t k;
    memcpy(&k, key8, 8);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        v ^= k;
        memcpy(p + i, &v, 8);
    }
    for (; i < len; i++)
        p[i] ^= mask[i & 3];
}
