/* fc_report: result tables and JSON. */
#include "fc_report.h"

#include <stdarg.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_err.h"

#define CELL_MAX 128

struct fc_table {
    size_t ncols;
    size_t ncells;
    size_t cap;
    char **cells;
};

void fc_status_count(fc_status_counts *c, unsigned status) {
    c->n[status <= FG_STATUS_MAX ? status : FC_STATUS_SLOTS - 1]++;
}

uint64_t fc_status_total(const fc_status_counts *c) {
    uint64_t total = 0;
    for (size_t i = 0; i < FC_STATUS_SLOTS; i++)
        total += c->n[i];
    return total;
}

static const char *slot_name(size_t i) {
    return i <= FG_STATUS_MAX ? fg_status_name((int)i) : "OTHER";
}

json_t *fc_status_json(const fc_status_counts *c) {
    json_t *o = json_object();
    for (size_t i = 0; i < FC_STATUS_SLOTS; i++)
        if (c->n[i])
            json_object_set_new(o, slot_name(i), json_integer((json_int_t)c->n[i]));
    return o;
}

void fc_status_text(const fc_status_counts *c, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < FC_STATUS_SLOTS && used < len; i++) {
        if (!c->n[i])
            continue;
        int n = snprintf(buf + used, len - used, "%s%s %llu", used ? ", " : "", slot_name(i),
                         (unsigned long long)c->n[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (buf[0] == '\0')
        snprintf(buf, len, "none");
}

void fc_format_us(char *buf, size_t len, uint64_t us) {
    if (us < 1000)
        snprintf(buf, len, "%llu us", (unsigned long long)us);
    else if (us < 1000000)
        snprintf(buf, len, "%.*f ms", us < 10000 ? 2 : 1, (double)us / 1e3);
    else
        snprintf(buf, len, "%.2f s", (double)us / 1e6);
}

json_t *fc_latency_json(const fg_hist *h) {
    uint64_t n = fg_hist_count(h);
    return json_pack(
        "{sI sI sf sI sI sI sI sI}", "count", (json_int_t)n, "min_us", (json_int_t)fg_hist_min(h),
        "mean_us", n ? (double)fg_hist_sum(h) / (double)n : 0.0, "p50_us",
        (json_int_t)fg_hist_percentile(h, 50), "p90_us", (json_int_t)fg_hist_percentile(h, 90),
        "p99_us", (json_int_t)fg_hist_percentile(h, 99), "p999_us",
        (json_int_t)fg_hist_percentile(h, 99.9), "max_us", (json_int_t)fg_hist_max(h));
}

void fc_latency_line(FILE *out, const char *label, const fg_hist *h) {
    char p50[24], p90[24], p99[24], max[24];
    fc_format_us(p50, sizeof(p50), fg_hist_percentile(h, 50));
    fc_format_us(p90, sizeof(p90), fg_hist_percentile(h, 90));
    fc_format_us(p99, sizeof(p99), fg_hist_percentile(h, 99));
    fc_format_us(max, sizeof(max), fg_hist_max(h));
    fprintf(out, "  %-12s p50 %-9s p90 %-9s p99 %-9s max %-9s (n %llu)\n", label, p50, p90, p99,
            max, (unsigned long long)fg_hist_count(h));
}

fc_table *fc_table_new(size_t ncols) {
    fc_table *t = fg_calloc(1, sizeof(*t));
    t->ncols = ncols;
    return t;
}

void fc_table_free(fc_table *t) {
    if (!t)
        return;
    for (size_t i = 0; i < t->ncells; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

void fc_table_cell(fc_table *t, const char *fmt, ...) {
    char cell[CELL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cell, sizeof(cell), fmt, ap);
    va_end(ap);
    if (t->ncells == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 32;
        t->cells = fg_realloc(t->cells, t->cap * sizeof(*t->cells));
    }
    t->cells[t->ncells++] = fg_strdup(cell);
}

void fc_table_print(const fc_table *t, FILE *out) {
    size_t width[16] = {0};
    size_t ncols = t->ncols < 16 ? t->ncols : 16;
    for (size_t i = 0; i < t->ncells; i++) {
        size_t w = strlen(t->cells[i]);
        if (i % t->ncols < ncols && w > width[i % t->ncols])
            width[i % t->ncols] = w;
    }
    for (size_t i = 0; i < t->ncells; i++) {
        size_t col = i % t->ncols;
        int w = col < ncols ? (int)width[col] : 0;
        if (col == 0)
            fprintf(out, "  %-*s", w, t->cells[i]);
        else
            fprintf(out, "  %*s", w, t->cells[i]);
        if (col == t->ncols - 1 || i == t->ncells - 1)
            fputc('\n', out);
    }
}

int fc_json_print(FILE *out, const json_t *j) {
    if (json_dumpf(j, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
        return FG_ERR_INVALID;
    fputc('\n', out);
    return 0;
}
