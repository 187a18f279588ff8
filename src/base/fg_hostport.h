/*
 * fg_hostport: the one parser of a backend address, "host:port" or "[v6]:port" (the command
 * line checks with it, the pool splits with it, so they cannot disagree).
 *
 * Accepts a non-empty host without ':' (a name or IPv4 address), or a non-empty bracketed
 * IPv6 address, then ':' and a decimal port 1..65535. Reads exactly len bytes of addr (no NUL
 * needed); allocates nothing: *host points into addr (without the brackets).
 */
#ifndef FG_HOSTPORT_H
#define FG_HOSTPORT_H

#include <stddef.h>
#include <stdint.h>

/* 0 with *host, *host_len and *port set (any of them may be NULL), or FG_ERR_INVALID. */
int fg_hostport_split(const char *addr, size_t len, const char **host, size_t *host_len,
                      uint16_t *port);

#endif
