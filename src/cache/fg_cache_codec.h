/*
 * fg_cache_codec: what the frame cache stores and under which name (pure, no I/O).
 *
 * Key: SHA-256 (OpenSSL libcrypto) of the model name's length (one byte), the model name and the
 * input, so no two (model, input) pairs share a digest; in Redis it is named
 * FG_CACHE_KEY_PREFIX + 64 hex digits. The prefix carries the format version: a change of the
 * value layout or of the key derivation bumps it, and old entries are simply never read again.
 *
 * Value: a 16-byte header, then the image bytes:
 *   0 "FGC1" magic | 4 u8 format (ImageFormat 1..4) | 5 u8 reserved 0 | 6 u16 width |
 *   8 u16 height | 10 u16 reserved 0 | 12 u32 image length | 16 image
 * little-endian. The parser trusts nothing (the bytes come from the network): every field is
 * checked, the length must match exactly, and an RGB24/RGBA32 image must be width*height*3/4
 * bytes. It is fuzzed (fuzz/fuzz_cache.c).
 */
#ifndef FG_CACHE_CODEC_H
#define FG_CACHE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FG_CACHE_DIGEST_LEN 32
#define FG_CACHE_KEY_PREFIX "fg:v1:"
/* The key's text: prefix + 64 hex digits + NUL. */
#define FG_CACHE_KEY_TEXT_LEN (sizeof FG_CACHE_KEY_PREFIX - 1 + 2 * FG_CACHE_DIGEST_LEN + 1)
#define FG_CACHE_VALUE_HEADER_LEN 16

/* digest = SHA-256(u8 model_len | model | input). model_len must be 1..255. */
void fg_cache_key(const char *model, size_t model_len, const uint8_t *input, size_t input_len,
                  uint8_t digest[FG_CACHE_DIGEST_LEN]);
/* The Redis key for a digest, NUL-terminated; returns its length (without the NUL). */
size_t fg_cache_key_text(const uint8_t digest[FG_CACHE_DIGEST_LEN],
                         char out[FG_CACHE_KEY_TEXT_LEN]);

/* What a value says. image points into the parsed bytes. */
typedef struct fg_cache_value {
    uint8_t format;
    uint16_t width, height;
    const uint8_t *image;
    size_t image_len;
} fg_cache_value;

/* Writes the 16-byte header for v (v->image not used) into out. */
void fg_cache_value_header(const fg_cache_value *v, uint8_t out[FG_CACHE_VALUE_HEADER_LEN]);
/* Whether an image of this shape may be stored at all (a known format, sides 1..65535, the
 * length a raw format implies, and at most max_image bytes). */
bool fg_cache_value_storable(uint8_t format, uint32_t width, uint32_t height, size_t image_len,
                             size_t max_image);
/* Parses data[0..len): 0 and *out, or FG_ERR_PROTO (malformed) or FG_ERR_TOO_BIG (an image over
 * max_image bytes). Never reads outside data. */
int fg_cache_value_parse(const uint8_t *data, size_t len, size_t max_image, fg_cache_value *out);

#endif
