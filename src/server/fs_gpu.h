/*
 * fs_gpu: the simulated GPU stream of a model server: jobs run one at a time, in arrival
 * order, each taking its model time on a libuv timer (not a busy loop), so N frameservers on a
 * small machine behave like N independent GPUs.
 *
 * A job is a number of microseconds of model time plus an optional deadline. At most
 * queue_max jobs wait behind the running one. The done callback is called exactly once per job
 * unless the job is cancelled first:
 *   FG_STATUS_OK                 the model time was spent (model_us says how much);
 *   FG_STATUS_DEADLINE_EXCEEDED  the deadline passed while the job waited or ran;
 *   FG_STATUS_UNAVAILABLE        the GPU was closed with the job still pending.
 * After its callback (or fs_gpu_cancel()) the job belongs to the GPU again and the caller must
 * forget the pointer. A job cancelled or timed out while running keeps the GPU busy until its
 * time is up, as a real kernel launch would.
 */
#ifndef FS_GPU_H
#define FS_GPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct fs_gpu fs_gpu;
typedef struct fs_job fs_job;

typedef void (*fs_job_done_cb)(void *user, int status, uint64_t model_us);

fs_gpu *fs_gpu_new(uv_loop_t *loop, size_t queue_max);
/*
 * Queues a job of cost_us model time. deadline_us is an absolute fg_now_us() time, or 0 for
 * none. Returns 0 with *job set, FG_ERR_FULL when queue_max jobs already wait, FG_ERR_CLOSED
 * after fs_gpu_close(). The callback never runs before this returns.
 */
int fs_gpu_submit(fs_gpu *gpu, uint64_t cost_us, uint64_t deadline_us, fs_job_done_cb cb,
                  void *user, fs_job **job);
/* The caller no longer wants the job's callback; a waiting job leaves the queue at once. */
void fs_gpu_cancel(fs_gpu *gpu, fs_job *job);
/* Jobs waiting (not counting the running one). */
size_t fs_gpu_waiting(const fs_gpu *gpu);
/* True while a job runs or waits. */
bool fs_gpu_busy(const fs_gpu *gpu);
/*
 * Fails every pending job with FG_STATUS_UNAVAILABLE and closes the GPU's handles; the GPU is
 * freed once they are closed (the loop must run). closed_cb (may be NULL) is called then.
 */
void fs_gpu_close(fs_gpu *gpu, void (*closed_cb)(void *user), void *user);

#endif
