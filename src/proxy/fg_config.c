#include "fg_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fg_alloc.h"
#include "fg_args.h"
#include "fg_err.h"
#include "fg_hostport.h"
#include "fg_pool.h"

#define MIN_MESSAGE 16
#define MAX_MESSAGE (64ull * 1024 * 1024)

/* The flag table; dst pointers into c. Kept in one place for parsing and --help. */
static size_t make_specs(fg_config *c, fg_arg_spec *s) {
    const fg_arg_spec specs[] = {
        {"ws-port", FG_ARG_UINT, &c->ws_port, 0, 65535, 0, 0, "PORT",
         "port for HTTP and WebSocket (0: any free port)"},
        {"start-port", FG_ARG_UINT, &c->start_port, 1, 65535, 0, 0, "PORT",
         "first backend port (range mode, localhost)"},
        {"num-servers", FG_ARG_UINT, &c->num_servers, 1, FG_CONFIG_MAX_BACKENDS, 0, 0, "N",
         "number of backends (range mode)"},
        {"grpc-addrs", FG_ARG_STRING, &c->grpc_addrs, 0, 0, 0, 0, "LIST",
         "comma-separated backend addresses host:port, dns:///NAME:PORT (every A/AAAA record) "
         "or dns+srv:///NAME (every SRV record); overrides range mode"},
        {"dns-servers", FG_ARG_STRING, &c->dns_servers, 0, 0, 0, 0, "LIST",
         "DNS resolvers HOST[:PORT],... for the dns: targets (default: /etc/resolv.conf)"},
        {"dns-refresh-ms", FG_ARG_UINT, &c->dns_refresh_ms, 100, 86400000, 0, 0, "MS",
         "re-resolve the dns: targets this often (and soon after a backend connection fails)"},
        {"dns-timeout-ms", FG_ARG_UINT, &c->dns_timeout_ms, 10, 60000, 0, 0, "MS",
         "first timeout of a DNS query (one retry, with twice that)"},
        {"grpc-addrs-file", FG_ARG_STRING, &c->grpc_addrs_file, 0, 0, 0, 0, "PATH",
         "backend addresses from a file (per line or comma-separated, # comments); overrides "
         "--grpc-addrs; re-read on SIGHUP"},
        {"host", FG_ARG_STRING, &c->host, 0, 0, 0, 0, "ADDR", "address to listen on"},
        {"timeout-ms", FG_ARG_UINT, &c->timeout_ms, 1, 3600000, 0, 0, "MS",
         "per-attempt deadline of a backend call"},
        {"retries", FG_ARG_UINT, &c->retries, 0, 10, 0, 0, "N",
         "extra attempts on other backends after a backend fault"},
        {"max-inflight", FG_ARG_UINT, &c->max_inflight, 1, 100000, 0, 0, "N",
         "frame requests in flight per WebSocket connection"},
        {"deadline-ms", FG_ARG_UINT, &c->deadline_ms, 1, 3600000, 0, 0, "MS",
         "a frame's whole budget, queueing included; one that cannot be answered in time is "
         "shed at once (ERROR 8 overloaded); per connection: /ws?deadline_ms=N (default: 1000, "
         "or --timeout-ms if larger)"},
        {"balance", FG_ARG_STRING, &c->balance_arg, 0, 0, 0, 0, "POLICY",
         "least-request (peak-EWMA latency, adaptive per-backend limits) or round-robin"},
        {"backend-max-inflight", FG_ARG_UINT, &c->backend_max_inflight, 1, 100000, 0, 0, "N",
         "most frames one backend holds at once (the adaptive limit stays at or below it)"},
        {"batch-max", FG_ARG_UINT, &c->batch_max, 1, FG_POOL_BATCH_MAX, 0, 0, "N",
         "frames of one model waiting for the same backend sent as one RenderBatch (1: off)"},
        {"batch-window-us", FG_ARG_UINT, &c->batch_window_us, 0, 1000000, 0, 0, "US",
         "with --batch-max: a frame waits this long for others to batch with (0: batch only "
         "what already waits, never delay a lone frame)"},
        {"max-buffered", FG_ARG_STRING, &c->max_buffered_arg, 0, 0, 0, 0, "SIZE",
         "replies waiting for clients to read them, in total; past it, frames for clients not "
         "reading are shed"},
        {"client-sndbuf", FG_ARG_STRING, &c->client_sndbuf_arg, 0, 0, 0, 0, "SIZE",
         "each client socket's send buffer (SO_SNDBUF; the kernel keeps up to twice that): what "
         "a client that stops reading holds in the kernel (0: the kernel's autotuning, up to "
         "tcp_wmem's maximum)"},
        {"max-message", FG_ARG_STRING, &c->max_message_arg, 0, 0, 0, 0, "SIZE",
         "largest client message (bytes, or with KiB/MiB); larger closes with 1009"},
        {"max-connections", FG_ARG_UINT, &c->max_connections, 1, 1000000, 0, 0, "N",
         "client connections open at once; more are refused"},
        {"unhealthy-after", FG_ARG_UINT, &c->unhealthy_after, 1, 1000, 0, 0, "N",
         "consecutive backend faults that mark a backend unhealthy"},
        {"healthy-after", FG_ARG_UINT, &c->healthy_after, 1, 1000, 0, 0, "N",
         "consecutive good health checks that mark it healthy again"},
        {"health-interval-ms", FG_ARG_UINT, &c->health_interval_ms, 10, 3600000, 0, 0, "MS",
         "period of the active grpc.health.v1 checks"},
        {"log-frames", FG_ARG_ONOFF, &c->log_frames, 0, 0, 0, 0, "on|off",
         "print one line per reply on stdout"},
        {"header-timeout-ms", FG_ARG_UINT, &c->header_timeout_ms, 0, 3600000, 0, 0, "MS",
         "an HTTP request head must be complete this soon, else 408 (0: no limit)"},
        {"ws-ping-ms", FG_ARG_UINT, &c->ws_ping_ms, 0, 3600000, 0, 0, "MS",
         "ping WebSocket clients silent this long; close them if still silent (0: off)"},
        {"allowed-origins", FG_ARG_STRING, &c->allowed_origins, 0, 0, 0, 0, "LIST",
         "comma-separated Origins allowed on /ws, e.g. https://a.example (default: any)"},
        {"auth-token", FG_ARG_STRING, &c->auth_token, 0, 0, 0, 0, "TOKEN",
         "require 'Authorization: Bearer TOKEN' or ?token=TOKEN on /ws (visible in ps: prefer "
         "--auth-token-file or $" FG_CONFIG_TOKEN_ENV ")"},
        {"auth-token-file", FG_ARG_STRING, &c->auth_token_file, 0, 0, 0, 0, "PATH",
         "read the --auth-token secret from the first line of this file"},
        {"tls-cert", FG_ARG_STRING, &c->tls_cert, 0, 0, 0, 0, "PATH",
         "serve HTTPS and wss:// with this PEM certificate chain (SIGHUP reloads it)"},
        {"tls-key", FG_ARG_STRING, &c->tls_key, 0, 0, 0, 0, "PATH",
         "PEM private key of --tls-cert"},
        {"tls-client-ca", FG_ARG_STRING, &c->tls_client_ca, 0, 0, 0, 0, "PATH",
         "require client certificates signed by this PEM CA"},
        {"backend-tls", FG_ARG_SWITCH, &c->backend_tls, 0, 0, 0, 0, NULL,
         "talk to backends over TLS (ALPN h2), verifying their name"},
        {"backend-ca", FG_ARG_STRING, &c->backend_ca, 0, 0, 0, 0, "PATH",
         "PEM CA the backends' certificates must chain to (default: the system's)"},
        {"backend-cert", FG_ARG_STRING, &c->backend_cert, 0, 0, 0, 0, "PATH",
         "client certificate shown to backends (mTLS)"},
        {"backend-key", FG_ARG_STRING, &c->backend_key, 0, 0, 0, 0, "PATH",
         "PEM private key of --backend-cert"},
        {"drain-ms", FG_ARG_UINT, &c->drain_ms, 100, 3600000, 0, 0, "MS",
         "on SIGTERM/SIGINT: finish frames in flight, close clients with 1001, exit this soon"},
        {"workers", FG_ARG_UINT, &c->workers, 1, FG_CONFIG_MAX_WORKERS, 0, 0, "N",
         "threads, each with its own loop, SO_REUSEPORT listener and backend connections"},
        {"cache-mem", FG_ARG_STRING, &c->cache_mem_arg, 0, 0, 0, 0, "SIZE",
         "in-process frame cache (LRU) for cacheable models, e.g. 64MiB, split between the "
         "workers (0: off)"},
        {"cache-redis", FG_ARG_STRING, &c->cache_redis, 0, 0, 0, 0, "URL",
         "Redis frame cache for cacheable models: redis://HOST:PORT[/DB] (default: off)"},
        {"cache-ttl-s", FG_ARG_UINT, &c->cache_ttl_s, 1, 30u * 24 * 3600, 0, 0, "S",
         "expiry of frames stored in Redis"},
        {"cache-budget-us", FG_ARG_UINT, &c->cache_budget_us, 100, 1000000, 0, 0, "US",
         "a Redis lookup's budget: past it the frame goes to a backend"},
        {"cache-max-item", FG_ARG_STRING, &c->cache_max_item_arg, 0, 0, 0, 0, "SIZE",
         "larger images are not cached"},
    };
    memcpy(s, specs, sizeof(specs));
    return sizeof(specs) / sizeof(specs[0]);
}

