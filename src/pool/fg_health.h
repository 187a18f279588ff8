/*
 * fg_health: the health state machine of one backend, without any I/O, so it can be tested alone.
 *
 * A backend starts "unknown" (not healthy, nothing reported). Events move it:
 *  - a frame call's outcome (passive), classified by the caller (fg_status_fault, then: a
 *    timeout on a backend that had other calls is FG_FAULT_BUSY, overload and not failure; one
 *    that would take out more than half the pool for timeouts is FG_FAULT_BUSY too):
 *    unhealthy_after consecutive backend faults or timeouts mark it unhealthy; OK and request
 *    faults reset the count; busy changes nothing;
 *  - an active Check: SERVING healthy_after times in a row marks it healthy; NOT_SERVING or a
 *    failed Check marks it unhealthy; UNIMPLEMENTED means "no health service": the backend is
 *    then recovered by one trial frame once trial_due_us passed (backoff doubling on failure);
 *  - the connection failing marks it unhealthy.
 * Each event returns the transition to report, with the reason in h->last_error.
 */
#ifndef FG_HEALTH_H
#define FG_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "fg_status.h"

typedef struct fg_health_policy {
    uint32_t unhealthy_after; /* >= 1 */
    uint32_t healthy_after;   /* >= 1 */
    uint32_t trial_backoff_min_ms;
    uint32_t trial_backoff_max_ms;
} fg_health_policy;

typedef enum fg_serving {
    FG_SERVING_UNKNOWN = 0,
    FG_SERVING_SERVING = 1,
    FG_SERVING_NOT_SERVING = 2,
} fg_serving;

/* Why a backend is out of rotation (shown in /health). */
typedef enum fg_out_reason {
    FG_OUT_NONE = 0,
    FG_OUT_FAULT,      /* backend faults from frame calls */
    FG_OUT_TIMEOUT,    /* frame calls timed out while it was otherwise idle */
    FG_OUT_CHECK,      /* its health check failed or said NOT_SERVING */
    FG_OUT_CONNECTION, /* the connection failed */
} fg_out_reason;

/* "", "fault", "timeout", "health_check", "connection". */
const char *fg_out_reason_name(fg_out_reason r);

typedef struct fg_health {
    bool healthy;
    bool was_healthy;       /* ever healthy: "healthy again" vs first "healthy" */
    bool reported_down;     /* an unhealthy transition was reported since the last healthy one */
    bool no_health_service; /* Check answered UNIMPLEMENTED */
    bool trial_in_flight;
    uint32_t consecutive_faults;
    uint32_t consecutive_serving;
    uint32_t trial_backoff_ms;
    uint64_t trial_due_us;
    fg_out_reason out_reason; /* set while not healthy after a reported transition */
    char last_error[160];     /* "UNAVAILABLE connection refused"; "" when none */
} fg_health;

typedef enum fg_health_change {
    FG_HEALTH_SAME,
    FG_HEALTH_UP,   /* became healthy */
    FG_HEALTH_DOWN, /* became (or was first found) unhealthy */
} fg_health_change;

void fg_health_init(fg_health *h);
/* A frame call ended with status (message: grpc-message or local reason), classified as fault
 * (see above). trial: it was the trial frame granted by fg_health_eligible(). */
fg_health_change fg_health_on_call(fg_health *h, const fg_health_policy *p, fg_fault fault,
                                   int status, const char *message, bool trial, uint64_t now_us);
/* A Check ended: status is the call's gRPC status; serving its answer when status is OK. */
fg_health_change fg_health_on_check(fg_health *h, const fg_health_policy *p, int status,
                                    fg_serving serving, const char *message, uint64_t now_us);
/* The connection failed (reason like "connection refused"). */
fg_health_change fg_health_on_conn_failed(fg_health *h, const char *reason);
/* May this backend take a frame now? *trial is set when it is an unhealthy backend's trial
 * frame (the caller then sets trial_in_flight and reports the result with trial = true). */
bool fg_health_eligible(const fg_health *h, uint64_t now_us, bool *trial);

#endif
