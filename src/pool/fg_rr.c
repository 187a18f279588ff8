#include "fg_rr.h"

size_t fg_rr_pick(size_t *cursor, size_t n, fg_rr_eligible_fn eligible, void *ctx) {
    if (n == 0)
        return FG_RR_NONE;
    size_t start = *cursor % n;
    for (size_t k = 0; k < n; k++) {
        size_t i = (start + k) % n;
        if (eligible(ctx, i)) {
            *cursor = (i + 1) % n;
            return i;
        }
    }
    return FG_RR_NONE;
}