#define MAX_SPECS 64

void fg_config_init(fg_config *c) {
    memset(c, 0, sizeof(*c));
    c->ws_port = 8086;
    c->start_port = 50051;
    c->num_servers = 1;
    c->host = "0.0.0.0";
    c->timeout_ms = 1000;
    c->retries = 1;
    c->max_inflight = 64;
    c->balance_arg = "least-request";
    c->backend_max_inflight = 32;
    c->batch_max = 1;
    c->max_buffered_arg = "256MiB";
    c->max_buffered = 256ull * 1024 * 1024;
    c->client_sndbuf_arg = "128KiB";
    c->client_sndbuf = 128 * 1024;
    c->max_message_arg = "1MiB";
    c->max_message = 1024 * 1024;
    c->max_connections = 10000;
    c->unhealthy_after = 1;
    c->healthy_after = 1;
    c->health_interval_ms = 1000;
    c->log_frames = true;
    c->header_timeout_ms = 10000;
    c->ws_ping_ms = 30000;
    c->drain_ms = 5000;
    c->workers = 1;
    c->dns_refresh_ms = 30000;
    c->dns_timeout_ms = 1000;
    c->cache_mem_arg = "0";
    c->cache_ttl_s = 300;
    c->cache_budget_us = 2000;
    c->cache_max_item_arg = "1MiB";
    c->cache_max_item = 1024 * 1024;
}

