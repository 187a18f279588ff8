/*
 * fuzz_hostport: fg_hostport_split, the one parser of backend addresses (command line and
 * pool). The fuzz input is one address, not NUL-terminated. An accepted address must give a
 * non-empty host inside the input, without ':' unless it was bracketed, and a port 1..65535
 * that is what the digits after the last ':' say; anything else aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fg_hostport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* A copy of exactly size bytes, so ASan sees any read past the end. */
    char *addr = malloc(size ? size : 1);
    if (!addr)
        abort();
    memcpy(addr, data, size);
    const char *host;
    size_t host_len;
    uint16_t port;
    if (fg_hostport_split(addr, size, &host, &host_len, &port) == 0) {
        if (host_len == 0 || host < addr || host + host_len > addr + size || port == 0)
            abort();
        const char *colon = memrchr(addr, ':', size);
        if (!colon || colon == addr + size - 1)
            abort();
        unsigned v = 0;
        for (const char *p = colon + 1; p < addr + size; p++) {
            if (*p < '0' || *p > '9')
                abort();
            v = v * 10 + (unsigned)(*p - '0');
        }
        if (v != port)
            abort();
        int bracketed = addr[0] == '[';
        if (!bracketed && memchr(host, ':', host_len))
            abort();
        if (bracketed &&
            (host != addr + 1 || host[host_len] != ']' || host + host_len + 1 != colon))
            abort();
        if (!bracketed && host + host_len != colon)
            abort();
    }
    free(addr);
    return 0;
}
