#include "fg_limit.h"

#include <math.h>

/* A latency within TOLERANCE x min_rtt + SLACK_US counts as "not queueing". A serial backend
 * (one pass at a time) then hovers between one frame and two: the second waits behind the pass
 * running, so the GPU does not idle, and a third would only add a pass of latency to every
 * frame. The slack keeps microsecond backends from reading scheduler jitter as queueing. */
#define TOLERANCE 1.5
#define SLACK_US 1000.0
#define DECREASE 0.9
/* min_rtt is the latency of a call that had the backend to itself: under load every sample
 * carries queueing, and a minimum taken from them would let the limit creep upwards. It
 * forgets old minima after two windows, so a backend that became slower for good (another
 * model, a busier GPU) is measured anew the next time it holds one frame. */
#define WINDOW_US 10000000u
/* Peak EWMA decay time constant. */
#define TAU_US 1000000.0
/* What a backend not measured yet is assumed to take per frame when the proxy estimates how
 * long a queue will take, until its first answer: a short model pass. Longer, and a fresh
 * proxy refuses a burst its backends would have rendered in time; shorter, and it promises a
 * startup burst more than slow backends render, which is then shed late. */
#define PRIOR_LATENCY_US 10000.0
/* Weight of a new sample in the plain average. */
#define AVG_WEIGHT 0.1

void fg_limit_init(fg_limit *l, const fg_limit_policy *p) {
    *l = (fg_limit){.limit = p->initial ? p->initial : 1};
}

static void update_ewma(fg_limit *l, uint64_t latency_us, uint64_t now_us) {
    double x = (double)latency_us;
    if (l->ewma_us == 0 || x > l->ewma_us) {
        l->ewma_us = x;
    } else {
        double dt = now_us > l->ewma_at_us ? (double)(now_us - l->ewma_at_us) : 0;
        double w = exp(-dt / TAU_US);
        l->ewma_us = l->ewma_us * w + x * (1 - w);
    }
    l->ewma_at_us = now_us;
    l->avg_us = l->avg_us == 0 ? x : l->avg_us * (1 - AVG_WEIGHT) + x * AVG_WEIGHT;
}

static void update_min_rtt(fg_limit *l, uint64_t latency_us, uint32_t inflight, uint64_t now_us) {
    if (inflight > 1 && l->min_rtt_us)
        return;
    if (now_us - l->win_start_us >= WINDOW_US) {
        l->min_rtt_us = l->win_min_us ? l->win_min_us : latency_us;
        l->win_min_us = 0;
        l->win_start_us = now_us;
    }
    if (!l->win_min_us || latency_us < l->win_min_us)
        l->win_min_us = latency_us;
    if (!l->min_rtt_us || latency_us < l->min_rtt_us)
        l->min_rtt_us = latency_us;
}

void fg_limit_on_sample(fg_limit *l, const fg_limit_policy *p, uint64_t latency_us,
                        uint32_t inflight, bool ok, uint64_t now_us) {
    if (!ok)
        return;
    update_ewma(l, latency_us, now_us);
    double per_frame = (double)latency_us / (inflight ? inflight : 1);
    l->per_frame_us = l->per_frame_us == 0
                          ? per_frame
                          : l->per_frame_us * (1 - AVG_WEIGHT) + per_frame * AVG_WEIGHT;
    update_min_rtt(l, latency_us, inflight, now_us);
    double max = p->max ? p->max : 1;
    if ((double)latency_us <= TOLERANCE * (double)l->min_rtt_us + SLACK_US) {
        /* Grow only while the limit is what holds frames back: an idle backend proves nothing. */
        if ((double)inflight >= floor(l->limit))
            l->limit += 1.0 / l->limit;
    } else if (now_us - l->last_drop_us >= l->min_rtt_us) {
        l->limit *= DECREASE;
        l->last_drop_us = now_us;
    }
    double min = p->min ? p->min : 1;
    if (l->limit < min)
        l->limit = min;
    if (l->limit > max)
        l->limit = max;
}

uint32_t fg_limit_get(const fg_limit *l) {
    uint32_t n = (uint32_t)l->limit;
    return n ? n : 1;
}

double fg_limit_cost(const fg_limit *l, uint32_t inflight, uint64_t now_us) {
    double dt = now_us > l->ewma_at_us ? (double)(now_us - l->ewma_at_us) : 0;
    return l->ewma_us * exp(-dt / TAU_US) * ((double)inflight + 1);
}

double fg_limit_latency(const fg_limit *l) {
    return l->avg_us;
}

double fg_limit_peak(const fg_limit *l) {
    return l->ewma_us;
}

double fg_limit_rate(const fg_limit *l) {
    return 1.0 / (l->per_frame_us > 0 ? l->per_frame_us : PRIOR_LATENCY_US);
}
