#include "fg_cache_codec.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "fg_err.h"

#define MAGIC "FGC1"
#define FORMAT_MAX 4 /* IMAGE_FORMAT_PNG */

void fg_cache_key(const char *model, size_t model_len, const uint8_t *input, size_t input_len,
                  uint8_t digest[FG_CACHE_DIGEST_LEN]) {
    uint8_t len_byte = (uint8_t)model_len;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    /* Only out of memory makes these fail: the project's policy is to abort then. */
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, &len_byte, 1) != 1 || EVP_DigestUpdate(ctx, model, model_len) != 1 ||
        (input_len && EVP_DigestUpdate(ctx, input, input_len) != 1) ||
        EVP_DigestFinal_ex(ctx, digest, NULL) != 1)
        abort();
    EVP_MD_CTX_free(ctx);
}

size_t fg_cache_key_text(const uint8_t digest[FG_CACHE_DIGEST_LEN],
                         char out[FG_CACHE_KEY_TEXT_LEN]) {
    static const char hex[] = "0123456789abcdef";
    size_t n = sizeof FG_CACHE_KEY_PREFIX - 1;
    memcpy(out, FG_CACHE_KEY_PREFIX, n);
    for (size_t i = 0; i < FG_CACHE_DIGEST_LEN; i++) {
        out[n++] = hex[digest[i] >> 4];
        out[n++] = hex[digest[i] & 15];
    }
    out[n] = '\0';
    return n;
}

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void fg_cache_value_header(const fg_cache_value *v, uint8_t out[FG_CACHE_VALUE_HEADER_LEN]) {
    memcpy(out, MAGIC, 4);
    out[4] = v->format;
    out[5] = 0;
    put16(out + 6, v->width);
    put16(out + 8, v->height);
    put16(out + 10, 0);
    put32(out + 12, (uint32_t)v->image_len);
}

bool fg_cache_value_storable(uint8_t format, uint32_t width, uint32_t height, size_t image_len,
                             size_t max_image) {
    if (format < 1 || format > FORMAT_MAX || width < 1 || width > UINT16_MAX || height < 1 ||
        height > UINT16_MAX || image_len > max_image || image_len > UINT32_MAX)
        return false;
    size_t pixels = (size_t)width * height;
    if (format == 1) /* RGB24 */
        return image_len == pixels * 3;
    if (format == 2) /* RGBA32 */
        return image_len == pixels * 4;
    return image_len > 0; /* JPEG, PNG: any non-empty length */
}

int fg_cache_value_parse(const uint8_t *data, size_t len, size_t max_image, fg_cache_value *out) {
    if (len < FG_CACHE_VALUE_HEADER_LEN || memcmp(data, MAGIC, 4) != 0 || data[5] != 0 ||
        get16(data + 10) != 0)
        return FG_ERR_PROTO;
    uint32_t image_len = get32(data + 12);
    if (image_len != len - FG_CACHE_VALUE_HEADER_LEN)
        return FG_ERR_PROTO;
    if (image_len > max_image)
        return FG_ERR_TOO_BIG;
    fg_cache_value v = {
        .format = data[4],
        .width = get16(data + 6),
        .height = get16(data + 8),
        .image = data + FG_CACHE_VALUE_HEADER_LEN,
        .image_len = image_len,
    };
    if (!fg_cache_value_storable(v.format, v.width, v.height, v.image_len, max_image))
        return FG_ERR_PROTO;
    *out = v;
    return 0;
}
