/* fg_config: the framegate command line, all three flag syntaxes, range vs explicit backends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fg_args.h"
#include "fg_config.h"
#include "fg_err.h"

#define PARSE(cfg, err, ...) parse(cfg, err, (char *[]){"framegate", __VA_ARGS__, NULL})

static int parse(fg_config *c, char *err, char **argv) {
    int argc = 0;
    while (argv[argc])
        argc++;
    fg_config_init(c);
    err[0] = '\0';
    return fg_config_parse(c, argc, argv, err, 256);
}

/* Issue 13: dns:/// and dns+srv:/// entries of --grpc-addrs, mixed with plain addresses. */
static void dns_targets(void **state) {
    fg_config c;
    char err[256];
    assert_int_equal(PARSE(&c, err, "--grpc-addrs",
                           "dns:///frames.example:50051, localhost:50052,dns+srv:///_grpc._tcp.f.x",
                           "--dns-servers", "127.0.0.1:5353", "--dns-refresh-ms", "500"),
                     0);
    assert_int_equal(c.nbackends, 1);
    assert_string_equal(c.backends[0], "localhost:50052");
    assert_int_equal(c.ndns, 2);
    assert_string_equal(c.dns[0].name, "frames.example");
    assert_int_equal(c.dns[0].port, 50051);
    assert_false(c.dns[0].srv);
    assert_string_equal(c.dns[1].name, "_grpc._tcp.f.x");
    assert_true(c.dns[1].srv);
    assert_string_equal(c.dns_servers, "127.0.0.1:5353");
    assert_int_equal(c.dns_refresh_ms, 500);
    assert_int_equal(c.dns_timeout_ms, 1000);
    fg_config_free(&c);

    /* Only DNS targets: no plain backend at all is fine. */
    assert_int_equal(PARSE(&c, err, "--grpc-addrs", "dns:///a:1"), 0);
    assert_int_equal(c.nbackends, 0);
    assert_int_equal(c.ndns, 1);
    fg_config_free(&c);

    static const char *const bad[][2] = {
        {"dns:///frames.example", "needs a port"},
        {"dns:///frames.example:0", "1..65535"},
        {"dns:///frames.example:65536", "1..65535"},
        {"dns:///frames.example:", "empty port"},
        {"dns:///:50051", "1..253"},
        {"dns://8.8.8.8/frames.example:50051", "authority"},
        {"dns:frames.example:50051", "want dns:///"},
        {"dns+srv:///", "1..253"},
        {"dns:///fr ames:1", "not allowed"},
        {"dns+srv:///a/b", "not allowed"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(PARSE(&c, err, "--grpc-addrs", (char *)bad[i][0]), FG_ERR_INVALID);
        if (!strstr(err, bad[i][1]))
            fail_msg("'%s': message '%s' lacks '%s'", bad[i][0], err, bad[i][1]);
    }
}

static void defaults(void **state) {
    fg_config c;
    char err[256];
    fg_config_init(&c);
    assert_int_equal(fg_config_parse(&c, 1, (char *[]){"framegate", NULL}, err, sizeof(err)), 0);
    assert_int_equal(c.ws_port, 8086);
    assert_string_equal(c.host, "0.0.0.0");
    assert_int_equal(c.timeout_ms, 1000);
    assert_int_equal(c.retries, 1);
    assert_int_equal(c.max_inflight, 64);
    assert_int_equal(c.max_message, 1024 * 1024);
    assert_int_equal(c.unhealthy_after, 1);
    assert_int_equal(c.healthy_after, 1);
    assert_int_equal(c.health_interval_ms, 1000);
    assert_true(c.log_frames);
    assert_int_equal(c.header_timeout_ms, 10000);
    assert_int_equal(c.ws_ping_ms, 30000);
    assert_int_equal(c.drain_ms, 5000);
    assert_null(c.allowed_origins);
    assert_null(c.auth_token);
    assert_int_equal(c.nbackends, 1);
    assert_string_equal(c.backends[0], "localhost:50051");
    fg_config_free(&c);
}

static void three_flag_syntaxes(void **state) {
    fg_config c;
    char err[256];
    assert_int_equal(PARSE(&c, err, "--ws-port", "9001"), 0);
    assert_int_equal(c.ws_port, 9001);
    fg_config_free(&c);
    assert_int_equal(PARSE(&c, err, "--ws-port=9002"), 0);
    assert_int_equal(c.ws_port, 9002);
    fg_config_free(&c);
    assert_int_equal(PARSE(&c, err, "-ws-port", "9003", "-log-frames=off"), 0);
    assert_int_equal(c.ws_port, 9003);
    assert_false(c.log_frames);
    fg_config_free(&c);
    assert_int_equal(PARSE(&c, err, "--ws-port", "0"), 0);
    assert_int_equal(c.ws_port, 0);
    fg_config_free(&c);
}

static void range_mode(void **state) {
    fg_config c;
    char err[256];
    assert_int_equal(PARSE(&c, err, "--start-port", "50060", "--num-servers", "8"), 0);
    assert_int_equal(c.nbackends, 8);
    for (size_t i = 0; i < 8; i++) {
        char want[32];
        snprintf(want, sizeof(want), "localhost:%zu", 50060 + i);
        assert_string_equal(c.backends[i], want);
    }
    fg_config_free(&c);
}

static void explicit_list_overrides_range(void **state) {
    fg_config c;
    char err[256];
    assert_int_equal(PARSE(&c, err, "--num-servers", "4", "--grpc-addrs",
                           "localhost:50051, 10.0.0.2:50055 ,[::1]:50099"),
                     0);
    assert_int_equal(c.nbackends, 3);
    assert_string_equal(c.backends[0], "localhost:50051");
    assert_string_equal(c.backends[1], "10.0.0.2:50055");
    assert_string_equal(c.backends[2], "[::1]:50099");
    fg_config_free(&c);
}

static void all_added_flags(void **state) {
    fg_config c;
    char err[256];
    assert_int_equal(PARSE(&c, err, "--host", "127.0.0.1", "--timeout-ms", "250", "--retries", "3",
                           "--max-inflight", "8", "--max-message", "64KiB", "--unhealthy-after",
                           "2", "--healthy-after", "3", "--health-interval-ms", "100",
                           "--log-frames", "on"),
                     0);
    assert_string_equal(c.host, "127.0.0.1");
    assert_int_equal(c.timeout_ms, 250);
    assert_int_equal(c.retries, 3);
    assert_int_equal(c.max_inflight, 8);
    assert_int_equal(c.max_message, 65536);
    assert_int_equal(c.unhealthy_after, 2);
    assert_int_equal(c.healthy_after, 3);
    assert_int_equal(c.health_interval_ms, 100);
    assert_true(c.log_frames);
    fg_config_free(&c);
}

static void hardening_flags(void **state) {
    fg_config c;
    char err[256];
    assert_int_equal(PARSE(&c, err, "--header-timeout-ms", "0", "--ws-ping-ms=250",
                           "--allowed-origins", "https://a.example,https://b.example",
                           "-auth-token", "tok", "--drain-ms", "1500"),
                     0);
    assert_int_equal(c.header_timeout_ms, 0);
    assert_int_equal(c.ws_ping_ms, 250);
    assert_string_equal(c.allowed_origins, "https://a.example,https://b.example");
    assert_string_equal(c.auth_token, "tok");
    assert_int_equal(c.drain_ms, 1500);
    fg_config_free(&c);
    assert_int_equal(PARSE(&c, err, "--drain-ms", "10"), FG_ERR_INVALID);
    assert_non_null(strstr(err, "drain-ms"));
    assert_int_equal(PARSE(&c, err, "--ws-ping-ms", "-1"), FG_ERR_INVALID);
}

static void sizes(void **state) {
    uint64_t v;
    assert_int_equal(fg_config_parse_size("1048576", &v), 0);
    assert_int_equal(v, 1048576);
    assert_int_equal(fg_config_parse_size("1MiB", &v), 0);
    assert_int_equal(v, 1048576);
    assert_int_equal(fg_config_parse_size("2m", &v), 0);
    assert_int_equal(v, 2097152);
    assert_int_equal(fg_config_parse_size("512KB", &v), 0);
    assert_int_equal(v, 524288);
    assert_int_equal(fg_config_parse_size("", &v), FG_ERR_INVALID);
    assert_int_equal(fg_config_parse_size("-1", &v), FG_ERR_INVALID);
    assert_int_equal(fg_config_parse_size("1GiB", &v), FG_ERR_INVALID);
    assert_int_equal(fg_config_parse_size("12 MiB", &v), FG_ERR_INVALID);
    assert_int_equal(fg_config_parse_size("99999999999999999999", &v), FG_ERR_INVALID);
}

static void bad_values_are_errors_with_a_message(void **state) {
    fg_config c;
    char err[256];
    char **cases[] = {
        (char *[]){"framegate", "--ws-port", "70000", NULL},
        (char *[]){"framegate", "--ws-port", "abc", NULL},
        (char *[]){"framegate", "--ws-port", NULL},
        (char *[]){"framegate", "--num-servers", "0", NULL},
        (char *[]){"framegate", "--start-port", "65535", "--num-servers", "2", NULL},
        (char *[]){"framegate", "--grpc-addrs", "nohost", NULL},
        (char *[]){"framegate", "--grpc-addrs", "a:0", NULL},
        (char *[]){"framegate", "--grpc-addrs", "a:1,,b:2", NULL},
        (char *[]){"framegate", "--grpc-addrs", "a:65536", NULL},
        (char *[]){"framegate", "--grpc-addrs", "::1:50051", NULL},
        (char *[]){"framegate", "--grpc-addrs", "", NULL},
        (char *[]){"framegate", "--max-message", "1XB", NULL},
        (char *[]){"framegate", "--max-message", "8", NULL},
        (char *[]){"framegate", "--timeout-ms", "0", NULL},
        (char *[]){"framegate", "--log-frames", "maybe", NULL},
        (char *[]){"framegate", "--no-such-flag", "1", NULL},
        (char *[]){"framegate", "stray", NULL},
        (char *[]){"framegate", "--host", "", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse(&c, err, cases[i]), FG_ERR_INVALID);
        assert_true(strlen(err) > 0);
        assert_int_equal(c.nbackends, 0);
    }
}

/* Writes text to a fresh temporary file; its path in path (64 bytes). */
static void temp_file(char *path, const char *text) {
    snprintf(path, 64, "/tmp/fg_config_test_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
}

static void addrs_file(void **state) {
    char path[64], err[256];
    temp_file(path, "# backends\n127.0.0.1:50051\n  localhost:50052 , [::1]:50053 # v6\r\n\n"
                    ",, 10.0.0.1:7\n");
    char **addrs;
    size_t n;
    assert_int_equal(fg_config_read_addrs_file(path, &addrs, &n, err, sizeof err), 0);
    assert_int_equal(n, 4);
    assert_string_equal(addrs[0], "127.0.0.1:50051");
    assert_string_equal(addrs[1], "localhost:50052");
    assert_string_equal(addrs[2], "[::1]:50053");
    assert_string_equal(addrs[3], "10.0.0.1:7");
    fg_config_free_addrs(addrs, n);

    /* The flag: the file wins over --grpc-addrs and range mode. */
    fg_config c;
    assert_int_equal(PARSE(&c, err, "--grpc-addrs", "a:1", "--grpc-addrs-file", path), 0);
    assert_int_equal(c.nbackends, 4);
    assert_string_equal(c.backends[3], "10.0.0.1:7");
    fg_config_free(&c);
    unlink(path);
}

static void bad_addrs_files(void **state) {
    static const struct {
        const char *text, *why;
    } cases[] = {
        {"", "no backend addresses"},
        {"# nothing\n\n  \n", "no backend addresses"},
        {"a:1\nb:2\nnoport\n", ":3: 'noport' is not host:port"},
        {"a:1, b:99999\n", ":1: 'b:99999' is not host:port"},
        {"::1:80\n", "is not host:port"},
    };
    char path[64], err[256];
    char **addrs = (char **)1;
    size_t n = 7;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        temp_file(path, cases[i].text);
        err[0] = '\0';
        assert_int_equal(fg_config_read_addrs_file(path, &addrs, &n, err, sizeof err),
                         FG_ERR_INVALID);
        assert_null(addrs);
        assert_int_equal(n, 0);
        assert_non_null(strstr(err, path));
        assert_non_null(strstr(err, cases[i].why));
        unlink(path);
    }
    assert_int_equal(fg_config_read_addrs_file("/nonexistent/fg", &addrs, &n, err, sizeof err),
                     FG_ERR_INVALID);
    assert_non_null(strstr(err, "No such file"));
    fg_config c;
    assert_int_equal(PARSE(&c, err, "--grpc-addrs-file", "/nonexistent/fg"), FG_ERR_INVALID);
    assert_int_equal(c.nbackends, 0);

    /* Over the size limit. */
    snprintf(path, sizeof path, "/tmp/fg_config_test_XXXXXX");
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i <= FG_CONFIG_MAX_ADDRS_FILE / 16; i++)
        fputs("# padding......\n", f);
    fputs("a:1\n", f);
    fclose(f);
    assert_int_equal(fg_config_read_addrs_file(path, &addrs, &n, err, sizeof err), FG_ERR_INVALID);
    assert_non_null(strstr(err, "larger than"));
    unlink(path);
}

