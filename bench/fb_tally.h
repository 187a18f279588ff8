/*
 * fb_tally: counts per name (per backend address), for names seen in replies. Fixed size, no
 * allocation: the first FB_TALLY_MAX distinct names get their own entry, later ones go to
 * `other`. Lookup is a short linear scan with the last hit tried first (round-robin replies).
 */
#ifndef FB_TALLY_H
#define FB_TALLY_H

#include <stddef.h>
#include <stdint.h>

#define FB_TALLY_MAX 64
#define FB_TALLY_NAME_MAX 256

typedef struct fb_tally_entry {
    char name[FB_TALLY_NAME_MAX]; /* NUL-terminated */
    size_t len;
    uint64_t count;
} fb_tally_entry;

typedef struct fb_tally {
    fb_tally_entry e[FB_TALLY_MAX];
    size_t n;
    size_t last;
    uint64_t other;
} fb_tally;

/* Adds one to name[0..len) (len < FB_TALLY_NAME_MAX, longer names are cut). "" counts as "-". */
void fb_tally_count(fb_tally *t, const char *name, size_t len);
/* Sorts the entries by name, for stable reports. */
void fb_tally_sort(fb_tally *t);

#endif
