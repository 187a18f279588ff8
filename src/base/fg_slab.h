/*
 * fg_slab: one loop's cache of the small heap blocks it allocates and frees for every frame
 * (nghttp2's streams, frames and header buffers, the unpacked RenderReply, ...).
 *
 * A block of up to FG_SLAB_BLOCK_MAX bytes is rounded up to a power-of-two size class; once
 * released it goes on its class's free list, and the next allocation of that class takes it
 * back (last in, first out: the block most likely still in cache). glibc's own per-thread cache
 * keeps 7 blocks a size, fewer than a loop with 100 frames in flight cycles through, and then
 * takes its slower paths. The lists keep at most keep_bytes in all; past that, and for larger
 * blocks, memory goes back to the heap at once. Out-of-memory policy: fg_alloc's (abort).
 *
 * Not thread-safe: one slab per loop, used from the loop's thread only (or before it runs).
 * fg_slab_free() frees the cached blocks; every block must have been released by then.
 */
#ifndef FG_SLAB_H
#define FG_SLAB_H

#include <stddef.h>

#define FG_SLAB_BLOCK_MAX 4096 /* larger blocks are plain heap blocks */
/* What a loop's slab keeps on its lists: some thousand frames' worth of blocks in flight. */
#define FG_SLAB_KEEP_DEFAULT (4u << 20)

typedef struct fg_slab fg_slab;

fg_slab *fg_slab_new(size_t keep_bytes);
void fg_slab_free(fg_slab *s);

/* Like malloc, calloc, realloc and free, for blocks of slab s (any size). */
void *fg_slab_alloc(fg_slab *s, size_t size);
void *fg_slab_calloc(fg_slab *s, size_t nmemb, size_t size);
void *fg_slab_realloc(fg_slab *s, void *ptr, size_t size);
void fg_slab_release(fg_slab *s, void *ptr);

/* Blocks allocated and not yet released (for tests and the leak check at fg_slab_free). */
size_t fg_slab_outstanding(const fg_slab *s);

#endif
