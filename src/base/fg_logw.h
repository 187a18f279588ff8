/*
 * fg_logw: a bounded, non-blocking writer for the per-frame log lines on stdout.
 *
 * A line is formatted into a fixed-size ring (FG_LOGW_RING_BYTES) and written to fd 1 only as
 * far as the fd takes it without blocking (poll for POLLOUT, then at most PIPE_BUF bytes, which
 * a pipe with room takes whole). When the ring is full the line is dropped and counted
 * (fg_logw_dropped(), the metric framegate_log_lines_dropped_total): a reader that does not keep
 * up, or a stdout pipe nobody reads, never stalls an event loop. Lines are never split.
 *
 * Process-wide, thread-safe (a mutex around the ring; no call blocks on the fd). It starts by
 * itself on the first line; fg_logw_attach() lets a loop flush what waits while no new line
 * comes, and fg_logw_drain() gives the rest a bounded time at exit.
 */
#ifndef FG_LOGW_H
#define FG_LOGW_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define FG_LOGW_RING_BYTES (256u << 10)
#define FG_LOGW_LINE_MAX 1024 /* longer lines are cut, keeping their newline */
#define FG_LOGW_FLUSH_MS 10   /* how often an attached loop retries while lines wait */

/* Appends one line (fmt should end with "\n"), or drops and counts it when the ring is full;
 * then writes what the fd takes now. */
void fg_logw_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Writes what the fd takes now; never blocks. */
void fg_logw_flush(void);
/* A timer on `loop` (unreferenced: it keeps no loop alive) flushes waiting lines every
 * FG_LOGW_FLUSH_MS. One loop at a time; fg_logw_detach() closes the timer (call it on that
 * loop's thread before the loop is closed). */
void fg_logw_attach(uv_loop_t *loop);
void fg_logw_detach(void);
/* At exit: waits up to timeout_ms for the fd to take the lines still in the ring. Returns the
 * bytes left unwritten. */
size_t fg_logw_drain(int timeout_ms);
/* Lines dropped because the ring was full. */
uint64_t fg_logw_dropped(void);
/* For tests: write to `fd` instead of 1 (before the first line). */
void fg_logw_set_fd(int fd);

#endif
