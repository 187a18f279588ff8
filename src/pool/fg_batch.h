/*
 * fg_batch: the RenderBatch messages of the pool's dynamic batching (internal to src/pool; no
 * I/O). A RenderBatchRequest is its RenderRequests as repeated field 1, so one is built from the
 * frames' already packed requests without unpacking them; a RenderBatchReply is unpacked by
 * protobuf-c and checked to answer exactly the frames asked.
 */
#ifndef FG_BATCH_H
#define FG_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "framegate/v1/frames.pb-c.h"

/* Bytes fg_batch_encode writes for requests of these lengths. */
size_t fg_batch_encoded_len(const size_t *lens, size_t n);
/* Writes the RenderBatchRequest of reqs[i] (lens[i] bytes each, packed RenderRequests) into out
 * (fg_batch_encoded_len bytes); returns the bytes written. */
size_t fg_batch_encode(const uint8_t *const *reqs, const size_t *lens, size_t n, uint8_t *out);

/* Unpacks a RenderBatchReply that must hold exactly n replies: 0 and *out (the caller frees it
 * with framegate__v1__render_batch_reply__free_unpacked), or FG_ERR_PROTO. */
int fg_batch_decode(const uint8_t *buf, size_t len, size_t n,
                    Framegate__V1__RenderBatchReply **out);

#endif
