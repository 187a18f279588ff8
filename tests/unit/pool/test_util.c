#include "test_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "fg_buf.h"
#include "fg_pool.h"
#include "fg_stats.h"

#define MAX_PEERS 16

static pid_t live[MAX_PEERS];

static void kill_all_peers(void) {
    for (int i = 0; i < MAX_PEERS; i++) {
        if (live[i] > 0) {
            kill(live[i], SIGKILL);
            waitpid(live[i], NULL, 0);
            live[i] = 0;
        }
    }
}

static void track(pid_t pid, bool add) {
    static bool registered;
    if (!registered) {
        atexit(kill_all_peers);
        registered = true;
    }
    for (int i = 0; i < MAX_PEERS; i++) {
        if (add && live[i] == 0) {
            live[i] = pid;
            return;
        }
        if (!add && live[i] == pid) {
            live[i] = 0;
            return;
        }
    }
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int find_port(const char *log_path, uint16_t *port) {
    char buf[8192];
    FILE *f = fopen(log_path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *at = strstr(buf, "listening on ");
    if (!at)
        return -1;
    const char *eol = strchr(at, '\n');
    if (!eol)
        return -1;
    const char *colon = eol;
    while (colon > at && *colon != ':')
        colon--;
    int p = atoi(colon + 1);
    if (p <= 0 || p > 65535)
        return -1;
    *port = (uint16_t)p;
    return 0;
}

int test_peer_start(test_peer *p, char *const argv[]) {
    memset(p, 0, sizeof *p);
    snprintf(p->log_path, sizeof p->log_path, "/tmp/fgpeer-XXXXXX");
    int fd = mkstemp(p->log_path);
    if (fd < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fd);
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        dup2(fd, STDERR_FILENO);
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, STDIN_FILENO);
        dup2(devnull, STDOUT_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fd);
    p->pid = pid;
    track(pid, true);
    for (int waited = 0; waited < 20000; waited += 20) {
        if (find_port(p->log_path, &p->port) == 0) {
            unlink(p->log_path); /* the peer keeps its open file; nothing is left on a crash */
            p->log_path[0] = '\0';
            return 0;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            track(pid, false);
            p->pid = 0;
            break;
        }
        sleep_ms(20);
    }
    fprintf(stderr, "peer %s did not start; its log:\n", argv[0]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "cat %s >&2", p->log_path);
    if (system(cmd) != 0)
        fprintf(stderr, "(no log)\n");
    test_peer_stop(p);
    return -1;
}

void test_peer_signal(const test_peer *p, int sig) {
    if (p->pid > 0)
        kill(p->pid, sig);
}

void test_peer_stop(test_peer *p) {
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        track(p->pid, false);
        p->pid = 0;
    }
    if (p->log_path[0]) {
        unlink(p->log_path);
        p->log_path[0] = '\0';
    }
}

int test_peers_start(test_peer *peers, size_t n, char *const argv[], const char *host,
                     char (*buf)[32], const char **addrs) {
    for (size_t i = 0; i < n; i++) {
        if (test_peer_start(&peers[i], argv) < 0)
            return -1;
        snprintf(buf[i], sizeof buf[i], "%s:%u", host, (unsigned)peers[i].port);
        addrs[i] = buf[i];
    }
    return 0;
}

void test_peers_stop(test_peer *peers, size_t n) {
    for (size_t i = 0; i < n; i++)
        test_peer_stop(&peers[i]);
}

static void on_tick(uv_timer_t *t) {}

bool test_run_until(uv_loop_t *loop, bool (*cond)(void *arg), void *arg, int timeout_ms) {
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, on_tick, 5, 5); /* so that UV_RUN_ONCE never blocks for long */
    uv_update_time(loop);
    uint64_t end = uv_now(loop) + (uint64_t)timeout_ms;
    bool ok;
    while (!(ok = cond(arg)) && uv_now(loop) < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return ok;
}

void test_set_flag(void *arg) {
    *(bool *)arg = true;
}

bool test_flag_set(void *arg) {
    return *(bool *)arg;
}

static bool never(void *arg) {
    return false;
}

void test_run_for(uv_loop_t *loop, int ms) {
    test_run_until(loop, never, NULL, ms);
}

static void close_walk(uv_handle_t *h, void *arg) {
    if (!uv_is_closing(h)) {
        (*(int *)arg)++;
        uv_close(h, NULL);
    }
}

int test_loop_close(uv_loop_t *loop) {
    uv_run(loop, UV_RUN_NOWAIT);
    int leftover = 0;
    uv_walk(loop, close_walk, &leftover);
    uv_run(loop, UV_RUN_DEFAULT);
    int rv = uv_loop_close(loop);
    return leftover ? -leftover : rv;
}

uint16_t test_closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    bind(fd, (struct sockaddr *)&sa, sizeof sa);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

fg_pool *test_pool_new(uv_loop_t *loop, const char *const *addrs, size_t n,
                       uint32_t health_interval_ms) {
    fg_pool_config cfg = {
        .addrs = addrs,
        .naddrs = n,
        .timeout_ms = 2000,
        .retries = 1,
        .unhealthy_after = 1,
        .healthy_after = 1,
        .health_interval_ms = health_interval_ms,
        /* These tests check the original design's rotation; the scheduler's choice of backend
         * is tested end to end (tests/integration/test_overload.py). */
        .balance = FG_BALANCE_ROUND_ROBIN,
        .deadline_ms = 4000,
    };
    fg_pool *pool;
    return fg_pool_new(loop, &cfg, &pool) == 0 ? pool : NULL;
}

typedef struct pool_wait {
    fg_pool *pool;
    size_t want;
} pool_wait;

static bool healthy_count_is(void *arg) {
    pool_wait *w = arg;
    return fg_pool_healthy_count(w->pool) == w->want;
}

bool test_pool_wait_healthy(uv_loop_t *loop, fg_pool *pool, size_t want, int timeout_ms) {
    pool_wait w = {pool, want};
    return test_run_until(loop, healthy_count_is, &w, timeout_ms);
}

json_t *test_pool_health(const fg_pool *pool, int *http_status) {
    fg_buf buf;
    fg_buf_init(&buf, 1 << 20);
    json_t *root = NULL;
    if (fg_stats_render_health(pool, &buf, http_status) == 0) {
        json_error_t jerr;
        root = json_loadb((const char *)buf.data, buf.len, 0, &jerr);
    }
    fg_buf_free(&buf);
    return root;
}

bool test_pool_close(uv_loop_t *loop, fg_pool *pool) {
    bool closed = false;
    fg_pool_close(pool, test_set_flag, &closed);
    return test_run_until(loop, test_flag_set, &closed, 3000) && test_loop_close(loop) == 0;
}
