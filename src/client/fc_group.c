#include "fc_group.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fg_err.h"

static bool name_char(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-';
}

/* Decimal digits only, within [1, max]; *end is where they stopped. */
static int parse_count(const char *s, const char **end, uint32_t max, uint32_t *out) {
    uint64_t v = 0;
    const char *p = s;
    while (*p >= '0' && *p <= '9' && v <= max)
        v = v * 10 + (uint64_t)(*p++ - '0');
    if (p == s || v == 0 || v > max)
        return FG_ERR_INVALID;
    *end = p;
    *out = (uint32_t)v;
    return 0;
}

int fc_group_parse(const char *text, fc_group_spec *out, char *err, size_t errlen) {
    fc_group_spec g;
    memset(&g, 0, sizeof(g));
    const char *p = text;
    size_t n = 0;
    while (*p && *p != ':') {
        if (!name_char(*p) || n == FC_GROUP_NAME_MAX) {
            snprintf(err, errlen, "group \"%s\": the name is 1 to %d of A-Z a-z 0-9 _ -", text,
                     FC_GROUP_NAME_MAX);
            return FG_ERR_INVALID;
        }
        g.name[n++] = *p++;
    }
    const char *end;
    if (n == 0 || *p != ':' ||
        parse_count(p + 1, &end, FC_GROUP_CONNECTIONS_MAX, &g.connections) < 0 || *end != ':' ||
        parse_count(end + 1, &end, FC_GROUP_INFLIGHT_MAX, &g.inflight) < 0 || *end != '\0') {
        snprintf(err, errlen,
                 "group \"%s\": want NAME:CONNECTIONS:INFLIGHT, connections 1..%d, in flight "
                 "1..%d",
                 text, FC_GROUP_CONNECTIONS_MAX, FC_GROUP_INFLIGHT_MAX);
        return FG_ERR_INVALID;
    }
    *out = g;
    return 0;
}
