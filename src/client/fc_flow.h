/*
 * fc_flow: what one WebSocket connection of a load run received over the measured window,
 * and the figures over a set of connections that show fairness and starvation:
 *   share        a connection's frames / the set's frames (min and max over the set; 1/n each
 *                when perfectly fair), and Jain's index (sum x)^2 / (n * sum x^2), 1 = fair;
 *   stall        the longest time a connection went without a frame: between two frames, or
 *                from the window's start to its first frame, or from its last to the end.
 * Pure arithmetic over caller-owned structs; times are microseconds.
 */
#ifndef FC_FLOW_H
#define FC_FLOW_H

#include <stddef.h>
#include <stdint.h>

typedef struct fc_flow {
    uint64_t frames;
    uint64_t last_us;    /* the last frame, or the window's start */
    uint64_t max_gap_us; /* longest gap so far */
} fc_flow;

typedef struct fc_fairness {
    size_t connections;
    uint64_t frames;
    uint64_t min_frames, max_frames;
    double min_share, max_share; /* 0 when no frames */
    double jain;                 /* 0 when no frames */
    uint64_t longest_stall_us;   /* over the set */
    uint64_t median_stall_us;    /* of the connections' longest stalls */
} fc_fairness;

/* The window starts at start_us. */
void fc_flow_start(fc_flow *f, uint64_t start_us);
/* A frame arrived at now_us (inside the window). */
void fc_flow_frame(fc_flow *f, uint64_t now_us);
/* The window ended at end_us: the time since the last frame counts as a gap too. */
void fc_flow_end(fc_flow *f, uint64_t end_us);
/* Figures over flows[0..n). scratch holds n values (for the median); n may be 0. */
void fc_flow_summarize(const fc_flow *flows, size_t n, uint64_t *scratch, fc_fairness *out);

#endif
