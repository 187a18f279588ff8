#include "fg_sched.h"

void fg_sched_init(fg_sched *s) {
    *s = (fg_sched){0};
}

void fg_sched_flow_init(fg_sched_flow *f) {
    *f = (fg_sched_flow){0};
}

/* A flow joins the ring just behind the cursor: it is served after every flow already waiting,
 * as in DRR, so a newcomer waits at most one round. */
static void ring_join(fg_sched *s, fg_sched_flow *f) {
    if (!s->cursor) {
        f->ring_prev = f->ring_next = f;
        s->cursor = f;
    } else {
        fg_sched_flow *last = s->cursor->ring_prev;
        f->ring_prev = last;
        f->ring_next = s->cursor;
        last->ring_next = f;
        s->cursor->ring_prev = f;
    }
    s->active++;
}

static void ring_leave(fg_sched *s, fg_sched_flow *f) {
    if (f->ring_next == f) {
        s->cursor = NULL;
    } else {
        f->ring_prev->ring_next = f->ring_next;
        f->ring_next->ring_prev = f->ring_prev;
        if (s->cursor == f)
            s->cursor = f->ring_next;
    }
    f->ring_prev = f->ring_next = NULL;
    s->active--;
}

static void added(fg_sched *s, fg_sched_flow *f, fg_sched_item *item) {
    item->flow = f;
    s->queued++;
    if (f->queued++ == 0)
        ring_join(s, f);
}

void fg_sched_push_tail(fg_sched *s, fg_sched_flow *f, fg_sched_item *item) {
    item->next = NULL;
    item->prev = f->tail;
    if (f->tail)
        f->tail->next = item;
    else
        f->head = item;
    f->tail = item;
    added(s, f, item);
}

void fg_sched_push_head(fg_sched *s, fg_sched_flow *f, fg_sched_item *item) {
    item->prev = NULL;
    item->next = f->head;
    if (f->head)
        f->head->prev = item;
    else
        f->tail = item;
    f->head = item;
    added(s, f, item);
}

void fg_sched_remove(fg_sched *s, fg_sched_item *item) {
    fg_sched_flow *f = item->flow;
    if (!f)
        return;
    if (item->prev)
        item->prev->next = item->next;
    else
        f->head = item->next;
    if (item->next)
        item->next->prev = item->prev;
    else
        f->tail = item->prev;
    item->prev = item->next = NULL;
    item->flow = NULL;
    s->queued--;
    if (--f->queued == 0)
        ring_leave(s, f);
}

fg_sched_item *fg_sched_peek(const fg_sched *s) {
    return s->cursor ? s->cursor->head : NULL;
}

fg_sched_item *fg_sched_pop(fg_sched *s) {
    fg_sched_flow *f = s->cursor;
    if (!f)
        return NULL;
    fg_sched_item *item = f->head;
    fg_sched_remove(s, item); /* an emptied flow leaves the ring and the cursor moves on */
    if (f->queued)
        s->cursor = f->ring_next;
    return item;
}

void fg_sched_advance(fg_sched *s) {
    if (s->cursor)
        s->cursor = s->cursor->ring_next;
}

size_t fg_sched_ahead(const fg_sched *s, const fg_sched_flow *f, size_t joining) {
    size_t flows = s->active + (f->queued == 0);
    size_t rounds = f->queued + 1;
    size_t n = rounds * flows - 1;
    return (n < s->queued ? n : s->queued) + rounds * joining;
}
