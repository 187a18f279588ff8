/*
 * fg_discovery: DNS service discovery of backends, asynchronous on one libuv loop, with c-ares.
 *
 * Given the DNS targets of --grpc-addrs (fg_dns_target.h), it resolves all of them at once, then
 * again every refresh_ms and, when fg_discovery_refresh_soon() asks (a backend connection
 * failed), at most min_gap_ms after the previous round began. c-ares' sockets are watched with
 * uv_poll_t and its timeouts with a uv_timer_t: nothing blocks the loop.
 *
 * Each target keeps its last good answer. A round in which a target fails (timeout, SERVFAIL,
 * NXDOMAIN, no records, a reply c-ares cannot parse, more than max_addrs addresses) keeps that
 * target's previous addresses, counts framegate_dns_errors_total and logs the error once per
 * change of error (and once when the target resolves again).
 *
 * After each round whose union of addresses differs from the last one reported (and after the
 * first round, whatever it found), changed_cb gets the list: "IP:PORT" addresses ([v6]:PORT for
 * IPv6), deduplicated, in target order and sorted within a target, each with the DNS name it
 * came from. The arrays belong to fg_discovery and are valid only during the callback.
 *
 * Ownership: the caller owns the config strings (copied by _new) and the loop; fg_discovery
 * owns the c-ares channel and its handles, freed from their close callbacks after
 * fg_discovery_close(); changed_cb is never called after fg_discovery_close() returned.
 * On the loop's thread only; not from inside changed_cb (c-ares is then inside its own call).
 */
#ifndef FG_DISCOVERY_H
#define FG_DISCOVERY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "fg_dns_target.h"

typedef struct fg_discovery fg_discovery;

typedef void (*fg_discovery_cb)(void *arg, char *const *addrs, char *const *names, size_t n);

typedef struct fg_discovery_config {
    const fg_dns_target *targets; /* copied */
    size_t ntargets;
    const char *servers; /* "HOST[:PORT],..." (--dns-servers); NULL: /etc/resolv.conf */
    uint32_t refresh_ms; /* period of the rounds */
    uint32_t timeout_ms; /* a query's first timeout (c-ares doubles it on the retry) */
    uint32_t min_gap_ms; /* least time between the starts of two rounds */
    size_t max_addrs;    /* most addresses one target may give */
    fg_discovery_cb changed_cb;
    void *arg;
} fg_discovery_config;

/* Starts the first round at once. 0 and *out, or FG_ERR_INVALID (bad servers list; logged). */
int fg_discovery_new(uv_loop_t *loop, const fg_discovery_config *cfg, fg_discovery **out);
/* A backend connection failed: re-resolve soon (not sooner than min_gap_ms after the last). */
void fg_discovery_refresh_soon(fg_discovery *d);
/* Stops it; the memory goes once its handles closed (the loop must run on). */
void fg_discovery_close(fg_discovery *d);

#endif
