/* fg_logw: a stdout pipe nobody reads never blocks the writer; lines past the ring are dropped
 * whole and counted; what was kept comes out in order, whole, once the reader catches up. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fg_clock.h"
#include "fg_counters.h"
#include "fg_logw.h"

#define LINE_PAD 100

static void unread_pipe_drops_and_never_blocks(void **state) {
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fg_logw_set_fd(fds[1]);
    char pad[LINE_PAD + 1];
    memset(pad, 'x', LINE_PAD);
    pad[LINE_PAD] = '\0';
    /* Far more than the pipe (64 KiB) and the ring hold together. */
    int lines = (int)((FG_LOGW_RING_BYTES + (1u << 20)) / (LINE_PAD + 10));
    uint64_t t0 = fg_now_us();
    for (int i = 0; i < lines; i++)
        fg_logw_printf("%08d %s\n", i, pad);
    uint64_t took_us = fg_now_us() - t0;
    uint64_t dropped = fg_logw_dropped();
    /* Never blocked: the whole burst is quick, and the lines beyond the room were dropped. */
    assert_true(took_us < 2000000);
    assert_true(dropped > 0);
    assert_true(dropped < (uint64_t)lines);
    assert_int_equal(fg_stats_get(FG_STAT_log_lines_dropped_total), dropped);

    /* The reader catches up: every kept line comes out whole and in order, then nothing. */
    int fl = fcntl(fds[0], F_GETFL);
    fcntl(fds[0], F_SETFL, fl | O_NONBLOCK);
    size_t cap = FG_LOGW_RING_BYTES + (1u << 20);
    char *buf = malloc(cap);
    size_t len = 0;
    uint64_t end = fg_now_us() + 2000000;
    while (fg_now_us() < end) {
        ssize_t n = read(fds[0], buf + len, cap - len);
        if (n > 0)
            len += (size_t)n;
        fg_logw_flush();
        if (fg_logw_drain(0) == 0 && n <= 0)
            break;
    }
    size_t kept = 0;
    int last = -1;
    for (size_t off = 0; off < len;) {
        char *nl = memchr(buf + off, '\n', len - off);
        assert_non_null(nl);
        assert_int_equal((size_t)(nl - (buf + off)), 9 + LINE_PAD);
        int no = atoi(buf + off);
        assert_true(no > last); /* in order, never twice */
        last = no;
        kept++;
        off = (size_t)(nl - buf) + 1;
    }
    assert_int_equal(kept + dropped, (uint64_t)lines);
    free(buf);
    close(fds[0]);
    close(fds[1]);
}

static void long_line_is_cut_but_whole(void **state) {
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fg_logw_set_fd(fds[1]);
    char big[FG_LOGW_LINE_MAX * 2];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    fg_logw_printf("%s\n", big);
    assert_int_equal(fg_logw_drain(1000), 0);
    char out[FG_LOGW_LINE_MAX * 2];
    ssize_t n = read(fds[0], out, sizeof out);
    assert_int_equal(n, FG_LOGW_LINE_MAX - 1);
    assert_int_equal(out[n - 1], '\n');
    close(fds[0]);
    close(fds[1]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unread_pipe_drops_and_never_blocks),
        cmocka_unit_test(long_line_is_cut_but_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
