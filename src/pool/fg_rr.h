/*
 * fg_rr: round-robin choice with one shared cursor: the next eligible index at or after the
 * cursor, wrapping; the cursor then moves past it, so consecutive picks go to consecutive
 * eligible entries. No I/O; eligibility is the caller's predicate.
 */
#ifndef FG_RR_H
#define FG_RR_H

#include <stdbool.h>
#include <stdatomic.h>
#include <stddef.h>

#define FG_RR_NONE ((size_t)-1)

typedef bool (*fg_rr_eligible_fn)(void *ctx, size_t index);

/* The chosen index, or FG_RR_NONE when none of the n entries is eligible. The cursor may be
 * shared by several threads (--workers): it moves from the
 * value the choice was made from to just past the choice by compare-and-swap, retried (the
 * choice made again) if another thread moved it meanwhile. So concurrent picks never return
 * the same position twice in a row and rotate exactly as one thread's would; lock-free.
 * eligible may be called more than once per entry. */
size_t fg_rr_pick_atomic(_Atomic size_t *cursor, size_t n, fg_rr_eligible_fn eligible, void *ctx);

#endif
