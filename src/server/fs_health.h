/*
 * fs_health: the serving status grpc.health.v1.Health reports, and its Watch subscribers.
 *
 * One status for the whole server, answered for the services "" and
 * "framegate.v1.FrameService". Watchers are intrusive list nodes the caller embeds and owns;
 * fs_health_set() calls each watcher's callback when the status changes. A callback may
 * remove its own watcher (and only its own).
 */
#ifndef FS_HEALTH_H
#define FS_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

/* Values of grpc.health.v1.HealthCheckResponse.ServingStatus. */
enum {
    FS_HEALTH_UNKNOWN = 0,
    FS_HEALTH_SERVING = 1,
    FS_HEALTH_NOT_SERVING = 2,
    FS_HEALTH_SERVICE_UNKNOWN = 3,
};

typedef struct fs_health_watcher fs_health_watcher;
struct fs_health_watcher {
    fs_health_watcher *prev, *next;
    void (*changed)(fs_health_watcher *w, int status);
};

typedef struct fs_health {
    int status;
    fs_health_watcher *watchers;
} fs_health;

/* Starts NOT_SERVING. */
void fs_health_init(fs_health *h);
/* Sets the status; on a change, notifies every watcher. */
void fs_health_set(fs_health *h, int status);
int fs_health_get(const fs_health *h);
/* True for "" and "framegate.v1.FrameService". */
bool fs_health_known_service(const char *name);
void fs_health_watch(fs_health *h, fs_health_watcher *w);
void fs_health_unwatch(fs_health *h, fs_health_watcher *w);

#endif
