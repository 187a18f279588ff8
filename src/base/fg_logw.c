/*
 * fg_logw: per-frame log lines through a fixed ring, written without blocking (see fg_logw.h).
 */
#include "fg_logw.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fg_clock.h"
#include "fg_counters.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char ring[FG_LOGW_RING_BYTES];
static size_t head; /* first unwritten byte */
static size_t used; /* unwritten bytes from head, wrapping */
static int out_fd = STDOUT_FILENO;
static bool broken; /* the fd failed for good (EPIPE, EBADF...): lines are dropped */
static _Atomic uint64_t dropped;
static uv_timer_t timer;
static bool attached;

/* Whether the fd takes a write of up to PIPE_BUF bytes now. */
static bool writable(int timeout_ms) {
    struct pollfd p = {.fd = out_fd, .events = POLLOUT};
    int rc;
    do
        rc = poll(&p, 1, timeout_ms);
    while (rc < 0 && errno == EINTR);
    return rc > 0 && (p.revents & POLLOUT) && !(p.revents & (POLLERR | POLLNVAL));
}

/* With the lock held: writes from the ring while the fd takes it. */
static void flush_locked(void) {
    while (used > 0 && !broken && writable(0)) {
        size_t n = FG_LOGW_RING_BYTES - head < used ? FG_LOGW_RING_BYTES - head : used;
        if (n > PIPE_BUF)
            n = PIPE_BUF;
        ssize_t w = write(out_fd, ring + head, n);
        if (w < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            broken = true; /* nobody will read these lines: drop them from now on */
            used = 0;
            return;
        }
        head = (head + (size_t)w) % FG_LOGW_RING_BYTES;
        used -= (size_t)w;
    }
}

static void count_drop(void) {
    atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
    fg_stats_add(FG_STAT_log_lines_dropped_total, 1);
}

void fg_logw_printf(const char *fmt, ...) {
    char line[FG_LOGW_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n;
    if (len >= sizeof line) { /* cut, but still one whole line */
        len = sizeof line - 1;
        line[len - 1] = '\n';
    }
    pthread_mutex_lock(&lock);
    if (broken || FG_LOGW_RING_BYTES - used < len) {
        pthread_mutex_unlock(&lock);
        count_drop();
        return;
    }
    size_t tail = (head + used) % FG_LOGW_RING_BYTES;
    size_t first = FG_LOGW_RING_BYTES - tail < len ? FG_LOGW_RING_BYTES - tail : len;
    memcpy(ring + tail, line, first);
    memcpy(ring, line + first, len - first);
    used += len;
    flush_locked();
    pthread_mutex_unlock(&lock);
}

void fg_logw_flush(void) {
    pthread_mutex_lock(&lock);
    flush_locked();
    pthread_mutex_unlock(&lock);
}

static void on_timer(uv_timer_t *t) {
    (void)t;
    fg_logw_flush();
}

void fg_logw_attach(uv_loop_t *loop) {
    if (attached)
        return;
    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, on_timer, FG_LOGW_FLUSH_MS, FG_LOGW_FLUSH_MS);
    uv_unref((uv_handle_t *)&timer);
    attached = true;
}

void fg_logw_detach(void) {
    if (!attached)
        return;
    uv_close((uv_handle_t *)&timer, NULL);
    attached = false;
}

size_t fg_logw_drain(int timeout_ms) {
    uint64_t end = fg_now_us() + (uint64_t)timeout_ms * 1000;
    pthread_mutex_lock(&lock);
    flush_locked();
    while (used > 0 && !broken) {
        uint64_t now = fg_now_us();
        if (now >= end || !writable((int)((end - now + 999) / 1000)))
            break;
        flush_locked();
    }
    size_t left = broken ? 0 : used;
    pthread_mutex_unlock(&lock);
    return left;
}

uint64_t fg_logw_dropped(void) {
    return atomic_load_explicit(&dropped, memory_order_relaxed);
}

void fg_logw_set_fd(int fd) {
    pthread_mutex_lock(&lock);
    out_fd = fd;
    pthread_mutex_unlock(&lock);
}
