/*
 * fuzz_orca: the ORCA trailer decoder (src/grpc/fg_orca). The fuzz input is one
 * `endpoint-load-metrics-bin` value as it arrives in a backend's trailers.
 *
 * An abort() here is a bug: a value over FG_ORCA_MAX_HEADER accepted, a value with a character
 * outside gRPC's base64 alphabet accepted, a report with a negative or non-finite field, an
 * error that changed the output, or a decoded report that does not survive encode + decode.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fg_err.h"
#include "fg_orca.h"

static bool report_ok(const fg_orca_report *r) {
    return isfinite(r->cpu_utilization) && r->cpu_utilization >= 0 &&
           isfinite(r->application_utilization) && r->application_utilization >= 0 &&
           isfinite(r->rps_fractional) && r->rps_fractional >= 0;
}

static bool only_base64(const uint8_t *s, size_t len) {
    while (len && s[len - 1] == '=')
        len--;
    for (size_t i = 0; i < len; i++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", s[i]) ||
            s[i] == '\0')
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* An exact-size heap copy, so ASan catches any read past the value. */
    uint8_t *value = malloc(size ? size : 1);
    memcpy(value, data, size);

    fg_orca_report r, sentinel;
    memset(&r, 0x5A, sizeof r);
    memcpy(&sentinel, &r, sizeof r);
    int rv = fg_orca_decode_header(value, size, &r);
    if (rv == 0) {
        if (size > FG_ORCA_MAX_HEADER || !only_base64(value, size) || !report_ok(&r))
            abort();
        char enc[FG_ORCA_ENCODED_MAX];
        int n = fg_orca_encode_header(&r, enc);
        if (n < 0 || (size_t)n >= sizeof enc || strlen(enc) != (size_t)n)
            abort();
        fg_orca_report back;
        if (fg_orca_decode_header((const uint8_t *)enc, (size_t)n, &back) != 0 ||
            memcmp(&back, &r, sizeof r) != 0)
            abort();
    } else {
        if (rv != (size > FG_ORCA_MAX_HEADER ? FG_ERR_TOO_BIG : FG_ERR_INVALID))
            abort();
        if (memcmp(&r, &sentinel, sizeof r) != 0)
            abort();
    }
    free(value);
    return 0;
}
