#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <string.h>

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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(all_three_syntaxes),
        cmocka_unit_test(defaults_kept_when_absent),
        cmocka_unit_test(bad_values_fail_with_a_message),
        cmocka_unit_test(help_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
