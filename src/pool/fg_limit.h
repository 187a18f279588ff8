/*
 * fg_limit: how many frames one backend should hold at once, learned from its latency, and how
 * costly it is to send it one more (internal to src/pool; no I/O, so tests drive it alone).
 *
 * A GPU backend renders one pass at a time: frames beyond the one running and the one waiting
 * behind it only queue inside the backend, where the proxy can no longer shed, supersede,
 * share fairly or move them. The limit starts low and grows by about one per round trip while
 * the latency it measures stays within tolerance of the backend's unloaded latency (min_rtt),
 * and shrinks by a tenth (at most once per round trip) when it does not: an AIMD gradient like
 * Netflix's concurrency-limits and Envoy's adaptive_concurrency. `max` caps it; once measured it
 * stays at `min` or above: two frames (one in the pass, one waiting for it) keep a serial GPU
 * busy however late the proxy sends the next, at the price of one pass of latency.
 *
 * The cost of a choice is the peak-EWMA latency (Finagle, Linkerd: a slower sample replaces the
 * average at once, a faster one decays into it, and without samples it decays towards zero, so
 * a backend not chosen for a while is tried again) times the frames it already holds plus one.
 * A backend never measured costs nothing: it is tried first.
 */
#ifndef FG_LIMIT_H
#define FG_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct fg_limit_policy {
    uint32_t initial; /* starting limit, >= 1: the first calls measure the unloaded latency */
    uint32_t min;     /* the least it falls to once a call was measured, >= 1 */
    uint32_t max;     /* --backend-max-inflight, >= initial and min */
} fg_limit_policy;

typedef struct fg_limit {
    double limit;
    double ewma_us;      /* peak EWMA of call latency (for the choice); 0 before a sample */
    double avg_us;       /* plain EWMA of call latency (for estimates); 0 before a sample */
    double per_frame_us; /* plain EWMA of latency / frames held: the time a frame costs it */
    uint64_t ewma_at_us;
    uint64_t min_rtt_us; /* lowest latency of this window and the last (0: none yet) */
    uint64_t win_min_us; /* lowest latency of the window now running */
    uint64_t win_start_us;
    uint64_t last_drop_us;
} fg_limit;

void fg_limit_init(fg_limit *l, const fg_limit_policy *p);
/* A call ended after latency_us; the backend held `inflight` frames, itself included, when it
 * was sent. ok: the backend rendered it (failures say nothing about how many frames it can
 * hold). */
void fg_limit_on_sample(fg_limit *l, const fg_limit_policy *p, uint64_t latency_us,
                        uint32_t inflight, bool ok, uint64_t now_us);
/* The whole number of frames the backend may hold now, 1..max. */
uint32_t fg_limit_get(const fg_limit *l);
/* The least-request cost of one more call on a backend holding `inflight` calls, now. */
double fg_limit_cost(const fg_limit *l, uint32_t inflight, uint64_t now_us);
/* Its typical latency (a plain average of recent calls: a single slow call, which the
 * peak EWMA follows at once, says little about capacity), microseconds; 0 before any. */
double fg_limit_latency(const fg_limit *l);
/* Its peak-EWMA latency, microseconds; 0 before any call. */
double fg_limit_peak(const fg_limit *l);
/* The backend's throughput in frames per microsecond, by Little's law: the frames it held over
 * their latency, averaged per call (a serial GPU holding two answers in two passes: one frame a
 * pass; one that serves them at once in one). A 10 ms pass is assumed before any call. */
double fg_limit_rate(const fg_limit *l);

#endif
