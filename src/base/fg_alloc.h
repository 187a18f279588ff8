/*
 * fg_alloc: allocation with the project's out-of-memory policy.
 *
 * Policy (decided once, here): framegate and frameserver abort on out-of-memory. A proxy that
 * cannot allocate a few hundred bytes cannot answer anyone correctly; every limit that bounds
 * memory (message sizes, queue lengths, connection counts) is enforced before allocating, so
 * reaching OOM means the machine is in trouble, and a crash the supervisor restarts beats a
 * half-working process. Callers therefore never check these for NULL.
 */
#ifndef FG_ALLOC_H
#define FG_ALLOC_H

#include <stddef.h>

void *fg_malloc(size_t size);
void *fg_calloc(size_t nmemb, size_t size);
void *fg_realloc(void *ptr, size_t size);
char *fg_strdup(const char *s);
char *fg_strndup(const char *s, size_t n);

#endif
