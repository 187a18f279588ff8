/*
 * fuzz_cache: the frame cache's parsers of what comes from outside (src/cache): the value Redis
 * returns for a key (fg_cache_value_parse) and the --cache-redis URL (fg_cache_redis_parse_url).
 *
 * Input: byte 0 even: a value, byte 1 the image size limit (x 1 KiB, 0: 16 bytes), the rest the
 * value as Redis would return it; byte 0 odd: the rest is a URL.
 *
 * An abort() here is a bug: a value accepted whose image is not exactly the bytes after its
 * 16-byte header, over the limit, of an unknown format, of a raw format whose length does not
 * match its sides, or whose header does not encode back to the same bytes; a URL accepted
 * with an empty or unterminated host or a port of 0.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fg_cache_codec.h"
#include "fg_cache_redis.h"

static void check_value(const uint8_t *data, size_t len, size_t max_image) {
    fg_cache_value v;
    if (fg_cache_value_parse(data, len, max_image, &v) != 0)
        return;
    if (len < FG_CACHE_VALUE_HEADER_LEN || v.image != data + FG_CACHE_VALUE_HEADER_LEN ||
        v.image_len != len - FG_CACHE_VALUE_HEADER_LEN || v.image_len > max_image)
        abort();
    if (v.format < 1 || v.format > 4 || v.width == 0 || v.height == 0)
        abort();
    size_t pixels = (size_t)v.width * v.height;
    if ((v.format == 1 && v.image_len != pixels * 3) ||
        (v.format == 2 && v.image_len != pixels * 4))
        abort();
    uint8_t head[FG_CACHE_VALUE_HEADER_LEN];
    fg_cache_value_header(&v, head);
    if (memcmp(head, data, sizeof head) != 0)
        abort();
}

static void check_url(const uint8_t *data, size_t len) {
    char *url = malloc(len + 1);
    memcpy(url, data, len);
    url[len] = '\0';
    fg_redis_target t;
    if (fg_cache_redis_parse_url(url, &t) == 0) {
        size_t hl = strnlen(t.host, sizeof t.host);
        if (hl == 0 || hl == sizeof t.host || t.port == 0)
            abort();
    }
    free(url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    if (data[0] % 2 == 0)
        check_value(data + 2, size - 2, data[1] ? (size_t)data[1] * 1024 : 16);
    else
        check_url(data + 1, size - 1);
    return 0;
}
