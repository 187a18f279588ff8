"""The frame queue between the gRPC handlers and the model: batching, deadlines, admission, drain.

Handlers submit jobs (one per Render or RenderBatch call: a list of requests, an absolute
deadline, a completion callback). W worker threads (one per GPU stream) each take the oldest
jobs that fit in one model pass of at most max_batch frames and call infer() with their requests
in order; a RenderBatch larger than max_batch runs alone, in passes of max_batch. So single
Render calls that arrive together (queued while a pass runs) share the next pass.

- A job whose deadline has passed when a worker reaches it is answered DEADLINE_EXCEEDED
  without running; a cancelled job (the caller gave up) is dropped the same way.
- submit() raises Rejected(RESOURCE_EXHAUSTED) when the frames waiting plus the new ones
  would exceed queue_max (a job alone in an empty queue is always taken), and
  Rejected(UNAVAILABLE) once drain() began.
- done(status, message, images, infer_us) is called exactly once per job, on a worker thread
  (or in drain() for nothing: drain runs every queued job first). images is the list of
  images, in request order, when status is OK, else None.

LoadMeter turns the queue's counters into the ORCA figures (orca.py).
"""

import collections
import logging
import os
import threading
import time

import grpc

from .model import InvalidInput, OutOfRange

log = logging.getLogger("framegate_backend")

OK = grpc.StatusCode.OK


