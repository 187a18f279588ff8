#include "fg_cache.h"

#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_cache_codec.h"
#include "fg_cache_mem.h"
#include "fg_cache_redis.h"
#include "fg_clock.h"
#include "fg_err.h"
#include "fg_log.h"
#include "fg_counters.h"
#include "fg_status.h"

#define BACKEND_CACHE "cache"
#define BUCKETS 1024 /* of the frames looked up or rendered now: bounded by frames in flight */
#define MAX_REDIS_PENDING 4096
#define OVERLOADED "overloaded"
#define NO_BACKENDS "no backends available"

typedef struct entry entry;

typedef enum role {
    PASS,  /* not cacheable: the pool's call, passed through */
    SOLO,  /* renders on its own (an identical frame in flight ends too late for it) */
    LEAD,  /* renders for its entry */
    WAIT,  /* waits for its entry's lookup or render */
    READY, /* answered, its callback due from the ready timer */
} role;

struct fg_cache_call {
    fg_cache *cache;
    fg_cache_call *prev, *next; /* its entry's waiters, or the ready list */
    entry *entry;               /* LEAD, WAIT */
    fg_call *pc;                /* PASS, SOLO, LEAD: the pool's call */
    fg_flow *flow;
    fg_frame_done_cb cb;
    void *user;
    role role;
    uint64_t deadline_us;
    fg_cache_item *item; /* READY with an image */
    int status;          /* READY with an error */
    const char *message;
    uint8_t digest[FG_CACHE_DIGEST_LEN];
    uint32_t frame;
    uint8_t model_len;
    size_t input_len;
    uint8_t data[]; /* model, then input: for a pool call made later */
};

/* One key being looked up or rendered now. */
struct entry {
    fg_cache *cache;
    entry *hnext;
    uint8_t digest[FG_CACHE_DIGEST_LEN];
    fg_cache_call *leader;      /* its render's caller; NULL while looking up */
    fg_cache_call *head, *tail; /* waiters, in arrival order */
    fg_cache_redis_op *lookup;  /* the Redis GET in flight */
    uint64_t deadline_us;       /* the lookup's or leader's: a frame due earlier does not wait */
};

struct fg_cache {
    uv_loop_t *loop;
    fg_pool *pool;
    fg_cache_config cfg;
    fg_cache_mem *mem;     /* NULL: no such tier */
    fg_cache_redis *redis; /* NULL: no such tier */
    entry *buckets[BUCKETS];
    fg_cache_call *ready_head, *ready_tail;
    uv_timer_t ready_timer;
    uint64_t mem_bytes_reported, mem_items_reported;
    bool closing;
    int closing_parts;
    void (*closed_cb)(void *arg);
    void *closed_arg;
};

bool fg_cache_enabled(const fg_cache *c) {
    return c->mem || c->redis;
}

/* ---- bookkeeping ---- */

static void report_mem(fg_cache *c) {
    uint64_t bytes = fg_cache_mem_bytes(c->mem), items = fg_cache_mem_items(c->mem);
    fg_stats_cache_add(FG_CSTAT_memory_bytes, (int64_t)(bytes - c->mem_bytes_reported));
    fg_stats_cache_add(FG_CSTAT_memory_items, (int64_t)(items - c->mem_items_reported));
    c->mem_bytes_reported = bytes;
    c->mem_items_reported = items;
}

/* The tier is gone: what it reported is taken back. */
static void report_mem_gone(fg_cache *c) {
    fg_stats_cache_add(FG_CSTAT_memory_bytes, -(int64_t)c->mem_bytes_reported);
    fg_stats_cache_add(FG_CSTAT_memory_items, -(int64_t)c->mem_items_reported);
    fg_stats_cache_add(FG_CSTAT_memory_max_bytes, -(int64_t)c->cfg.mem_bytes);
    c->mem_bytes_reported = c->mem_items_reported = 0;
}

