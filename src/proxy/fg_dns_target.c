#include "fg_dns_target.h"

#include <stdio.h>
#include <string.h>

#include "fg_err.h"

#define PREFIX_A "dns:"
#define PREFIX_SRV "dns+srv:"

static bool has_prefix(const char *s, size_t len, const char *p) {
    size_t n = strlen(p);
    return len >= n && memcmp(s, p, n) == 0;
}

bool fg_dns_target_is(const char *s, size_t len) {
    return has_prefix(s, len, PREFIX_A) || has_prefix(s, len, PREFIX_SRV);
}

static bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

static int fail(char *err, size_t errlen, const char *s, size_t len, const char *why) {
    snprintf(err, errlen, "'%.*s': %s", (int)(len > 200 ? 200 : len), s, why);
    return FG_ERR_INVALID;
}

int fg_dns_target_parse(const char *s, size_t len, fg_dns_target *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    size_t skip;
    if (has_prefix(s, len, PREFIX_SRV)) {
        out->srv = true;
        skip = strlen(PREFIX_SRV);
    } else if (has_prefix(s, len, PREFIX_A)) {
        skip = strlen(PREFIX_A);
    } else {
        return fail(err, errlen, s, len, "not a dns: or dns+srv: target");
    }
    const char *p = s + skip, *end = s + len;
    if (end - p < 3 || memcmp(p, "///", 3) != 0) {
        if (end - p >= 2 && memcmp(p, "//", 2) == 0)
            return fail(err, errlen, s, len,
                        "a DNS authority is not supported (use --dns-servers)");
        return fail(err, errlen, s, len, "want dns:///NAME:PORT or dns+srv:///NAME");
    }
    p += 3;
    const char *name_end = end;
    if (!out->srv) {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        if (!colon)
            return fail(err, errlen, s, len, "dns:/// needs a port (dns:///NAME:PORT)");
        unsigned port = 0;
        if (colon + 1 == end)
            return fail(err, errlen, s, len, "empty port");
        for (const char *q = colon + 1; q < end; q++) {
            if (*q < '0' || *q > '9' || (port = port * 10 + (unsigned)(*q - '0')) > 65535)
                return fail(err, errlen, s, len, "port is not a number in 1..65535");
        }
        if (port == 0)
            return fail(err, errlen, s, len, "port is not a number in 1..65535");
        out->port = (uint16_t)port;
        name_end = colon;
    }
    size_t nlen = (size_t)(name_end - p);
    if (nlen == 0 || nlen > FG_DNS_MAX_NAME)
        return fail(err, errlen, s, len, "the name must have 1..253 characters");
    for (size_t i = 0; i < nlen; i++)
        if (!name_char(p[i]))
            return fail(err, errlen, s, len, "the name has a character not allowed in host names");
    memcpy(out->name, p, nlen);
    out->name[nlen] = '\0';
    return 0;
}
