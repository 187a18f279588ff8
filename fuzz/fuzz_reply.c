/*
 * fuzz_reply: the backend reply path, as the proxy runs it. Each input drives the real
 * fg_grpc_conn (fg_grpc_conn.c + fg_grpc_call.c: nghttp2 client session, header and status
 * parsing, fg_grpc_reader framing and limit, stream and connection failure mapping) over a
 * real TCP connection on 127.0.0.1 to an in-process "server" that plays the fuzz bytes:
 *
 *   byte 0     chunking: 0 writes the rest at once, n > 0 in n-byte writes (partial frames; the
 *              client reads and answers between them)
 *   byte 1..   the server's bytes (its SETTINGS first, as a real server's would be); then the
 *              server shuts down its side (EOF)
 *
 * As a real server's, the bytes after a leading SETTINGS frame are sent only once the client's
 * request (HEADERS, then DATA with END_STREAM on stream 1) has arrived: the client opens its
 * stream only after the server's SETTINGS.
 *
 * One Render call is made. Its callback must run exactly once, with a status in 0..16 (what
 * the proxy may send a client); an OK reply must be a RenderReply. Anything else aborts.
 * The reply limit is 1 KiB here (the proxy's is 4 MiB) so the fuzzer reaches it.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "fg_grpc_conn.h"
#include "fg_status.h"
#include "framegate/v1/frames.pb-c.h"

#define FUZZ_MAX_REPLY 1024
#define FUZZ_CALL_TIMEOUT_US 30000 /* a stalled exchange ends as DEADLINE_EXCEEDED, quickly */

#define PREFACE_LEN 24
#define FRAME_HEADER_LEN 9

typedef struct fuzz_run {
    const uint8_t *data;
    size_t size, chunk, off;
    size_t first_end; /* end of the leading SETTINGS frame: sent before the request arrives */
    bool writing;
    bool request_seen;   /* the client's DATA with END_STREAM on stream 1 arrived */
    uint8_t cbuf[65536]; /* the client's bytes, for finding its request */
    size_t clen, cscan;
    uv_tcp_t *server; /* the first accepted connection: plays the input */
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    int server_handles; /* accepted connections not closed yet */
    fg_grpc_conn *conn;
    bool conn_closed;
    int answers;
    int status;
} fuzz_run;

static uv_loop_t loop;
static uv_tcp_t listener;
static uint16_t listen_port;
static fuzz_run *cur;

static void on_server_closed(uv_handle_t *h) {
    cur->server_handles--;
    free(h);
}

static void close_server(uv_tcp_t *t) {
    if (!uv_is_closing((uv_handle_t *)t))
        uv_close((uv_handle_t *)t, on_server_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    static char sink[65536];
    *buf = uv_buf_init(sink, sizeof sink);
}

static void write_next(fuzz_run *r);

/* Finds the end of the client's request among its frames (after the connection preface). */
static void scan_client(fuzz_run *r) {
    if (r->cscan < PREFACE_LEN)
        r->cscan = PREFACE_LEN;
    while (!r->request_seen && r->cscan + FRAME_HEADER_LEN <= r->clen) {
        const uint8_t *f = r->cbuf + r->cscan;
        size_t len = (size_t)f[0] << 16 | (size_t)f[1] << 8 | f[2];
        uint32_t sid = ((uint32_t)f[5] << 24 | (uint32_t)f[6] << 16 | (uint32_t)f[7] << 8 | f[8]) &
                       0x7fffffffu;
        if (f[3] == 0 /* DATA */ && (f[4] & 1) /* END_STREAM */ && sid == 1)
            r->request_seen = true;
        r->cscan += FRAME_HEADER_LEN + len;
    }
}

/* The client's bytes are kept (bounded) to see its request; the connection ends when the
 * client closes it. */
static void on_server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    fuzz_run *r = cur;
    if (nread < 0) {
        close_server((uv_tcp_t *)s);
        return;
    }
    if ((uv_tcp_t *)s != r->server)
        return;
    size_t n = (size_t)nread < sizeof r->cbuf - r->clen ? (size_t)nread : sizeof r->cbuf - r->clen;
    memcpy(r->cbuf + r->clen, buf->base, n);
    r->clen += n;
    scan_client(r);
    if (r->request_seen && !r->writing && r->off < r->size)
        write_next(r);
}

static void on_write(uv_write_t *req, int status) {
    fuzz_run *r = req->data;
    r->writing = false;
    if (status < 0) {
        close_server(r->server);
        return;
    }
    write_next(r);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
    (void)req;
    (void)status;
}

