#include "fg_reply.h"

#include <string.h>

#include "fg_err.h"

#define IMAGE_FIELD 2
#define OTHER_FIELDS_MAX 256 /* frame, format, width, height, inference_us: ~30 bytes */

enum { WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_LEN = 2, WIRE_FIXED32 = 5 };

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return true;
        }
    }
    return false;
}

/* Skips one field's value of the given wire type; false when malformed or unexpected. */
static bool skip_value(const uint8_t **p, const uint8_t *end, unsigned wire, uint64_t *len_out) {
    uint64_t n;
    switch (wire) {
    case WIRE_VARINT:
        return read_varint(p, end, &n);
    case WIRE_FIXED64:
    case WIRE_FIXED32: {
        size_t size = wire == WIRE_FIXED64 ? 8 : 4;
        if ((size_t)(end - *p) < size)
            return false;
        *p += size;
        return true;
    }
    case WIRE_LEN:
        if (!read_varint(p, end, &n) || n > (uint64_t)(end - *p))
            return false;
        *len_out = n;
        *p += n;
        return true;
    default:
        return false; /* groups are not in RenderReply: protobuf-c decides */
    }
}

/* Copies every field but the image into rest; points *image at the last image field's bytes. */
static bool split_image(const uint8_t *buf, size_t len, uint8_t *rest, size_t *rest_len,
                        const uint8_t **image, size_t *image_len) {
    const uint8_t *p = buf, *end = buf + len;
    *rest_len = 0;
    *image = NULL;
    *image_len = 0;
    while (p < end) {
        const uint8_t *field = p;
        uint64_t key, n = 0;
        if (!read_varint(&p, end, &key) || !skip_value(&p, end, (unsigned)(key & 7), &n))
            return false;
        if ((key >> 3) == IMAGE_FIELD && (key & 7) == WIRE_LEN) {
            *image = p - n;
            *image_len = (size_t)n;
            continue;
        }
        size_t field_len = (size_t)(p - field);
        if (field_len > OTHER_FIELDS_MAX - *rest_len)
            return false;
        memcpy(rest + *rest_len, field, field_len);
        *rest_len += field_len;
    }
    return true;
}

static void *slab_alloc(void *slab, size_t size) {
    return fg_slab_alloc(slab, size);
}

static void slab_free(void *slab, void *ptr) {
    fg_slab_release(slab, ptr);
}

int fg_reply_unpack(fg_reply *r, const uint8_t *buf, size_t len, fg_slab *slab) {
    uint8_t rest[OTHER_FIELDS_MAX] = {0};
    size_t rest_len, image_len;
    const uint8_t *image;
    r->image_borrowed = false;
    r->heap = (ProtobufCAllocator){.alloc = slab_alloc, .free = slab_free, .allocator_data = slab};
    ProtobufCAllocator *heap = slab ? &r->heap : NULL;
    if (!split_image(buf, len, rest, &rest_len, &image, &image_len)) {
        r->msg = framegate__v1__render_reply__unpack(heap, len, buf);
        return r->msg ? 0 : FG_ERR_PROTO;
    }
    r->msg = framegate__v1__render_reply__unpack(heap, rest_len, rest);
    if (!r->msg)
        return FG_ERR_PROTO;
    if (image) {
        r->msg->image.data = (uint8_t *)image;
        r->msg->image.len = image_len;
        r->image_borrowed = true;
    }
    return 0;
}

void fg_reply_free(fg_reply *r) {
    if (!r->msg)
        return;
    if (r->image_borrowed) {
        r->msg->image.data = NULL; /* not protobuf-c's to free */
        r->msg->image.len = 0;
    }
    framegate__v1__render_reply__free_unpacked(r->msg, r->heap.allocator_data ? &r->heap : NULL);
    r->msg = NULL;
}
