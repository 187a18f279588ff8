/*
 * fg_orca: ORCA load reports (xds.data.orca.v3.OrcaLoadReport) in the gRPC trailer
 * `endpoint-load-metrics-bin`, the form gRPC's weighted_round_robin and Envoy read (contract
 * §1). A "-bin" metadata value is base64 on the wire (gRPC PROTOCOL-HTTP2); padding is
 * optional when decoding and written when encoding.
 *
 * Only the fields framegate uses are kept; the others (memory, costs, named metrics...) are
 * skipped. The decoder takes at most FG_ORCA_MAX_HEADER characters and never allocates from
 * the heap (protobuf-c unpacks into a fixed arena on the stack), so a backend's trailer costs
 * the proxy no memory and a hostile one cannot make it use more.
 */
#ifndef FG_ORCA_H
#define FG_ORCA_H

#include <stddef.h>
#include <stdint.h>

#define FG_ORCA_HEADER "endpoint-load-metrics-bin"
#define FG_ORCA_MAX_HEADER 4096 /* base64 characters of one trailer value we decode */
#define FG_ORCA_ENCODED_MAX 48  /* room for fg_orca_encode_header's output and its NUL */

typedef struct fg_orca_report {
    double cpu_utilization;         /* fraction of the CPU, >= 0 (may exceed 1) */
    double application_utilization; /* the backend's own load figure, >= 0 (may exceed 1) */
    double rps_fractional;          /* requests per second it serves, >= 0 */
} fg_orca_report;

/*
 * Decodes one trailer value (value[0..len), base64 of the serialized report). Fields the
 * report leaves out are 0. Returns 0 with *out set, or (with *out untouched): FG_ERR_TOO_BIG
 * (over FG_ORCA_MAX_HEADER characters), FG_ERR_INVALID (not base64, not an OrcaLoadReport, or a
 * field negative, NaN or infinite).
 */
int fg_orca_decode_header(const uint8_t *value, size_t len, fg_orca_report *out);

/*
 * Encodes r as a trailer value into out (FG_ORCA_ENCODED_MAX bytes), NUL-terminated. Returns
 * its length (0 when every field is 0: an empty report), or FG_ERR_INVALID when a field is
 * negative, NaN or infinite.
 */
int fg_orca_encode_header(const fg_orca_report *r, char out[FG_ORCA_ENCODED_MAX]);

#endif