static entry **slot_of(fg_cache *c, const uint8_t *digest) {
    uint32_t h;
    memcpy(&h, digest, sizeof h);
    entry **p = &c->buckets[h % BUCKETS];
    while (*p && memcmp((*p)->digest, digest, FG_CACHE_DIGEST_LEN) != 0)
        p = &(*p)->hnext;
    return p;
}

static entry *entry_new(fg_cache *c, const uint8_t *digest, uint64_t deadline_us) {
    entry *e = fg_calloc(1, sizeof *e);
    e->cache = c;
    memcpy(e->digest, digest, FG_CACHE_DIGEST_LEN);
    e->deadline_us = deadline_us;
    entry **slot = slot_of(c, digest);
    e->hnext = *slot;
    *slot = e;
    return e;
}

static void entry_free(fg_cache *c, entry *e) {
    entry **p = slot_of(c, e->digest);
    while (*p != e)
        p = &(*p)->hnext;
    *p = e->hnext;
    if (e->lookup)
        fg_cache_redis_cancel(e->lookup);
    free(e);
}

static void add_waiter(entry *e, fg_cache_call *call) {
    call->role = WAIT;
    call->entry = e;
    call->next = NULL;
    call->prev = e->tail;
    if (e->tail)
        e->tail->next = call;
    else
        e->head = call;
    e->tail = call;
}

static void remove_waiter(entry *e, fg_cache_call *call) {
    if (call->prev)
        call->prev->next = call->next;
    else
        e->head = call->next;
    if (call->next)
        call->next->prev = call->prev;
    else
        e->tail = call->prev;
    call->prev = call->next = NULL;
    call->entry = NULL;
}

/* ---- answers given from here (hits, waiters, refusals): from the ready timer ---- */

static void on_ready_timer(uv_timer_t *t) {
    fg_cache *c = t->data;
    while (c->ready_head) {
        fg_cache_call *call = c->ready_head;
        c->ready_head = call->next;
        if (c->ready_head)
            c->ready_head->prev = NULL;
        else
            c->ready_tail = NULL;
        fg_frame_result res = {.status = call->status, .message = call->message};
        if (call->item) {
            res.status = FG_STATUS_OK;
            res.message = "";
            res.backend = BACKEND_CACHE;
            res.image = call->item->image;
            res.image_len = call->item->len;
            res.width = call->item->width;
            res.height = call->item->height;
            res.format = call->item->format;
        }
        call->cb(call->user, &res);
        fg_cache_item_unref(call->item);
        free(call);
    }
}

/* Answers call from the ready timer: with item (a reference is taken) or the error. */
static void make_ready(fg_cache *c, fg_cache_call *call, fg_cache_item *item, int status,
                       const char *message) {
    call->role = READY;
    call->item = item ? fg_cache_item_ref(item) : NULL;
    call->status = status;
    call->message = message;
    call->next = NULL;
    call->prev = c->ready_tail;
    if (c->ready_tail)
        c->ready_tail->next = call;
    else
        c->ready_head = call;
    c->ready_tail = call;
    if (!uv_is_active((uv_handle_t *)&c->ready_timer))
        uv_timer_start(&c->ready_timer, on_ready_timer, 0, 0);
}

static void unready(fg_cache *c, fg_cache_call *call) {
    if (call->prev)
        call->prev->next = call->next;
    else
        c->ready_head = call->next;
    if (call->next)
        call->next->prev = call->prev;
    else
        c->ready_tail = call->prev;
}

/* Every waiter of e gets item; e is freed. */
static void answer_all(fg_cache *c, entry *e, fg_cache_item *item) {
    while (e->head) {
        fg_cache_call *w = e->head;
        remove_waiter(e, w);
        make_ready(c, w, item, 0, NULL);
    }
    entry_free(c, e);
}

/* ---- storing ---- */

