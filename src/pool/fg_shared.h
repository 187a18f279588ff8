/*
 * fg_shared: what the pools of one process share when --workers N runs N loops, each with its
 * own pool and backend connections (internal to src/pool; fg_pool.h's fg_pool_shared_new()
 * hands it to the proxy):
 *  - ONE health state per backend address (fg_bshared), whichever worker's pool uses it: the
 *    active Checks of the one checking pool and the frame outcomes (passive faults) of every
 *    pool update it; every pool's round-robin reads it;
 *  - the round-robin cursor, so consecutive picks rotate over the backends process-wide;
 *  - a registry of every pool's fg_backend per address, so /health and /metrics rendered by any
 *    worker sum every worker's per-backend counters and latency histograms.
 *
 * Threading. The frame path takes no lock: eligibility reads the published `healthy` flag (an
 * atomic); a frame that ends well on a backend without faults in a row touches only atomics.
 * The health state machine (fg_health, pure) runs under the entry's mutex, taken only on the
 * slow paths: a fault, the first success after faults, a Check (once per interval), a trial
 * frame of a backend without health service, a connection failure. The registry's mutex is
 * taken when a backend is created or freed (startup, reload) and while rendering.
 */
#ifndef FG_SHARED_H
#define FG_SHARED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fg_health.h"
#include "fg_pool.h"

typedef struct fg_bshared fg_bshared;

/* Creates the shared state; policy is copied (every pool of the process uses the same). */
fg_pool_shared *fg_shared_new(const fg_health_policy *policy);
/* Holds one more reference / drops one; freed with the last (after every pool closed). */
void fg_shared_ref(fg_pool_shared *s);
void fg_shared_unref(fg_pool_shared *s);

_Atomic size_t *fg_shared_cursor(fg_pool_shared *s);

/* Registers backend b (of some pool) under its address: the entry of that address, created
 * fresh (health unknown) if no pool uses it yet. On any thread. */
fg_bshared *fg_shared_attach(fg_pool_shared *s, const char *address, fg_backend *b);
/* Unregisters b; the entry goes with its last backend. Before b is freed. */
void fg_shared_detach(fg_pool_shared *s, fg_bshared *e, fg_backend *b);

/* Runs fn(b, arg) for every backend registered under e (every worker's), the registry locked:
 * fn must only read b's own counters (relaxed atomic loads) and must not call back in here. */
void fg_shared_each_backend(fg_pool_shared *s, fg_bshared *e,
                            void (*fn)(const fg_backend *b, void *arg), void *arg);

/* ---- one backend's health ---- */

/* The published state: true when it takes frames. Lock-free. */
bool fg_bshared_healthy(const fg_bshared *e);
uint32_t fg_bshared_consecutive_faults(const fg_bshared *e);
/* May it take a frame now? Lock-free while healthy. *trial is set for the trial frame of an
 * unhealthy backend without health service; with claim, that trial is then taken (no other
 * frame of any pool gets it): report its outcome with trial = true, or
 * fg_bshared_trial_release() if it never went out. */
bool fg_bshared_eligible(fg_bshared *e, uint64_t now_us, bool claim, bool *trial);
void fg_bshared_trial_release(fg_bshared *e);

/* The events of fg_health.h, applied to the one state and logged on a transition ("X
 * unhealthy: REASON", "X healthy", "X healthy again"). */
void fg_bshared_on_call(fg_bshared *e, fg_fault fault, int status, const char *message, bool trial,
                        uint64_t now_us);
/* Out of rotation for timeouts now (lock-free; for the pool's ejection cap). */
bool fg_bshared_out_for_timeout(const fg_bshared *e);
void fg_bshared_on_check(fg_bshared *e, int status, fg_serving serving, const char *message,
                         uint64_t now_us);
void fg_bshared_on_conn_failed(fg_bshared *e, const char *reason);
/* A consistent copy of the state (for rendering and tests). */
void fg_bshared_snapshot(fg_bshared *e, fg_health *out);

#endif
