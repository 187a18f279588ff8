/*
 * fg_log: process log lines on stderr, "2026-11-29T10:52:16.123Z level message".
 * Per-frame lines are the proxy's business and go to stdout through its own code.
 */
#ifndef FG_LOG_H
#define FG_LOG_H

typedef enum fg_log_level { FG_LOG_DEBUG, FG_LOG_INFO, FG_LOG_WARN, FG_LOG_ERROR } fg_log_level;

/* Lines below this level are dropped. Default FG_LOG_INFO. */
void fg_log_set_level(fg_log_level level);
void fg_log(fg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define fg_log_debug(...) fg_log(FG_LOG_DEBUG, __VA_ARGS__)
#define fg_log_info(...) fg_log(FG_LOG_INFO, __VA_ARGS__)
#define fg_log_warn(...) fg_log(FG_LOG_WARN, __VA_ARGS__)
#define fg_log_error(...) fg_log(FG_LOG_ERROR, __VA_ARGS__)

#endif