static void write_next(fuzz_run *r) {
    if (r->off == r->first_end && r->off < r->size && !r->request_seen)
        return; /* on_server_read goes on once the request is in */
    if (r->off == r->size) {
        r->shutdown_req.data = r;
        if (uv_shutdown(&r->shutdown_req, (uv_stream_t *)r->server, on_shutdown) < 0)
            close_server(r->server);
        return;
    }
    size_t end = r->off < r->first_end ? r->first_end : r->size;
    size_t n = end - r->off < r->chunk ? end - r->off : r->chunk;
    uv_buf_t b = uv_buf_init((char *)r->data + r->off, (unsigned)n);
    r->off += n;
    r->write_req.data = r;
    r->writing = true;
    if (uv_write(&r->write_req, (uv_stream_t *)r->server, &b, 1, on_write) < 0)
        close_server(r->server);
}

static void on_connection(uv_stream_t *l, int status) {
    if (status < 0)
        return;
    uv_tcp_t *t = malloc(sizeof *t);
    if (!t)
        abort();
    uv_tcp_init(&loop, t);
    cur->server_handles++;
    if (uv_accept(l, (uv_stream_t *)t) < 0) {
        close_server(t);
        return;
    }
    if (cur->conn == NULL || cur->server != NULL || cur->answers > 0) {
        /* Left over from an earlier input, or a reconnect: the input is played only on the
         * first connection of this run. */
        close_server(t);
        return;
    }
    cur->server = t;
    uv_tcp_nodelay(t, 1); /* no Nagle delay between the input's pieces */
    uv_read_start((uv_stream_t *)t, on_alloc, on_server_read);
    write_next(cur);
}

static void on_conn_closed(void *arg) {
    ((fuzz_run *)arg)->conn_closed = true;
}

static void on_call_done(void *user, const fg_grpc_result *res) {
    fuzz_run *r = user;
    r->answers++;
    r->status = res->status;
    if (res->status < 0 || res->status > FG_STATUS_MAX || r->answers != 1 || !res->message)
        abort();
    if (res->status == FG_STATUS_OK) {
        if (res->reply_len > FUZZ_MAX_REPLY)
            abort();
        Framegate__V1__RenderReply *reply =
            framegate__v1__render_reply__unpack(NULL, res->reply_len, res->reply);
        if (reply) {
            /* Touch what the codec copied out, so ASan sees any bad pointer. */
            volatile uint8_t x = 0;
            for (size_t i = 0; i < reply->image.len; i++)
                x ^= reply->image.data[i];
            (void)x;
            framegate__v1__render_reply__free_unpacked(reply, NULL);
        }
    }
    fg_grpc_conn_close(r->conn, on_conn_closed, r);
}

static void setup_once(void) {
    if (listen_port)
        return;
    struct sockaddr_in sa;
    signal(SIGPIPE, SIG_IGN); /* as framegate: a write to a closed peer is an error, not death */
    uv_loop_init(&loop);
    uv_tcp_init(&loop, &listener);
    uv_ip4_addr("127.0.0.1", 0, &sa);
    if (uv_tcp_bind(&listener, (const struct sockaddr *)&sa, 0) < 0 ||
        uv_listen((uv_stream_t *)&listener, 64, on_connection) < 0)
        abort();
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_getsockname(&listener, (struct sockaddr *)&ss, &len);
    listen_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    setup_once();
    static fuzz_run r;
    memset(&r, 0, sizeof r);
    r.data = data + 1;
    r.size = size - 1;
    r.chunk = data[0] ? data[0] : size;
    r.first_end = r.size;
    if (r.size >= FRAME_HEADER_LEN && r.data[3] == 4 /* SETTINGS */ && !(r.data[4] & 1)) {
        size_t len = (size_t)r.data[0] << 16 | (size_t)r.data[1] << 8 | r.data[2];
        if (FRAME_HEADER_LEN + len < r.size)
            r.first_end = FRAME_HEADER_LEN + len;
    }
    cur = &r;
    uv_run(&loop, UV_RUN_NOWAIT); /* closes connections left from an earlier input */

    /* Short backoff: a reconnect after a dropped connection is refused quickly. */
    fg_grpc_conn_opts opts = {.max_reply_bytes = FUZZ_MAX_REPLY,
                              .backoff_min_ms = 1,
                              .backoff_max_ms = 2,
                              .connect_timeout_ms = 1000};
    if (fg_grpc_conn_new(&loop, "127.0.0.1", listen_port, &opts, &r.conn) != 0)
        abort();
    /* RenderRequest{model: "m", frame: 42} */
    static const uint8_t req[] = {0x0a, 0x01, 'm', 0x10, 42};
    if (fg_grpc_conn_call(r.conn, "/framegate.v1.FrameService/Render", req, sizeof req,
                          FUZZ_CALL_TIMEOUT_US, on_call_done, &r, NULL) != 0)
        abort();
    while (!r.conn_closed || r.server_handles > 0)
        uv_run(&loop, UV_RUN_ONCE);
    r.conn = NULL;
    if (r.answers != 1)
        abort();
    if (getenv("FUZZ_VERBOSE")) /* to see what a seed or reproducer does */
        fprintf(stderr, "fuzz_reply: status %s\n", fg_status_name(r.status));
    return 0;
}
