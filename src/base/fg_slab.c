#include "fg_slab.h"

#include <assert.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"

#define MIN_SHIFT 4 /* the smallest class: 16 bytes */
#define MAX_SHIFT 12
#define NCLASSES (MAX_SHIFT - MIN_SHIFT + 1)
#define LARGE NCLASSES
_Static_assert(FG_SLAB_BLOCK_MAX == 1u << MAX_SHIFT, "FG_SLAB_BLOCK_MAX is the largest class");

/* In front of every block, keeping the block aligned as malloc's are. */
typedef union header {
    struct {
        size_t cls;  /* class index, or LARGE */
        size_t size; /* LARGE: the size asked for (realloc copies that much) */
    } h;
    max_align_t align;
} header;

typedef struct free_block {
    struct free_block *next;
} free_block;

struct fg_slab {
    free_block *lists[NCLASSES];
    size_t kept_bytes, keep_bytes;
    size_t outstanding;
};

static size_t class_of(size_t size) {
    if (size <= 1u << MIN_SHIFT)
        return 0;
    unsigned bits = (unsigned)(sizeof(unsigned long) * 8) - (unsigned)__builtin_clzl(size - 1);
    return bits - MIN_SHIFT; /* 2^bits >= size > 2^(bits-1) */
}

static size_t class_size(size_t cls) {
    return (size_t)1 << (cls + MIN_SHIFT);
}

fg_slab *fg_slab_new(size_t keep_bytes) {
    fg_slab *s = fg_calloc(1, sizeof *s);
    s->keep_bytes = keep_bytes;
    return s;
}

void fg_slab_free(fg_slab *s) {
    if (!s)
        return;
    assert(s->outstanding == 0);
    for (size_t c = 0; c < NCLASSES; c++) {
        while (s->lists[c]) {
            free_block *b = s->lists[c];
            s->lists[c] = b->next;
            free((header *)b - 1);
        }
    }
    free(s);
}

void *fg_slab_alloc(fg_slab *s, size_t size) {
    s->outstanding++;
    if (size > FG_SLAB_BLOCK_MAX) {
        header *h = fg_malloc(sizeof *h + size);
        h->h.cls = LARGE;
        h->h.size = size;
        return h + 1;
    }
    size_t cls = class_of(size);
    free_block *b = s->lists[cls];
    if (b) {
        s->lists[cls] = b->next;
        s->kept_bytes -= class_size(cls);
        return b;
    }
    header *h = fg_malloc(sizeof *h + class_size(cls));
    h->h.cls = cls;
    return h + 1;
}

void *fg_slab_calloc(fg_slab *s, size_t nmemb, size_t size) {
    if (size && nmemb > SIZE_MAX / size)
        return NULL;
    void *p = fg_slab_alloc(s, nmemb * size);
    memset(p, 0, nmemb * size);
    return p;
}

void fg_slab_release(fg_slab *s, void *ptr) {
    if (!ptr)
        return;
    header *h = (header *)ptr - 1;
    s->outstanding--;
    size_t cls = h->h.cls;
    if (cls == LARGE || s->kept_bytes + class_size(cls) > s->keep_bytes) {
        free(h);
        return;
    }
    free_block *b = ptr;
    b->next = s->lists[cls];
    s->lists[cls] = b;
    s->kept_bytes += class_size(cls);
}

void *fg_slab_realloc(fg_slab *s, void *ptr, size_t size) {
    if (!ptr)
        return fg_slab_alloc(s, size);
    header *h = (header *)ptr - 1;
    size_t have = h->h.cls == LARGE ? h->h.size : class_size(h->h.cls);
    if (h->h.cls != LARGE && size <= have)
        return ptr; /* the class has room */
    void *p = fg_slab_alloc(s, size);
    memcpy(p, ptr, have < size ? have : size);
    fg_slab_release(s, ptr);
    return p;
}

size_t fg_slab_outstanding(const fg_slab *s) {
    return s->outstanding;
}
