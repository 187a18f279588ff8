/*
 * fg_cache: the frame cache, a layer between the front end and the pool with the pool's own
 * submit/cancel contract, so the session uses one or the other the same way.
 *
 * A frame of a model the pool says is cacheable (fg_pool_model_cacheable: ListModels) is looked
 * up by its key (fg_cache_codec: SHA-256 of model and input) in the in-process LRU
 * (fg_cache_mem), then in Redis (fg_cache_redis, within budget_us); a hit is answered as a FRAME
 * from backend "cache", attempts 0, grpc_us 0 (contract section 2). On a miss the frame goes to
 * the pool; its FRAME is stored in both tiers (unless over max_item_bytes) and passed on as the
 * backend sent it. Identical frames arriving while one is looked up or rendered wait for it and
 * get its image (coalescing: one render; each still gets exactly one reply); a waiter goes to the
 * pool itself if that one fails or is cancelled, and a frame whose deadline ends before the one
 * in flight does not wait for it. The cache never costs a frame: a Redis that is down, slow,
 * full or answering garbage is a miss. Frames of other models pass straight to the pool.
 *
 * Frames looked up or waiting here are not in the pool's queues: a LATEST request does not
 * supersede them (their render is already under way, or they are answered within the budget).
 *
 * One cache per loop (per worker), on that loop's thread; it borrows the pool, which must
 * outlive it. Counters go to fg_stats (FG_STATS_CACHE).
 */
#ifndef FG_CACHE_H
#define FG_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "fg_pool.h"

typedef struct fg_cache_config {
    uint64_t mem_bytes;      /* the in-process tier's budget; 0: no such tier */
    const char *redis_url;   /* redis://HOST:PORT[/DB]; NULL: no Redis tier; copied */
    uint32_t ttl_s;          /* expiry of what is stored in Redis */
    uint32_t budget_us;      /* a Redis lookup's budget; past it the frame goes to the pool */
    uint32_t max_item_bytes; /* larger images are not stored */
    uint32_t deadline_ms;    /* the frames' deadline when the request gives none (the pool's) */
} fg_cache_config;

typedef struct fg_cache fg_cache;
typedef struct fg_cache_call fg_cache_call;

/* 0 and *out, or FG_ERR_INVALID (a bad redis_url; logged). A cache without tiers passes every
 * frame to the pool. */
int fg_cache_new(uv_loop_t *loop, fg_pool *pool, const fg_cache_config *cfg, fg_cache **out);
/* Closes the Redis connection and frees the cache; closed_cb(arg) (may be NULL) runs from a
 * later loop iteration. Every call must have ended or been cancelled before. */
void fg_cache_close(fg_cache *c, void (*closed_cb)(void *arg), void *arg);

/* As fg_pool_submit (same results, same callback rules: exactly once, never from inside this
 * function, not after fg_cache_call_cancel); the result of a hit has backend "cache". */
int fg_cache_submit(fg_cache *c, fg_flow *flow, const fg_frame_request *req, fg_frame_done_cb cb,
                    void *user, fg_cache_call **out);
/* The caller went away: its callback will not be called. */
void fg_cache_call_cancel(fg_cache_call *call);

/* Whether any tier is configured. */
bool fg_cache_enabled(const fg_cache *c);

#endif