int fg_config_parse_size(const char *s, uint64_t *out) {
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {
        {"", 1},       {"b", 1},           {"k", 1024},         {"kb", 1024},
        {"kib", 1024}, {"m", 1024 * 1024}, {"mb", 1024 * 1024}, {"mib", 1024 * 1024},
    };
    if (!s || *s < '0' || *s > '9')
        return FG_ERR_INVALID;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return FG_ERR_INVALID;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(end, units[i].suffix) == 0) {
            if (v > UINT64_MAX / units[i].mult)
                return FG_ERR_INVALID;
            *out = v * units[i].mult;
            return 0;
        }
    }
    return FG_ERR_INVALID;
}

static void add_addr(char ***list, size_t *n, const char *a, size_t len) {
    *list = fg_realloc(*list, (*n + 1) * sizeof(char *));
    (*list)[(*n)++] = fg_strndup(a, len);
}

static void add_backend(fg_config *c, const char *a, size_t len) {
    add_addr(&c->backends, &c->nbackends, a, len);
}

/* One entry of a list: blanks around it trimmed, then checked and appended. */
static int add_entry(char ***list, size_t *n, const char *b, const char *e, const char *what,
                     char *err, size_t errlen) {
    while (b < e && (*b == ' ' || *b == '\t' || *b == '\r'))
        b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        e--;
    if (fg_hostport_split(b, (size_t)(e - b), NULL, NULL, NULL) < 0) {
        snprintf(err, errlen, "%s: '%.*s' is not host:port", what, (int)(e - b), b);
        return FG_ERR_INVALID;
    }
    if (*n == FG_CONFIG_MAX_BACKENDS) {
        snprintf(err, errlen, "%s: more than %d backends", what, FG_CONFIG_MAX_BACKENDS);
        return FG_ERR_INVALID;
    }
    add_addr(list, n, b, (size_t)(e - b));
    return 0;
}

