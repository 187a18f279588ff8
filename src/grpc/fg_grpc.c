#include "fg_grpc.h"

#include <string.h>

#include "fg_err.h"

void fg_grpc_prefix_write(uint8_t out[FG_GRPC_PREFIX_LEN], uint32_t len) {
    out[0] = 0;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
}

void fg_grpc_reader_init(fg_grpc_reader *r, uint32_t max_len) {
    fg_buf_init(&r->msg, max_len);
    r->prefix_len = 0;
    r->expect = 0;
    r->done = false;
}

static int parse_prefix(fg_grpc_reader *r) {
    if (r->prefix[0] == 1)
        return FG_ERR_COMPRESSED;
    if (r->prefix[0] != 0)
        return FG_ERR_PROTO;
    r->expect = (uint32_t)r->prefix[1] << 24 | (uint32_t)r->prefix[2] << 16 |
                (uint32_t)r->prefix[3] << 8 | (uint32_t)r->prefix[4];
    if (r->expect > r->msg.max)
        return FG_ERR_TOO_BIG;
    /* One allocation of the announced size, bounded above. */
    return fg_buf_reserve(&r->msg, r->expect);
}

int fg_grpc_reader_feed(fg_grpc_reader *r, const uint8_t *data, size_t len) {
    while (len > 0) {
        if (r->done)
            return FG_ERR_PROTO; /* unary: nothing may follow the one message */
        if (r->prefix_len < FG_GRPC_PREFIX_LEN) {
            size_t n = FG_GRPC_PREFIX_LEN - r->prefix_len;
            if (n > len)
                n = len;
            memcpy(r->prefix + r->prefix_len, data, n);
            r->prefix_len += n;
            data += n;
            len -= n;
            if (r->prefix_len < FG_GRPC_PREFIX_LEN)
                return 0;
            int rv = parse_prefix(r);
            if (rv < 0)
                return rv;
        }
        size_t n = r->expect - r->msg.len;
        if (n > len)
            n = len;
        int rv = fg_buf_append(&r->msg, data, n);
        if (rv < 0)
            return rv;
        data += n;
        len -= n;
        r->done = r->msg.len == r->expect;
    }
    if (r->prefix_len == FG_GRPC_PREFIX_LEN && r->msg.len == r->expect)
        r->done = true;
    return 0;
}

void fg_grpc_reader_reset(fg_grpc_reader *r) {
    fg_buf_reset(&r->msg);
    r->prefix_len = 0;
    r->expect = 0;
    r->done = false;
}

bool fg_grpc_reader_done(const fg_grpc_reader *r) {
    return r->done;
}

int fg_grpc_reader_finish(fg_grpc_reader *r, const uint8_t **msg, size_t *len) {
    if (r->prefix_len == 0)
        return FG_ERR_AGAIN;
    if (!r->done)
        return FG_ERR_PROTO;
    *msg = r->msg.data;
    *len = r->msg.len;
    return 0;
}

void fg_grpc_reader_free(fg_grpc_reader *r) {
    fg_buf_free(&r->msg);
}