static void help(void **state) {
    fg_config c;
    char err[256];
    assert_int_equal(PARSE(&c, err, "--help"), FG_ARGS_HELP);
    assert_int_equal(PARSE(&c, err, "-h"), FG_ARGS_HELP);
    char buf[8192] = {0};
    FILE *out = fmemopen(buf, sizeof(buf) - 1, "w");
    fg_config_init(&c);
    fg_config_usage(&c, out);
    fclose(out);
    const char *flags[] = {
        "--ws-port",     "--start-port",      "--num-servers",   "--grpc-addrs",
        "--host",        "--timeout-ms",      "--retries",       "--max-inflight",
        "--max-message", "--unhealthy-after", "--healthy-after", "--health-interval-ms",
        "--log-frames",  "--grpc-addrs-file", "--help"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        assert_non_null(strstr(buf, flags[i]));
    assert_non_null(strstr(buf, "(default 8086)"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(dns_targets),
        cmocka_unit_test(three_flag_syntaxes),
        cmocka_unit_test(range_mode),
        cmocka_unit_test(explicit_list_overrides_range),
        cmocka_unit_test(all_added_flags),
        cmocka_unit_test(hardening_flags),
        cmocka_unit_test(sizes),
        cmocka_unit_test(bad_values_are_errors_with_a_message),
        cmocka_unit_test(addrs_file),
        cmocka_unit_test(bad_addrs_files),
        cmocka_unit_test(help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
