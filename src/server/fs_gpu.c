#include "fs_gpu.h"

#include <stdbool.h>
#include <stdlib.h>

#include "fg_alloc.h"
#include "fg_clock.h"
#include "fg_err.h"
#include "fg_status.h"

/* A late timer lets the next job start this far in the past, so the average pass time stays
 * exact despite millisecond timers; a longer stall is not caught up (a GPU cannot). */
#define MAX_CATCH_UP_US 5000
/* A timer that fires this close to the due time completes the job. */
#define EARLY_SLACK_US 200

struct fs_job {
    fs_gpu *gpu;
    fs_job *prev, *next; /* the waiting list */
    uint64_t cost_us;
    uint64_t arrival_us;
    fs_job_done_cb cb; /* NULL once cancelled or answered */
    void *user;
    bool has_deadline;
    bool waiting;
    uv_timer_t deadline;
};

struct fs_gpu {
    uv_loop_t *loop;
    size_t queue_max;
    fs_job *head, *tail;
    size_t n_waiting;
    fs_job *running;
    uint64_t run_start_us, run_due_us;
    uv_timer_t run_timer;
    bool closed;
    void (*closed_cb)(void *user);
    void *closed_user;
};

static void on_deadline_close(uv_handle_t *handle) {
    free(handle->data);
}

/* Frees a job that is neither waiting nor running. */
static void job_release(fs_job *job) {
    if (job->has_deadline) {
        uv_close((uv_handle_t *)&job->deadline, on_deadline_close);
        return;
    }
    free(job);
}

static void unlink_waiting(fs_gpu *gpu, fs_job *job) {
    if (job->prev)
        job->prev->next = job->next;
    else
        gpu->head = job->next;
    if (job->next)
        job->next->prev = job->prev;
    else
        gpu->tail = job->prev;
    job->prev = job->next = NULL;
    job->waiting = false;
    gpu->n_waiting--;
}

/* Calls and clears the job's callback; the job must be unlinked or running. */
static void job_answer(fs_job *job, int status, uint64_t model_us) {
    fs_job_done_cb cb = job->cb;
    void *user = job->user;
    job->cb = NULL;
    if (job->has_deadline)
        uv_timer_stop(&job->deadline);
    if (cb)
        cb(user, status, model_us);
}

static void on_run_timer(uv_timer_t *timer);

static void arm_run_timer(fs_gpu *gpu) {
    uint64_t now = fg_now_us();
    uint64_t wait_us = gpu->run_due_us > now ? gpu->run_due_us - now : 0;
    uv_update_time(gpu->loop);
    uv_timer_start(&gpu->run_timer, on_run_timer, (wait_us + 999) / 1000, 0);
}

static void run_job(fs_gpu *gpu, fs_job *job, uint64_t start_us) {
    gpu->running = job;
    gpu->run_start_us = start_us;
    gpu->run_due_us = start_us + job->cost_us;
    arm_run_timer(gpu);
}

static void start_next(fs_gpu *gpu, uint64_t virtual_start_us) {
    fs_job *job = gpu->head;
    if (!job)
        return;
    unlink_waiting(gpu, job);
    uint64_t now = fg_now_us();
    uint64_t start = virtual_start_us;
    if (start < job->arrival_us)
        start = job->arrival_us;
    if (start + MAX_CATCH_UP_US < now)
        start = now - MAX_CATCH_UP_US;
    run_job(gpu, job, start);
}

static void on_run_timer(uv_timer_t *timer) {
    fs_gpu *gpu = timer->data;
    uint64_t now = fg_now_us();
    if (now + EARLY_SLACK_US < gpu->run_due_us) {
        arm_run_timer(gpu); /* the millisecond timer fired a little early */
        return;
    }
    fs_job *job = gpu->running;
    uint64_t model_us = now - gpu->run_start_us;
    gpu->running = NULL;
    start_next(gpu, gpu->run_due_us);
    job_answer(job, FG_STATUS_OK, model_us);
    job_release(job);
}

static void on_deadline(uv_timer_t *timer) {
    fs_job *job = timer->data;
    fs_gpu *gpu = job->gpu;
    if (job->waiting) {
        unlink_waiting(gpu, job);
        job_answer(job, FG_STATUS_DEADLINE_EXCEEDED, 0);
        job_release(job);
        return;
    }
    /* Running: answer now; the GPU stays busy until the job's time is up. */
    job_answer(job, FG_STATUS_DEADLINE_EXCEEDED, 0);
}

fs_gpu *fs_gpu_new(uv_loop_t *loop, size_t queue_max) {
    fs_gpu *gpu = fg_calloc(1, sizeof(*gpu));
    gpu->loop = loop;
    gpu->queue_max = queue_max;
    uv_timer_init(loop, &gpu->run_timer);
    gpu->run_timer.data = gpu;
    return gpu;
}

int fs_gpu_submit(fs_gpu *gpu, uint64_t cost_us, uint64_t deadline_us, fs_job_done_cb cb,
                  void *user, fs_job **out) {
    if (gpu->closed)
        return FG_ERR_CLOSED;
    if (gpu->running && gpu->n_waiting >= gpu->queue_max)
        return FG_ERR_FULL;
    fs_job *job = fg_calloc(1, sizeof(*job));
    job->gpu = gpu;
    job->cost_us = cost_us;
    job->arrival_us = fg_now_us();
    job->cb = cb;
    job->user = user;
    if (deadline_us) {
        job->has_deadline = true;
        uv_timer_init(gpu->loop, &job->deadline);
        job->deadline.data = job;
        uint64_t left = deadline_us > job->arrival_us ? deadline_us - job->arrival_us : 0;
        uv_update_time(gpu->loop);
        uv_timer_start(&job->deadline, on_deadline, (left + 999) / 1000, 0);
    }
    *out = job;
    if (!gpu->running) {
        run_job(gpu, job, job->arrival_us);
        return 0;
    }
    job->waiting = true;
    job->prev = gpu->tail;
    if (gpu->tail)
        gpu->tail->next = job;
    else
        gpu->head = job;
    gpu->tail = job;
    gpu->n_waiting++;
    return 0;
}

void fs_gpu_cancel(fs_gpu *gpu, fs_job *job) {
    job->cb = NULL;
    if (job->has_deadline)
        uv_timer_stop(&job->deadline);
    if (job->waiting) {
        unlink_waiting(gpu, job);
        job_release(job);
    }
}

size_t fs_gpu_waiting(const fs_gpu *gpu) {
    return gpu->n_waiting;
}

bool fs_gpu_busy(const fs_gpu *gpu) {
    return gpu->running != NULL;
}

static void on_run_timer_close(uv_handle_t *handle) {
    fs_gpu *gpu = handle->data;
    if (gpu->closed_cb)
        gpu->closed_cb(gpu->closed_user);
    free(gpu);
}

void fs_gpu_close(fs_gpu *gpu, void (*closed_cb)(void *user), void *user) {
    gpu->closed = true;
    gpu->closed_cb = closed_cb;
    gpu->closed_user = user;
    while (gpu->head) {
        fs_job *job = gpu->head;
        unlink_waiting(gpu, job);
        job_answer(job, FG_STATUS_UNAVAILABLE, 0);
        job_release(job);
    }
    if (gpu->running) {
        fs_job *job = gpu->running;
        gpu->running = NULL;
        job_answer(job, FG_STATUS_UNAVAILABLE, 0);
        job_release(job);
    }
    uv_close((uv_handle_t *)&gpu->run_timer, on_run_timer_close);
}
