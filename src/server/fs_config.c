#include "fs_config.h"

#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_args.h"
#include "fg_err.h"

#define N_SPECS 19
#define MAX_PORTS 4096
#define MAX_RECV_LIMIT (1ull << 30)

static void fill_specs(fs_config *cfg, fg_arg_spec specs[N_SPECS]) {
    const fg_arg_spec table[N_SPECS] = {
        {"host", FG_ARG_STRING, &cfg->host, 0, 0, 0, 0, "HOST", "address to listen on"},
        {"port", FG_ARG_UINT, &cfg->port, 0, 65535, 0, 0, "PORT",
         "TCP port to listen on; 0 lets the OS pick (the log line shows it)"},
        {"ports", FG_ARG_UINT, &cfg->ports, 1, MAX_PORTS, 0, 0, "N",
         "listen on N consecutive ports from --port, each its own backend (own model queue "
         "and health) in this one process: many backends for scale simulations"},
        {"models", FG_ARG_STRING, &cfg->models, 0, 0, 0, 0, "LIST",
         "comma-separated model names this backend serves"},
        {"load-ms", FG_ARG_UINT, &cfg->load_ms, 0, 600000, 0, 0, "MS",
         "simulated load time of each model"},
        {"infer-ms", FG_ARG_UINT, &cfg->infer_ms, 0, 60000, 0, 0, "MS",
         "simulated model time per frame"},
        {"batch-item-ms", FG_ARG_UINT, &cfg->batch_item_ms, 0, 60000, 0, 0, "MS",
         "extra model time per additional frame of a RenderBatch"},
        {"width", FG_ARG_UINT, &cfg->width, 8, FS_MAX_SIDE, 0, 0, "PX", "image width"},
        {"height", FG_ARG_UINT, &cfg->height, 8, FS_MAX_SIDE, 0, 0, "PX", "image height"},
        {"format", FG_ARG_STRING, &cfg->format_name, 0, 0, 0, 0, "FMT",
         "image format: rgb24, rgba32 or jpeg"},
        {"queue-max", FG_ARG_UINT, &cfg->queue_max, 1, 1000000, 0, 0, "N",
         "calls that may wait for the model (beyond the one running); more get "
         "RESOURCE_EXHAUSTED"},
        {"fail-rate", FG_ARG_DOUBLE, &cfg->fail_rate, 0, 0, 0.0, 1.0, "FRACTION",
         "fraction of render calls answered INTERNAL (fault tests)"},
        {"fail-load", FG_ARG_SWITCH, &cfg->fail_load, 0, 0, 0, 0, NULL,
         "model loading fails: Health NOT_SERVING, Render UNAVAILABLE"},
        {"max-recv-bytes", FG_ARG_UINT, &cfg->max_recv_bytes, 16, MAX_RECV_LIMIT, 0, 0, "BYTES",
         "largest request message accepted; larger ones get RESOURCE_EXHAUSTED"},
        {"log-level", FG_ARG_STRING, &cfg->log_level, 0, 0, 0, 0, "LEVEL",
         "debug, info, warn or error"},
        {"tls-cert", FG_ARG_STRING, &cfg->tls_cert, 0, 0, 0, 0, "PATH",
         "serve gRPC over TLS (ALPN h2) with this PEM certificate chain"},
        {"tls-key", FG_ARG_STRING, &cfg->tls_key, 0, 0, 0, 0, "PATH",
         "PEM private key of --tls-cert"},
        {"tls-client-ca", FG_ARG_STRING, &cfg->tls_client_ca, 0, 0, 0, 0, "PATH",
         "require client certificates signed by this PEM CA (mTLS)"},
        {"cacheable", FG_ARG_SWITCH, &cfg->cacheable, 0, 0, 0, 0, NULL,
         "render from (model, input) only (no per-port tint, no frame-number motion) and "
         "declare it in ListModels, so the proxy may cache the frames"},
    };
    memcpy(specs, table, sizeof(table));
}

void fs_config_init(fs_config *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->host = "127.0.0.1";
    cfg->port = 50051;
    cfg->ports = 1;
    cfg->models = "sanders";
    cfg->load_ms = 1000;
    cfg->infer_ms = 17;
    cfg->batch_item_ms = 2;
    cfg->width = 128;
    cfg->height = 64;
    cfg->format_name = "rgb24";
    cfg->queue_max = 256;
    cfg->fail_rate = 0.0;
    cfg->fail_load = false;
    cfg->max_recv_bytes = 4u << 20;
    cfg->log_level = "info";
}

