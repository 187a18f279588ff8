/*
 * fg_worker: one worker of the proxy (--workers N): its own libuv loop on its own thread, its
 * own backend pool (connections to every backend) and its own front end, listening with
 * SO_REUSEPORT when there are several workers so the kernel spreads client connections over
 * them. Health, the round-robin cursor and the counters are shared through fg_pool_shared.
 *
 * Built on the calling thread (so errors are reported before anything runs), then started on a
 * thread of its own. Other threads talk to it only through fg_worker_shutdown() and
 * fg_worker_reload(), which wake its loop with a uv_async_t.
 */
#ifndef FG_WORKER_H
#define FG_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fg_config.h"
#include "fg_pool.h"

typedef struct fg_worker fg_worker;

typedef struct fg_worker_config {
    const fg_config *cfg;   /* borrowed; outlives the worker */
    fg_pool_shared *shared; /* referenced by the worker's pool */
    unsigned index;         /* 0: sends the active health checks */
    uint16_t port;          /* to listen on (worker 0: cfg's, the others: worker 0's actual) */
    bool reuseport;
    struct fg_tls_ctx *tls_front;   /* NULL: plaintext to clients; borrowed */
    struct fg_tls_ctx *tls_backend; /* NULL: h2c to backends; borrowed */
    /* Called on the worker's thread once its loop ended (everything closed). */
    void (*stopped)(void *arg);
    void *stopped_arg;
} fg_worker_config;

/* Builds the loop, the pool and the listening front end. 0 and *out, or 2 (bad backend list)
 * or 1 (cannot listen), the reason printed on stderr; nothing is left behind. */
int fg_worker_new(const fg_worker_config *wc, fg_worker **out);
/* "HOST:PORT" it listens on, and the port. Before fg_worker_start. */
void fg_worker_address(const fg_worker *w, char *buf, size_t len, uint16_t *port);
/* Runs the loop on a new thread. 0 or a libuv error. */
int fg_worker_start(fg_worker *w);

/* From any thread: graceful shutdown (fg_front_shutdown within drain_ms, then the pool);
 * then `stopped` runs. Once. */
void fg_worker_shutdown(fg_worker *w);
/* From any thread, before fg_worker_shutdown: apply this backend list (copied) with
 * fg_pool_set_backends_named on the worker's loop; names[i] is where addrs[i] came from (names
 * or names[i] NULL: nowhere). A list not yet applied is replaced. */
void fg_worker_reload(fg_worker *w, char *const *addrs, char *const *names, size_t n);

/* After `stopped` ran: joins the thread and frees the worker. */
void fg_worker_free(fg_worker *w);

#endif
