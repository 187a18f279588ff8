#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "fg_args.h"
#include "fg_err.h"

typedef struct opts {
    uint64_t port;
    const char *addrs;
    double rate;
    bool log;
    bool verbose;
} opts;

static int parse(opts *o, int argc, char **argv, char *err) {
    const fg_arg_spec specs[] = {
        {"ws-port", FG_ARG_UINT, &o->port, 0, 65535, 0, 0, "PORT", "port"},
        {"grpc-addrs", FG_ARG_STRING, &o->addrs, 0, 0, 0, 0, "LIST", "addresses"},
        {"fail-rate", FG_ARG_DOUBLE, &o->rate, 0, 0, 0.0, 1.0, "P", "rate"},
        {"log-frames", FG_ARG_ONOFF, &o->log, 0, 0, 0, 0, "on|off", "log"},
        {"verbose", FG_ARG_SWITCH, &o->verbose, 0, 0, 0, 0, NULL, "more"},
    };
    return fg_args_parse(specs, sizeof(specs) / sizeof(specs[0]), argc, argv, 1, err, 256);
}

static void all_three_syntaxes(void **state) {
    opts o = {8086, NULL, 0, true, false};
    char err[256] = "";
    char *argv[] = {"prog", "--ws-port",       "9000",     "--grpc-addrs=a:1,b:2", "-fail-rate",
                    "0.5",  "-log-frames=off", "--verbose"};
    assert_int_equal(parse(&o, 8, argv, err), 0);
    assert_int_equal(o.port, 9000);
    assert_string_equal(o.addrs, "a:1,b:2");
    assert_true(o.rate == 0.5);
    assert_false(o.log);
    assert_true(o.verbose);
}

static void defaults_kept_when_absent(void **state) {
    opts o = {8086, "x", 0.25, true, false};
    char err[256] = "";
    char *argv[] = {"prog"};
    assert_int_equal(parse(&o, 1, argv, err), 0);
    assert_int_equal(o.port, 8086);
    assert_true(o.rate == 0.25);
}

static void bad_values_fail_with_a_message(void **state) {
    char *cases[][3] = {
        {"prog", "--ws-port", "70000"}, {"prog", "--ws-port", "-1"},
        {"prog", "--ws-port", "12ab"},  {"prog", "--fail-rate", "1.5"},
        {"prog", "--fail-rate", "x"},   {"prog", "--log-frames", "maybe"},
        {"prog", "--nope", "1"},        {"prog", "stray", "1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        opts o = {0};
        char err[256] = "";
        assert_int_equal(parse(&o, 3, cases[i], err), FG_ERR_INVALID);
        assert_true(strlen(err) > 0);
    }
    opts o = {0};
    char err[256] = "";
    char *missing[] = {"prog", "--ws-port"};
    assert_int_equal(parse(&o, 2, missing, err), FG_ERR_INVALID);
    assert_non_null(strstr(err, "needs a value"));
}

static void help_is_reported(void **state) {
    opts o = {0};
    char err[256] = "";
    char *argv[] = {"prog", "--ws-port", "1", "-help"};
    assert_int_equal(parse(&o, 4, argv, err), FG_ARGS_HELP);
}

/* What fg_args_run() wrote to stdout and stderr: both fds point at temp files meanwhile. */
typedef struct captured {
    int rc;
    char out[4096];
    char err[1024];
} captured;

static void read_back(FILE *f, char *dst, size_t cap) {
    rewind(f);
    size_t len = fread(dst, 1, cap - 1, f);
    dst[len] = '\0';
    fclose(f);
}

static captured run(opts *o, int argc, char **argv) {
    const fg_arg_spec specs[] = {
        {"ws-port", FG_ARG_UINT, &o->port, 0, 65535, 0, 0, "PORT", "port"},
        {"verbose", FG_ARG_SWITCH, &o->verbose, 0, 0, 0, 0, NULL, "more"},
    };
    captured c;
    FILE *out = tmpfile(), *err = tmpfile();
    assert_non_null(out);
    assert_non_null(err);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2);
    dup2(fileno(out), 1);
    dup2(fileno(err), 2);
    c.rc = fg_args_run("prog", "prog [flags]", "Does things.", specs, 2, argc, argv, 1);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    read_back(out, c.out, sizeof(c.out));
    read_back(err, c.err, sizeof(c.err));
    return c;
}

static void run_ok_is_silent(void **state) {
    opts o = {.port = 8086};
    char *argv[] = {"prog", "--ws-port", "9000", "--verbose"};
    captured c = run(&o, 4, argv);
    assert_int_equal(c.rc, 0);
    assert_int_equal(o.port, 9000);
    assert_true(o.verbose);
    assert_string_equal(c.out, "");
    assert_string_equal(c.err, "");
}

static void run_help_prints_usage_on_stdout(void **state) {
    opts o = {.port = 8086};
    char *argv[] = {"prog", "--help"};
    captured c = run(&o, 2, argv);
    assert_int_equal(c.rc, FG_ARGS_HELP);
    assert_non_null(strstr(c.out, "usage: prog [flags]\n\nDoes things.\n"));
    assert_non_null(strstr(c.out, "--ws-port PORT"));
    assert_non_null(strstr(c.out, "(default 8086)"));
    assert_string_equal(c.err, "");
}

static void run_bad_value_prints_prog_and_error_on_stderr(void **state) {
    opts o = {.port = 8086};
    char *argv[] = {"prog", "--ws-port", "70000"};
    captured c = run(&o, 3, argv);
    assert_int_equal(c.rc, FG_ERR_INVALID);
    assert_int_equal(o.port, 8086);
    assert_string_equal(c.err, "prog: --ws-port: 70000 is out of range [0, 65535]\n");
    assert_string_equal(c.out, "");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(all_three_syntaxes),
        cmocka_unit_test(defaults_kept_when_absent),
        cmocka_unit_test(bad_values_fail_with_a_message),
        cmocka_unit_test(help_is_reported),
        cmocka_unit_test(run_ok_is_silent),
        cmocka_unit_test(run_help_prints_usage_on_stdout),
        cmocka_unit_test(run_bad_value_prints_prog_and_error_on_stderr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
