#include "fg_cache_mem.h"

#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"

/* Buckets grow with the items (load factor <= 1), from this many. */
#define MIN_BUCKETS 256

struct fg_cache_mem {
    uint64_t max_bytes, bytes;
    size_t items;
    fg_cache_item **buckets;
    size_t nbuckets;                /* a power of two */
    fg_cache_item *lru_head, *tail; /* head: most recently used */
};

fg_cache_item *fg_cache_item_new(const uint8_t digest[FG_CACHE_DIGEST_LEN], uint8_t format,
                                 uint16_t width, uint16_t height, const uint8_t *image,
                                 size_t len) {
    fg_cache_item *it = fg_malloc(sizeof *it + len);
    memset(it, 0, sizeof *it);
    it->refs = 1;
    memcpy(it->digest, digest, FG_CACHE_DIGEST_LEN);
    it->format = format;
    it->width = width;
    it->height = height;
    it->len = len;
    if (len)
        memcpy(it->image, image, len);
    return it;
}

fg_cache_item *fg_cache_item_ref(fg_cache_item *item) {
    item->refs++;
    return item;
}

void fg_cache_item_unref(fg_cache_item *item) {
    if (item && --item->refs == 0)
        free(item);
}

size_t fg_cache_item_cost(const fg_cache_item *item) {
    return sizeof *item + item->len;
}

fg_cache_mem *fg_cache_mem_new(uint64_t max_bytes) {
    fg_cache_mem *m = fg_calloc(1, sizeof *m);
    m->max_bytes = max_bytes;
    m->nbuckets = MIN_BUCKETS;
    m->buckets = fg_calloc(m->nbuckets, sizeof *m->buckets);
    return m;
}

void fg_cache_mem_free(fg_cache_mem *m) {
    if (!m)
        return;
    for (fg_cache_item *it = m->lru_head, *next; it; it = next) {
        next = it->fg__lru_next;
        fg_cache_item_unref(it);
    }
    free(m->buckets);
    free(m);
}

/* The digest is uniformly random already: its first bytes are the hash. */
static size_t bucket_of(const fg_cache_mem *m, const uint8_t *digest) {
    uint64_t h;
    memcpy(&h, digest, sizeof h);
    return (size_t)h & (m->nbuckets - 1);
}

static fg_cache_item **slot_of(fg_cache_mem *m, const uint8_t *digest) {
    fg_cache_item **p = &m->buckets[bucket_of(m, digest)];
    while (*p && memcmp((*p)->digest, digest, FG_CACHE_DIGEST_LEN) != 0)
        p = &(*p)->fg__hnext;
    return p;
}

static void lru_unlink(fg_cache_mem *m, fg_cache_item *it) {
    if (it->fg__lru_prev)
        it->fg__lru_prev->fg__lru_next = it->fg__lru_next;
    else
        m->lru_head = it->fg__lru_next;
    if (it->fg__lru_next)
        it->fg__lru_next->fg__lru_prev = it->fg__lru_prev;
    else
        m->tail = it->fg__lru_prev;
    it->fg__lru_prev = it->fg__lru_next = NULL;
}

static void lru_push_head(fg_cache_mem *m, fg_cache_item *it) {
    it->fg__lru_prev = NULL;
    it->fg__lru_next = m->lru_head;
    if (m->lru_head)
        m->lru_head->fg__lru_prev = it;
    else
        m->tail = it;
    m->lru_head = it;
}

/* Removes it (found at *slot) from the table and the LRU, dropping the LRU's reference. */
static void drop(fg_cache_mem *m, fg_cache_item **slot, fg_cache_item *it) {
    *slot = it->fg__hnext;
    it->fg__hnext = NULL;
    lru_unlink(m, it);
    m->bytes -= fg_cache_item_cost(it);
    m->items--;
    fg_cache_item_unref(it);
}

static void grow(fg_cache_mem *m) {
    size_t n = m->nbuckets * 2;
    fg_cache_item **b = fg_calloc(n, sizeof *b);
    for (size_t i = 0; i < m->nbuckets; i++) {
        for (fg_cache_item *it = m->buckets[i], *next; it; it = next) {
            next = it->fg__hnext;
            uint64_t h;
            memcpy(&h, it->digest, sizeof h);
            size_t k = (size_t)h & (n - 1);
            it->fg__hnext = b[k];
            b[k] = it;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

fg_cache_item *fg_cache_mem_get(fg_cache_mem *m, const uint8_t digest[FG_CACHE_DIGEST_LEN]) {
    fg_cache_item *it = *slot_of(m, digest);
    if (!it)
        return NULL;
    lru_unlink(m, it);
    lru_push_head(m, it);
    return fg_cache_item_ref(it);
}

bool fg_cache_mem_put(fg_cache_mem *m, fg_cache_item *item) {
    size_t cost = fg_cache_item_cost(item);
    if (cost > m->max_bytes)
        return false;
    fg_cache_item **slot = slot_of(m, item->digest);
    if (*slot == item)
        return true;
    if (*slot)
        drop(m, slot, *slot);
    while (m->bytes + cost > m->max_bytes && m->tail)
        drop(m, slot_of(m, m->tail->digest), m->tail);
    if (m->items >= m->nbuckets)
        grow(m);
    slot = &m->buckets[bucket_of(m, item->digest)];
    item->fg__hnext = *slot;
    *slot = fg_cache_item_ref(item);
    lru_push_head(m, item);
    m->bytes += cost;
    m->items++;
    return true;
}

uint64_t fg_cache_mem_bytes(const fg_cache_mem *m) {
    return m->bytes;
}

size_t fg_cache_mem_items(const fg_cache_mem *m) {
    return m->items;
}