class Rejected(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class Job:
    __slots__ = ("requests", "deadline", "done", "cancelled")

    def __init__(self, requests, deadline, done):
        self.requests = requests
        self.deadline = deadline  # clock() value, or None for no deadline
        self.done = done
        self.cancelled = False


Stats = collections.namedtuple("Stats", "queued running busy_s frames errors workers max_batch queue_max")


class FrameQueue:
    def __init__(self, infer, image_size=None, workers=1, max_batch=8, queue_max=64, clock=time.monotonic):
        """infer(list of requests) -> list of images; image_size: bytes each image must have
        (None: any non-empty bytes)."""
        if workers < 1 or max_batch < 1 or queue_max < 1:
            raise ValueError("workers, max_batch and queue_max must be >= 1")
        self._infer = infer
        self._image_size = image_size
        self.workers = workers
        self.max_batch = max_batch
        self.queue_max = queue_max
        self._clock = clock
        self._cond = threading.Condition()
        self._jobs = collections.deque()
        self._queued = 0  # frames in _jobs
        self._running = 0  # frames in a model pass now
        self._busy_s = 0.0  # model time summed over workers, finished passes
        self._pass_start = {}  # worker index -> clock() of its running pass
        self._frames = 0  # frames answered OK
        self._errors = 0  # frames failed by the backend's fault (INTERNAL)
        self._closing = False
        self._threads = []

    def start(self):
        for i in range(self.workers):
            t = threading.Thread(target=self._work, args=(i,), name=f"model-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def submit(self, requests, deadline, done):
        """Queue a job; returns it (for cancel()). Raises Rejected when it cannot be taken."""
        n = len(requests)
        with self._cond:
            if self._closing:
                raise Rejected(grpc.StatusCode.UNAVAILABLE, "shutting down")
            if self._queued and self._queued + n > self.queue_max:
                raise Rejected(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"queue full ({self._queued} frames waiting, --queue-max {self.queue_max})",
                )
            job = Job(requests, deadline, done)
            self._jobs.append(job)
            self._queued += n
            self._cond.notify()
        return job

    def cancel(self, job):
        """The caller no longer wants the answer: a job not yet running will not run."""
        job.cancelled = True

    def drain(self, timeout=None):
        """Refuse new jobs, run every queued one, stop the workers. True when all finished."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        end = None if timeout is None else time.monotonic() + timeout
        for t in self._threads:
            t.join(None if end is None else max(0.0, end - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def stats(self):
        with self._cond:
            now = self._clock()
            busy = self._busy_s + sum(now - s for s in self._pass_start.values())
            return Stats(
                self._queued, self._running, busy, self._frames, self._errors,
                self.workers, self.max_batch, self.queue_max,
            )

    # ------------------------------------------------------------------ workers

    def _take(self):
        """Under the lock: (jobs to run, jobs to drop with their status), or None to stop."""
        while not self._jobs:
            if self._closing:
                return None
            self._cond.wait()
        now = self._clock()
        run, drop, n = [], [], 0
        while self._jobs:
            job = self._jobs[0]
            size = len(job.requests)
            if job.cancelled or (job.deadline is not None and job.deadline <= now):
                self._jobs.popleft()
                self._queued -= size
                drop.append(job)
                continue
            if run and n + size > self.max_batch:
                break
            self._jobs.popleft()
            self._queued -= size
            run.append(job)
            n += size
            if n >= self.max_batch:
                break
        return run, drop, n

    def _work(self, index):
        while True:
            with self._cond:
                taken = self._take()
                if taken is None:
                    self._cond.notify_all()  # wake the other workers so they stop too
                    return
                run, drop, n = taken
                if run:
                    self._running += n
                    self._pass_start[index] = self._clock()
            for job in drop:
                if job.cancelled:
                    job.done(grpc.StatusCode.CANCELLED, "cancelled", None, 0)
                else:
                    job.done(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline passed before the model ran", None, 0)
            if run:
                self._run(index, run, n)

    def _run(self, index, jobs, n):
        requests = [r for job in jobs for r in job.requests]
        t0 = self._clock()
        status, message, images = OK, "", []
        try:
            for i in range(0, len(requests), self.max_batch):
                chunk = requests[i : i + self.max_batch]
                out = self._infer(chunk)
                self._check(out, len(chunk))
                images.extend(out)
        except InvalidInput as e:
            status, message = grpc.StatusCode.INVALID_ARGUMENT, str(e) or "invalid input"
        except OutOfRange as e:
            status, message = grpc.StatusCode.OUT_OF_RANGE, str(e) or "input out of range"
        except Exception as e:  # the model's failure is the backend's fault: INTERNAL
            log.exception("infer() failed on a batch of %d", len(requests))
            status, message = grpc.StatusCode.INTERNAL, f"inference failed: {type(e).__name__}: {e}"
        t1 = self._clock()
        with self._cond:
            self._running -= n
            del self._pass_start[index]
            self._busy_s += t1 - t0
            if status == OK:
                self._frames += n
            elif status == grpc.StatusCode.INTERNAL:
                self._errors += n
        infer_us = int((t1 - t0) * 1e6)
        at = 0
        for job in jobs:
            k = len(job.requests)
            if status == OK:
                job.done(OK, "", images[at : at + k], infer_us)
            else:
                job.done(status, message, None, infer_us)
            at += k

    def _check(self, images, want):
        if not isinstance(images, (list, tuple)) or len(images) != want:
            got = len(images) if isinstance(images, (list, tuple)) else type(images).__name__
            raise RuntimeError(f"infer() returned {got} images for {want} requests")
        for img in images:
            if not isinstance(img, (bytes, bytearray, memoryview)):
                raise RuntimeError(f"infer() returned a {type(img).__name__}, not bytes")
            size = len(img) if not isinstance(img, memoryview) else img.nbytes
            if self._image_size is not None and size != self._image_size:
                raise RuntimeError(f"infer() returned an image of {size} bytes, not {self._image_size}")
            if size == 0:
                raise RuntimeError("infer() returned an empty image")


class LoadMeter:
    """ORCA figures from a FrameQueue's counters and the process's CPU time.

    Rates are measured between two samples at least WINDOW_S apart (so over the last 1-2 s):
    - cpu_utilization: process CPU seconds per wall second over the machine's CPU count;
    - application_utilization: the workers' busy fraction (model time / (wall time x workers))
      plus the queue's fill (frames waiting / queue_max): 0 idle, 1 every worker busy with
      nothing waiting, 2 the queue full too. WRR weighs a backend by rps / utilization, so a
      backend with a backlog looks as loaded as it is;
    - rps_fractional: frames answered OK per second; eps: frames failed (INTERNAL) per second.
    """

    WINDOW_S = 1.0

    def __init__(self, queue, clock=time.monotonic, cpu_time=time.process_time, ncpu=None):
        self._queue = queue
        self._clock = clock
        self._cpu_time = cpu_time
        self._ncpu = ncpu or os.cpu_count() or 1
        self._lock = threading.Lock()
        first = self._sample()
        self._prev = first  # the older sample the rates are measured from
        self._base = first  # the newer one, becomes _prev once WINDOW_S old

    def _sample(self):
        s = self._queue.stats()
        return (self._clock(), self._cpu_time(), s.busy_s, s.frames, s.errors)

    def report(self):
        """dict with cpu_utilization, application_utilization, rps_fractional, eps."""
        now = self._sample()
        stats = self._queue.stats()
        with self._lock:
            if now[0] - self._base[0] >= self.WINDOW_S:
                self._prev, self._base = self._base, now
            prev = self._prev
        dt = now[0] - prev[0]
        fill = stats.queued / stats.queue_max
        if dt <= 0:
            busy = 1.0 if stats.running else 0.0
            return dict(cpu_utilization=0.0, application_utilization=busy + fill, rps_fractional=0.0, eps=0.0)
        return dict(
            cpu_utilization=max(0.0, (now[1] - prev[1]) / dt / self._ncpu),
            application_utilization=max(0.0, min(1.0, (now[2] - prev[2]) / dt / stats.workers)) + fill,
            rps_fractional=max(0.0, (now[3] - prev[3]) / dt),
            eps=max(0.0, (now[4] - prev[4]) / dt),
        )
