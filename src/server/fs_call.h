/*
 * fs_call: one gRPC call on one HTTP/2 stream of a frameserver connection.
 *
 * The connection (fs_conn) creates a call when a request's HEADERS begin, feeds it the
 * request's headers and DATA, and frees it when nghttp2 closes the stream or the connection
 * goes away. The RPC layer (fs_rpc) answers it with fs_call_send_message() (zero or more
 * messages) and exactly one fs_call_finish(), or fs_call_reject_http() for non-gRPC requests.
 *
 * Responses: :status 200 and content-type application/grpc, then the messages (5-byte prefix
 * each) through an nghttp2 data provider, then trailers grpc-status/grpc-message. A call
 * finished before any message is answered Trailers-Only. The body bytes are copied once, into
 * the connection's output buffer, by fs_call_write_data().
 */
#ifndef FS_CALL_H
#define FS_CALL_H

#include <nghttp2/nghttp2.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>

#include "fg_buf.h"
#include "fg_grpc.h"
#include "fg_orca.h"

#define FS_CALL_PATH_MAX 96
#define FS_CALL_MESSAGE_MAX 512 /* grpc-message, before percent-encoding */

typedef struct fs_conn fs_conn;
typedef struct fs_call fs_call;

struct fs_call {
    fs_conn *conn;
    int32_t stream_id;
    fs_call *prev, *next; /* the connection's calls */

    /* The request, as fs_call_on_header() and fs_call_on_data() saw it. */
    char path[FS_CALL_PATH_MAX]; /* "" when absent or too long */
    bool method_post;
    bool grpc_content_type;
    bool bad_timeout;
    uint64_t arrival_us;
    uint64_t deadline_us; /* absolute fg_now_us(); 0 without grpc-timeout */
    fg_grpc_reader reader;
    bool request_ended; /* END_STREAM received */

    /* The response. */
    bool headers_sent;
    bool finished;         /* fs_call_finish() or fs_call_reject_http() was called */
    bool trailers_pending; /* finished; trailers go out once the body is drained */
    int status;
    char *message; /* percent-encoded grpc-message, or NULL */
    bool has_load; /* load (load_len chars) goes out as endpoint-load-metrics-bin */
    int load_len;
    char load[FG_ORCA_ENCODED_MAX];
    fg_buf body;
    size_t body_off; /* bytes of body already handed to nghttp2 */

    void *rpc; /* owned by fs_rpc */
};

fs_call *fs_call_new(fs_conn *conn, int32_t stream_id, uint32_t max_recv_bytes);
void fs_call_free(fs_call *call);

/* Records one request header (":path", ":method", "content-type", "grpc-timeout"). */
void fs_call_on_header(fs_call *call, const uint8_t *name, size_t namelen, const uint8_t *value,
                       size_t valuelen);
/* Feeds request DATA; a bad prefix finishes the call (RESOURCE_EXHAUSTED over the size limit,
 * UNIMPLEMENTED when compressed, INVALID_ARGUMENT otherwise). Ignored once finished. */
void fs_call_on_data(fs_call *call, const uint8_t *data, size_t len);

/* Queues one response message. 0, or a negative code (the call was then finished INTERNAL). */
int fs_call_send_message(fs_call *call, const ProtobufCMessage *msg);
/* Ends the call with a gRPC status and optional message (NULL for none). Only the first call
 * counts. */
void fs_call_finish(fs_call *call, int status, const char *message);
/* Attaches the server's load to the trailers of this call (call before fs_call_finish). */
void fs_call_set_load(fs_call *call, const fg_orca_report *load);
/* Answers a request that is not gRPC with a bare HTTP status (e.g. 415) and no body. */
void fs_call_reject_http(fs_call *call, int http_status);

/* For fs_conn's nghttp2 send_data_callback: appends the DATA frame (9-byte header + length
 * body bytes) to out. 0, or FG_ERR_TOO_BIG if out is full. */
int fs_call_write_data(fs_call *call, const uint8_t *framehd, size_t length, fg_buf *out);

/* Percent-encodes s (at most FS_CALL_MESSAGE_MAX bytes of it) as grpc-message requires. */
char *fs_call_encode_message(const char *s);

#endif
