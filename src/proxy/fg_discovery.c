/*
 * fg_discovery: c-ares on libuv. A round issues one query per target (getaddrinfo for dns:///,
 * a SRV search for dns+srv:///, then one getaddrinfo per host the SRV records name); round_pending
 * counts the queries out, plus one token held while queries are being issued, so a query that
 * completes synchronously cannot end the round early.
 */
#include "fg_discovery.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ares.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "fg_alloc.h"
#include "fg_err.h"
#include "fg_log.h"
#include "fg_stats.h"

#define QUERY_TRIES 2
#define MAX_ADDR_LEN 64 /* "[v6 address]:65535" */

typedef struct sock_watch {
    uv_poll_t poll;
    ares_socket_t fd;
    fg_discovery *d;
    struct sock_watch *next;
} sock_watch;

typedef struct addr_list {
    char **v;
    size_t n;
} addr_list;

typedef struct target_state {
    fg_dns_target t;
    addr_list good;                     /* the last good answer, sorted */
    addr_list round;                    /* this round's answer, being collected */
    int status;                         /* ARES_SUCCESS, or this round's first error */
    char err[FG_DNS_MAX_NAME + 128];    /* this round's error text */
    char logged[FG_DNS_MAX_NAME + 128]; /* the error last logged; "" while resolving fine */
} target_state;

struct fg_discovery {
    uv_loop_t *loop;
    fg_discovery_config cfg;
    target_state *targets;
    ares_channel channel;
    uv_timer_t ares_timer;    /* c-ares' next timeout */
    uv_timer_t refresh_timer; /* the next round */
    sock_watch *watches;
    int open_handles;
    int round_pending; /* queries out in this round (+1 while issuing) */
    bool in_round;
    bool soon;     /* refresh_soon() during a round: the next round comes after min_gap_ms */
    bool reported; /* changed_cb ran at least once */
    bool closing;
    uint64_t round_started_ms;
    addr_list rep_addrs, rep_names; /* what changed_cb got last */
};

/* One host lookup: its addresses, each on every one of ports (a SRV answer often names one host
 * with many ports; it is looked up once). */
typedef struct query {
    fg_discovery *d;
    target_state *ts;
    char *host; /* for SRV grouping */
    uint16_t *ports;
    size_t nports;
} query;

static void query_free(query *q) {
    free(q->host);
    free(q->ports);
    free(q);
}

