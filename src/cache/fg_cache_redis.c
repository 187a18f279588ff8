#include "fg_cache_redis.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_clock.h"
#include "fg_err.h"
#include "fg_log.h"
#include "fg_counters.h"

#define URL_SCHEME "redis://"
#define URL_MAX 512
#define DEFAULT_PORT 6379
#define CONNECT_TIMEOUT_MS 1000  /* TCP connect */
#define HANDSHAKE_TIMEOUT_MS 500 /* SELECT + PING answered */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

typedef enum conn_state { DOWN, RESOLVING, CONNECTING, HANDSHAKE, UP } conn_state;

struct fg_cache_redis_op {
    fg_cache_redis *r;
    fg_cache_redis_op *prev, *next; /* r's budget FIFO, while waiting */
    fg_cache_redis_get_cb cb;       /* NULL once answered, timed out or cancelled */
    void *user;
    uint64_t start_us, deadline_us;
};

struct fg_cache_redis {
    uv_loop_t *loop;
    fg_cache_redis_config cfg;
    conn_state state;
    redisAsyncContext *ctx; /* NULL while DOWN or RESOLVING */
    uv_getaddrinfo_t gai;
    bool resolving;
    uv_timer_t conn_timer;   /* connect / handshake timeout, then the reconnect backoff */
    uv_timer_t budget_timer; /* the oldest waiting GET's budget */
    uv_check_t size_check;   /* after each I/O phase while connected: reply_too_large */
    fg_cache_redis_op *fifo_head, *fifo_tail;
    uint32_t pending; /* commands sent and not yet answered (on the current connection) */
    uint32_t timeouts_in_row;
    uint32_t backoff_ms;
    bool closing;
    int closing_parts;
    void (*closed_cb)(void *arg);
    void *closed_arg;
};

/* ---- the URL ---- */

static bool host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

