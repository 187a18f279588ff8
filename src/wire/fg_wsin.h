/*
 * fg_wsin: the bytes of one socket read, pulled by wslay's recv_callback.
 *
 * Both WebSocket sides (the proxy's fg_ws, the client's fc_ws) read from libuv, point an fg_wsin
 * at the bytes, call wslay_event_recv() and let wslay pull them through fg_wsin_recv(). The
 * bytes stay the caller's; fg_wsin only walks them.
 */
#ifndef FG_WSIN_H
#define FG_WSIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <wslay/wslay.h>

typedef struct fg_wsin {
    const uint8_t *p; /* not yet given to wslay */
    size_t len;
} fg_wsin;

/* A recv_callback body: copies up to len bytes into buf and returns how many, or sets
 * WSLAY_ERR_WOULDBLOCK on ctx and returns -1 when none are left. */
ssize_t fg_wsin_recv(fg_wsin *in, wslay_event_context_ptr ctx, uint8_t *buf, size_t len);

#endif
