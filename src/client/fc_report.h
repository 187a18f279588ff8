/*
 * fc_report: how framebench shows results: aligned text tables for people, and jansson objects
 * for --json. Latencies are microseconds in JSON and human units ("1.23 ms") in tables.
 *
 * fc_table owns copies of its cells; everything else returns new jansson references the caller
 * owns (json_decref) or writes to the given FILE.
 */
#ifndef FC_REPORT_H
#define FC_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "fg_hist.h"
#include "fg_status.h"

/* Replies counted per gRPC status (0..16), plus one slot for codes outside the table. */
#define FC_STATUS_SLOTS (FG_STATUS_MAX + 2)
typedef struct fc_status_counts {
    uint64_t n[FC_STATUS_SLOTS];
} fc_status_counts;

void fc_status_count(fc_status_counts *c, unsigned status);
uint64_t fc_status_total(const fc_status_counts *c);
/* {"OK": 10, "UNAVAILABLE": 2}: only the statuses seen. */
json_t *fc_status_json(const fc_status_counts *c);
/* "OK 10, UNAVAILABLE 2" into buf (or "none"). */
void fc_status_text(const fc_status_counts *c, char *buf, size_t len);

/* "850 us", "12.3 ms", "1.20 s" */
void fc_format_us(char *buf, size_t len, uint64_t us);
/* {"count", "min_us", "mean_us", "p50_us", "p90_us", "p99_us", "p999_us", "max_us"} */
json_t *fc_latency_json(const fg_hist *h);
/* "  LABEL  p50 ..  p90 ..  p99 ..  max ..  (n N)" on one line. */
void fc_latency_line(FILE *out, const char *label, const fg_hist *h);

typedef struct fc_table fc_table;
fc_table *fc_table_new(size_t ncols);
void fc_table_free(fc_table *t);
/* Appends one cell (printf format); a row is complete after ncols cells. The first row is the
 * heading. Cells after the first column are right-aligned (numbers). */
void fc_table_cell(fc_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fc_table_print(const fc_table *t, FILE *out);

/* Prints j (indented) and a newline. 0 or FG_ERR_INVALID. */
int fc_json_print(FILE *out, const json_t *j);

#endif
