#include "fg_rr.h"

#include <stdatomic.h>

size_t fg_rr_pick_atomic(_Atomic size_t *cursor, size_t n, fg_rr_eligible_fn eligible, void *ctx) {
    if (n == 0)
        return FG_RR_NONE;
    size_t cur = atomic_load_explicit(cursor, memory_order_relaxed);
    for (;;) {
        size_t start = cur % n;
        size_t pick = FG_RR_NONE;
        for (size_t k = 0; k < n && pick == FG_RR_NONE; k++) {
            size_t i = (start + k) % n;
            if (eligible(ctx, i))
                pick = i;
        }
        if (pick == FG_RR_NONE)
            return FG_RR_NONE;
        /* On failure cur is reloaded: choose again from where the other thread left it. */
        if (atomic_compare_exchange_weak_explicit(cursor, &cur, (pick + 1) % n,
                                                  memory_order_relaxed, memory_order_relaxed))
            return pick;
    }
}