static void store(fg_cache *c, fg_cache_item *item) {
    bool stored = false;
    if (c->mem) {
        stored = fg_cache_mem_put(c->mem, item);
        report_mem(c);
    }
    if (c->redis && fg_cache_redis_up(c->redis)) {
        char key[FG_CACHE_KEY_TEXT_LEN];
        size_t key_len = fg_cache_key_text(item->digest, key);
        uint8_t head[FG_CACHE_VALUE_HEADER_LEN];
        fg_cache_value v = {item->format, item->width, item->height, NULL, item->len};
        fg_cache_value_header(&v, head);
        if (fg_cache_redis_set(c->redis, key, key_len, head, sizeof head, item->image, item->len,
                               c->cfg.ttl_s) == 0)
            stored = true;
        else
            fg_stats_cache_add(FG_CSTAT_errors, 1); /* too many commands outstanding */
    }
    if (stored)
        fg_stats_cache_add(FG_CSTAT_stores, 1);
}

/* ---- rendering through the pool ---- */

static void on_pool_done(void *user, const fg_frame_result *res);

/* Sends call's frame to the pool with what is left of its deadline. 0 or fg_pool_submit's
 * refusal (FG_ERR_BUSY also when nothing is left). */
static int start_render(fg_cache *c, fg_cache_call *call) {
    uint64_t now = fg_now_us();
    if (call->deadline_us <= now + 1000) {
        fg_stats_add(FG_STAT_frames_shed_total, 1);
        return FG_ERR_BUSY;
    }
    fg_frame_request req = {
        .model = (const char *)call->data,
        .model_len = call->model_len,
        .frame = call->frame,
        .input = call->data + call->model_len,
        .input_len = call->input_len,
        .deadline_ms = (uint32_t)((call->deadline_us - now) / 1000),
    };
    return fg_pool_submit(c->pool, call->flow, &req, on_pool_done, call, &call->pc);
}

static void refuse(fg_cache *c, fg_cache_call *call, int rc) {
    if (rc == FG_ERR_BUSY)
        make_ready(c, call, NULL, FG_STATUS_RESOURCE_EXHAUSTED, OVERLOADED);
    else
        make_ready(c, call, NULL, FG_STATUS_UNAVAILABLE, NO_BACKENDS);
}

/* e has no render (its lookup missed, or its leader failed or left): the waiter due first
 * renders for the others; refused ones are answered with the refusal. Frees e if none is left. */
static void promote(fg_cache *c, entry *e) {
    while (e->head) {
        fg_cache_call *w = e->head;
        for (fg_cache_call *x = w->next; x; x = x->next)
            if (x->deadline_us < w->deadline_us)
                w = x;
        remove_waiter(e, w);
        int rc = start_render(c, w);
        if (rc == 0) {
            w->role = LEAD;
            w->entry = e;
            e->leader = w;
            e->deadline_us = w->deadline_us;
            fg_stats_cache_add(FG_CSTAT_misses, 1);
            return;
        }
        refuse(c, w, rc);
    }
    entry_free(c, e);
}

static void on_pool_done(void *user, const fg_frame_result *res) {
    fg_cache_call *call = user;
    fg_cache *c = call->cache;
    call->pc = NULL;
    entry *e = call->role == LEAD ? call->entry : NULL;
    if (res->status == FG_STATUS_OK && call->role != PASS) {
        bool storable = fg_cache_value_storable(res->format, res->width, res->height,
                                                res->image_len, c->cfg.max_item_bytes);
        if (!storable && res->image_len > c->cfg.max_item_bytes)
            fg_stats_cache_add(FG_CSTAT_too_large, 1);
        fg_cache_item *item = NULL;
        /* Copied before the caller takes the reply's buffer. */
        if (storable || (e && e->head))
            item = fg_cache_item_new(call->digest, res->format, (uint16_t)res->width,
                                     (uint16_t)res->height, res->image, res->image_len);
        if (storable)
            store(c, item);
        if (e)
            answer_all(c, e, item);
        fg_cache_item_unref(item);
    } else if (e) {
        e->leader = NULL;
        call->entry = NULL;
        promote(c, e);
    }
    call->cb(call->user, res);
    free(call);
}

/* ---- Redis lookups ---- */