static void addr_list_clear(addr_list *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void addr_list_push(addr_list *l, const char *s) {
    l->v = fg_realloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = fg_strdup(s);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts and drops duplicates. */
static void addr_list_normalize(addr_list *l) {
    if (l->n == 0)
        return;
    qsort(l->v, l->n, sizeof *l->v, cmp_str);
    size_t o = 1;
    for (size_t i = 1; i < l->n; i++) {
        if (strcmp(l->v[i], l->v[o - 1]) == 0)
            free(l->v[i]);
        else
            l->v[o++] = l->v[i];
    }
    l->n = o;
}

/* ---- c-ares sockets and timeouts on the loop ---- */

static void reschedule_ares_timer(fg_discovery *d);

static void on_handle_closed(uv_handle_t *h);

static void on_ares_timer(uv_timer_t *t) {
    fg_discovery *d = t->data;
    ares_process_fd(d->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    reschedule_ares_timer(d);
}

static void reschedule_ares_timer(fg_discovery *d) {
    struct timeval tv;
    if (d->closing)
        return;
    if (!ares_timeout(d->channel, NULL, &tv)) {
        uv_timer_stop(&d->ares_timer);
        return;
    }
    uint64_t ms = (uint64_t)tv.tv_sec * 1000 + ((uint64_t)tv.tv_usec + 999) / 1000;
    uv_timer_start(&d->ares_timer, on_ares_timer, ms, 0);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
    sock_watch *w = handle->data;
    fg_discovery *d = w->d;
    /* On an error let c-ares try both directions: it notices the failure and closes the socket. */
    ares_socket_t r = status < 0 || (events & UV_READABLE) ? w->fd : ARES_SOCKET_BAD;
    ares_socket_t wr = status < 0 || (events & UV_WRITABLE) ? w->fd : ARES_SOCKET_BAD;
    ares_process_fd(d->channel, r, wr);
    reschedule_ares_timer(d);
}

static void close_handle(uv_handle_t *h) {
    uv_close(h, on_handle_closed);
}

static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable) {
    fg_discovery *d = data;
    sock_watch **pp = &d->watches;
    while (*pp && (*pp)->fd != fd)
        pp = &(*pp)->next;
    sock_watch *w = *pp;
    if (!readable && !writable) {
        if (w) { /* c-ares closes fd right after this: stop watching it now */
            *pp = w->next;
            close_handle((uv_handle_t *)&w->poll);
        }
        return;
    }
    if (!w) {
        w = fg_calloc(1, sizeof *w);
        w->fd = fd;
        w->d = d;
        if (uv_poll_init_socket(d->loop, &w->poll, fd) != 0) {
            /* Its queries then end by c-ares' timeout (the timer still runs). */
            fg_log_error("dns: cannot watch a resolver socket");
            free(w);
            return;
        }
        w->poll.data = w;
        d->open_handles++;
        w->next = d->watches;
        d->watches = w;
    }
    uv_poll_start(&w->poll, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0), on_poll);
}

/* ---- a round ---- */

static void start_round(fg_discovery *d);

static void on_refresh_timer(uv_timer_t *t) {
    start_round(t->data);
}

static void target_fail(target_state *ts, int status, const char *what) {
    if (ts->status != ARES_SUCCESS)
        return; /* the first error of the round tells */
    ts->status = status;
    snprintf(ts->err, sizeof ts->err, "%s: %s", what, ares_strerror(status));
}

static bool lists_equal(const addr_list *a, const addr_list *b) {
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return false;
    return true;
}

static void settle_target(target_state *ts) {
    if (ts->status == ARES_SUCCESS && ts->round.n == 0)
        target_fail(ts, ARES_ENODATA, ts->t.name);
    if (ts->status == ARES_SUCCESS) {
        addr_list_normalize(&ts->round);
        addr_list_clear(&ts->good);
        ts->good = ts->round;
        ts->round = (addr_list){0};
        if (ts->logged[0])
            fg_log_info("dns: %s resolves again (%zu addresses)", ts->t.name, ts->good.n);
        ts->logged[0] = '\0';
        return;
    }
    addr_list_clear(&ts->round);
    fg_stats_add(FG_STAT_dns_errors_total, 1);
    if (strcmp(ts->err, ts->logged) != 0) {
        fg_log_error("dns: %s; keeping its %zu addresses", ts->err, ts->good.n);
        snprintf(ts->logged, sizeof ts->logged, "%s", ts->err);
    }
}

static void end_round(fg_discovery *d) {
    d->in_round = false;
    addr_list addrs = {0}, names = {0};
    for (size_t i = 0; i < d->cfg.ntargets; i++) {
        target_state *ts = &d->targets[i];
        settle_target(ts);
        for (size_t k = 0; k < ts->good.n; k++) {
            bool dup = false;
            for (size_t j = 0; j < addrs.n && !dup; j++)
                dup = strcmp(addrs.v[j], ts->good.v[k]) == 0;
            if (!dup) {
                addr_list_push(&addrs, ts->good.v[k]);
                addr_list_push(&names, ts->t.name);
            }
        }
    }
    fg_stats_add(FG_STAT_dns_resolutions_total, 1);
    if (!d->reported || !lists_equal(&addrs, &d->rep_addrs) ||
        !lists_equal(&names, &d->rep_names)) {
        if (d->reported)
            fg_stats_add(FG_STAT_dns_changes_total, 1);
        d->reported = true;
        addr_list_clear(&d->rep_addrs);
        addr_list_clear(&d->rep_names);
        d->rep_addrs = addrs;
        d->rep_names = names;
        fg_log_info("dns: %zu addresses from %zu names", addrs.n, d->cfg.ntargets);
        d->cfg.changed_cb(d->cfg.arg, d->rep_addrs.v, d->rep_names.v, d->rep_addrs.n);
    } else {
        addr_list_clear(&addrs);
        addr_list_clear(&names);
    }
    uint64_t delay = d->cfg.refresh_ms;
    if (d->soon) {
        d->soon = false;
        uint64_t now = uv_now(d->loop), due = d->round_started_ms + d->cfg.min_gap_ms;
        delay = due > now ? due - now : 0;
    }
    uv_timer_start(&d->refresh_timer, on_refresh_timer, delay, 0);
}

static void query_done(fg_discovery *d) {
    if (--d->round_pending == 0)
        end_round(d);
}

static void format_addr(const struct sockaddr *sa, uint16_t port, char *buf, size_t len) {
    char ip[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof ip);
        snprintf(buf, len, "[%s]:%u", ip, (unsigned)port);
    } else {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof ip);
        snprintf(buf, len, "%s:%u", ip, (unsigned)port);
    }
}

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *res) {
    query *q = arg;
    fg_discovery *d = q->d;
    target_state *ts = q->ts;
    if (status == ARES_EDESTRUCTION || d->closing) {
        ares_freeaddrinfo(res);
        query_free(q);
        return;
    }
    if (status != ARES_SUCCESS) {
        target_fail(ts, status, q->host);
    } else {
        for (struct ares_addrinfo_node *n = res ? res->nodes : NULL; n; n = n->ai_next) {
            if (n->ai_family != AF_INET && n->ai_family != AF_INET6)
                continue;
            for (size_t k = 0; k < q->nports && ts->status == ARES_SUCCESS; k++) {
                if (ts->round.n >= d->cfg.max_addrs) {
                    ts->status = ARES_EBADRESP;
                    snprintf(ts->err, sizeof ts->err, "%s: more than %zu addresses", ts->t.name,
                             d->cfg.max_addrs);
                    break;
                }
                char a[MAX_ADDR_LEN];
                format_addr(n->ai_addr, q->ports[k], a, sizeof a);
                addr_list_push(&ts->round, a);
            }
        }
    }
    ares_freeaddrinfo(res);
    query_free(q);
    query_done(d);
}