/* A dns:/// or dns+srv:/// entry of --grpc-addrs (blanks around it trimmed). */
static int add_dns_entry(fg_config *c, const char *b, const char *e, char *err, size_t errlen) {
    char why[300];
    fg_dns_target t;
    if (fg_dns_target_parse(b, (size_t)(e - b), &t, why, sizeof why) < 0) {
        snprintf(err, errlen, "--grpc-addrs: %s", why);
        return FG_ERR_INVALID;
    }
    if (c->ndns == FG_CONFIG_MAX_BACKENDS) {
        snprintf(err, errlen, "--grpc-addrs: more than %d DNS targets", FG_CONFIG_MAX_BACKENDS);
        return FG_ERR_INVALID;
    }
    c->dns = fg_realloc(c->dns, (c->ndns + 1) * sizeof *c->dns);
    c->dns[c->ndns++] = t;
    return 0;
}

static int parse_addr_list(fg_config *c, const char *list, char *err, size_t errlen) {
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *b = p;
        while (b < end && (*b == ' ' || *b == '\t'))
            b++;
        const char *e = end;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (fg_dns_target_is(b, (size_t)(e - b))) {
            if (add_dns_entry(c, b, e, err, errlen) < 0)
                return FG_ERR_INVALID;
        } else if (add_entry(&c->backends, &c->nbackends, p, end, "--grpc-addrs", err, errlen) <
                   0) {
            return FG_ERR_INVALID;
        }
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

/* The entries of one line of an addresses file (its comment already cut off): comma-separated,
 * empty entries and blank lines skipped. */
static int parse_file_line(const char *p, const char *end, const char *path, size_t lineno,
                           char ***list, size_t *n, char *err, size_t errlen) {
    char what[128];
    snprintf(what, sizeof what, "%s:%zu", path, lineno);
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        const char *q = p;
        while (q < e && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q < e && add_entry(list, n, p, e, what, err, errlen) < 0)
            return FG_ERR_INVALID;
        p = comma ? comma + 1 : end;
    }
    return 0;
}

static int parse_addrs_text(const char *text, size_t len, const char *path, char ***list, size_t *n,
                            char *err, size_t errlen) {
    const char *p = text, *end = text + len;
    for (size_t lineno = 1; p < end; lineno++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *hash = memchr(p, '#', (size_t)(eol - p));
        if (parse_file_line(p, hash ? hash : eol, path, lineno, list, n, err, errlen) < 0)
            return FG_ERR_INVALID;
        p = nl ? nl + 1 : end;
    }
    if (*n == 0) {
        snprintf(err, errlen, "%s: no backend addresses", path);
        return FG_ERR_INVALID;
    }
    return 0;
}

int fg_config_read_addrs_file(const char *path, char ***out, size_t *nout, char *err,
                              size_t errlen) {
    *out = NULL;
    *nout = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return FG_ERR_INVALID;
    }
    char *text = fg_malloc(FG_CONFIG_MAX_ADDRS_FILE + 1);
    size_t len = fread(text, 1, FG_CONFIG_MAX_ADDRS_FILE + 1, f);
    int rc = FG_ERR_INVALID;
    if (ferror(f))
        snprintf(err, errlen, "%s: read error", path);
    else if (len > FG_CONFIG_MAX_ADDRS_FILE)
        snprintf(err, errlen, "%s: larger than %d bytes", path, FG_CONFIG_MAX_ADDRS_FILE);
    else
        rc = parse_addrs_text(text, len, path, out, nout, err, errlen);
    free(text);
    fclose(f);
    if (rc < 0) {
        fg_config_free_addrs(*out, *nout);
        *out = NULL;
        *nout = 0;
    }
    return rc;
}

