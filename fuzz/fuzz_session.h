/*
 * fuzz_session: one WebSocket session driven the way the proxy's connection drives it, for the
 * fuzz targets that reach the WebSocket stage (fuzz_ws directly, fuzz_http after an upgrade).
 *
 * The client's bytes go into fg_ws in read_size pieces (0: all at once); every binary message
 * is parsed by fg_codec and answered with a FRAME or ERROR reply (some at once, some deferred
 * past the next read, as backend replies are); fg_ws_flush() output is checked frame by frame
 * and then dropped, as if the socket had written it, high_water bytes at a time. At the end the
 * session is closed with 1001 as on shutdown and freed.
 *
 * abort() on a broken invariant of fg_ws.h or RFC 6455 section 5: a message over the limit or
 * delivered while closing, output not ending on a frame boundary, a masked or malformed server
 * frame, anything sent after our close frame, a second close, fg_ws_feed() refusing input
 * without a close being sent. Each input runs three times: as the proxy runs it; offering
 * fg_ws_rest() after every read (the messages delivered and the close sent must not change);
 * with FG_WS_WSLAY_ONLY, every byte through wslay (the messages, the close and every byte
 * written must be those of the first run: the frame-level receive path changes nothing).
 */
#ifndef FUZZ_SESSION_H
#define FUZZ_SESSION_H

#include <stddef.h>
#include <stdint.h>

/* Small so the fuzzer reaches the limit; the proxy's default is larger. */
#define FUZZ_MAX_MESSAGE 4096

void fuzz_session_run(const uint8_t *in, size_t len, size_t read_size, size_t high_water);

#endif