static int parse_format(fs_config *cfg, char *err, size_t errlen) {
    static const fs_format formats[] = {FS_FORMAT_RGB24, FS_FORMAT_RGBA32, FS_FORMAT_JPEG};
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        if (strcmp(cfg->format_name, fs_format_name(formats[i])) == 0) {
            cfg->format = formats[i];
            return 0;
        }
    }
    snprintf(err, errlen, "--format: '%s' is not one of rgb24, rgba32, jpeg", cfg->format_name);
    return FG_ERR_INVALID;
}

static bool model_name_ok(const char *name, size_t len) {
    if (len == 0 || len > FS_MAX_MODEL_NAME)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= ' ' || c == 0x7f)
            return false;
    }
    return true;
}

static int add_model(fs_config *cfg, const char *name, size_t len, char *err, size_t errlen) {
    if (!model_name_ok(name, len)) {
        snprintf(err, errlen,
                 "--models: '%.*s' is not a model name (1..%d printable characters, no spaces)",
                 (int)(len > 64 ? 64 : len), name, FS_MAX_MODEL_NAME);
        return FG_ERR_INVALID;
    }
    for (size_t i = 0; i < cfg->n_models; i++) {
        if (strlen(cfg->model_names[i]) == len && memcmp(cfg->model_names[i], name, len) == 0) {
            snprintf(err, errlen, "--models: '%.*s' is listed twice", (int)len, name);
            return FG_ERR_INVALID;
        }
    }
    if (cfg->n_models == FS_MAX_MODELS) {
        snprintf(err, errlen, "--models: more than %d models", FS_MAX_MODELS);
        return FG_ERR_INVALID;
    }
    cfg->model_names[cfg->n_models++] = fg_strndup(name, len);
    return 0;
}

static int parse_models(fs_config *cfg, char *err, size_t errlen) {
    const char *p = cfg->models;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int rv = add_model(cfg, p, len, err, errlen);
        if (rv < 0)
            return rv;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

static int parse_log_level(fs_config *cfg, char *err, size_t errlen) {
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(cfg->log_level, names[i]) == 0) {
            cfg->log_level_value = i;
            return 0;
        }
    }
    snprintf(err, errlen, "--log-level: '%s' is not one of debug, info, warn, error",
             cfg->log_level);
    return FG_ERR_INVALID;
}

int fs_config_parse(fs_config *cfg, int argc, char **argv, char *err, size_t errlen) {
    fg_arg_spec specs[N_SPECS];
    fill_specs(cfg, specs);
    int rv = fg_args_parse(specs, N_SPECS, argc, argv, 1, err, errlen);
    if (rv != 0)
        return rv;
    if (cfg->host[0] == '\0') {
        snprintf(err, errlen, "--host: empty address");
        return FG_ERR_INVALID;
    }
    if (cfg->ports > 1 && (cfg->port == 0 || cfg->port + cfg->ports - 1 > 65535)) {
        snprintf(err, errlen, "--ports %llu needs a --port from 1 to %llu",
                 (unsigned long long)cfg->ports, 65536 - (unsigned long long)cfg->ports);
        return FG_ERR_INVALID;
    }
    if (!cfg->tls_cert != !cfg->tls_key || (cfg->tls_client_ca && !cfg->tls_cert)) {
        snprintf(err, errlen, "--tls-cert and --tls-key go together; --tls-client-ca needs them");
        return FG_ERR_INVALID;
    }
    rv = parse_format(cfg, err, errlen);
    if (rv == 0)
        rv = parse_models(cfg, err, errlen);
    if (rv == 0)
        rv = parse_log_level(cfg, err, errlen);
    return rv;
}

void fs_config_usage(fs_config *cfg, FILE *out) {
    fg_arg_spec specs[N_SPECS];
    fill_specs(cfg, specs);
    fg_args_usage(
        out, "frameserver [flags]",
        "The framegate reference gRPC backend: serves framegate.v1.FrameService and\n"
        "grpc.health.v1.Health over HTTP/2 (cleartext, or TLS), rendering one frame at a time\n"
        "like a GPU model server would.",
        specs, N_SPECS);
}

void fs_config_free(fs_config *cfg) {
    for (size_t i = 0; i < cfg->n_models; i++)
        free(cfg->model_names[i]);
    cfg->n_models = 0;
}

const char *fs_format_name(fs_format format) {
    switch (format) {
    case FS_FORMAT_RGB24:
        return "rgb24";
    case FS_FORMAT_RGBA32:
        return "rgba32";
    case FS_FORMAT_JPEG:
        return "jpeg";
    }
    return "unknown";
}