static void on_lookup(void *user, int rc, const uint8_t *value, size_t len, uint64_t elapsed_us) {
    entry *e = user;
    fg_cache *c = e->cache;
    e->lookup = NULL;
    fg_stats_observe_cache_lookup_us(elapsed_us);
    if (c->closing || !e->head) {
        entry_free(c, e); /* nobody waits for it any more */
        return;
    }
    fg_cache_value v;
    if (rc == 0) {
        if (fg_cache_value_parse(value, len, c->cfg.max_item_bytes, &v) == 0) {
            fg_cache_item *item =
                fg_cache_item_new(e->digest, v.format, v.width, v.height, v.image, v.image_len);
            if (c->mem) {
                fg_cache_mem_put(c->mem, item);
                report_mem(c);
            }
            fg_stats_cache_add(FG_CSTAT_hits, 1);
            fg_stats_cache_add(FG_CSTAT_redis_hits, 1);
            answer_all(c, e, item);
            fg_cache_item_unref(item);
            return;
        }
        fg_stats_cache_add(FG_CSTAT_errors, 1); /* not ours, or garbage: rendered again */
    }
    promote(c, e);
}

/* ---- the front end's calls ---- */

static fg_cache_call *new_call(fg_cache *c, fg_flow *flow, const fg_frame_request *req,
                               fg_frame_done_cb cb, void *user, bool keep_request) {
    size_t extra = keep_request ? req->model_len + req->input_len : 0;
    fg_cache_call *call = fg_malloc(sizeof *call + extra);
    memset(call, 0, sizeof *call);
    call->cache = c;
    call->flow = flow;
    call->cb = cb;
    call->user = user;
    if (keep_request) {
        uint32_t deadline_ms = req->deadline_ms ? req->deadline_ms : c->cfg.deadline_ms;
        call->deadline_us = fg_now_us() + (uint64_t)deadline_ms * 1000;
        call->frame = req->frame;
        call->model_len = (uint8_t)req->model_len;
        call->input_len = req->input_len;
        memcpy(call->data, req->model, req->model_len);
        if (req->input_len)
            memcpy(call->data + req->model_len, req->input, req->input_len);
        fg_cache_key(req->model, req->model_len, req->input, req->input_len, call->digest);
    }
    return call;
}

int fg_cache_submit(fg_cache *c, fg_flow *flow, const fg_frame_request *req, fg_frame_done_cb cb,
                    void *user, fg_cache_call **out) {
    bool cacheable = fg_cache_enabled(c) && !c->closing && req->model_len >= 1 &&
                     req->model_len <= UINT8_MAX &&
                     fg_pool_model_cacheable(c->pool, req->model, req->model_len);
    if (!cacheable) {
        if (fg_cache_enabled(c))
            fg_stats_cache_add(FG_CSTAT_bypassed, 1);
        fg_cache_call *call = new_call(c, flow, req, cb, user, false);
        call->role = PASS;
        int rc = fg_pool_submit(c->pool, flow, req, on_pool_done, call, &call->pc);
        if (rc != 0) {
            free(call);
            return rc;
        }
        *out = call;
        return 0;
    }
    fg_cache_call *call = new_call(c, flow, req, cb, user, true);
    if (c->mem) {
        fg_cache_item *item = fg_cache_mem_get(c->mem, call->digest);
        if (item) {
            fg_stats_cache_add(FG_CSTAT_hits, 1);
            fg_stats_cache_add(FG_CSTAT_memory_hits, 1);
            make_ready(c, call, item, 0, NULL);
            fg_cache_item_unref(item);
            *out = call;
            return 0;
        }
    }
    entry *e = *slot_of(c, call->digest);
    if (e && e->deadline_us <= call->deadline_us) {
        fg_stats_cache_add(FG_CSTAT_coalesced, 1);
        add_waiter(e, call);
        *out = call;
        return 0;
    }
    if (!e) {
        e = entry_new(c, call->digest, call->deadline_us);
        if (c->redis) {
            char key[FG_CACHE_KEY_TEXT_LEN];
            size_t key_len = fg_cache_key_text(call->digest, key);
            if (fg_cache_redis_get(c->redis, key, key_len, on_lookup, e, &e->lookup) == 0) {
                add_waiter(e, call);
                *out = call;
                return 0;
            }
        }
    } else {
        e = NULL; /* the one in flight ends after this frame's deadline: render on its own */
    }
    int rc = start_render(c, call);
    if (rc != 0) {
        if (e)
            entry_free(c, e);
        free(call);
        return rc;
    }
    fg_stats_cache_add(FG_CSTAT_misses, 1);
    if (e) {
        call->role = LEAD;
        call->entry = e;
        e->leader = call;
    } else {
        call->role = SOLO;
    }
    *out = call;
    return 0;
}

