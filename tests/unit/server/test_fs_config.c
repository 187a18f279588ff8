/* fs_config: defaults, every flag, and clear errors for bad values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <string.h>

#include "fg_args.h"
#include "fg_err.h"
#include "fs_config.h"

static int parse(fs_config *cfg, char *err, size_t errlen, int argc, char **argv) {
    fs_config_init(cfg);
    return fs_config_parse(cfg, argc, argv, err, errlen);
}

/* The values a parse must produce; models by count and last name. */
typedef struct expected {
    const char *host;
    uint64_t port;
    size_t n_models;
    const char *last_model;
    uint64_t load_ms, infer_ms, batch_item_ms, width, height;
    fs_format format;
    uint64_t queue_max;
    double fail_rate;
    bool fail_load;
    uint64_t max_recv_bytes;
} expected;

static void assert_config(const fs_config *cfg, const expected *want) {
    assert_string_equal(cfg->host, want->host);
    assert_int_equal(cfg->port, want->port);
    assert_int_equal(cfg->n_models, want->n_models);
    assert_string_equal(cfg->model_names[cfg->n_models - 1], want->last_model);
    assert_int_equal(cfg->load_ms, want->load_ms);
    assert_int_equal(cfg->infer_ms, want->infer_ms);
    assert_int_equal(cfg->batch_item_ms, want->batch_item_ms);
    assert_int_equal(cfg->width, want->width);
    assert_int_equal(cfg->height, want->height);
    assert_int_equal(cfg->format, want->format);
    assert_int_equal(cfg->queue_max, want->queue_max);
    assert_true(cfg->fail_rate == want->fail_rate);
    assert_int_equal(cfg->fail_load, want->fail_load);
    assert_int_equal(cfg->max_recv_bytes, want->max_recv_bytes);
}

static void test_defaults(void **state) {
    fs_config cfg;
    char err[256];
    char *argv[] = {"frameserver"};
    assert_int_equal(parse(&cfg, err, sizeof(err), 1, argv), 0);
    assert_config(&cfg, &(expected){.host = "127.0.0.1",
                                    .port = 50051,
                                    .n_models = 1,
                                    .last_model = "sanders",
                                    .load_ms = 1000,
                                    .infer_ms = 17,
                                    .batch_item_ms = 2,
                                    .width = 128,
                                    .height = 64,
                                    .format = FS_FORMAT_RGB24,
                                    .queue_max = 256,
                                    .fail_rate = 0.0,
                                    .fail_load = false,
                                    .max_recv_bytes = 4 << 20});
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
    assert_config(&cfg, &(expected){.host = "::1",
                                    .port = 0,
                                    .n_models = 3,
                                    .last_model = "c",
                                    .load_ms = 5,
                                    .infer_ms = 0,
                                    .batch_item_ms = 3,
                                    .width = 64,
                                    .height = 32,
                                    .format = FS_FORMAT_JPEG,
                                    .queue_max = 9,
                                    .fail_rate = 0.25,
                                    .fail_load = true,
                                    .max_recv_bytes = 1024});
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
