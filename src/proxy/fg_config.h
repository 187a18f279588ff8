/*
 * fg_config: the framegate command line (the original's flags plus ours), parsed with fg_args.
 *
 * Backends come from --grpc-addrs-file (a file; re-read on SIGHUP by fg_main), else from
 * --grpc-addrs (comma list, whose entries may also be DNS targets: fg_dns_target.h, resolved by
 * fg_discovery), else from the range --start-port .. --start-port + --num-servers - 1 on
 * localhost.
 *
 * The --auth-token secret may also come from --auth-token-file (its first line) or the
 * FRAMEGATE_AUTH_TOKEN environment variable, so that it is not visible in ps.
 */
#ifndef FG_CONFIG_H
#define FG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fg_dns_target.h"

#define FG_CONFIG_MAX_BACKENDS 1024
#define FG_CONFIG_MAX_WORKERS 64
#define FG_CONFIG_MAX_ADDRS_FILE (1024 * 1024) /* bytes of a --grpc-addrs-file */
#define FG_CONFIG_MAX_TOKEN 4096               /* bytes of an --auth-token-file */
#define FG_CONFIG_TOKEN_ENV "FRAMEGATE_AUTH_TOKEN"

enum { FG_CONFIG_BALANCE_LEAST_REQUEST, FG_CONFIG_BALANCE_ROUND_ROBIN };

typedef struct fg_config {
    uint64_t ws_port;
    uint64_t start_port;
    uint64_t num_servers;
    const char *grpc_addrs;      /* NULL: range mode */
    const char *grpc_addrs_file; /* NULL: none; wins over grpc_addrs */
    const char *host;
    uint64_t timeout_ms;
    uint64_t retries;
    uint64_t max_inflight;
    uint64_t deadline_ms;
    const char *balance_arg; /* as given */
    int balance;             /* FG_CONFIG_BALANCE_* */
    uint64_t backend_max_inflight;
    uint64_t batch_max;            /* 1: off */
    uint64_t batch_window_us;      /* 0: never delay a lone frame */
    const char *max_buffered_arg;  /* as given, e.g. "256MiB" */
    uint64_t max_buffered;         /* parsed, bytes */
    const char *client_sndbuf_arg; /* as given */
    uint64_t client_sndbuf;        /* parsed, bytes; 0: the kernel's */
    const char *max_message_arg;   /* as given, e.g. "1MiB" */
    uint64_t max_message;          /* parsed, bytes */
    uint64_t max_connections;
    uint64_t unhealthy_after;
    uint64_t healthy_after;
    uint64_t health_interval_ms;
    bool log_frames;
    uint64_t header_timeout_ms;
    uint64_t ws_ping_ms;
    const char *allowed_origins; /* NULL: any */
    const char *auth_token;      /* NULL: none; from --auth-token, its file or the environment */
    const char *auth_token_file; /* NULL: none */
    char *auth_token_read;       /* owned: what auth_token points to when read from the file */
    /* TLS toward clients (--tls-cert/--tls-key, optional --tls-client-ca) and backends. */
    const char *tls_cert, *tls_key, *tls_client_ca;
    bool backend_tls;
    const char *backend_ca, *backend_cert, *backend_key;
    uint64_t drain_ms;
    uint64_t workers;          /* threads, each its own loop, listener and backend connections */
    const char *cache_mem_arg; /* as given, e.g. "64MiB"; "0": no in-process tier */
    uint64_t cache_mem;        /* parsed, bytes (split between the workers) */
    const char *cache_redis;   /* redis://HOST:PORT[/DB]; NULL: no Redis tier */
    uint64_t cache_ttl_s;      /* expiry in Redis */
    uint64_t cache_budget_us;  /* a Redis lookup's budget */
    const char *cache_max_item_arg; /* as given */
    uint64_t cache_max_item;        /* parsed: larger images are not stored */

    const char *dns_servers; /* --dns-servers "HOST[:PORT],...", NULL: the system's */
    uint64_t dns_refresh_ms; /* re-resolve period of the DNS targets */
    uint64_t dns_timeout_ms; /* first timeout of a DNS query */

    char **backends; /* "host:port" each, owned; may be empty when dns targets are given */
    size_t nbackends;
    fg_dns_target *dns; /* the dns:/// and dns+srv:/// entries of --grpc-addrs, owned */
    size_t ndns;
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

/*
 * Reads a backend addresses file: "host:port" entries one per line or comma-separated; blank
 * lines, blanks around entries and comments (from '#' to the end of the line) are ignored. At
 * most FG_CONFIG_MAX_ADDRS_FILE bytes and FG_CONFIG_MAX_BACKENDS entries. 0 with *out (owned;
 * fg_config_free_addrs) and *n >= 1, or FG_ERR_INVALID with *out NULL and a one-line message
 * naming the file (and line) in err.
 */
int fg_config_read_addrs_file(const char *path, char ***out, size_t *n, char *err, size_t errlen);
void fg_config_free_addrs(char **addrs, size_t n);

/* Parses a size like "1048576", "64KiB", "1MiB", "2M" (binary units). 0 or FG_ERR_INVALID. */
int fg_config_parse_size(const char *s, uint64_t *out);

#endif