static bool parse_uint(const char *p, size_t len, uint64_t max, uint64_t *out) {
    if (len == 0 || len > 10)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

int fg_cache_redis_parse_url(const char *url, fg_redis_target *out) {
    size_t len = strnlen(url, URL_MAX + 1);
    size_t scheme = sizeof URL_SCHEME - 1;
    if (len > URL_MAX || len < scheme || memcmp(url, URL_SCHEME, scheme) != 0)
        return FG_ERR_INVALID;
    const char *p = url + scheme, *end = url + len;
    const char *host, *host_end;
    if (p < end && *p == '[') {
        host = ++p;
        while (p < end && *p != ']' && (host_char(*p) || *p == ':'))
            p++;
        if (p == end || *p != ']')
            return FG_ERR_INVALID;
        host_end = p++;
    } else {
        host = p;
        while (p < end && host_char(*p))
            p++;
        host_end = p;
    }
    size_t host_len = (size_t)(host_end - host);
    if (host_len == 0 || host_len > FG_CACHE_REDIS_HOST_MAX)
        return FG_ERR_INVALID;
    uint64_t port = DEFAULT_PORT, db = 0;
    if (p < end && *p == ':') {
        const char *q = ++p;
        while (p < end && *p != '/')
            p++;
        if (!parse_uint(q, (size_t)(p - q), 65535, &port) || port == 0)
            return FG_ERR_INVALID;
    }
    if (p < end && *p == '/') {
        p++;
        if (p < end && !parse_uint(p, (size_t)(end - p), UINT32_MAX, &db))
            return FG_ERR_INVALID;
        p = end;
    }
    if (p != end)
        return FG_ERR_INVALID;
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    out->port = (uint16_t)port;
    out->db = (uint32_t)db;
    return 0;
}

/* ---- the budget FIFO: GETs waiting, oldest first (all budgets are equal) ---- */

static void fifo_unlink(fg_cache_redis *r, fg_cache_redis_op *op) {
    if (op->prev)
        op->prev->next = op->next;
    else
        r->fifo_head = op->next;
    if (op->next)
        op->next->prev = op->prev;
    else
        r->fifo_tail = op->prev;
    op->prev = op->next = NULL;
}

static void on_budget_timer(uv_timer_t *t);

static void arm_budget(fg_cache_redis *r) {
    if (r->closing || !r->fifo_head || uv_is_active((uv_handle_t *)&r->budget_timer))
        return;
    uv_update_time(r->loop); /* the timer counts from now, not from the iteration's start */
    uint64_t now = fg_now_us(), due = r->fifo_head->deadline_us;
    uint64_t ms = due > now ? (due - now + 999) / 1000 : 0;
    uv_timer_start(&r->budget_timer, on_budget_timer, ms, 0);
}

/* Answers a waiting GET (at most once). */
static void finish(fg_cache_redis_op *op, int rc, const uint8_t *value, size_t len) {
    fg_cache_redis_get_cb cb = op->cb;
    if (!cb)
        return;
    op->cb = NULL;
    fifo_unlink(op->r, op);
    cb(op->user, rc, value, len, fg_now_us() - op->start_us);
}

/* ---- the connection ---- */

static void start_connect(fg_cache_redis *r);
static void drop(fg_cache_redis *r, const char *why);
static void on_size_check(uv_check_t *h);

static void on_conn_timer(uv_timer_t *t) {
    fg_cache_redis *r = t->data;
    if (r->state == DOWN)
        start_connect(r);
    else if (r->state == CONNECTING)
        drop(r, "connect timed out");
    else if (r->state == HANDSHAKE)
        drop(r, "PING not answered");
}

/* Down (again): every GET waiting is answered, then a reconnect after the backoff. */
static void went_down(fg_cache_redis *r, const char *why) {
    bool was_up = r->state == UP;
    if (was_up) {
        fg_stats_cache_add(FG_CSTAT_redis_connected, -1);
        fg_stats_cache_add(FG_CSTAT_redis_reconnects, 1);
        fg_log_warn("redis %s:%u: %s; reconnecting", r->cfg.target.host,
                    (unsigned)r->cfg.target.port, why);
    } else if (!r->closing) {
        fg_log_debug("redis %s:%u: %s", r->cfg.target.host, (unsigned)r->cfg.target.port, why);
    }
    r->state = DOWN;
    r->timeouts_in_row = 0;
    uv_check_stop(&r->size_check);
    while (r->fifo_head)
        finish(r->fifo_head, FG_ERR_CLOSED, NULL, 0);
    if (r->closing)
        return;
    r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (r->backoff_ms > BACKOFF_MAX_MS)
        r->backoff_ms = BACKOFF_MAX_MS;
    uv_timer_start(&r->conn_timer, on_conn_timer, r->backoff_ms, 0);
}

/* Gives up the connection (hiredis frees it, now or when its callback returns). */
static void drop(fg_cache_redis *r, const char *why) {
    redisAsyncContext *ctx = r->ctx;
    r->ctx = NULL; /* its late callbacks see they are not of the current connection */
    uv_timer_stop(&r->conn_timer);
    if (ctx)
        redisAsyncFree(ctx); /* pending commands get their callbacks with no reply */
    went_down(r, why);
}

static void on_ping(redisAsyncContext *ac, void *reply_v, void *privdata) {
    fg_cache_redis *r = privdata;
    redisReply *reply = reply_v;
    if (!reply)
        return; /* the connection went: handled where it went */
    r->pending--;
    if (ac != r->ctx)
        return;
    if (reply->type != REDIS_REPLY_STATUS || strcmp(reply->str, "PONG") != 0) {
        drop(r, "bad answer to PING");
        return;
    }
    uv_timer_stop(&r->conn_timer);
    r->state = UP;
    fg_stats_cache_add(FG_CSTAT_redis_connected, 1);
    fg_log_info("redis %s:%u: connected", r->cfg.target.host, (unsigned)r->cfg.target.port);
}

static void on_select(redisAsyncContext *ac, void *reply_v, void *privdata) {
    fg_cache_redis *r = privdata;
    redisReply *reply = reply_v;
    if (!reply)
        return;
    r->pending--;
    if (ac == r->ctx && reply->type == REDIS_REPLY_ERROR)
        drop(r, "SELECT refused");
}

static void on_connect(const redisAsyncContext *ac, int status) {
    fg_cache_redis *r = ac->data;
    if (ac != r->ctx)
        return;
    if (status != REDIS_OK) {
        r->ctx = NULL; /* hiredis frees it when this returns */
        uv_timer_stop(&r->conn_timer);
        went_down(r, ac->errstr[0] ? ac->errstr : "connect failed");
        return;
    }
    r->state = HANDSHAKE;
    uv_timer_start(&r->conn_timer, on_conn_timer, HANDSHAKE_TIMEOUT_MS, 0);
    redisAsyncContext *c = r->ctx;
    if (r->cfg.target.db &&
        redisAsyncCommand(c, on_select, r, "SELECT %u", (unsigned)r->cfg.target.db) == REDIS_OK)
        r->pending++;
    if (redisAsyncCommand(c, on_ping, r, "PING") == REDIS_OK)
        r->pending++;
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    fg_cache_redis *r = ac->data;
    if (ac != r->ctx)
        return; /* one we dropped */
    r->ctx = NULL;
    uv_timer_stop(&r->conn_timer);
    went_down(r, ac->errstr[0] ? ac->errstr : "connection closed");
}

static void maybe_closed(fg_cache_redis *r);

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    fg_cache_redis *r = req->data;
    r->resolving = false;
    if (r->closing) {
        uv_freeaddrinfo(res);
        maybe_closed(r);
        return;
    }
    char ip[64] = "";
    if (status == 0 && res) {
        if (res->ai_family == AF_INET6)
            uv_ip6_name((const struct sockaddr_in6 *)res->ai_addr, ip, sizeof ip);
        else
            uv_ip4_name((const struct sockaddr_in *)res->ai_addr, ip, sizeof ip);
    }
    uv_freeaddrinfo(res);
    if (!ip[0]) {
        went_down(r, status ? uv_strerror(status) : "no address");
        return;
    }
    /* A numeric address: hiredis's own resolution then never blocks the loop. */
    redisAsyncContext *ctx = redisAsyncConnect(ip, r->cfg.target.port);
    if (!ctx || ctx->err) {
        char why[128];
        snprintf(why, sizeof why, "%s", ctx ? ctx->errstr : "out of memory");
        if (ctx)
            redisAsyncFree(ctx);
        went_down(r, why);
        return;
    }
    ctx->data = r;
    if (redisLibuvAttach(ctx, r->loop) != REDIS_OK) {
        redisAsyncFree(ctx);
        went_down(r, "cannot watch the socket");
        return;
    }
    redisAsyncSetConnectCallback(ctx, on_connect);
    redisAsyncSetDisconnectCallback(ctx, on_disconnect);
    r->ctx = ctx;
    r->pending = 0;
    r->state = CONNECTING;
    uv_check_start(&r->size_check, on_size_check);
    uv_timer_start(&r->conn_timer, on_conn_timer, CONNECT_TIMEOUT_MS, 0);
}

