/*
 * fg_timeout: the grpc-timeout header ("TimeoutValue TimeoutUnit": at most 8 ASCII digits and
 * one of H M S m u n).
 */
#ifndef FG_TIMEOUT_H
#define FG_TIMEOUT_H

#include <stddef.h>
#include <stdint.h>

#define FG_TIMEOUT_STRLEN 10 /* 8 digits + unit + NUL */

/* Parses s[0..len); 0 with *out_us set (rounded up to whole microseconds), or FG_ERR_INVALID. */
int fg_timeout_parse(const char *s, size_t len, uint64_t *out_us);
/*
 * Formats us as the shortest exact-or-larger value that fits 8 digits (in u, m, S, M or H).
 * Writes a NUL-terminated string to out and returns its length.
 */
size_t fg_timeout_format(uint64_t us, char out[FG_TIMEOUT_STRLEN]);

#endif
