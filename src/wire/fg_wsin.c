#include "fg_wsin.h"

#include <string.h>

ssize_t fg_wsin_recv(fg_wsin *in, wslay_event_context_ptr ctx, uint8_t *buf, size_t len) {
    if (in->len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < in->len ? len : in->len;
    memcpy(buf, in->p, n);
    in->p += n;
    in->len -= n;
    return (ssize_t)n;
}
