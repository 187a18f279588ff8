/*
 * fg_session: the frame traffic of one WebSocket session.
 *
 * Each binary message is a RENDER request (fg_codec); it becomes one fg_pool_submit() call and
 * gets exactly one reply, FRAME or ERROR, queued on the fg_ws in completion order (clients match
 * replies by request_id). Errors as in the contract's table: a malformed request ERROR 3, more
 * than max_inflight requests in flight ERROR 8, no healthy backend ERROR 14 "no backends
 * available" at once. Each reply is counted in fg_stats and logged on stdout when log_frames.
 * Freeing the session cancels its calls in flight (the client went away).
 */
#ifndef FG_SESSION_H
#define FG_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fg_pool.h"
#include "fg_ws.h"

/* Settings shared by every session of a front end; owned by it, outlives the sessions. */
typedef struct fg_session_env {
    fg_pool *pool;
    uint32_t max_inflight;
    bool log_frames;
    bool draining; /* shutting down: new requests are answered UNAVAILABLE */
} fg_session_env;

typedef struct fg_session fg_session;

/* ws is borrowed and must outlive the session; on_output(user) is called after a reply was
 * queued outside of on_message (from a pool completion), so the owner can flush. */
fg_session *fg_session_new(fg_session_env *env, fg_ws *ws, void (*on_output)(void *user),
                           void *user);
/* Cancels every call in flight (their replies are never produced) and frees the session. */
void fg_session_free(fg_session *s);

/* One complete binary message from the client. */
void fg_session_on_message(fg_session *s, const uint8_t *msg, size_t len);

/* Cancels every call in flight and answers each with ERROR 14 UNAVAILABLE and message, so every
 * request still gets its one reply (shutdown past its grace). on_output is not called. */
void fg_session_abort_calls(fg_session *s, const char *message);

/* Requests waiting for a backend answer. */
size_t fg_session_inflight(const fg_session *s);

#endif
