#include "fg_shared.h"

#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_backend.h"
#include "fg_log.h"
#include "fg_stats.h"
#include "fg_status.h"

struct fg_bshared {
    fg_bshared *next;
    char *address;
    const fg_health_policy *policy; /* the registry's */
    fg_backend *backends; /* every pool's backend for this address, linked by shared_next */
    pthread_mutex_t lock; /* guards health */
    fg_health health;
    /* Published after every change of health, for the lock-free paths: */
    atomic_bool healthy;
    atomic_bool trial_mode; /* unhealthy without health service: trial frames (under lock) */
    _Atomic uint32_t faults;
    atomic_bool out_for_timeout;
};

struct fg_pool_shared {
    pthread_mutex_t lock; /* guards the registry: entries and their backend lists */
    fg_bshared *entries;
    _Atomic size_t cursor;
    atomic_int refs;
    fg_health_policy policy;
};

fg_pool_shared *fg_shared_new(const fg_health_policy *policy) {
    fg_pool_shared *s = fg_calloc(1, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    atomic_init(&s->cursor, 0);
    atomic_init(&s->refs, 1);
    s->policy = *policy;
    return s;
}

void fg_shared_ref(fg_pool_shared *s) {
    atomic_fetch_add(&s->refs, 1);
}

void fg_shared_unref(fg_pool_shared *s) {
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    /* Every backend detached itself before its pool let go. */
    pthread_mutex_destroy(&s->lock);
    free(s);
}

_Atomic size_t *fg_shared_cursor(fg_pool_shared *s) {
    return &s->cursor;
}

fg_bshared *fg_shared_attach(fg_pool_shared *s, const char *address, fg_backend *b) {
    pthread_mutex_lock(&s->lock);
    fg_bshared *e = s->entries;
    while (e && strcmp(e->address, address) != 0)
        e = e->next;
    if (!e) {
        e = fg_calloc(1, sizeof *e);
        e->address = fg_strdup(address);
        e->policy = &s->policy;
        pthread_mutex_init(&e->lock, NULL);
        fg_health_init(&e->health);
        atomic_init(&e->healthy, false);
        atomic_init(&e->trial_mode, false);
        atomic_init(&e->faults, 0);
        atomic_init(&e->out_for_timeout, false);
        e->next = s->entries;
        s->entries = e;
    }
    b->shared_next = e->backends;
    e->backends = b;
    pthread_mutex_unlock(&s->lock);
    return e;
}

void fg_shared_detach(fg_pool_shared *s, fg_bshared *e, fg_backend *b) {
    pthread_mutex_lock(&s->lock);
    for (fg_backend **p = &e->backends; *p; p = &(*p)->shared_next) {
        if (*p == b) {
            *p = b->shared_next;
            break;
        }
    }
    if (!e->backends) {
        for (fg_bshared **p = &s->entries; *p; p = &(*p)->next) {
            if (*p == e) {
                *p = e->next;
                break;
            }
        }
        pthread_mutex_destroy(&e->lock);
        free(e->address);
        free(e);
    }
    pthread_mutex_unlock(&s->lock);
}

void fg_shared_each_backend(fg_pool_shared *s, fg_bshared *e,
                            void (*fn)(const fg_backend *b, void *arg), void *arg) {
    pthread_mutex_lock(&s->lock);
    for (const fg_backend *b = e->backends; b; b = b->shared_next)
        fn(b, arg);
    pthread_mutex_unlock(&s->lock);
}

/* ---- health ---- */

bool fg_bshared_healthy(const fg_bshared *e) {
    return atomic_load_explicit(&e->healthy, memory_order_relaxed);
}

uint32_t fg_bshared_consecutive_faults(const fg_bshared *e) {
    return atomic_load_explicit(&e->faults, memory_order_relaxed);
}

/* After a change of e->health, under e->lock. */
static void publish(fg_bshared *e) {
    atomic_store_explicit(&e->healthy, e->health.healthy, memory_order_relaxed);
    atomic_store_explicit(&e->trial_mode, !e->health.healthy && e->health.no_health_service,
                          memory_order_relaxed);
    atomic_store_explicit(&e->faults, e->health.consecutive_faults, memory_order_relaxed);
    atomic_store_explicit(&e->out_for_timeout,
                          !e->health.healthy && e->health.out_reason == FG_OUT_TIMEOUT,
                          memory_order_relaxed);
}

bool fg_bshared_out_for_timeout(const fg_bshared *e) {
    return atomic_load_explicit(&e->out_for_timeout, memory_order_relaxed);
}

/* Logs a transition; under e->lock, so the lines come out in the order of the changes. */
static void report(fg_bshared *e, fg_health_change change) {
    if (change == FG_HEALTH_DOWN) {
        static const fg_stat_id by_reason[] = {
            [FG_OUT_FAULT] = FG_STAT_ejections_fault_total,
            [FG_OUT_TIMEOUT] = FG_STAT_ejections_timeout_total,
            [FG_OUT_CHECK] = FG_STAT_ejections_health_check_total,
            [FG_OUT_CONNECTION] = FG_STAT_ejections_connection_total,
        };
        if (e->health.out_reason != FG_OUT_NONE)
            fg_stats_add(by_reason[e->health.out_reason], 1);
        fg_log_warn("%s unhealthy: %s [%s]", e->address, e->health.last_error,
                    fg_out_reason_name(e->health.out_reason));
    } else if (change == FG_HEALTH_UP) {
        fg_log_info("%s healthy%s", e->address, e->health.was_healthy ? " again" : "");
        e->health.was_healthy = true;
    }
}

static void apply(fg_bshared *e, fg_health_change change) {
    publish(e);
    report(e, change);
    pthread_mutex_unlock(&e->lock);
}

bool fg_bshared_eligible(fg_bshared *e, uint64_t now_us, bool claim, bool *trial) {
    *trial = false;
    if (atomic_load_explicit(&e->healthy, memory_order_relaxed))
        return true;
    if (!atomic_load_explicit(&e->trial_mode, memory_order_relaxed))
        return false;
    pthread_mutex_lock(&e->lock);
    bool ok = fg_health_eligible(&e->health, now_us, trial);
    if (ok && *trial && claim)
        e->health.trial_in_flight = true; /* no other frame gets it */
    pthread_mutex_unlock(&e->lock);
    return ok;
}

void fg_bshared_trial_release(fg_bshared *e) {
    pthread_mutex_lock(&e->lock);
    e->health.trial_in_flight = false;
    pthread_mutex_unlock(&e->lock);
}

void fg_bshared_on_call(fg_bshared *e, fg_fault fault, int status, const char *message, bool trial,
                        uint64_t now_us) {
    /* The frame path: a good answer with no faults pending, or a busy one, changes nothing. */
    if (!trial &&
        (fault == FG_FAULT_BUSY || ((fault == FG_FAULT_NONE || fault == FG_FAULT_REQUEST) &&
                                    atomic_load_explicit(&e->faults, memory_order_relaxed) == 0)))
        return;
    pthread_mutex_lock(&e->lock);
    apply(e, fg_health_on_call(&e->health, e->policy, fault, status, message, trial, now_us));
}

void fg_bshared_on_check(fg_bshared *e, int status, fg_serving serving, const char *message,
                         uint64_t now_us) {
    pthread_mutex_lock(&e->lock);
    apply(e, fg_health_on_check(&e->health, e->policy, status, serving, message, now_us));
}

void fg_bshared_on_conn_failed(fg_bshared *e, const char *reason) {
    pthread_mutex_lock(&e->lock);
    apply(e, fg_health_on_conn_failed(&e->health, reason));
}

void fg_bshared_snapshot(fg_bshared *e, fg_health *out) {
    pthread_mutex_lock(&e->lock);
    *out = e->health;
    pthread_mutex_unlock(&e->lock);
}