void fg_config_free_addrs(char **addrs, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(addrs[i]);
    free(addrs);
}

static int build_backends(fg_config *c, char *err, size_t errlen) {
    if (c->grpc_addrs_file)
        return fg_config_read_addrs_file(c->grpc_addrs_file, &c->backends, &c->nbackends, err,
                                         errlen);
    if (c->grpc_addrs)
        return parse_addr_list(c, c->grpc_addrs, err, errlen);
    if (c->start_port + c->num_servers - 1 > 65535) {
        snprintf(err, errlen, "--start-port %llu with --num-servers %llu passes port 65535",
                 (unsigned long long)c->start_port, (unsigned long long)c->num_servers);
        return FG_ERR_INVALID;
    }
    for (uint64_t i = 0; i < c->num_servers; i++) {
        char a[32];
        int n = snprintf(a, sizeof(a), "localhost:%llu", (unsigned long long)(c->start_port + i));
        add_backend(c, a, (size_t)n);
    }
    return 0;
}

static int check_tls(const fg_config *c, char *err, size_t errlen) {
    if (!c->tls_cert != !c->tls_key) {
        snprintf(err, errlen, "--tls-cert and --tls-key go together");
        return FG_ERR_INVALID;
    }
    if (c->tls_client_ca && !c->tls_cert) {
        snprintf(err, errlen, "--tls-client-ca needs --tls-cert and --tls-key");
        return FG_ERR_INVALID;
    }
    if (!c->backend_cert != !c->backend_key) {
        snprintf(err, errlen, "--backend-cert and --backend-key go together");
        return FG_ERR_INVALID;
    }
    if ((c->backend_ca || c->backend_cert) && !c->backend_tls) {
        snprintf(err, errlen, "--backend-ca, --backend-cert and --backend-key need --backend-tls");
        return FG_ERR_INVALID;
    }
    return 0;
}

/* The secret from --auth-token-file (its first line, without the line end) or, when no flag
 * names one, from the environment. Never echoed: messages name the file, not its content. */
static int read_token(fg_config *c, char *err, size_t errlen) {
    if (c->auth_token && c->auth_token_file) {
        snprintf(err, errlen, "--auth-token and --auth-token-file: give one");
        return FG_ERR_INVALID;
    }
    if (!c->auth_token && !c->auth_token_file) {
        const char *env = getenv(FG_CONFIG_TOKEN_ENV);
        if (env && *env)
            c->auth_token = env;
        return 0;
    }
    if (!c->auth_token_file)
        return 0;
    FILE *f = fopen(c->auth_token_file, "rb");
    if (!f) {
        snprintf(err, errlen, "--auth-token-file %s: %s", c->auth_token_file, strerror(errno));
        return FG_ERR_INVALID;
    }
    char *t = fg_malloc(FG_CONFIG_MAX_TOKEN + 1);
    size_t n = fread(t, 1, FG_CONFIG_MAX_TOKEN + 1, f);
    fclose(f);
    t[n < FG_CONFIG_MAX_TOKEN ? n : FG_CONFIG_MAX_TOKEN] = '\0';
    t[strcspn(t, "\r\n")] = '\0';
    if (n > FG_CONFIG_MAX_TOKEN || !*t) {
        snprintf(err, errlen, "--auth-token-file %s: %s", c->auth_token_file,
                 *t ? "longer than 4096 bytes" : "empty first line");
        free(t);
        return FG_ERR_INVALID;
    }
    c->auth_token_read = t;
    c->auth_token = t;
    return 0;
}

