/*
 * fg_dns_target: the DNS entries of --grpc-addrs, in gRPC's target syntax.
 *
 *   dns:///NAME:PORT          every A and AAAA record of NAME, each one backend on PORT
 *   dns+srv:///NAME           every SRV record of NAME (e.g. _grpc._tcp.frames.example): the
 *                             addresses of its target host, on the record's port
 *
 * An authority (dns://1.2.3.4/NAME:PORT) is refused: --dns-servers names the resolvers. NAME is
 * a host name (letters, digits, '-', '_', '.'), 1..FG_DNS_MAX_NAME characters. Pure parsing, no
 * allocation: the caller owns every buffer.
 */
#ifndef FG_DNS_TARGET_H
#define FG_DNS_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FG_DNS_MAX_NAME 253 /* RFC 1035's limit on a name's text form */

typedef struct fg_dns_target {
    char name[FG_DNS_MAX_NAME + 1];
    uint16_t port; /* 0 for SRV: each record brings its own */
    bool srv;
} fg_dns_target;

/* Is s[0..len) meant as a DNS target (it starts with "dns:" or "dns+srv:")? */
bool fg_dns_target_is(const char *s, size_t len);
/* Parses s[0..len). 0 and *out, or FG_ERR_INVALID with a one-line reason in err. */
int fg_dns_target_parse(const char *s, size_t len, fg_dns_target *out, char *err, size_t errlen);

#endif
