/*
 * fg_stats: the counters (relaxed atomics, shared by worker threads) and their two renderings.
 * Every metric comes from one X-macro list (FG_STATS_GLOBAL in fg_stats.h, FG_STATS_BACKEND in
 * fg_backend.h), so /health and /metrics cannot drift apart.
 */
#include "fg_stats.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_backend.h"
#include "fg_err.h"
#include "fg_status.h"

#define PREFIX "framegate_"

/* Prometheus buckets (microseconds), shared by the request and backend latency histograms. */
static const uint64_t bucket_us[] = {500,    1000,   2500,   5000,    10000,   25000,   50000,
                                     100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
#define NBUCKETS (sizeof bucket_us / sizeof bucket_us[0])

/* Finer buckets for cache lookups (a loopback Redis answers in tens of microseconds). */
static const uint64_t lookup_bucket_us[] = {25, 50, 100, 200, 500, 1000, 2000, 5000, 10000};
#define NLOOKUP_BUCKETS (sizeof lookup_bucket_us / sizeof lookup_bucket_us[0])

static _Atomic int64_t global_stats[FG_STAT__COUNT];
static _Atomic int64_t cache_stats[FG_CSTAT__COUNT];
static _Atomic uint64_t lookup_buckets[NLOOKUP_BUCKETS];
static _Atomic uint64_t lookup_count;
static _Atomic uint64_t lookup_sum_us;
static _Atomic uint64_t replies[FG_STATUS_MAX + 2]; /* last: codes outside 0..16 */
static _Atomic uint64_t duration_buckets[NBUCKETS];
static _Atomic uint64_t duration_count;
static _Atomic uint64_t duration_sum_us;

void fg_stats_add(fg_stat_id id, int64_t delta) {
    atomic_fetch_add_explicit(&global_stats[id], delta, memory_order_relaxed);
}

void fg_stats_set(fg_stat_id id, int64_t value) {
    atomic_store_explicit(&global_stats[id], value, memory_order_relaxed);
}

uint64_t fg_stats_get(fg_stat_id id) {
    int64_t v = atomic_load_explicit(&global_stats[id], memory_order_relaxed);
    return v < 0 ? 0 : (uint64_t)v;
}

void fg_stats_cache_add(fg_cache_stat_id id, int64_t delta) {
    atomic_fetch_add_explicit(&cache_stats[id], delta, memory_order_relaxed);
}

uint64_t fg_stats_cache_get(fg_cache_stat_id id) {
    int64_t v = atomic_load_explicit(&cache_stats[id], memory_order_relaxed);
    return v < 0 ? 0 : (uint64_t)v;
}

void fg_stats_observe_cache_lookup_us(uint64_t us) {
    for (size_t i = 0; i < NLOOKUP_BUCKETS; i++) {
        if (us <= lookup_bucket_us[i]) {
            atomic_fetch_add_explicit(&lookup_buckets[i], 1, memory_order_relaxed);
            break;
        }
    }
    atomic_fetch_add_explicit(&lookup_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&lookup_sum_us, us, memory_order_relaxed);
}

void fg_stats_reply(int status) {
    size_t i = status >= 0 && status <= FG_STATUS_MAX ? (size_t)status : FG_STATUS_MAX + 1;
    atomic_fetch_add_explicit(&replies[i], 1, memory_order_relaxed);
}

void fg_stats_observe_total_us(uint64_t us) {
    for (size_t i = 0; i < NBUCKETS; i++) {
        if (us <= bucket_us[i]) {
            atomic_fetch_add_explicit(&duration_buckets[i], 1, memory_order_relaxed);
            break;
        }
    }
    atomic_fetch_add_explicit(&duration_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&duration_sum_us, us, memory_order_relaxed);
}

/* ---- /health ---- */

static double us_to_ms(uint64_t us) {
    return (double)us / 1000.0;
}

static json_t *backend_json(const fg_backend *b) {
    fg_backend_stats totals;
    const fg_backend_stats *s = &totals;
    fg_hist *lat = fg_hist_new();
    char last_error[sizeof((fg_health *)0)->last_error];
    fg_backend_totals(b, &totals, lat);
    fg_backend_last_error(b, last_error, sizeof last_error);
    /* The contract's four fields first, then the extra ones. */
    json_t *o = json_object();
    json_object_set_new(o, "address", json_string(fg_backend_address(b)));
    json_object_set_new(o, "healthy", json_boolean(fg_backend_healthy(b)));
#define FG_BACKEND_STAT_JSON(kind, json, prom, help)                                               \
    json_object_set_new(o, #json, json_integer((json_int_t)s->json));
    FG_STATS_BACKEND(FG_BACKEND_STAT_JSON)
#undef FG_BACKEND_STAT_JSON
    json_object_set_new(o, "state", json_string(fg_backend_state_name(b)));
    json_object_set_new(o, "last_error", json_string(last_error));
    json_object_set_new(o, "out_reason", json_string(fg_backend_out_reason(b)));
    json_t *l = json_object();
    json_object_set_new(l, "p50", json_real(us_to_ms(fg_hist_percentile(lat, 50))));
    json_object_set_new(l, "p90", json_real(us_to_ms(fg_hist_percentile(lat, 90))));
    json_object_set_new(l, "p99", json_real(us_to_ms(fg_hist_percentile(lat, 99))));
    json_object_set_new(o, "latency_ms", l);
    fg_hist_free(lat);
    return o;
}

/* The cache's state: its tiers, whether Redis is connected, and its counters. */
static json_t *cache_json(void) {
    json_t *o = json_object();
    json_t *tiers = json_array();
    if (fg_stats_cache_get(FG_CSTAT_memory_max_bytes))
        json_array_append_new(tiers, json_string("memory"));
    if (fg_stats_cache_get(FG_CSTAT_redis_configured))
        json_array_append_new(tiers, json_string("redis"));
    json_object_set_new(o, "tiers", tiers);
    uint64_t configured = fg_stats_cache_get(FG_CSTAT_redis_configured);
    json_object_set_new(o, "redis",
                        json_string(!configured ? "off"
                                    : fg_stats_cache_get(FG_CSTAT_redis_connected) == configured
                                        ? "connected"
                                        : "disconnected"));
#define FG_STATS_CACHE_JSON(kind, json, prom, help)                                                \
    json_object_set_new(o, #json, json_integer((json_int_t)fg_stats_cache_get(FG_CSTAT_##json)));
    FG_STATS_CACHE(FG_STATS_CACHE_JSON)
#undef FG_STATS_CACHE_JSON
    return o;
}

static int dump_to_buf(const char *data, size_t len, void *arg) {
    return fg_buf_append(arg, data, len) < 0 ? -1 : 0;
}

int fg_stats_render_health(const fg_pool *pool, fg_buf *out, int *http_status) {
    size_t n = fg_pool_backend_count(pool);
    size_t healthy = fg_pool_healthy_count(pool);
    json_t *root = json_object();
    json_object_set_new(root, "healthy", json_boolean(healthy > 0));
    json_object_set_new(root, "total_backends", json_integer((json_int_t)n));
    json_object_set_new(root, "healthy_count", json_integer((json_int_t)healthy));
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, backend_json(fg_pool_backend(pool, i)));
    json_object_set_new(root, "backends", arr);
    /* Only with a cache configured: by default the body keeps exactly the contract's fields. */
    if (fg_stats_cache_get(FG_CSTAT_memory_max_bytes) ||
        fg_stats_cache_get(FG_CSTAT_redis_configured))
        json_object_set_new(root, "cache", cache_json());
    size_t mark = out->len;
    int rv = json_dump_callback(root, dump_to_buf, out, JSON_PRESERVE_ORDER | JSON_INDENT(2));
    json_decref(root);
    if (rv < 0) {
        out->len = mark;
        return FG_ERR_TOO_BIG;
    }
    if (fg_buf_append(out, "\n", 1) < 0)
        return FG_ERR_TOO_BIG;
    *http_status = healthy > 0 ? 200 : 503;
    return 0;
}

/* ---- /metrics ---- */

typedef struct prom {
    fg_buf *out;
    int err;
} prom;

__attribute__((format(printf, 2, 3))) static void emit(prom *p, const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (p->err || n < 0)
        return;
    if ((size_t)n >= sizeof line)
        n = sizeof line - 1;
    if (fg_buf_append(p->out, line, (size_t)n) < 0)
        p->err = FG_ERR_TOO_BIG;
}

static void emit_header(prom *p, const char *name, const char *type, const char *help) {
    emit(p, "# HELP " PREFIX "%s %s\n# TYPE " PREFIX "%s %s\n", name, help, name, type);
}

/* A label value with \, " and newline escaped, per the text format. */
static void escape_label(char *dst, size_t cap, const char *src) {
    size_t o = 0;
    for (; *src && o + 3 < cap; src++) {
        if (*src == '\\' || *src == '"') {
            dst[o++] = '\\';
            dst[o++] = *src;
        } else if (*src == '\n') {
            dst[o++] = '\\';
            dst[o++] = 'n';
        } else {
            dst[o++] = *src;
        }
    }
    dst[o] = '\0';
}

static void render_globals(prom *p) {
#define FG_STATS_PROM(kind, name, help)                                                            \
    emit_header(p, #name, FG_STATS_TYPE_##kind, help);                                             \
    emit(p, PREFIX "%s %lld\n", #name,                                                             \
         (long long)atomic_load_explicit(&global_stats[FG_STAT_##name], memory_order_relaxed));
#define FG_STATS_TYPE_COUNTER "counter"
#define FG_STATS_TYPE_GAUGE "gauge"
    FG_STATS_GLOBAL(FG_STATS_PROM)
#undef FG_STATS_PROM

    emit_header(p, "replies_total", "counter", "Replies sent to clients, by gRPC status");
    for (int i = 0; i <= FG_STATUS_MAX + 1; i++) {
        uint64_t v = atomic_load_explicit(&replies[i], memory_order_relaxed);
        if (v || i == 0)
            emit(p, PREFIX "replies_total{status=\"%s\"} %llu\n",
                 i <= FG_STATUS_MAX ? fg_status_name(i) : "OTHER", (unsigned long long)v);
    }

    const char *hname = "request_duration_seconds";
    emit_header(p, hname, "histogram", "Time from request received to reply queued, in the proxy");
    uint64_t cum = 0;
    for (size_t i = 0; i < NBUCKETS; i++) {
        cum += atomic_load_explicit(&duration_buckets[i], memory_order_relaxed);
        emit(p, PREFIX "%s_bucket{le=\"%g\"} %llu\n", hname, (double)bucket_us[i] / 1e6,
             (unsigned long long)cum);
    }
    uint64_t count = atomic_load_explicit(&duration_count, memory_order_relaxed);
    emit(p, PREFIX "%s_bucket{le=\"+Inf\"} %llu\n", hname, (unsigned long long)count);
    emit(p, PREFIX "%s_sum %.6f\n", hname,
         (double)atomic_load_explicit(&duration_sum_us, memory_order_relaxed) / 1e6);
    emit(p, PREFIX "%s_count %llu\n", hname, (unsigned long long)count);

#define FG_STATS_CACHE_PROM(kind, json, prom_name, help)                                           \
    emit_header(p, #prom_name, FG_STATS_TYPE_##kind, help);                                        \
    emit(p, PREFIX "%s %lld\n", #prom_name,                                                        \
         (long long)atomic_load_explicit(&cache_stats[FG_CSTAT_##json], memory_order_relaxed));
    FG_STATS_CACHE(FG_STATS_CACHE_PROM)
#undef FG_STATS_CACHE_PROM

    hname = "cache_lookup_duration_seconds";
    emit_header(p, hname, "histogram", "Redis lookups of the frame cache, request to answer");
    cum = 0;
    for (size_t i = 0; i < NLOOKUP_BUCKETS; i++) {
        cum += atomic_load_explicit(&lookup_buckets[i], memory_order_relaxed);
        emit(p, PREFIX "%s_bucket{le=\"%g\"} %llu\n", hname, (double)lookup_bucket_us[i] / 1e6,
             (unsigned long long)cum);
    }
    count = atomic_load_explicit(&lookup_count, memory_order_relaxed);
    emit(p, PREFIX "%s_bucket{le=\"+Inf\"} %llu\n", hname, (unsigned long long)count);
    emit(p, PREFIX "%s_sum %.6f\n", hname,
         (double)atomic_load_explicit(&lookup_sum_us, memory_order_relaxed) / 1e6);
    emit(p, PREFIX "%s_count %llu\n", hname, (unsigned long long)count);
}

static void render_backends(prom *p, const fg_pool *pool) {
    size_t n = fg_pool_backend_count(pool);
    char label[256];
    /* Every worker's counters summed once, then rendered from these copies. */
    fg_backend_stats *totals = fg_calloc(n ? n : 1, sizeof *totals);
    fg_hist **lat = fg_calloc(n ? n : 1, sizeof *lat);
    for (size_t i = 0; i < n; i++) {
        lat[i] = fg_hist_new();
        fg_backend_totals(fg_pool_backend(pool, i), &totals[i], lat[i]);
    }
    emit_header(p, "backends", "gauge", "Backends configured");
    emit(p, PREFIX "backends %zu\n", n);
    emit_header(p, "backends_healthy", "gauge", "Backends healthy");
    emit(p, PREFIX "backends_healthy %zu\n", fg_pool_healthy_count(pool));
    emit_header(p, "backend_healthy", "gauge", "1 when the backend takes frames");
    for (size_t i = 0; i < n; i++) {
        const fg_backend *b = fg_pool_backend(pool, i);
        escape_label(label, sizeof label, fg_backend_address(b));
        emit(p, PREFIX "backend_healthy{backend=\"%s\"} %d\n", label, fg_backend_healthy(b));
    }
#define FG_BACKEND_STAT_PROM(kind, json, prom_name, help)                                          \
    emit_header(p, "backend_" #prom_name, FG_STATS_TYPE_##kind, help);                             \
    for (size_t i = 0; i < n; i++) {                                                               \
        const fg_backend *b = fg_pool_backend(pool, i);                                            \
        escape_label(label, sizeof label, fg_backend_address(b));                                  \
        emit(p, PREFIX "backend_" #prom_name "{backend=\"%s\"} %llu\n", label,                     \
             (unsigned long long)totals[i].json);                                                  \
    }
    FG_STATS_BACKEND(FG_BACKEND_STAT_PROM)
#undef FG_BACKEND_STAT_PROM

    const char *hname = "backend_latency_seconds";
    emit_header(p, hname, "histogram", "Frame call duration per backend");
    for (size_t i = 0; i < n; i++) {
        const fg_backend *b = fg_pool_backend(pool, i);
        const fg_hist *h = lat[i];
        escape_label(label, sizeof label, fg_backend_address(b));
        for (size_t k = 0; k < NBUCKETS; k++)
            emit(p, PREFIX "%s_bucket{backend=\"%s\",le=\"%g\"} %llu\n", hname, label,
                 (double)bucket_us[k] / 1e6, (unsigned long long)fg_hist_count_le(h, bucket_us[k]));
        emit(p, PREFIX "%s_bucket{backend=\"%s\",le=\"+Inf\"} %llu\n", hname, label,
             (unsigned long long)fg_hist_count(h));
        emit(p, PREFIX "%s_sum{backend=\"%s\"} %.6f\n", hname, label, (double)fg_hist_sum(h) / 1e6);
        emit(p, PREFIX "%s_count{backend=\"%s\"} %llu\n", hname, label,
             (unsigned long long)fg_hist_count(h));
    }
    for (size_t i = 0; i < n; i++)
        fg_hist_free(lat[i]);
    free(lat);
    free(totals);
}

int fg_stats_render_prometheus(const fg_pool *pool, fg_buf *out) {
    prom p = {.out = out, .err = 0};
    size_t mark = out->len;
    render_globals(&p);
    if (pool)
        render_backends(&p, pool);
    if (p.err) {
        out->len = mark;
        return p.err;
    }
    return 0;
}
