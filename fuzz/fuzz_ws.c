/*
 * fuzz_ws: the WebSocket frame path (src/front/fg_ws over wslay, fg_codec for each message).
 * The fuzz input is what a client sends after the upgrade:
 *
 *   byte 0     read size: 0 hands everything to one fg_ws_feed(), n > 0 n bytes per read
 *   byte 1     output high-water mark, (b + 1) * 16 bytes (exercises writes held back); an even
 *              b also sends replies straight to the "socket" while wslay holds nothing
 *   byte 2..   the client's bytes
 *
 * The invariants checked are listed in fuzz_session.h.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    fuzz_session_run(data + 2, size - 2, data[0], ((size_t)data[1] + 1) * 16);
    return 0;
}
