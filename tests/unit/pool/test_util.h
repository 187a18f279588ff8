/*
 * Helpers for the pool's tests: real backend processes (started, found on a free port, always
 * stopped, even when a test fails or the program crashes), running a libuv loop until a
 * condition holds, and an fg_pool with the tests' settings. They report failure by their
 * result; the tests assert on it.
 */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

/* From fg_pool.h and jansson.h, for the pool helpers below. */
typedef struct fg_pool fg_pool;
typedef struct json_t json_t;

typedef struct test_peer {
    pid_t pid; /* 0 when not running */
    uint16_t port;
    char log_path[64];
} test_peer;

/*
 * Starts argv (argv[0] a path, NULL-terminated) with stderr to a temporary file and waits up to
 * 20 s for a line "... listening on HOST:PORT". 0 and p->port set, or -1 (process stopped).
 */
int test_peer_start(test_peer *p, char *const argv[]);
void test_peer_signal(const test_peer *p, int sig);
/* SIGKILL and reap; safe to call twice. */
void test_peer_stop(test_peer *p);
/* Starts n peers from argv; addrs[i] is "HOST:PORT" of peers[i], kept in buf[i]. 0 or -1. */
int test_peers_start(test_peer *peers, size_t n, char *const argv[], const char *host,
                     char (*buf)[32], const char **addrs);
void test_peers_stop(test_peer *peers, size_t n);

/* Runs the loop until cond(arg) is true or timeout_ms passed; returns cond's last value. */
bool test_run_until(uv_loop_t *loop, bool (*cond)(void *arg), void *arg, int timeout_ms);
/* A done callback that sets *(bool *)arg, and the condition that waits for it. */
void test_set_flag(void *arg);
bool test_flag_set(void *arg);
/* Runs the loop for ms milliseconds. */
void test_run_for(uv_loop_t *loop, int ms);
/* Closes every handle left on the loop and runs it dry; 0 when the loop closed cleanly. */
int test_loop_close(uv_loop_t *loop);

/* A TCP port on 127.0.0.1 nobody listens on (bound, then closed). */
uint16_t test_closed_port(void);

/* fg_pool_new() with a 2 s deadline, 1 retry, marked after 1 fault or check; NULL on error. */
fg_pool *test_pool_new(uv_loop_t *loop, const char *const *addrs, size_t n,
                       uint32_t health_interval_ms);
/* Runs the loop until want backends are healthy; false after timeout_ms. */
bool test_pool_wait_healthy(uv_loop_t *loop, fg_pool *pool, size_t want, int timeout_ms);
/* /health of the pool, parsed (the caller decrefs), and its HTTP status; NULL when it did not
 * render or parse. */
json_t *test_pool_health(const fg_pool *pool, int *http_status);
/* Closes the pool, waits 3 s at most for it, then closes the loop; true when all went clean. */
bool test_pool_close(uv_loop_t *loop, fg_pool *pool);

#endif