static query *query_new(fg_discovery *d, target_state *ts, const char *host) {
    query *q = fg_calloc(1, sizeof *q);
    q->d = d;
    q->ts = ts;
    q->host = fg_strdup(host);
    return q;
}

static void query_add_port(query *q, uint16_t port) {
    q->ports = fg_realloc(q->ports, (q->nports + 1) * sizeof *q->ports);
    q->ports[q->nports++] = port;
}

/* Looks q->host up; q is freed by on_addrinfo. */
static void resolve_host(fg_discovery *d, query *q) {
    struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC, .ai_flags = ARES_AI_NOSORT};
    d->round_pending++;
    ares_getaddrinfo(d->channel, q->host, NULL, &hints, on_addrinfo, q);
}

static void on_srv(void *arg, int status, int timeouts, unsigned char *abuf, int alen) {
    query *q = arg;
    fg_discovery *d = q->d;
    target_state *ts = q->ts;
    query_free(q);
    if (status == ARES_EDESTRUCTION || d->closing)
        return;
    struct ares_srv_reply *srv = NULL;
    if (status == ARES_SUCCESS)
        status = ares_parse_srv_reply(abuf, alen, &srv);
    if (status != ARES_SUCCESS) {
        target_fail(ts, status, ts->t.name);
    } else {
        size_t n = 0, nhosts = 0;
        query **hosts = NULL;
        for (struct ares_srv_reply *r = srv; r; r = r->next) {
            /* Port 0 or the target "." mean "no service here" (RFC 2782). */
            if (r->port == 0 || !r->host[0] || strcmp(r->host, ".") == 0)
                continue;
            if (++n > d->cfg.max_addrs) {
                ts->status = ARES_EBADRESP;
                snprintf(ts->err, sizeof ts->err, "%s: more than %zu SRV records", ts->t.name,
                         d->cfg.max_addrs);
                break;
            }
            size_t h = 0;
            while (h < nhosts && strcasecmp(hosts[h]->host, r->host) != 0)
                h++;
            if (h == nhosts) {
                hosts = fg_realloc(hosts, (nhosts + 1) * sizeof *hosts);
                hosts[nhosts++] = query_new(d, ts, r->host);
            }
            query_add_port(hosts[h], r->port);
        }
        for (size_t h = 0; h < nhosts; h++) {
            if (ts->status == ARES_SUCCESS)
                resolve_host(d, hosts[h]);
            else
                query_free(hosts[h]);
        }
        free(hosts);
        ares_free_data(srv);
    }
    query_done(d);
}

