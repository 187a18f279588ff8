/* fg_sched: per-flow FIFOs served round-robin across flows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fg_sched.h"

typedef struct frame {
    fg_sched_item item;
    int flow, seq;
} frame;

static frame *frame_of(fg_sched_item *it) {
    return (frame *)((char *)it - offsetof(frame, item));
}

/* A flooding flow and a modest one: the modest one's frame is served within one round. */
static void flows_are_served_in_turn(void **state) {
    fg_sched s;
    fg_sched_flow flood, modest;
    fg_sched_init(&s);
    fg_sched_flow_init(&flood);
    fg_sched_flow_init(&modest);
    frame f[20];
    for (int i = 0; i < 16; i++) {
        f[i] = (frame){.flow = 0, .seq = i};
        fg_sched_push_tail(&s, &flood, &f[i].item);
    }
    assert_int_equal(s.queued, 16);
    assert_int_equal(s.active, 1);
    /* Serve two of the flood, then the modest flow arrives. */
    assert_int_equal(frame_of(fg_sched_pop(&s))->seq, 0);
    assert_int_equal(frame_of(fg_sched_pop(&s))->seq, 1);
    f[16] = (frame){.flow = 1, .seq = 0};
    fg_sched_push_tail(&s, &modest, &f[16].item);
    assert_int_equal(s.active, 2);
    frame *next = frame_of(fg_sched_pop(&s));
    frame *after = frame_of(fg_sched_pop(&s));
    assert_true(next->flow == 1 || after->flow == 1); /* at most one flood frame before it */
    assert_int_equal(s.active, 1);
    /* The flood's order is kept. */
    int expect = 2 + (next->flow == 0 || after->flow == 0);
    assert_int_equal(frame_of(fg_sched_pop(&s))->seq, expect);
}

/* Three flows with backlogs alternate strictly. */
static void round_robin_over_backlogged_flows(void **state) {
    fg_sched s;
    fg_sched_flow fl[3];
    frame f[3][4];
    fg_sched_init(&s);
    for (int k = 0; k < 3; k++) {
        fg_sched_flow_init(&fl[k]);
        for (int i = 0; i < 4; i++) {
            f[k][i] = (frame){.flow = k, .seq = i};
            fg_sched_push_tail(&s, &fl[k], &f[k][i].item);
        }
    }
    for (int round = 0; round < 4; round++) {
        int seen = 0;
        for (int k = 0; k < 3; k++) {
            frame *x = frame_of(fg_sched_pop(&s));
            assert_int_equal(x->seq, round);
            seen |= 1 << x->flow;
        }
        assert_int_equal(seen, 7);
    }
    assert_null(fg_sched_peek(&s));
    assert_int_equal(s.queued, 0);
    assert_int_equal(s.active, 0);
}

/* A retried frame goes to the front of its flow; removal from the middle keeps the rest. */
static void push_head_and_remove(void **state) {
    fg_sched s;
    fg_sched_flow a;
    fg_sched_init(&s);
    fg_sched_flow_init(&a);
    frame f[4];
    for (int i = 0; i < 3; i++) {
        f[i] = (frame){.seq = i};
        fg_sched_push_tail(&s, &a, &f[i].item);
    }
    f[3] = (frame){.seq = 99};
    fg_sched_push_head(&s, &a, &f[3].item);
    fg_sched_remove(&s, &f[1].item);
    fg_sched_remove(&s, &f[1].item); /* not queued any more: no-op */
    assert_null(f[1].item.flow);
    assert_int_equal(s.queued, 3);
    assert_int_equal(frame_of(fg_sched_pop(&s))->seq, 99);
    assert_int_equal(frame_of(fg_sched_pop(&s))->seq, 0);
    assert_int_equal(frame_of(fg_sched_pop(&s))->seq, 2);
    assert_null(fg_sched_pop(&s));
    assert_int_equal(s.active, 0);
}

/* The estimate of frames served before a new one: rounds of the waiting flows. */
static void ahead_counts_rounds(void **state) {
    fg_sched s;
    fg_sched_flow a, b, c;
    fg_sched_init(&s);
    fg_sched_flow_init(&a);
    fg_sched_flow_init(&b);
    fg_sched_flow_init(&c);
    assert_int_equal(fg_sched_ahead(&s, &a, 0), 0);
    frame f[10];
    for (int i = 0; i < 6; i++)
        fg_sched_push_tail(&s, &a, &f[i].item);
    for (int i = 6; i < 8; i++)
        fg_sched_push_tail(&s, &b, &f[i].item);
    /* c is idle: one frame of a and one of b go first. */
    assert_int_equal(fg_sched_ahead(&s, &c, 0), 2);
    /* b's third frame: two rounds of a and b, plus this one's round (bounded by what waits). */
    assert_int_equal(fg_sched_ahead(&s, &b, 0), 5);
    /* a's seventh: everything that waits. */
    assert_int_equal(fg_sched_ahead(&s, &a, 0), 8);
    /* Two flows with frames elsewhere may each send one a round: 3 rounds for b's third. */
    assert_int_equal(fg_sched_ahead(&s, &b, 2), 5 + 3 * 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flows_are_served_in_turn),
        cmocka_unit_test(round_robin_over_backlogged_flows),
        cmocka_unit_test(push_head_and_remove),
        cmocka_unit_test(ahead_counts_rounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
