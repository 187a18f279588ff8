/*
 * fuzz_dns_target: the dns:/// and dns+srv:/// entries of --grpc-addrs (src/proxy/fg_dns_target),
 * parsed exactly as fg_config parses them. An abort() here is a bug: an accepted target whose
 * name is empty, too long or has a character a host name cannot have, or a dns:/// target
 * without a port.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fg_dns_target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    fg_dns_target t;
    bool is = fg_dns_target_is((const char *)data, size);
    if (fg_dns_target_parse((const char *)data, size, &t, err, sizeof err) != 0) {
        if (!memchr(err, '\0', sizeof err))
            abort();
        return 0;
    }
    size_t n = strlen(t.name);
    if (!is || n == 0 || n > FG_DNS_MAX_NAME || (!t.srv && t.port == 0) || (t.srv && t.port))
        abort();
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", t.name[i]))
            abort();
    return 0;
}
