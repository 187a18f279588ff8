/*
 * fg_utf8: strict UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF), the one check for model names (fg_codec) and WebSocket close reasons (fg_ws).
 */
#ifndef FG_UTF8_H
#define FG_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when s[0..len) is well-formed UTF-8 (empty is). */
bool fg_utf8_valid(const uint8_t *s, size_t len);

#endif
