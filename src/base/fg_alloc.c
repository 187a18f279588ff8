#include "fg_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(size_t size) {
    fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", size);
    abort();
}

void *fg_malloc(size_t size) {
    void *p = malloc(size ? size : 1);
    if (!p)
        out_of_memory(size);
    return p;
}

void *fg_calloc(size_t nmemb, size_t size) {
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p)
        out_of_memory(nmemb * size);
    return p;
}

void *fg_realloc(void *ptr, size_t size) {
    void *p = realloc(ptr, size ? size : 1);
    if (!p)
        out_of_memory(size);
    return p;
}

char *fg_strndup(const char *s, size_t n) {
    size_t len = strnlen(s, n);
    char *p = fg_malloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *fg_strdup(const char *s) {
    return fg_strndup(s, strlen(s));
}
