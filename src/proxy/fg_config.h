/*
 * fg_config: the framegate command line (the original's flags plus ours), parsed with fg_args.
 *
 * Backends come from --grpc-addrs (comma list, overrides range mode) or from the range
 * --start-port .. --start-port + --num-servers - 1 on localhost.
 */
#ifndef FG_CONFIG_H
#define FG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FG_CONFIG_MAX_BACKENDS 1024

typedef struct fg_config {
    uint64_t ws_port;
    uint64_t start_port;
    uint64_t num_servers;
    const char *grpc_addrs; /* NULL: range mode */
    const char *host;
    uint64_t timeout_ms;
    uint64_t retries;
    uint64_t max_inflight;
    const char *max_message_arg; /* as given, e.g. "1MiB" */
    uint64_t max_message;        /* parsed, bytes */
    uint64_t max_connections;
    uint64_t unhealthy_after;
    uint64_t healthy_after;
    uint64_t health_interval_ms;
    bool log_frames;
    uint64_t header_timeout_ms;
    uint64_t ws_ping_ms;
    const char *allowed_origins; /* NULL: any */
    const char *auth_token;      /* NULL: none */
    uint64_t drain_ms;

    char **backends; /* "host:port" each, owned */
    size_t nbackends;
} fg_config;

/* Sets every default. */
void fg_config_init(fg_config *c);
/*
 * Parses argv[1..argc). 0 with c->backends filled, FG_ARGS_HELP (--help was given), or
 * FG_ERR_INVALID with a one-line message in err.
 */
int fg_config_parse(fg_config *c, int argc, char **argv, char *err, size_t errlen);
void fg_config_usage(const fg_config *defaults, FILE *out);
/* Frees the backend list (c itself is the caller's). */
void fg_config_free(fg_config *c);

/* Parses a size like "1048576", "64KiB", "1MiB", "2M" (binary units). 0 or FG_ERR_INVALID. */
int fg_config_parse_size(const char *s, uint64_t *out);

#endif