static void start_connect(fg_cache_redis *r) {
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)r->cfg.target.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    r->gai.data = r;
    r->state = RESOLVING;
    int rc = uv_getaddrinfo(r->loop, &r->gai, on_resolved, r->cfg.target.host, port, &hints);
    if (rc < 0) {
        went_down(r, uv_strerror(rc));
        return;
    }
    r->resolving = true;
}

fg_cache_redis *fg_cache_redis_new(uv_loop_t *loop, const fg_cache_redis_config *cfg) {
    fg_cache_redis *r = fg_calloc(1, sizeof *r);
    r->loop = loop;
    r->cfg = *cfg;
    uv_timer_init(loop, &r->conn_timer);
    r->conn_timer.data = r;
    uv_timer_init(loop, &r->budget_timer);
    r->budget_timer.data = r;
    uv_check_init(loop, &r->size_check);
    r->size_check.data = r;
    start_connect(r);
    return r;
}

bool fg_cache_redis_up(const fg_cache_redis *r) {
    return r->state == UP;
}

/* ---- commands ---- */

/* A reply larger than any value is being received (a server that is not a cache): drop it
 * rather than buffer it. True when dropped. */
static bool reply_too_large(fg_cache_redis *r) {
    const redisReader *rd = r->ctx ? r->ctx->c.reader : NULL;
    if (!rd || rd->len - rd->pos <= r->cfg.max_reply_bytes)
        return false;
    fg_stats_cache_add(FG_CSTAT_errors, 1);
    drop(r, "reply larger than any cache value");
    return true;
}

static void on_size_check(uv_check_t *h) {
    reply_too_large(h->data);
}

static void on_budget_timer(uv_timer_t *t) {
    fg_cache_redis *r = t->data;
    /* The timer counts whole milliseconds: a GET due within the next half is due now. */
    uint64_t now = fg_now_us() + 500;
    bool dropped = false;
    while (r->fifo_head && r->fifo_head->deadline_us <= now) {
        fg_stats_cache_add(FG_CSTAT_timeouts, 1);
        fg_stats_cache_add(FG_CSTAT_errors, 1);
        finish(r->fifo_head, FG_ERR_TIMEOUT, NULL, 0);
        if (++r->timeouts_in_row >= FG_CACHE_REDIS_TIMEOUTS_TO_DROP && r->ctx && !dropped) {
            dropped = true;
            drop(r, "lookups past their budget");
        }
    }
    arm_budget(r);
}

static void on_get_reply(redisAsyncContext *ac, void *reply_v, void *privdata) {
    fg_cache_redis_op *op = privdata;
    fg_cache_redis *r = op->r;
    redisReply *reply = reply_v;
    if (reply)
        r->pending--;
    if (op->cb) {
        if (!reply) {
            finish(op, FG_ERR_CLOSED, NULL, 0);
        } else {
            r->timeouts_in_row = 0;
            r->backoff_ms = 0; /* answered within budget: this Redis works */
            if (reply->type == REDIS_REPLY_NIL) {
                finish(op, FG_ERR_NOT_FOUND, NULL, 0);
            } else if (reply->type == REDIS_REPLY_STRING) {
                finish(op, 0, (const uint8_t *)reply->str, reply->len);
            } else {
                fg_stats_cache_add(FG_CSTAT_errors, 1);
                finish(op, FG_ERR_PROTO, NULL, 0);
            }
        }
    }
    free(op);
    if (!r->fifo_head)
        uv_timer_stop(&r->budget_timer);
}

