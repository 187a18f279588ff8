/*
 * fg_sched: the frames the proxy holds back, one FIFO per client connection (a flow), served
 * round-robin across the flows that have frames waiting (deficit round robin with one frame as
 * the quantum: every frame costs one backend pass). A connection asking for few frames is thus
 * served within one round however many frames another one queues. No I/O, no allocation: the
 * items and flows are embedded in their owners' structs (internal to src/pool).
 *
 * Ownership: the scheduler links what it is given and never frees anything; an item is in at
 * most one flow's queue at a time, and a flow must be empty before its owner frees it.
 */
#ifndef FG_SCHED_H
#define FG_SCHED_H

#include <stdbool.h>
#include <stddef.h>

typedef struct fg_sched_flow fg_sched_flow;

typedef struct fg_sched_item {
    struct fg_sched_item *prev, *next;
    fg_sched_flow *flow; /* the flow whose queue holds it; NULL when not queued */
} fg_sched_item;

struct fg_sched_flow {
    fg_sched_item *head, *tail;
    size_t queued;
    fg_sched_flow *ring_prev, *ring_next; /* in the scheduler's ring while queued > 0 */
};

typedef struct fg_sched {
    fg_sched_flow *cursor; /* the flow served next; NULL when nothing waits */
    size_t queued;         /* items over every flow */
    size_t active;         /* flows with items */
} fg_sched;

void fg_sched_init(fg_sched *s);
void fg_sched_flow_init(fg_sched_flow *f);

/* Queues item at the end of f (a new frame) or at its front (a frame coming back for a retry,
 * which keeps its place ahead of the flow's later frames). */
void fg_sched_push_tail(fg_sched *s, fg_sched_flow *f, fg_sched_item *item);
void fg_sched_push_head(fg_sched *s, fg_sched_flow *f, fg_sched_item *item);
/* Takes item out of its queue (served, cancelled, shed); no-op when it is not queued. */
void fg_sched_remove(fg_sched *s, fg_sched_item *item);

/* The item to serve next (the head of the cursor's flow), or NULL when nothing waits. */
fg_sched_item *fg_sched_peek(const fg_sched *s);
/* Takes that item out and moves the cursor on to the next flow (round-robin). */
fg_sched_item *fg_sched_pop(fg_sched *s);
/* Moves the cursor to the next flow, passing over one whose head cannot be served now. */
void fg_sched_advance(fg_sched *s);

/* How many frames would be served before a frame queued now at the end of f: one round of
 * every waiting flow for each frame f already has waiting, bounded by all that waits; plus
 * one frame a round from each of `joining` flows that wait for nothing now but may join. */
size_t fg_sched_ahead(const fg_sched *s, const fg_sched_flow *f, size_t joining);

#endif