static void start_round(fg_discovery *d) {
    if (d->closing || d->in_round)
        return;
    d->in_round = true;
    d->round_started_ms = uv_now(d->loop);
    d->round_pending = 1; /* held while issuing */
    for (size_t i = 0; i < d->cfg.ntargets; i++) {
        target_state *ts = &d->targets[i];
        ts->status = ARES_SUCCESS;
        ts->err[0] = '\0';
        addr_list_clear(&ts->round);
        query *q = query_new(d, ts, ts->t.name);
        if (ts->t.srv) {
            d->round_pending++;
            ares_search(d->channel, ts->t.name, ns_c_in, ns_t_srv, on_srv, q);
        } else {
            query_add_port(q, ts->t.port);
            resolve_host(d, q);
        }
    }
    reschedule_ares_timer(d);
    query_done(d);
}

/* ---- the interface ---- */

static void discovery_free(fg_discovery *d) {
    for (size_t i = 0; i < d->cfg.ntargets; i++) {
        addr_list_clear(&d->targets[i].good);
        addr_list_clear(&d->targets[i].round);
    }
    addr_list_clear(&d->rep_addrs);
    addr_list_clear(&d->rep_names);
    free(d->targets);
    free((char *)d->cfg.servers);
    free(d);
    ares_library_cleanup();
}

static void on_handle_closed(uv_handle_t *h) {
    fg_discovery *d;
    if (h->type == UV_POLL) {
        sock_watch *w = h->data;
        d = w->d;
        free(w);
    } else {
        d = h->data;
    }
    if (--d->open_handles == 0 && d->closing)
        discovery_free(d);
}

int fg_discovery_new(uv_loop_t *loop, const fg_discovery_config *cfg, fg_discovery **out) {
    int rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) {
        fg_log_error("dns: c-ares: %s", ares_strerror(rc));
        return FG_ERR_INVALID;
    }
    fg_discovery *d = fg_calloc(1, sizeof *d);
    d->loop = loop;
    d->cfg = *cfg;
    d->cfg.servers = cfg->servers ? fg_strdup(cfg->servers) : NULL;
    d->targets = fg_calloc(cfg->ntargets ? cfg->ntargets : 1, sizeof *d->targets);
    for (size_t i = 0; i < cfg->ntargets; i++)
        d->targets[i].t = cfg->targets[i];
    struct ares_options o = {
        .timeout = (int)cfg->timeout_ms,
        .tries = QUERY_TRIES,
        .sock_state_cb = sock_state_cb,
        .sock_state_cb_data = d,
    };
    rc = ares_init_options(&d->channel, &o,
                           ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB);
    if (rc == ARES_SUCCESS && d->cfg.servers) {
        rc = ares_set_servers_ports_csv(d->channel, d->cfg.servers);
        if (rc != ARES_SUCCESS) {
            fg_log_error("dns: --dns-servers '%s': %s", d->cfg.servers, ares_strerror(rc));
            ares_destroy(d->channel);
            discovery_free(d);
            return FG_ERR_INVALID;
        }
    }
    if (rc != ARES_SUCCESS) {
        fg_log_error("dns: c-ares: %s", ares_strerror(rc));
        discovery_free(d);
        return FG_ERR_INVALID;
    }
    uv_timer_init(loop, &d->ares_timer);
    uv_timer_init(loop, &d->refresh_timer);
    d->ares_timer.data = d->refresh_timer.data = d;
    d->open_handles = 2;
    *out = d;
    start_round(d);
    return 0;
}

void fg_discovery_refresh_soon(fg_discovery *d) {
    if (d->closing)
        return;
    if (d->in_round) {
        d->soon = true;
        return;
    }
    uint64_t now = uv_now(d->loop), due = d->round_started_ms + d->cfg.min_gap_ms;
    uint64_t delay = due > now ? due - now : 0;
    uint64_t current = uv_timer_get_due_in(&d->refresh_timer);
    if (!uv_is_active((uv_handle_t *)&d->refresh_timer) || delay < current)
        uv_timer_start(&d->refresh_timer, on_refresh_timer, delay, 0);
}

void fg_discovery_close(fg_discovery *d) {
    if (d->closing)
        return;
    d->closing = true;
    /* Query callbacks run now with ARES_EDESTRUCTION (and free their contexts); the socket
     * state callback closes every watch. */
    ares_destroy(d->channel);
    while (d->watches) {
        sock_watch *w = d->watches;
        d->watches = w->next;
        close_handle((uv_handle_t *)&w->poll);
    }
    close_handle((uv_handle_t *)&d->ares_timer);
    close_handle((uv_handle_t *)&d->refresh_timer);
}
