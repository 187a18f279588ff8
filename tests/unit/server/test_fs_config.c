/* fs_config: defaults, every flag, and clear errors for bad values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "fg_args.h"
#include "fg_err.h"
#include "fs_config.h"

static int parse(fs_config *cfg, char *err, size_t errlen, int argc, char **argv) {
    fs_config_init(cfg);
    return fs_config_parse(cfg, argc, argv, err, errlen);
}

static void test_defaults(void **state) {
    fs_config cfg;
    char err[256];
    char *argv[] = {"frameserver"};
    assert_int_equal(parse(&cfg, err, sizeof(err), 1, argv), 0);
    assert_string_equal(cfg.host, "127.0.0.1");
    assert_int_equal(cfg.port, 50051);
    assert_int_equal(cfg.n_models, 1);
    assert_string_equal(cfg.model_names[0], "sanders");
    assert_int_equal(cfg.load_ms, 1000);
    assert_int_equal(cfg.infer_ms, 17);
    assert_int_equal(cfg.batch_item_ms, 2);
    assert_int_equal(cfg.width, 128);
    assert_int_equal(cfg.height, 64);
    assert_int_equal(cfg.format, FS_FORMAT_RGB24);
    assert_int_equal(cfg.queue_max, 256);
    assert_true(cfg.fail_rate == 0.0);
    assert_false(cfg.fail_load);
    assert_int_equal(cfg.max_recv_bytes, 4 << 20);
    fs_config_free(&cfg);
}

static void test_all_flags(void **state) {
    fs_config cfg;
    char err[256];
    char *argv[] = {
        "frameserver", "--host", "::1",         "--port=0", "-models",         "a,b,c",
        "--load-ms",   "5",      "--infer-ms",  "0",        "--batch-item-ms", "3",
        "--width",     "64",     "--height",    "32",       "--format",        "jpeg",
        "--queue-max", "9",      "--fail-rate", "0.25",     "--fail-load",     "--max-recv-bytes",
        "1024"};
    assert_int_equal(parse(&cfg, err, sizeof(err), 25, argv), 0);
    assert_string_equal(cfg.host, "::1");
    assert_int_equal(cfg.port, 0);
    assert_int_equal(cfg.n_models, 3);
    assert_string_equal(cfg.model_names[2], "c");
    assert_int_equal(cfg.load_ms, 5);
    assert_int_equal(cfg.infer_ms, 0);
    assert_int_equal(cfg.batch_item_ms, 3);
    assert_int_equal(cfg.width, 64);
    assert_int_equal(cfg.height, 32);
    assert_int_equal(cfg.format, FS_FORMAT_JPEG);
    assert_int_equal(cfg.queue_max, 9);
    assert_true(cfg.fail_rate == 0.25);
    assert_true(cfg.fail_load);
    assert_int_equal(cfg.max_recv_bytes, 1024);
    fs_config_free(&cfg);
}

static void expect_error(const char *flag, const char *value, const char *fragment) {
    fs_config cfg;
    char err[256] = "";
    char *argv[] = {"frameserver", (char *)flag, (char *)value};
    int argc = value ? 3 : 2;
    assert_int_equal(parse(&cfg, err, sizeof(err), argc, argv), FG_ERR_INVALID);
    if (!strstr(err, fragment))
        fail_msg("'%s %s': error '%s' does not mention '%s'", flag, value ? value : "", err,
                 fragment);
    fs_config_free(&cfg);
}

static void test_bad_values(void **state) {
    expect_error("--format", "png", "--format");
    expect_error("--port", "65536", "--port");
    expect_error("--port", "-1", "--port");
    expect_error("--port", "http", "--port");
    expect_error("--models", "", "--models");
    expect_error("--models", "a,,b", "--models");
    expect_error("--models", "a,b,a", "twice");
    expect_error("--models", "has space", "--models");
    expect_error("--width", "0", "--width");
    expect_error("--height", "100000", "--height");
    expect_error("--queue-max", "0", "--queue-max");
    expect_error("--fail-rate", "1.5", "--fail-rate");
    expect_error("--fail-rate", "nan", "--fail-rate");
    expect_error("--max-recv-bytes", "1", "--max-recv-bytes");
    expect_error("--host", "", "--host");
    expect_error("--log-level", "loud", "--log-level");
    expect_error("--infer-ms", NULL, "needs a value");
    expect_error("--no-such-flag", NULL, "unknown flag");
}

static void test_help(void **state) {
    fs_config cfg;
    char err[256];
    char *argv[] = {"frameserver", "--help"};
    assert_int_equal(parse(&cfg, err, sizeof(err), 2, argv), FG_ARGS_HELP);
    fs_config_free(&cfg);
}

static void test_format_names(void **state) {
    assert_string_equal(fs_format_name(FS_FORMAT_RGB24), "rgb24");
    assert_string_equal(fs_format_name(FS_FORMAT_RGBA32), "rgba32");
    assert_string_equal(fs_format_name(FS_FORMAT_JPEG), "jpeg");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),     cmocka_unit_test(test_all_flags),
        cmocka_unit_test(test_bad_values),   cmocka_unit_test(test_help),
        cmocka_unit_test(test_format_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
