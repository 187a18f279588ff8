#include "fg_buf.h"

#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_err.h"

#define FG_BUF_MIN_CAP 256

void fg_buf_init(fg_buf *b, size_t max) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

int fg_buf_reserve(fg_buf *b, size_t n) {
    if (n > b->max - b->len)
        return FG_ERR_TOO_BIG;
    size_t need = b->len + n;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : FG_BUF_MIN_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max)
        cap = b->max;
    b->data = fg_realloc(b->data, cap);
    b->cap = cap;
    return 0;
}

int fg_buf_append(fg_buf *b, const void *p, size_t n) {
    int rv = fg_buf_reserve(b, n);
    if (rv < 0)
        return rv;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void fg_buf_consume(fg_buf *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void fg_buf_reset(fg_buf *b) {
    b->len = 0;
}

void fg_buf_free(fg_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
