// Small rolling statistics for the page's live figures. No DOM; unit-tested under Node.

// The last `capacity` samples; percentiles over them (nearest-rank).
export class SampleWindow {
  constructor(capacity = 256) {
    this.samples = new Float64Array(capacity);
    this.count = 0;
    this.next = 0;
  }

  add(value) {
    this.samples[this.next] = value;
    this.next = (this.next + 1) % this.samples.length;
    if (this.count < this.samples.length) this.count++;
  }

  clear() {
    this.count = 0;
    this.next = 0;
  }

  // p in [0, 100]; NaN when empty.
  percentile(p) {
    if (this.count === 0) return NaN;
    const sorted = Array.from(this.samples.subarray(0, this.count)).sort((a, b) => a - b);
    const rank = Math.ceil((p / 100) * sorted.length);
    return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
  }
}

// Events per second over a sliding time window (milliseconds timestamps supplied by the caller).
export class RateMeter {
  constructor(windowMs = 1000) {
    this.windowMs = windowMs;
    this.times = [];
  }

  mark(nowMs) {
    this.times.push(nowMs);
    this.trim(nowMs);
  }

  trim(nowMs) {
    const oldest = nowMs - this.windowMs;
    let drop = 0;
    while (drop < this.times.length && this.times[drop] <= oldest) drop++;
    if (drop) this.times.splice(0, drop);
  }

  rate(nowMs) {
    this.trim(nowMs);
    return (this.times.length * 1000) / this.windowMs;
  }

  clear() {
    this.times = [];
  }
}

// Delay before reconnect attempt n (1-based): doubles from `baseMs`, capped at `maxMs`.
export function backoffDelay(attempt, baseMs = 250, maxMs = 5000) {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

// The colour of a backend: the tint the reference frameserver paints its frames with (hue from the
// port, see src/server/fs_render.c), so a chip matches the pictures that backend draws. HSV(h, 0.62,
// 0.92) written as HSL. null when the address has no port.
export function backendColor(address) {
  const match = /:(\d{1,5})$/.exec(address);
  if (!match) return null;
  const hue = (Number(match[1]) * 137) % 360;
  return `hsl(${hue} 78% 64%)`;
}

// The backend name of a frame answered from the proxy's frame cache (contract section 2).
export const CACHE_BACKEND = 'cache';

// The share of frames answered from the cache, 0..1, from a Map backend -> frames; NaN when no
// frame came yet.
// Frames per backend call from a /health backend entry (RenderBatch calls carry several);
// NaN before its first call or from a proxy without the field.
export function meanBatch(backend) {
  const calls = Number(backend.total_requests);
  const frames = Number(backend.frames_sent);
  return calls > 0 && Number.isFinite(frames) ? frames / calls : NaN;
}

export function cacheHitRatio(perBackend) {
  let total = 0;
  for (const n of perBackend.values()) total += n;
  return total ? (perBackend.get(CACHE_BACKEND) || 0) / total : NaN;
}
