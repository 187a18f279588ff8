/*
 * fg_stats: the two renderings of every metric (the counters live in fg_counters). Every metric
 * comes from one X-macro list (FG_STATS_GLOBAL in fg_counters.h, FG_STATS_BACKEND in
 * fg_backend.h), so /health and /metrics cannot drift apart.
 */
#include "fg_stats.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_backend.h"
#include "fg_err.h"
#include "fg_status.h"

#define PREFIX "framegate_"

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
    if (fg_backend_origin(b)) /* where DNS discovery found it */
        json_object_set_new(o, "dns_name", json_string(fg_backend_origin(b)));
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

/* A histogram of fg_counters whose bounds and sum are rendered divided by scale (microseconds
 * as seconds: 1e6). */
static void emit_hist(prom *p, fg_hist_id id, const char *name, const char *help, double scale) {
    emit_header(p, name, "histogram", help);
    const uint64_t *bounds;
    size_t n = fg_stats_hist_bounds(id, &bounds);
    uint64_t cum = 0;
    for (size_t i = 0; i < n; i++) {
        cum += fg_stats_hist_bucket(id, i);
        emit(p, PREFIX "%s_bucket{le=\"%g\"} %llu\n", name, (double)bounds[i] / scale,
             (unsigned long long)cum);
    }
    uint64_t count = fg_stats_hist_count(id);
    emit(p, PREFIX "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)count);
    emit(p, PREFIX "%s_sum %.6f\n", name, (double)fg_stats_hist_sum(id) / scale);
    emit(p, PREFIX "%s_count %llu\n", name, (unsigned long long)count);
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
    emit(p, PREFIX "%s %lld\n", #name, (long long)fg_stats_get(FG_STAT_##name));
#define FG_STATS_TYPE_COUNTER "counter"
#define FG_STATS_TYPE_GAUGE "gauge"
    FG_STATS_GLOBAL(FG_STATS_PROM)
#undef FG_STATS_PROM

    emit_header(p, "replies_total", "counter", "Replies sent to clients, by gRPC status");
    for (int i = 0; i <= FG_STATUS_MAX + 1; i++) {
        uint64_t v = fg_stats_replies(i);
        if (v || i == 0)
            emit(p, PREFIX "replies_total{status=\"%s\"} %llu\n",
                 i <= FG_STATUS_MAX ? fg_status_name(i) : "OTHER", (unsigned long long)v);
    }

#define FG_STATS_HIST_EMIT(id, name, help, bounds, scale)                                          \
    emit_hist(p, FG_HIST_##id, name, help, scale);
    FG_STATS_HISTS(FG_STATS_HIST_EMIT)
#undef FG_STATS_HIST_EMIT

#define FG_STATS_CACHE_PROM(kind, json, prom_name, help)                                           \
    emit_header(p, #prom_name, FG_STATS_TYPE_##kind, help);                                        \
    emit(p, PREFIX "%s %llu\n", #prom_name,                                                        \
         (unsigned long long)fg_stats_cache_get(FG_CSTAT_##json));
    FG_STATS_CACHE(FG_STATS_CACHE_PROM)
#undef FG_STATS_CACHE_PROM
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
        for (size_t k = 0; k < FG_STATS_NBUCKETS; k++)
            emit(p, PREFIX "%s_bucket{backend=\"%s\",le=\"%g\"} %llu\n", hname, label,
                 (double)fg_stats_bucket_us[k] / 1e6,
                 (unsigned long long)fg_hist_count_le(h, fg_stats_bucket_us[k]));
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
