/*
 * fs_conn: one client connection of frameserver: a libuv TCP handle and an nghttp2 server
 * session (h2c with prior knowledge).
 *
 * Output is batched: fs_call_* submit frames and mark the connection dirty; the server's
 * prepare handle (or the end of on_read) calls fs_conn_flush(), which lets nghttp2 serialise
 * into one buffer and writes it with a single uv_write while a second buffer fills. Frames are
 * never sent from inside nghttp2 callbacks. The connection closes itself when nghttp2 wants
 * neither to read nor to write (after GOAWAY, or on a protocol error), on EOF, or on a socket
 * error; its calls are then handed to fs_rpc_on_close() and freed.
 */
#ifndef FS_CONN_H
#define FS_CONN_H

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <uv.h>

typedef struct fs_server fs_server;
typedef struct fs_conn fs_conn;

/* Over the 1000 concurrent calls a proxy may open; with --max-recv-bytes it bounds what one
 * connection can make the server buffer. */
#define FS_MAX_CONCURRENT_STREAMS 2048

/* Accepts one pending connection from the server's listener. 0 or a libuv error. */
int fs_conn_accept(fs_server *srv);
/* Sends what nghttp2 has queued; may close the connection when it is done. */
void fs_conn_flush(fs_conn *c);
/* Flushes if marked dirty since the last flush. */
void fs_conn_flush_if_dirty(fs_conn *c);
void fs_conn_mark_dirty(fs_conn *c);
/* Graceful shutdown: GOAWAY naming the last stream seen; the connection closes once its
 * streams are done. */
void fs_conn_goaway(fs_conn *c);
/* Closes at once (pending calls are dropped). */
void fs_conn_close(fs_conn *c);

nghttp2_session *fs_conn_session(fs_conn *c);
fs_server *fs_conn_server(fs_conn *c);
fs_conn *fs_conn_next(fs_conn *c);
/* Counts a finished call's status in the server's totals. */
void fs_conn_count_status(fs_conn *c, int status);

#endif