int fg_cache_redis_get(fg_cache_redis *r, const char *key, size_t key_len, fg_cache_redis_get_cb cb,
                       void *user, fg_cache_redis_op **out) {
    if (r->state != UP || !r->ctx || reply_too_large(r))
        return FG_ERR_AGAIN;
    if (r->pending >= r->cfg.max_pending)
        return FG_ERR_FULL;
    fg_cache_redis_op *op = fg_calloc(1, sizeof *op);
    op->r = r;
    op->cb = cb;
    op->user = user;
    op->start_us = fg_now_us();
    op->deadline_us = op->start_us + r->cfg.budget_us;
    if (redisAsyncCommand(r->ctx, on_get_reply, op, "GET %b", key, key_len) != REDIS_OK) {
        free(op);
        return FG_ERR_AGAIN;
    }
    r->pending++;
    op->prev = r->fifo_tail;
    if (r->fifo_tail)
        r->fifo_tail->next = op;
    else
        r->fifo_head = op;
    r->fifo_tail = op;
    arm_budget(r);
    *out = op;
    return 0;
}

void fg_cache_redis_cancel(fg_cache_redis_op *op) {
    if (!op->cb)
        return;
    op->cb = NULL;
    fifo_unlink(op->r, op); /* freed when hiredis answers or drops it */
}

static void on_set_reply(redisAsyncContext *ac, void *reply_v, void *privdata) {
    fg_cache_redis *r = privdata;
    redisReply *reply = reply_v;
    if (!reply)
        return;
    r->pending--;
    if (reply->type == REDIS_REPLY_ERROR) {
        fg_stats_cache_add(FG_CSTAT_errors, 1);
        fg_log_debug("redis SET refused: %s", reply->str);
    }
}

int fg_cache_redis_set(fg_cache_redis *r, const char *key, size_t key_len, const uint8_t *head,
                       size_t head_len, const uint8_t *body, size_t body_len, uint32_t ttl_s) {
    if (r->state != UP || !r->ctx)
        return FG_ERR_AGAIN;
    if (r->pending >= r->cfg.max_pending)
        return FG_ERR_FULL;
    uint8_t *value = fg_malloc(head_len + body_len);
    memcpy(value, head, head_len);
    if (body_len)
        memcpy(value + head_len, body, body_len);
    char ttl[16];
    int ttl_len = snprintf(ttl, sizeof ttl, "%u", (unsigned)ttl_s);
    const char *argv[] = {"SET", key, (const char *)value, "EX", ttl};
    const size_t argvlen[] = {3, key_len, head_len + body_len, 2, (size_t)ttl_len};
    int rc = redisAsyncCommandArgv(r->ctx, on_set_reply, r, 5, argv, argvlen);
    free(value); /* hiredis copied the command */
    if (rc != REDIS_OK)
        return FG_ERR_AGAIN;
    r->pending++;
    return 0;
}

/* ---- closing ---- */

static void maybe_closed(fg_cache_redis *r) {
    if (r->closing_parts > 0 || r->resolving)
        return;
    void (*cb)(void *) = r->closed_cb;
    void *arg = r->closed_arg;
    free(r);
    if (cb)
        cb(arg);
}

static void on_handle_closed(uv_handle_t *h) {
    fg_cache_redis *r = h->data;
    r->closing_parts--;
    maybe_closed(r);
}

void fg_cache_redis_close(fg_cache_redis *r, void (*closed_cb)(void *arg), void *arg) {
    if (r->closing)
        return;
    bool was_up = r->state == UP;
    r->closing = true;
    r->closed_cb = closed_cb;
    r->closed_arg = arg;
    if (was_up)
        fg_stats_cache_add(FG_CSTAT_redis_connected, -1);
    r->state = DOWN;
    redisAsyncContext *ctx = r->ctx;
    r->ctx = NULL;
    if (ctx)
        redisAsyncFree(ctx);
    while (r->fifo_head)
        finish(r->fifo_head, FG_ERR_CLOSED, NULL, 0);
    if (r->resolving)
        uv_cancel((uv_req_t *)&r->gai); /* on_resolved still runs, with UV_ECANCELED */
    r->closing_parts = 3;
    uv_close((uv_handle_t *)&r->conn_timer, on_handle_closed);
    uv_close((uv_handle_t *)&r->budget_timer, on_handle_closed);
    uv_close((uv_handle_t *)&r->size_check, on_handle_closed);
}
