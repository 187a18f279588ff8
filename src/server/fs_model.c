#include "fs_model.h"

#include <stdlib.h>
#include <string.h>

#include "fg_alloc.h"
#include "fg_clock.h"
#include "fg_err.h"
#include "fg_log.h"

typedef struct model {
    const char *name; /* the config's */
    fs_model_state state;
    fs_render *render;
} model;

struct fs_models {
    const fs_config *cfg;
    uint16_t port;
    model list[FS_MAX_MODELS];
    size_t n;
    size_t loading;      /* index of the model being loaded */
    uint64_t load_start; /* fg_now_us() when it started */
    uv_timer_t timer;
    void (*changed_cb)(void *user);
    void *user;
};

static void on_load_timer(uv_timer_t *timer);

static void start_load(fs_models *m) {
    m->load_start = fg_now_us();
    uv_update_time(m->timer.loop);
    uv_timer_start(&m->timer, on_load_timer, m->cfg->load_ms, 0);
}

/* Images up to this many pixels are all drawn while the model "loads", so the first frames
 * cost the same as the later ones; bigger ones are drawn on first use instead of blocking the
 * loop for seconds here. */
#define WARM_MAX_PIXELS (512 * 512)

/* "Loading" a model creates its renderer (and warms its image cache). */
static fs_render *load_renderer(const fs_models *m, const char *name) {
    fs_render_params params = {
        (uint32_t)m->cfg->width, (uint32_t)m->cfg->height, m->cfg->format, m->port, name,
        m->cfg->cacheable};
    fs_render *r = fs_render_new(&params);
    if (!r)
        return NULL;
    bool small = m->cfg->width * m->cfg->height <= WARM_MAX_PIXELS;
    if (small && fs_render_warm(r) < 0) {
        fs_render_free(r);
        return NULL;
    }
    return r;
}

static void on_load_timer(uv_timer_t *timer) {
    fs_models *m = timer->data;
    model *md = &m->list[m->loading];
    uint64_t took_ms = (fg_now_us() - m->load_start + 500) / 1000;
    if (!m->cfg->fail_load)
        md->render = load_renderer(m, md->name);
    if (md->render) {
        md->state = FS_MODEL_READY;
        fg_log_info("model %s loaded in %llu ms (%ux%u %s)", md->name, (unsigned long long)took_ms,
                    (unsigned)m->cfg->width, (unsigned)m->cfg->height,
                    fs_format_name(m->cfg->format));
    } else {
        md->state = FS_MODEL_FAILED;
        fg_log_error("model %s failed to load after %llu ms", md->name,
                     (unsigned long long)took_ms);
    }
    if (++m->loading < m->n)
        start_load(m);
    m->changed_cb(m->user);
}

fs_models *fs_models_new(uv_loop_t *loop, const fs_config *cfg, uint16_t port,
                         void (*changed_cb)(void *user), void *user) {
    fs_models *m = fg_calloc(1, sizeof(*m));
    m->cfg = cfg;
    m->port = port;
    m->n = cfg->n_models;
    for (size_t i = 0; i < m->n; i++) {
        m->list[i].name = cfg->model_names[i];
        m->list[i].state = FS_MODEL_LOADING;
    }
    m->changed_cb = changed_cb;
    m->user = user;
    uv_timer_init(loop, &m->timer);
    m->timer.data = m;
    return m;
}

void fs_models_start(fs_models *m) {
    if (m->n > 0)
        start_load(m);
}

size_t fs_models_count(const fs_models *m) {
    return m->n;
}

const char *fs_models_name(const fs_models *m, size_t i) {
    return m->list[i].name;
}

fs_model_state fs_models_state(const fs_models *m, size_t i) {
    return m->list[i].state;
}

int fs_models_find(const fs_models *m, const char *name, size_t len) {
    for (size_t i = 0; i < m->n; i++)
        if (strlen(m->list[i].name) == len && memcmp(m->list[i].name, name, len) == 0)
            return (int)i;
    return FG_ERR_NOT_FOUND;
}

bool fs_models_all_ready(const fs_models *m) {
    for (size_t i = 0; i < m->n; i++)
        if (m->list[i].state != FS_MODEL_READY)
            return false;
    return true;
}

fs_render *fs_models_renderer(const fs_models *m, size_t i) {
    return m->list[i].state == FS_MODEL_READY ? m->list[i].render : NULL;
}

static void on_timer_close(uv_handle_t *handle) {
    fs_models *m = handle->data;
    for (size_t i = 0; i < m->n; i++)
        fs_render_free(m->list[i].render);
    free(m);
}

void fs_models_close(fs_models *m) {
    uv_close((uv_handle_t *)&m->timer, on_timer_close);
}
