/*
 * fs_models: the models a frameserver serves, their (simulated) loading and their renderers.
 *
 * Models load one after another, each taking load_ms on a timer, as weights would be read
 * into one GPU. Each load logs one line with the time it took. With fail_load every load
 * fails instead. changed_cb runs after every state change (for health).
 */
#ifndef FS_MODEL_H
#define FS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "fs_config.h"
#include "fs_render.h"

typedef enum fs_model_state {
    FS_MODEL_LOADING,
    FS_MODEL_READY,
    FS_MODEL_FAILED,
} fs_model_state;

typedef struct fs_models fs_models;

/* cfg must outlive the models; port tints the renderers. */
fs_models *fs_models_new(uv_loop_t *loop, const fs_config *cfg, uint16_t port,
                         void (*changed_cb)(void *user), void *user);
/* Starts loading the first model. */
void fs_models_start(fs_models *m);
size_t fs_models_count(const fs_models *m);
const char *fs_models_name(const fs_models *m, size_t i);
fs_model_state fs_models_state(const fs_models *m, size_t i);
/* The model's index, or FG_ERR_NOT_FOUND. name need not be NUL-terminated. */
int fs_models_find(const fs_models *m, const char *name, size_t len);
bool fs_models_all_ready(const fs_models *m);
/* The model's renderer; NULL unless the model is READY. */
fs_render *fs_models_renderer(const fs_models *m, size_t i);
/* Stops loading and frees everything once the timer is closed (the loop must run). */
void fs_models_close(fs_models *m);

#endif
