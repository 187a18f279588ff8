/* fb_tally: small fixed table of counts by name. */
#include "fb_tally.h"

#include <stdlib.h>
#include <string.h>

void fb_tally_count(fb_tally *t, const char *name, size_t len) {
    if (len == 0) {
        name = "-";
        len = 1;
    }
    if (len >= FB_TALLY_NAME_MAX)
        len = FB_TALLY_NAME_MAX - 1;
    if (t->n && t->e[t->last].len == len && memcmp(t->e[t->last].name, name, len) == 0) {
        t->e[t->last].count++;
        return;
    }
    for (size_t i = 0; i < t->n; i++) {
        if (t->e[i].len == len && memcmp(t->e[i].name, name, len) == 0) {
            t->e[i].count++;
            t->last = i;
            return;
        }
    }
    if (t->n == FB_TALLY_MAX) {
        t->other++;
        return;
    }
    fb_tally_entry *e = &t->e[t->n];
    memcpy(e->name, name, len);
    e->name[len] = '\0';
    e->len = len;
    e->count = 1;
    t->last = t->n++;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const fb_tally_entry *)a)->name, ((const fb_tally_entry *)b)->name);
}

void fb_tally_sort(fb_tally *t) {
    qsort(t->e, t->n, sizeof(t->e[0]), by_name);
    t->last = 0;
}
