/*
 * fg_cache_mem: the in-process tier of the frame cache: an LRU of images under a byte budget,
 * and the image item it (and the rest of the cache) hands around.
 *
 * An item is immutable once made and reference-counted: the LRU holds one reference, and
 * whoever got it from fg_cache_mem_get or made it holds another until fg_cache_item_unref, so
 * an item evicted while a reply is built from it stays valid. Single-threaded: one LRU per loop
 * (with --workers N, each worker has its own with its share of --cache-mem).
 */
#ifndef FG_CACHE_MEM_H
#define FG_CACHE_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fg_cache_codec.h"

typedef struct fg_cache_item fg_cache_item;
struct fg_cache_item {
    uint32_t refs;
    uint8_t digest[FG_CACHE_DIGEST_LEN];
    uint8_t format;
    uint16_t width, height;
    size_t len;
    fg_cache_item *fg__lru_prev, *fg__lru_next, *fg__hnext; /* the LRU's */
    uint8_t image[];
};

/* A new item holding a copy of image (len bytes), one reference held by the caller. */
fg_cache_item *fg_cache_item_new(const uint8_t digest[FG_CACHE_DIGEST_LEN], uint8_t format,
                                 uint16_t width, uint16_t height, const uint8_t *image, size_t len);
fg_cache_item *fg_cache_item_ref(fg_cache_item *item);
void fg_cache_item_unref(fg_cache_item *item);
/* What an item costs against the budget (its image and its bookkeeping). */
size_t fg_cache_item_cost(const fg_cache_item *item);

typedef struct fg_cache_mem fg_cache_mem;

/* max_bytes > 0. */
fg_cache_mem *fg_cache_mem_new(uint64_t max_bytes);
/* Drops every item (items still referenced elsewhere live on) and frees the LRU. */
void fg_cache_mem_free(fg_cache_mem *m);

/* The item for digest, made most recently used, with a reference for the caller; or NULL. */
fg_cache_item *fg_cache_mem_get(fg_cache_mem *m, const uint8_t digest[FG_CACHE_DIGEST_LEN]);
/* Keeps item (takes a reference of its own), replacing one of the same digest, and evicts the
 * least recently used ones while over the budget. An item larger than the whole budget is not
 * kept: returns false. */
bool fg_cache_mem_put(fg_cache_mem *m, fg_cache_item *item);

uint64_t fg_cache_mem_bytes(const fg_cache_mem *m);
size_t fg_cache_mem_items(const fg_cache_mem *m);

#endif
