/*
 * fg_session: the frame traffic of one WebSocket session.
 *
 * Each binary message is a RENDER request (fg_codec); it becomes one fg_cache_submit() call (the
 * frame cache in front of fg_pool_submit(); a hit is a FRAME from backend "cache") on the
 * session's own flow (its fair share of the pool) and gets exactly one reply, FRAME or
 * ERROR, queued on the fg_ws in completion order (clients match replies by request_id), or in
 * request order with the session parameter order=1. Errors as in the contract's table: a
 * malformed request ERROR 3, more than max_inflight requests in flight ERROR 8, a frame the
 * pool cannot answer within its deadline ERROR 8 "overloaded" at once, no healthy backend
 * ERROR 14 "no backends available" at once; a LATEST request answers the session's frames not
 * yet sent to a backend with ERROR 1 "superseded". While the replies waiting for clients pass
 * max_buffered bytes (all sessions of the process), the frames of a session whose client is not
 * reading are answered ERROR 8 "overloaded" instead. With hints=1 the session sends HINT
 * messages (contract section 2). Each reply is counted in fg_stats and logged on stdout when
 * log_frames. Freeing the session cancels its calls in flight (the client went away).
 */
#ifndef FG_SESSION_H
#define FG_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fg_cache.h"
#include "fg_http.h"
#include "fg_pool.h"
#include "fg_ws.h"

/* Settings shared by every session of a front end; owned by it, outlives the sessions. */
typedef struct fg_session_env {
    fg_pool *pool;
    fg_cache *cache; /* frames go through it to the pool */
    uint32_t max_inflight;
    uint32_t deadline_ms;  /* for sessions that do not set their own */
    uint64_t max_buffered; /* 0: no budget */
    bool log_frames;
    bool draining; /* shutting down: new requests are answered UNAVAILABLE */
} fg_session_env;

typedef struct fg_session fg_session;

/* What the session asks of its owner (the connection); user is passed back to each. */
typedef struct fg_session_io {
    /* Called after a reply was queued outside of on_message (a pool completion): flush. */
    void (*on_output)(void *user);
    /* Bytes written to the client and not yet taken by the socket (its read backlog). */
    size_t (*backlog)(void *user);
} fg_session_io;

/* A client whose backlog is this large does not keep up: it is "not reading". */
#define FG_SESSION_BACKLOG_BYTES (64 * 1024)

/* ws is borrowed and must outlive the session; params (NULL: defaults) and io are copied. */
fg_session *fg_session_new(fg_session_env *env, fg_ws *ws, const fg_ws_params *params,
                           const fg_session_io *io, void *user);
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