int fg_config_parse(fg_config *c, int argc, char **argv, char *err, size_t errlen) {
    fg_arg_spec specs[MAX_SPECS];
    size_t n = make_specs(c, specs);
    int rc = fg_args_parse(specs, n, argc, argv, 1, err, errlen);
    if (rc != 0)
        return rc;
    if (fg_config_parse_size(c->max_message_arg, &c->max_message) != 0 ||
        c->max_message < MIN_MESSAGE || c->max_message > MAX_MESSAGE) {
        snprintf(err, errlen, "--max-message: '%s' is not a size between %d bytes and 64MiB",
                 c->max_message_arg, MIN_MESSAGE);
        return FG_ERR_INVALID;
    }
    if (fg_config_parse_size(c->max_buffered_arg, &c->max_buffered) != 0 ||
        c->max_buffered < 1024 * 1024) {
        snprintf(err, errlen, "--max-buffered: '%s' is not a size of at least 1MiB",
                 c->max_buffered_arg);
        return FG_ERR_INVALID;
    }
    if (fg_config_parse_size(c->client_sndbuf_arg, &c->client_sndbuf) != 0 ||
        (c->client_sndbuf && c->client_sndbuf < 4096) || c->client_sndbuf > (64u << 20)) {
        snprintf(err, errlen, "--client-sndbuf: '%s' is not 0 or a size from 4KiB to 64MiB",
                 c->client_sndbuf_arg);
        return FG_ERR_INVALID;
    }
    if (fg_config_parse_size(c->cache_mem_arg, &c->cache_mem) != 0) {
        snprintf(err, errlen, "--cache-mem: '%s' is not a size", c->cache_mem_arg);
        return FG_ERR_INVALID;
    }
    if (fg_config_parse_size(c->cache_max_item_arg, &c->cache_max_item) != 0 ||
        c->cache_max_item < 1 || c->cache_max_item > MAX_MESSAGE) {
        snprintf(err, errlen, "--cache-max-item: '%s' is not a size between 1 byte and 64MiB",
                 c->cache_max_item_arg);
        return FG_ERR_INVALID;
    }
    if (strcmp(c->balance_arg, "least-request") == 0) {
        c->balance = FG_CONFIG_BALANCE_LEAST_REQUEST;
    } else if (strcmp(c->balance_arg, "round-robin") == 0) {
        c->balance = FG_CONFIG_BALANCE_ROUND_ROBIN;
    } else {
        snprintf(err, errlen, "--balance: '%s' is not least-request or round-robin",
                 c->balance_arg);
        return FG_ERR_INVALID;
    }
    if (!c->deadline_ms) /* not given: one attempt of --timeout-ms fits, and at least 1 s */
        c->deadline_ms = c->timeout_ms > 1000 ? c->timeout_ms : 1000;
    if (!*c->host) {
        snprintf(err, errlen, "--host: empty address");
        return FG_ERR_INVALID;
    }
    rc = check_tls(c, err, errlen);
    if (rc == 0)
        rc = read_token(c, err, errlen);
    if (rc != 0)
        return rc;
    rc = build_backends(c, err, errlen);
    if (rc != 0)
        fg_config_free(c);
    return rc;
}

void fg_config_usage(const fg_config *defaults, FILE *out) {
    fg_config copy = *defaults;
    fg_arg_spec specs[MAX_SPECS];
    size_t n = make_specs(&copy, specs);
    fg_args_usage(out, "framegate [flags]",
                  "framegate: a WebSocket front end that renders frames on a pool of gRPC "
                  "backends.\n"
                  "  framegate --start-port 50051 --num-servers 4   # localhost:50051..50054\n"
                  "  framegate --grpc-addrs \"localhost:50051,localhost:50055\"\n"
                  "  framegate --grpc-addrs-file backends.txt   # kill -HUP re-reads it\n"
                  "  framegate --grpc-addrs dns:///frames.example:50051   # every A/AAAA record\n"
                  "The browser page is at http://HOST:WS-PORT/, the WebSocket at /ws, "
                  "/health and /metrics next to them.",
                  specs, n);
}

void fg_config_free(fg_config *c) {
    if (c->auth_token == c->auth_token_read)
        c->auth_token = NULL;
    free(c->auth_token_read);
    c->auth_token_read = NULL;
    fg_config_free_addrs(c->backends, c->nbackends);
    c->backends = NULL;
    c->nbackends = 0;
    free(c->dns);
    c->dns = NULL;
    c->ndns = 0;
}
