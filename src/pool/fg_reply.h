/*
 * fg_reply: a RenderReply unpacked without copying its image.
 *
 * protobuf-c's unpack copies every bytes field, which for a frame is a second copy of the whole
 * image. Here the message's top-level fields are walked (bounded by len) to find the image
 * (field 2, length-delimited; the last one wins, as protobuf merges), every other field is
 * unpacked by protobuf-c as usual, and image then points into the caller's buffer. A message
 * this walk does not expect (groups, malformed varints, more than a few hundred bytes of other
 * fields) is unpacked by protobuf-c whole, so the outcome never differs from plain unpack.
 */
#ifndef FG_REPLY_H
#define FG_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fg_slab.h"
#include "framegate/v1/frames.pb-c.h"

typedef struct fg_reply {
    Framegate__V1__RenderReply *msg;
    bool image_borrowed;     /* msg->image.data points into the caller's buffer */
    ProtobufCAllocator heap; /* protobuf-c's allocations: from the slab (or the heap) */
} fg_reply;

/* 0 with r->msg set (valid while buf is), or FG_ERR_PROTO (not a RenderReply). protobuf-c
 * allocates from slab (borrowed; NULL: the heap) until fg_reply_free. */
int fg_reply_unpack(fg_reply *r, const uint8_t *buf, size_t len, fg_slab *slab);
/* Frees r->msg (not the borrowed image). */
void fg_reply_free(fg_reply *r);

#endif
