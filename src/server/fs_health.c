#include "fs_health.h"

#include <string.h>

void fs_health_init(fs_health *h) {
    h->status = FS_HEALTH_NOT_SERVING;
    h->watchers = NULL;
}

void fs_health_set(fs_health *h, int status) {
    if (h->status == status)
        return;
    h->status = status;
    fs_health_watcher *w = h->watchers;
    while (w) {
        fs_health_watcher *next = w->next; /* the callback may unwatch w */
        w->changed(w, status);
        w = next;
    }
}

int fs_health_get(const fs_health *h) {
    return h->status;
}

bool fs_health_known_service(const char *name) {
    return name[0] == '\0' || strcmp(name, "framegate.v1.FrameService") == 0;
}

void fs_health_watch(fs_health *h, fs_health_watcher *w) {
    w->prev = NULL;
    w->next = h->watchers;
    if (h->watchers)
        h->watchers->prev = w;
    h->watchers = w;
}

void fs_health_unwatch(fs_health *h, fs_health_watcher *w) {
    if (w->prev)
        w->prev->next = w->next;
    else if (h->watchers == w)
        h->watchers = w->next;
    else
        return; /* not watching */
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
}
