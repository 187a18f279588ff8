/*
 * fs_config: frameserver's command line: the flag table, defaults and validation.
 *
 * fs_config_parse() fills a caller-owned fs_config from argv. String fields point into argv or
 * into storage the config owns; fs_config_free() releases the latter. Everything the rest of the
 * server reads is already validated here (formats, model names, sizes), so later code trusts it.
 */
#ifndef FS_CONFIG_H
#define FS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FS_MAX_MODELS 64
#define FS_MAX_MODEL_NAME 255 /* the WebSocket request's model_len is one byte */
#define FS_MAX_SIDE 4096

typedef enum fs_format {
    FS_FORMAT_RGB24 = 1, /* values match framegate.v1.ImageFormat */
    FS_FORMAT_RGBA32 = 2,
    FS_FORMAT_JPEG = 3,
} fs_format;

typedef struct fs_config {
    const char *host;
    uint64_t port;
    uint64_t ports;     /* consecutive ports from `port`, one simulated backend each */
    const char *models; /* the raw comma list */
    uint64_t load_ms;
    uint64_t infer_ms;
    uint64_t batch_item_ms;
    uint64_t width;
    uint64_t height;
    const char *format_name;
    uint64_t queue_max;
    double fail_rate;
    bool fail_load;
    uint64_t max_recv_bytes;
    const char *log_level;
    const char *tls_cert, *tls_key, *tls_client_ca; /* NULL: h2c */
    bool cacheable; /* the image depends only on (model, input); ListModels says so */

    /* Derived by fs_config_parse(). */
    fs_format format;
    char *model_names[FS_MAX_MODELS]; /* owned */
    size_t n_models;
    int log_level_value; /* an fg_log_level */
} fs_config;

/* Sets every field to its default (the flag table's defaults). */
void fs_config_init(fs_config *cfg);
/*
 * Parses argv[1..argc) over the defaults. Returns 0, FG_ARGS_HELP (--help given: print usage),
 * or FG_ERR_INVALID with a one-line reason in err. Call fs_config_free() in every case.
 */
int fs_config_parse(fs_config *cfg, int argc, char **argv, char *err, size_t errlen);
void fs_config_usage(fs_config *cfg, FILE *out);
void fs_config_free(fs_config *cfg);
/* "rgb24", "rgba32" or "jpeg". */
const char *fs_format_name(fs_format format);

#endif
