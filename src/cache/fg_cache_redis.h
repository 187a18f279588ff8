/*
 * fg_cache_redis: the frame cache's Redis tier on one libuv loop: one connection through
 * hiredis's async API and its libuv adapter, GET with a time budget, SET with an expiry.
 *
 * The connection keeps itself up: the host is resolved off the loop (uv_getaddrinfo), the
 * connect and a PING handshake (after SELECT db) are bounded by timeouts, and any failure --
 * refused, lost, a protocol error (garbage), PING unanswered or answered wrongly, or
 * FG_CACHE_REDIS_TIMEOUTS_TO_DROP lookups in a row past their budget (a stuck or overloaded
 * server) -- drops it and reconnects after a backoff (100 ms doubling to 2 s; reset once a
 * lookup was answered within its budget). Commands go out only while the connection is up
 * (PING answered): a Redis that is down or stuck costs a lookup nothing but a check.
 *
 * Each GET ends in exactly one callback, never inside fg_cache_redis_get: the value, a miss,
 * or an error -- FG_ERR_TIMEOUT past its budget (a late answer is then ignored), FG_ERR_PROTO
 * for an answer that is not a string, FG_ERR_CLOSED when the connection went away. SETs are
 * fire-and-forget: a refusal (e.g. Redis out of memory) is counted in fg_stats, nothing else.
 * At most max_pending commands are outstanding; more are refused (FG_ERR_FULL). hiredis buffers
 * a reply until it is whole, whatever size it declares: the bytes it holds are checked after
 * every I/O phase of the loop, and past max_reply_bytes the connection is dropped. All on the
 * loop's thread.
 */
#ifndef FG_CACHE_REDIS_H
#define FG_CACHE_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define FG_CACHE_REDIS_TIMEOUTS_TO_DROP 8
#define FG_CACHE_REDIS_HOST_MAX 255

/* Where Redis is: redis://HOST[:PORT][/DB], HOST a name, an IPv4 address or [IPv6]; PORT
 * default 6379, DB default 0. */
typedef struct fg_redis_target {
    char host[FG_CACHE_REDIS_HOST_MAX + 1];
    uint16_t port;
    uint32_t db;
} fg_redis_target;

/* 0 and *out, or FG_ERR_INVALID (anything else, e.g. a user or password, a query, a path
 * that is not a number, a port out of 1..65535). Bounded: at most 512 bytes are looked at. */
int fg_cache_redis_parse_url(const char *url, fg_redis_target *out);

typedef struct fg_cache_redis_config {
    fg_redis_target target;
    uint32_t budget_us;       /* a GET's budget */
    uint32_t max_pending;     /* commands outstanding at most */
    uint64_t max_reply_bytes; /* unparsed bytes hiredis may hold: more drops the connection */
} fg_cache_redis_config;

typedef struct fg_cache_redis fg_cache_redis;
typedef struct fg_cache_redis_op fg_cache_redis_op;

/* rc: 0 with value (valid during the call), FG_ERR_NOT_FOUND, FG_ERR_TIMEOUT, FG_ERR_PROTO or
 * FG_ERR_CLOSED. elapsed_us: from the GET to this answer. */
typedef void (*fg_cache_redis_get_cb)(void *user, int rc, const uint8_t *value, size_t len,
                                      uint64_t elapsed_us);

/* Starts connecting at once. Never fails (an unreachable Redis is retried). */
fg_cache_redis *fg_cache_redis_new(uv_loop_t *loop, const fg_cache_redis_config *cfg);
/* Answers pending GETs FG_ERR_CLOSED, closes the connection and the handles; closed_cb(arg)
 * (may be NULL) runs from a later loop iteration, then r is gone. */
void fg_cache_redis_close(fg_cache_redis *r, void (*closed_cb)(void *arg), void *arg);

/* The connection is up (PING answered) and takes commands. */
bool fg_cache_redis_up(const fg_cache_redis *r);

/* GET key. 0 with *out set (cb called once later, unless fg_cache_redis_cancel), or, cb never
 * called: FG_ERR_AGAIN (not up), FG_ERR_FULL (too many outstanding). */
int fg_cache_redis_get(fg_cache_redis *r, const char *key, size_t key_len, fg_cache_redis_get_cb cb,
                       void *user, fg_cache_redis_op **out);
/* The GET's callback will not be called. */
void fg_cache_redis_cancel(fg_cache_redis_op *op);

/* SET key (head followed by body) EX ttl_s. 0 (sent), FG_ERR_AGAIN or FG_ERR_FULL. */
int fg_cache_redis_set(fg_cache_redis *r, const char *key, size_t key_len, const uint8_t *head,
                       size_t head_len, const uint8_t *body, size_t body_len, uint32_t ttl_s);

#endif
