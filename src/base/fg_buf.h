/*
 * fg_buf: a growable byte buffer with a hard size limit (after curl's dynbuf).
 *
 * The buffer owns its storage. `max` bounds len at all times; an append that would pass it
 * fails with FG_ERR_TOO_BIG and leaves the buffer unchanged. Storage grows geometrically and is
 * kept across fg_buf_reset() so a reused buffer stops allocating once warm.
 */
#ifndef FG_BUF_H
#define FG_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct fg_buf {
    uint8_t *data; /* NULL until the first append */
    size_t len;
    size_t cap;
    size_t max;
} fg_buf;

void fg_buf_init(fg_buf *b, size_t max);
/* 0, or FG_ERR_TOO_BIG when len + n would exceed max. */
int fg_buf_append(fg_buf *b, const void *p, size_t n);
/* Make room for n more bytes without changing len; 0 or FG_ERR_TOO_BIG. */
int fg_buf_reserve(fg_buf *b, size_t n);
/* Drop the first n bytes (n <= len), keeping the rest. */
void fg_buf_consume(fg_buf *b, size_t n);
/* len = 0; storage kept. */
void fg_buf_reset(fg_buf *b);
/* Releases the storage; the buffer may be reused after fg_buf_init(). */
void fg_buf_free(fg_buf *b);

#endif
