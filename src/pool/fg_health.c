#include "fg_health.h"

#include <stdio.h>
#include <string.h>

#include "fg_status.h"

void fg_health_init(fg_health *h) {
    memset(h, 0, sizeof *h);
}

const char *fg_out_reason_name(fg_out_reason r) {
    static const char *const names[] = {"", "fault", "timeout", "health_check", "connection"};
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "";
}

static fg_health_change mark_down(fg_health *h, fg_out_reason why, const char *reason) {
    snprintf(h->last_error, sizeof h->last_error, "%s", reason);
    h->out_reason = why;
    h->consecutive_serving = 0;
    if (!h->healthy && h->reported_down)
        return FG_HEALTH_SAME;
    h->healthy = false;
    h->reported_down = true;
    return FG_HEALTH_DOWN;
}

static fg_health_change mark_up(fg_health *h) {
    h->consecutive_faults = 0;
    h->trial_backoff_ms = 0;
    if (h->healthy)
        return FG_HEALTH_SAME;
    h->healthy = true;
    h->reported_down = false;
    h->out_reason = FG_OUT_NONE;
    return FG_HEALTH_UP;
}

static void format_reason(char *out, size_t len, int status, const char *message) {
    if (message && *message)
        snprintf(out, len, "%s %s", fg_status_name(status), message);
    else
        snprintf(out, len, "%s", fg_status_name(status));
}

/* The next trial frame of a backend without health service waits a doubling backoff. */
static void schedule_trial(fg_health *h, const fg_health_policy *p, uint64_t now_us) {
    uint32_t b = h->trial_backoff_ms ? h->trial_backoff_ms * 2 : p->trial_backoff_min_ms;
    if (b > p->trial_backoff_max_ms)
        b = p->trial_backoff_max_ms;
    h->trial_backoff_ms = b;
    h->trial_due_us = now_us + (uint64_t)b * 1000;
}

fg_health_change fg_health_on_call(fg_health *h, const fg_health_policy *p, fg_fault fault,
                                   int status, const char *message, bool trial, uint64_t now_us) {
    if (trial)
        h->trial_in_flight = false;
    switch (fault) {
    case FG_FAULT_NONE:
    case FG_FAULT_REQUEST:
        h->consecutive_faults = 0;
        return trial && !h->healthy ? mark_up(h) : FG_HEALTH_SAME;
    case FG_FAULT_BUSY:
        return FG_HEALTH_SAME;
    case FG_FAULT_BACKEND:
    case FG_FAULT_TIMEOUT:
    default:
        break;
    }
    h->consecutive_faults++;
    char reason[sizeof h->last_error];
    format_reason(reason, sizeof reason, status, message);
    if (h->healthy && h->consecutive_faults < p->unhealthy_after) {
        snprintf(h->last_error, sizeof h->last_error, "%s", reason);
        return FG_HEALTH_SAME;
    }
    if (h->no_health_service && (trial || h->healthy))
        schedule_trial(h, p, now_us);
    return mark_down(h, fault == FG_FAULT_TIMEOUT ? FG_OUT_TIMEOUT : FG_OUT_FAULT, reason);
}

fg_health_change fg_health_on_check(fg_health *h, const fg_health_policy *p, int status,
                                    fg_serving serving, const char *message, uint64_t now_us) {
    char reason[sizeof h->last_error];
    if (status == FG_STATUS_UNIMPLEMENTED) {
        /* No health service: passive health and trial frames decide. */
        if (!h->no_health_service) {
            h->no_health_service = true;
            h->trial_due_us = now_us;
        }
        return FG_HEALTH_SAME;
    }
    if (status != FG_STATUS_OK) {
        format_reason(reason, sizeof reason, status, message);
        return mark_down(h, FG_OUT_CHECK, reason);
    }
    h->no_health_service = false;
    if (serving != FG_SERVING_SERVING)
        return mark_down(h, FG_OUT_CHECK,
                         serving == FG_SERVING_NOT_SERVING ? "NOT_SERVING" : "health UNKNOWN");
    h->consecutive_serving++;
    if (!h->healthy && h->consecutive_serving >= p->healthy_after)
        return mark_up(h);
    return FG_HEALTH_SAME;
}

fg_health_change fg_health_on_conn_failed(fg_health *h, const char *reason) {
    char why[sizeof h->last_error];
    snprintf(why, sizeof why, "%s %s", fg_status_name(FG_STATUS_UNAVAILABLE), reason);
    h->consecutive_faults++;
    return mark_down(h, FG_OUT_CONNECTION, why);
}

bool fg_health_eligible(const fg_health *h, uint64_t now_us, bool *trial) {
    *trial = false;
    if (h->healthy)
        return true;
    if (h->no_health_service && !h->trial_in_flight && now_us >= h->trial_due_us) {
        *trial = true;
        return true;
    }
    return false;
}
