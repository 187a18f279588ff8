/*
 * fg_grpc_conn internals shared by its two halves: fg_grpc_conn.c (the connection: connecting,
 * reading, writing, reconnecting, closing) and fg_grpc_call.c (the calls: queue, streams,
 * deadlines, results). Not for use outside those two files.
 *
 * Lifetimes: a call is on `queue` (not yet given to nghttp2) or `active` (has a stream). An
 * active call stays allocated until nghttp2 lets go of its stream (on_stream_close, a HEADERS
 * frame not sent, or the session's deletion), even when its callback already ran (`done`).
 * Then fg_gcall_free() puts it on the connection's free list, where the next call reuses it with
 * its reply buffer and grpc-message buffer (the hot path allocates nothing once warm).
 */
#ifndef FG_GRPC_CONN_INT_H
#define FG_GRPC_CONN_INT_H

#include <nghttp2/nghttp2.h>

#include "fg_buf.h"
#include "fg_grpc.h"
#include "fg_grpc_conn.h"

#define DEFAULT_BACKOFF_MIN_MS 100
#define DEFAULT_BACKOFF_MAX_MS 5000
#define DEFAULT_CONNECT_TIMEOUT_MS 2000
#define TLS_PLAIN_SIZE (64u << 10)   /* plaintext decrypted at a time */
#define WRITE_BATCH_MAX (256u << 10) /* stop collecting output for one write here */
#define WRITE_BUF_MAX (WRITE_BATCH_MAX + 65536)
#define TLS_OVERHEAD_MAX (64u << 10) /* records' headers and tags, a handshake flight */
#define MAX_GRPC_MESSAGE 1024
#define MAX_DISCARDED_BODY (64u << 10) /* of a reply that is not gRPC (an error page) */
#define CONN_WINDOW (64 << 20) /* many image replies in flight without WINDOW_UPDATE stalls */
/* Finished calls kept for reuse per connection (no malloc per call once warm), bounded: */
#define FREE_CALLS_MAX 64
#define FREE_BYTES_MAX (8u << 20)
#define READER_KEEP_MAX (1u << 20) /* a reply buffer larger than this is not kept */

typedef enum call_where { CALL_QUEUED, CALL_ACTIVE } call_where;

struct fg_grpc_call {
    fg_grpc_conn *conn;
    fg_grpc_call *prev, *next;
    call_where where;
    bool done; /* callback ran (or cancelled): only waiting for nghttp2 to release the stream */
    int32_t stream_id;
    uint64_t deadline_us; /* 0: none */
    fg_grpc_call_cb cb;
    void *user;
    int http_status;
    bool grpc_content_type; /* the response headers said application/grpc[+...|;...] */
    int grpc_status;        /* -1 until a header block carries it */
    uint32_t discarded;     /* body bytes of a non-gRPC reply dropped so far */
    bool has_message;       /* grpc_message holds this call's grpc-message */
    char *grpc_message;     /* MAX_GRPC_MESSAGE + 1 bytes once needed; kept for reuse */
    bool has_orca;          /* orca holds a decoded endpoint-load-metrics-bin */
    fg_orca_report orca;
    fg_grpc_reader reader; /* its storage is kept for reuse */
    size_t body_len, body_sent;
    uint8_t *body; /* prefix + message, inside data[] after the path */
    size_t cap;    /* bytes of data[] */
    char data[];   /* path, NUL, body */
};

typedef struct call_list {
    fg_grpc_call *head, *tail;
    size_t len;
} call_list;

typedef struct tcp_link {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    fg_grpc_conn *conn;
} tcp_link;

struct fg_grpc_conn {
    uv_loop_t *loop;
    char *host;
    char port_str[8];
    char *authority;
    fg_grpc_conn_opts opts;
    fg_grpc_conn_state state;
    char last_error[160];

    uv_getaddrinfo_t resolve_req;
    bool resolving;
    struct addrinfo *addrs, *next_addr;
    int last_connect_err;
    tcp_link *link;
    fg_tls *tls;         /* the link's TLS session (opts.tls) */
    fg_buf tls_wbuf;     /* the TLS session's output (wbuf encrypted), written next */
    fg_buf tls_inflight; /* what uv_write is writing with TLS (tls_wbuf may grow meanwhile) */
    uint8_t *tls_plain;  /* TLS_PLAIN_SIZE bytes decrypted at a time (opts.tls) */
    fg_tls_failure tls_failure; /* of the last failure */
    nghttp2_session *session;
    bool goaway;          /* the server sent GOAWAY: no new streams on this session */
    bool goaway_graceful; /* ... with NO_ERROR: reconnect at once, keep the queue */
    uint32_t backoff_attempt;
    uint64_t rng;

    uv_timer_t conn_timer; /* connect timeout while CONNECTING, backoff while FAILED */
    uv_timer_t deadline_timer;
    uv_idle_t flush_idle;
    bool flush_scheduled;

    call_list queue, active;
    fg_grpc_call *free_calls; /* finished calls for reuse, linked by next */
    size_t nfree, free_bytes;
    fg_buf wbuf;
    uv_write_t write_req;
    bool writing;
    uint8_t *rbuf; /* FG_GRPC_READ_BUF_SIZE bytes: opts.read_buf, or own_rbuf */
    bool own_rbuf;

    /* The last endpoint-load-metrics-bin value decoded on this connection and its report: a
     * backend whose load did not change sends the same bytes, which then cost a compare. */
    char orca_raw[FG_ORCA_ENCODED_MAX];
    size_t orca_raw_len; /* 0: none cached */
    fg_orca_report orca_last;

    int busy; /* depth inside nghttp2 (callbacks may run): defer teardown */
    bool closing;
    bool torn_down; /* handles asked to close */
    int open_handles;
    void (*closed_cb)(void *arg);
    void *closed_arg;
};

/* fg_grpc_call.c */
void fg_gcall_list_remove(call_list *l, fg_grpc_call *call);
/* Done with the call: onto the free list, or freed (closing, or the list is full). */
void fg_gcall_free(fg_grpc_call *call);
/* Frees the free list (teardown). */
void fg_gcall_free_list(fg_grpc_conn *c);
/* Runs the call's callback once (never again, and not after a cancel). */
void fg_gcall_finish(fg_grpc_call *call, int status, const char *message, const uint8_t *reply,
                     size_t reply_len, bool not_processed);
/* Moves queued calls onto streams while the server's MAX_CONCURRENT_STREAMS allows. */
void fg_gcall_pump_queue(fg_grpc_conn *c);
/* Fails every queued call with UNAVAILABLE (never sent: not_processed). */
void fg_gcall_fail_queue(fg_grpc_conn *c, const char *reason);
/* Installs the stream-level nghttp2 callbacks (headers, data, stream close, frame not sent). */
void fg_gcall_set_callbacks(nghttp2_session_callbacks *cbs);

/* fg_grpc_conn.c */
/* Batches output: everything queued during this loop iteration goes out in one write. */
void fg_gconn_schedule_flush(fg_grpc_conn *c);

#endif
