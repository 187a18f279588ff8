/*
 * Helpers for the pool's tests: real backend processes (started, found on a free port, always
 * stopped, even when a test fails or the program crashes) and running a libuv loop until a
 * condition holds.
 */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

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

/* Runs the loop until cond(arg) is true or timeout_ms passed; returns cond's last value. */
bool test_run_until(uv_loop_t *loop, bool (*cond)(void *arg), void *arg, int timeout_ms);
/* Runs the loop for ms milliseconds. */
void test_run_for(uv_loop_t *loop, int ms);
/* Closes every handle left on the loop and runs it dry; 0 when the loop closed cleanly. */
int test_loop_close(uv_loop_t *loop);

/* A TCP port on 127.0.0.1 nobody listens on (bound, then closed). */
uint16_t test_closed_port(void);

#endif
