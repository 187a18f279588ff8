#include "fg_hostport.h"

#include <string.h>

#include "fg_err.h"

int fg_hostport_split(const char *addr, size_t len, const char **host, size_t *host_len,
                      uint16_t *port) {
    const char *colon = NULL;
    for (size_t i = 0; i < len; i++)
        if (addr[i] == ':')
            colon = addr + i;
    if (!colon)
        return FG_ERR_INVALID;
    const char *h = addr;
    size_t hlen = (size_t)(colon - addr);
    if (hlen > 0 && h[0] == '[') {
        if (hlen < 3 || h[hlen - 1] != ']')
            return FG_ERR_INVALID; /* "[]" or an unclosed bracket */
        h++;
        hlen -= 2;
        if (memchr(h, '[', hlen) || memchr(h, ']', hlen))
            return FG_ERR_INVALID;
    } else if (memchr(h, ':', hlen) || memchr(h, '[', hlen) || memchr(h, ']', hlen)) {
        return FG_ERR_INVALID; /* a bare IPv6 address needs brackets */
    }
    if (hlen == 0)
        return FG_ERR_INVALID;
    const char *p = colon + 1, *end = addr + len;
    if (p == end || end - p > 5)
        return FG_ERR_INVALID;
    unsigned v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return FG_ERR_INVALID;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v == 0 || v > 65535)
        return FG_ERR_INVALID;
    if (host)
        *host = h;
    if (host_len)
        *host_len = hlen;
    if (port)
        *port = (uint16_t)v;
    return 0;
}
