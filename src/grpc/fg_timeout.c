#include "fg_timeout.h"

#include "fg_err.h"

#define MAX_DIGITS 8
#define MAX_VALUE 99999999ULL

int fg_timeout_parse(const char *s, size_t len, uint64_t *out_us) {
    if (len < 2 || len > MAX_DIGITS + 1)
        return FG_ERR_INVALID;
    uint64_t v = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return FG_ERR_INVALID;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    switch (s[len - 1]) {
    case 'H':
        *out_us = v * 3600ULL * 1000000ULL;
        return 0;
    case 'M':
        *out_us = v * 60ULL * 1000000ULL;
        return 0;
    case 'S':
        *out_us = v * 1000000ULL;
        return 0;
    case 'm':
        *out_us = v * 1000ULL;
        return 0;
    case 'u':
        *out_us = v;
        return 0;
    case 'n':
        *out_us = (v + 999) / 1000;
        return 0;
    default:
        return FG_ERR_INVALID;
    }
}

/* v (at most MAX_DIGITS digits) then unit, NUL-terminated: per call, so not through snprintf. */
static size_t put(uint64_t v, char unit, char out[FG_TIMEOUT_STRLEN]) {
    char digits[MAX_DIGITS];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < sizeof digits);
    for (size_t i = 0; i < n; i++)
        out[i] = digits[n - 1 - i];
    out[n] = unit;
    out[n + 1] = '\0';
    return n + 1;
}

size_t fg_timeout_format(uint64_t us, char out[FG_TIMEOUT_STRLEN]) {
    static const struct {
        uint64_t us_per_unit;
        char unit;
    } units[] = {
        {1, 'u'}, {1000, 'm'}, {1000000, 'S'}, {60000000, 'M'}, {3600000000ULL, 'H'},
    };
    /* Smallest unit whose value fits in 8 digits, rounding up so a deadline never shrinks. */
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        uint64_t v = (us + units[i].us_per_unit - 1) / units[i].us_per_unit;
        if (v <= MAX_VALUE)
            return put(v, units[i].unit, out);
    }
    return put(MAX_VALUE, 'H', out);
}