void fg_cache_call_cancel(fg_cache_call *call) {
    fg_cache *c = call->cache;
    switch (call->role) {
    case READY:
        unready(c, call);
        fg_cache_item_unref(call->item);
        break;
    case PASS:
    case SOLO:
        fg_call_cancel(call->pc);
        break;
    case LEAD: {
        entry *e = call->entry;
        fg_call_cancel(call->pc);
        e->leader = NULL;
        promote(c, e); /* a waiter renders instead */
        break;
    }
    case WAIT: {
        entry *e = call->entry;
        remove_waiter(e, call);
        /* A lookup still in flight keeps e; without one, e has a leader (or is freed by
         * promote when its leader ends). */
        break;
    }
    }
    free(call);
}

/* ---- life ---- */

int fg_cache_new(uv_loop_t *loop, fg_pool *pool, const fg_cache_config *cfg, fg_cache **out) {
    fg_redis_target target;
    if (cfg->redis_url && fg_cache_redis_parse_url(cfg->redis_url, &target) != 0) {
        fg_log_error("--cache-redis: '%s' is not redis://HOST:PORT[/DB]", cfg->redis_url);
        return FG_ERR_INVALID;
    }
    fg_cache *c = fg_calloc(1, sizeof *c);
    c->loop = loop;
    c->pool = pool;
    c->cfg = *cfg;
    c->cfg.redis_url = NULL;
    uv_timer_init(loop, &c->ready_timer);
    c->ready_timer.data = c;
    if (cfg->mem_bytes) {
        c->mem = fg_cache_mem_new(cfg->mem_bytes);
        fg_stats_cache_add(FG_CSTAT_memory_max_bytes, (int64_t)cfg->mem_bytes);
    }
    if (cfg->redis_url) {
        fg_cache_redis_config rc = {
            .target = target,
            .budget_us = cfg->budget_us,
            .max_pending = MAX_REDIS_PENDING,
            /* one whole value and its RESP framing, with room for the next reply's start */
            .max_reply_bytes = (uint64_t)cfg->max_item_bytes + FG_CACHE_VALUE_HEADER_LEN + 4096,
        };
        c->redis = fg_cache_redis_new(loop, &rc);
        fg_stats_cache_add(FG_CSTAT_redis_configured, 1);
    }
    *out = c;
    return 0;
}

static void part_closed(fg_cache *c) {
    if (--c->closing_parts > 0)
        return;
    void (*cb)(void *) = c->closed_cb;
    void *arg = c->closed_arg;
    free(c);
    if (cb)
        cb(arg);
}

static void on_redis_closed(void *arg) {
    part_closed(arg);
}

static void on_timer_closed(uv_handle_t *h) {
    part_closed(h->data);
}

void fg_cache_close(fg_cache *c, void (*closed_cb)(void *arg), void *arg) {
    c->closing = true;
    c->closed_cb = closed_cb;
    c->closed_arg = arg;
    c->closing_parts = 1 + (c->redis != NULL);
    if (c->mem) {
        fg_cache_mem_free(c->mem);
        c->mem = NULL;
        report_mem_gone(c);
    }
    if (c->redis) {
        fg_stats_cache_add(FG_CSTAT_redis_configured, -1);
        fg_cache_redis_close(c->redis, on_redis_closed, c); /* lookups end: entries freed */
    }
    uv_close((uv_handle_t *)&c->ready_timer, on_timer_closed);
}
