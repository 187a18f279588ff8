// framegate browser client: sends RENDER requests over /ws, draws the frames, shows live figures,
// per-backend shares and the proxy's /health. Wire format lives in protocol.js.
// Real-time session (contract v1.1): every request carries LATEST, so a slow pool never builds a
// backlog behind the newest frame; /ws?hints=1 brings HINT messages, and the page sends at the
// hinted sustainable rate when that is below the rate the user chose. Shed (ERROR 8
// "overloaded") and superseded (ERROR 1) replies are counted apart from errors.
import {
  SUBPROTOCOL, MSG_FRAME, MSG_ERROR, MSG_HINT, FLAG_LATEST, encodeRequest, decodeReply, decodeHint,
  messageType, isShed, isSuperseded, isFlagsRefused, adaptedFps, sessionUrl, toRgba, mimeType,
  formatName, statusName, frameLogLine,
} from './protocol.js';
import { SampleWindow, RateMeter, backoffDelay, backendColor, cacheHitRatio, meanBatch } from './stats.js';

const PALETTE = ['#4cc9f0', '#f72585', '#b8f26b', '#ffb703', '#a87bff', '#ff7a5c', '#2ee6c5', '#f4a8ff'];
const PENDING_TIMEOUT_MS = 10000;
const MAX_BUFFERED_BYTES = 1 << 20;
const ERROR_OVERLAY_AFTER_MS = 300; // an isolated error between good frames is not worth a flash
const MAX_EVENTS = 60;

const $ = (id) => document.getElementById(id);

const state = {
  running: false,
  ws: null,
  connected: false,
  reconnectAttempt: 0,
  reconnectAt: 0,
  reconnectTimer: 0,
  sendTimer: 0,
  nextSendAt: 0,
  nextFrame: 1,
  nextRequestId: 1,
  pending: new Map(), // request_id -> { sentAt, frame }
  lastDrawnFrame: 0,
  lastFrameAt: 0,
  lastReplyWasError: false,
  lastError: null, // { status, message, backend, at }
  received: 0,
  drawn: 0,
  drawnByFormat: {},
  skipped: 0,
  errors: 0,
  lost: 0,
  errorsByStatus: new Map(),
  perBackend: new Map(),
  healthy: null,
  latest: true, // cleared for this run when the proxy refuses request flags (a v1 proxy)
  hint: null, // the last HINT: { healthyBackends, fps, queueWaitUs, ... }
  hints: 0,
  shed: 0,
  superseded: 0,
};
const colors = new Map();
const rtt = new SampleWindow(300);
const grpcTimes = new SampleWindow(300);
const totalTimes = new SampleWindow(300);
const fpsMeter = new RateMeter(1000);

const canvas = $('canvas');
const ctx = canvas.getContext('2d', { alpha: false });

function settings() {
  const clamp = (value, lo, hi, fallback) => {
    const n = Math.round(Number(value));
    return Number.isFinite(n) ? Math.min(hi, Math.max(lo, n)) : fallback;
  };
  return {
    model: $('model').value.trim() || 'sanders',
    fps: clamp($('fps').value, 1, 240, 30),
    inflight: clamp($('inflight').value, 1, 64, 4),
  };
}

function colorOf(address) {
  if (!colors.has(address)) colors.set(address, backendColor(address) ?? PALETTE[colors.size % PALETTE.length]);
  return colors.get(address);
}

// ---- event log ---------------------------------------------------------------------------

function logEvent(text, level = 'info') {
  const list = $('events');
  const first = list.firstElementChild;
  if (first && first.dataset.text === text) {
    const count = Number(first.dataset.count) + 1;
    first.dataset.count = String(count);
    first.querySelector('.count').textContent = `×${count}`;
    first.querySelector('time').textContent = new Date().toLocaleTimeString();
    return;
  }
  const item = document.createElement('li');
  item.className = `event event-${level}`;
  item.dataset.text = text;
  item.dataset.count = '1';
  const time = document.createElement('time');
  time.textContent = new Date().toLocaleTimeString();
  const body = document.createElement('span');
  body.className = 'event-text';
  body.textContent = text;
  const count = document.createElement('span');
  count.className = 'count';
  item.append(time, body, count);
  list.prepend(item);
  while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
}

// ---- connection --------------------------------------------------------------------------

function wsUrl() {
  return sessionUrl(location.protocol, location.host);
}

// The rate the page sends at now: the user's, or the hinted one when lower.
function sendFps() {
  return adaptedFps(settings().fps, state.hint);
}

function setConn(text, kind) {
  setText('conn-text', text);
  const className = `pill pill-${kind}`;
  if ($('conn').className !== className) $('conn').className = className;
}

function connect() {
  clearTimeout(state.reconnectTimer);
  state.reconnectAt = 0;
  setConn('connecting…', 'warn');
  const ws = new WebSocket(wsUrl(), SUBPROTOCOL);
  ws.binaryType = 'arraybuffer';
  state.ws = ws;
  ws.onopen = () => {
    if (state.ws !== ws) return;
    state.connected = true;
    state.reconnectAttempt = 0;
    setConn('connected', 'ok');
    logEvent(`connected to ${wsUrl()} (${ws.protocol || 'no subprotocol'})`);
    if (ws.protocol !== SUBPROTOCOL) logEvent(`proxy did not select ${SUBPROTOCOL}`, 'warn');
    scheduleSend();
  };
  ws.onmessage = (event) => {
    if (state.ws === ws) onReply(event.data);
  };
  ws.onclose = (event) => {
    if (state.ws !== ws) return;
    state.ws = null;
    state.connected = false;
    state.pending.clear();
    clearTimeout(state.sendTimer);
    if (!state.running) return;
    state.reconnectAttempt++;
    const delay = backoffDelay(state.reconnectAttempt);
    state.reconnectAt = performance.now() + delay;
    state.reconnectTimer = setTimeout(connect, delay);
    const why = event.code === 1006 ? 'connection lost' : `closed (${event.code}${event.reason ? ` ${event.reason}` : ''})`;
    logEvent(`${why}; reconnecting in ${(delay / 1000).toFixed(1)} s (attempt ${state.reconnectAttempt})`, 'warn');
    console.warn(`framegate: ${why}; reconnecting in ${delay} ms`);
  };
}

function start() {
  if (state.running) return;
  const { model } = settings();
  try {
    encodeRequest({ requestId: 0, frame: 0, model });
  } catch (err) {
    logEvent(`cannot start: ${err.message}`, 'error');
    return;
  }
  state.running = true;
  state.latest = true;
  resetFigures();
  $('toggle').textContent = 'Stop';
  $('toggle').className = 'btn btn-stop';
  setOverlay(null);
  connect();
}

function stop() {
  if (!state.running) return;
  state.running = false;
  clearTimeout(state.reconnectTimer);
  clearTimeout(state.sendTimer);
  state.reconnectAt = 0;
  const ws = state.ws;
  state.ws = null;
  state.connected = false;
  state.pending.clear();
  if (ws) ws.close(1000, 'stopped');
  $('toggle').textContent = 'Start';
  $('toggle').className = 'btn btn-start';
  setConn('stopped', 'idle');
  logEvent('stopped');
}

function resetFigures() {
  state.received = state.drawn = state.skipped = state.errors = state.lost = 0;
  state.drawnByFormat = {};
  state.shed = state.superseded = state.hints = 0;
  state.hint = null;
  state.errorsByStatus.clear();
  state.perBackend.clear();
  state.lastError = null;
  state.lastReplyWasError = false;
  rtt.clear();
  grpcTimes.clear();
  totalTimes.clear();
  fpsMeter.clear();
}

// ---- requests ----------------------------------------------------------------------------

// One request per tick of the target rate, as long as fewer than `inflight` are outstanding.
// Ticks are scheduled against absolute times so timer lateness does not lower the rate.
function scheduleSend() {
  clearTimeout(state.sendTimer);
  if (!state.running || !state.connected) return;
  const interval = 1000 / sendFps();
  const now = performance.now();
  if (!(state.nextSendAt > now - interval)) state.nextSendAt = now; // after a pause: no burst
  state.sendTimer = setTimeout(() => {
    sendOne();
    state.nextSendAt += interval;
    scheduleSend();
  }, Math.max(0, state.nextSendAt - now));
}

function sendOne() {
  const ws = state.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN || ws.bufferedAmount > MAX_BUFFERED_BYTES) return;
  const { model, inflight } = settings();
  expirePending();
  if (state.pending.size >= inflight) return;
  const requestId = state.nextRequestId++ >>> 0;
  const frame = state.nextFrame++ >>> 0;
  let message;
  try {
    message = encodeRequest({ requestId, frame, model, flags: state.latest ? FLAG_LATEST : 0 });
  } catch (err) {
    logEvent(`bad request: ${err.message}`, 'error');
    stop();
    return;
  }
  state.pending.set(requestId, { sentAt: performance.now(), frame, model });
  ws.send(message);
}

// A reply that never comes must not block the pipeline forever.
function expirePending() {
  const oldest = performance.now() - PENDING_TIMEOUT_MS;
  for (const [id, pending] of state.pending) {
    if (pending.sentAt < oldest) {
      state.pending.delete(id);
      state.lost++;
      logEvent(`no reply for frame ${pending.frame} after ${PENDING_TIMEOUT_MS / 1000} s`, 'warn');
    }
  }
}

// ---- replies -----------------------------------------------------------------------------

function onReply(data) {
  if (typeof data === 'string') {
    logEvent('unexpected text message from the proxy', 'warn');
    return;
  }
  if (messageType(data) === MSG_HINT) {
    onHint(data);
    return;
  }
  let reply;
  try {
    reply = decodeReply(data);
  } catch (err) {
    logEvent(`malformed reply: ${err.message}`, 'error');
    console.warn(`framegate: malformed reply: ${err.message}`);
    return;
  }
  const pending = state.pending.get(reply.requestId);
  state.pending.delete(reply.requestId);
  const model = pending ? pending.model : settings().model;
  if (pending) rtt.add(performance.now() - pending.sentAt);
  state.received++;
  if (reply.type === MSG_FRAME) onFrame(model, reply);
  else if (reply.type === MSG_ERROR) onError(model, reply);
}

function onFrame(model, reply) {
  console.log(frameLogLine(model, reply));
  fpsMeter.mark(performance.now());
  grpcTimes.add(reply.grpcUs / 1000);
  totalTimes.add(reply.totalUs / 1000);
  const backend = reply.backend || '?';
  colorOf(backend);
  state.perBackend.set(backend, (state.perBackend.get(backend) || 0) + 1);
  state.lastReplyWasError = false;
  draw(reply).catch((err) => {
    logEvent(`frame ${reply.frame} could not be drawn: ${err.message}`, 'error');
  });
}

function onHint(data) {
  let hint;
  try {
    hint = decodeHint(data);
  } catch (err) {
    logEvent(`malformed hint: ${err.message}`, 'error');
    return;
  }
  const before = sendFps();
  state.hint = hint;
  state.hints++;
  const after = sendFps();
  if (Math.abs(after - before) >= 0.05 * before) {
    logEvent(`proxy hint: ${hint.fps.toFixed(1)} frames/s sustainable, ${hint.healthyBackends} healthy backends; sending at ${after.toFixed(1)}/s`);
    scheduleSend();
  }
}

function onError(model, reply) {
  if (isSuperseded(reply)) {
    state.superseded++; // expected with LATEST: a newer frame took its place
    return;
  }
  if (isShed(reply)) {
    state.shed++;
    logEvent('frame shed: the pool is overloaded', 'warn');
    return;
  }
  if (state.latest && isFlagsRefused(reply)) {
    state.latest = false;
    logEvent('the proxy does not take request flags (v1): sending without LATEST', 'warn');
    return;
  }
  console.warn(frameLogLine(model, reply));
  state.errors++;
  const key = reply.status;
  state.errorsByStatus.set(key, (state.errorsByStatus.get(key) || 0) + 1);
  state.lastReplyWasError = true;
  state.lastError = { status: reply.status, message: reply.message, backend: reply.backend, at: performance.now() };
  const where = reply.backend ? ` [${reply.backend}]` : '';
  logEvent(`${statusName(reply.status)}${where}: ${reply.message || 'no message'}`, 'error');
}

function isStale(frame) {
  if (frame <= state.lastDrawnFrame) {
    state.skipped++;
    return true;
  }
  return false;
}

function fitCanvas(width, height) {
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
}

async function draw(reply) {
  if (isStale(reply.frame)) return;
  const { width, height, format, payload, frame } = reply;
  const rgba = toRgba(format, width, height, payload);
  if (rgba) {
    fitCanvas(width, height);
    ctx.putImageData(new ImageData(rgba, width, height), 0, 0);
  } else {
    const type = mimeType(format);
    if (!type) throw new Error(`unsupported image format ${format}`);
    const bitmap = await createImageBitmap(new Blob([payload], { type }));
    // Another frame may have been drawn while this one was decoding.
    if (isStale(frame)) {
      bitmap.close();
      return;
    }
    fitCanvas(bitmap.width, bitmap.height);
    ctx.drawImage(bitmap, 0, 0);
    bitmap.close();
  }
  state.lastDrawnFrame = frame;
  state.lastFrameAt = performance.now();
  state.drawn++;
  const name = formatName(format);
  state.drawnByFormat[name] = (state.drawnByFormat[name] || 0) + 1;
  showFrameInfo(frame, reply.backend || '?', format, width, height, payload.length);
}

// Updated with the picture itself, so the caption never describes a different frame.
function showFrameInfo(frame, backend, format, width, height, size) {
  setText('info-frame', String(frame));
  setText('info-backend', backend);
  $('info-backend').style.color = colorOf(backend);
  setText('info-format', `${formatName(format)} ${width}×${height}`);
  setText('info-size', fmtBytes(size));
}

// ---- view --------------------------------------------------------------------------------

function fmtMs(value) {
  if (!Number.isFinite(value)) return '–';
  return value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`;
}

function fmtBytes(n) {
  return n < 1024 ? `${n} B` : `${(n / 1024).toFixed(1)} KiB`;
}

function setText(id, text) {
  const el = $(id);
  if (el.textContent !== text) el.textContent = text;
}

function setOverlay(kind, title = '', detail = '') {
  const overlay = $('overlay');
  overlay.className = kind ? `overlay overlay-${kind}` : 'overlay overlay-hidden';
  setText('overlay-title', title);
  setText('overlay-detail', detail);
}

function refreshOverlay(now) {
  if (!state.running) {
    if (state.drawn === 0) setOverlay('idle', 'Press Start', 'frames from the backends appear here');
    else setOverlay('paused', 'Stopped', 'press Start to resume');
    return;
  }
  const err = state.lastError;
  if (state.lastReplyWasError && err && now - state.lastFrameAt > ERROR_OVERLAY_AFTER_MS) {
    const noBackends = /no backends available/i.test(err.message);
    const title = noBackends ? 'No backends available' : `${statusName(err.status)} (${err.status})`;
    const detail = noBackends
      ? `${statusName(err.status)} (${err.status}): ${err.message} — retrying`
      : err.message || 'the proxy answered with an error';
    setOverlay('error', title, detail);
    return;
  }
  if (!state.connected) {
    const wait = state.reconnectAt ? Math.max(0, state.reconnectAt - now) / 1000 : 0;
    setOverlay('warn', 'Disconnected', state.reconnectAt ? `reconnecting in ${wait.toFixed(1)} s` : 'connecting…');
    return;
  }
  if (state.drawn === 0) setOverlay('idle', 'Waiting for frames…', '');
  else setOverlay(null);
}

function refreshConn(now) {
  if (!state.running) return;
  if (state.connected) {
    if (state.healthy === false) setConn('connected · no healthy backend', 'bad');
    else setConn('connected', 'ok');
    return;
  }
  if (!state.reconnectAt) return;
  const wait = Math.max(0, state.reconnectAt - now) / 1000;
  setConn(`reconnecting in ${wait.toFixed(1)} s · attempt ${state.reconnectAttempt}`, 'bad');
}

function refreshErrorList() {
  const list = $('errors-by-status');
  const items = [...state.errorsByStatus.entries()].sort((a, b) => b[1] - a[1]);
  const signature = items.map(([s, n]) => `${s}:${n}`).join(',');
  if (list.dataset.signature === signature) return;
  list.dataset.signature = signature;
  if (items.length === 0) {
    list.innerHTML = '<li class="none">no errors</li>';
    return;
  }
  list.replaceChildren(...items.map(([status, count]) => {
    const li = document.createElement('li');
    li.innerHTML = '<span class="status-name"></span><b></b>';
    li.firstChild.textContent = `${statusName(status)} (${status})`;
    li.lastChild.textContent = String(count);
    return li;
  }));
}

function refreshFigures(now) {
  setText('fig-fps', fpsMeter.rate(now).toFixed(1));
  setText('fig-p50', fmtMs(rtt.percentile(50)));
  setText('fig-p95', fmtMs(rtt.percentile(95)));
  setText('fig-grpc', fmtMs(grpcTimes.percentile(50)));
  setText('fig-total', fmtMs(totalTimes.percentile(50)));
  setText('fig-drawn', String(state.drawn));
  setText('fig-skipped', String(state.skipped));
  setText('fig-errors', String(state.errors));
  $('fig-errors').classList.toggle('bad', state.errors > 0);
  setText('fig-shed', String(state.shed));
  $('fig-shed').classList.toggle('warn', state.shed > 0);
  setText('fig-superseded', String(state.superseded));
  setText('fig-hint', state.hint ? `${state.hint.fps.toFixed(1)}/s` : '–');
  const rate = sendFps();
  setText('fig-rate', Number.isInteger(rate) ? String(rate) : rate.toFixed(1));
  const hits = cacheHitRatio(state.perBackend);
  setText('fig-cache', Number.isNaN(hits) ? '–' : `${(hits * 100).toFixed(1)}%`);

  refreshErrorList();
}

function refreshBackends() {
  const total = [...state.perBackend.values()].reduce((a, b) => a + b, 0);
  const bar = $('share-bar');
  const chips = $('chips');
  if (total === 0) {
    if (chips.dataset.empty !== '1') {
      chips.dataset.empty = '1';
      bar.replaceChildren();
      chips.innerHTML = '<li class="muted">no frames yet</li>';
    }
    return;
  }
  chips.dataset.empty = '0';
  const rows = [...colors.keys()].filter((a) => state.perBackend.has(a));
  while (bar.children.length > rows.length) bar.lastElementChild.remove();
  while (bar.children.length < rows.length) bar.append(document.createElement('span'));
  if (chips.children.length !== rows.length || chips.querySelector('.muted')) chips.replaceChildren();
  rows.forEach((address, i) => {
    const count = state.perBackend.get(address);
    const share = (100 * count) / total;
    const seg = bar.children[i];
    seg.style.flexGrow = String(count);
    seg.style.background = colorOf(address);
    seg.title = `${address}: ${share.toFixed(1)}%`;
    let chip = chips.children[i];
    if (!chip) {
      chip = document.createElement('li');
      chip.className = 'chip';
      chip.innerHTML = '<span class="swatch"></span><span class="chip-addr"></span>'
        + '<span class="chip-meta"><span class="chip-count"></span> frames · <span class="chip-share"></span></span>';
      chips.append(chip);
    }
    chip.querySelector('.swatch').style.background = colorOf(address);
    chip.querySelector('.chip-addr').textContent = address;
    chip.querySelector('.chip-count').textContent = String(count);
    chip.querySelector('.chip-share').textContent = `${share.toFixed(1)}%`;
    chip.dataset.address = address;
  });
}

function tick() {
  const now = performance.now();
  refreshOverlay(now);
  refreshConn(now);
  refreshFigures(now);
  refreshBackends();
}

// ---- health ------------------------------------------------------------------------------

// The proxy's per-backend latency, if its /health has one: a number (unit from the key's suffix)
// or percentiles {p50, p99, ...} in milliseconds.
function latencyText(backend) {
  const key = Object.keys(backend).find((k) => /latency/i.test(k));
  if (!key) return '–';
  const value = backend[key];
  const toMs = /_us$/.test(key) ? 0.001 : /(_s|_seconds)$/.test(key) ? 1000 : 1;
  if (typeof value === 'number') return fmtMs(value * toMs);
  if (value && typeof value.p50 === 'number') {
    if (!(value.p50 > 0)) return '–';
    const tail = typeof value.p99 === 'number' ? ` / ${fmtMs(value.p99 * toMs)}` : '';
    return `${fmtMs(value.p50 * toMs).replace(' ms', '')}${tail}`;
  }
  return '–';
}

function renderHealth(body) {
  const backends = Array.isArray(body.backends) ? body.backends : [];
  const tbody = $('health-body');
  const rows = backends.map((b) => {
    const tr = document.createElement('tr');
    const healthy = b.healthy === true;
    tr.className = healthy ? 'row-healthy' : 'row-unhealthy';
    tr.dataset.address = String(b.address);
    tr.dataset.healthy = String(healthy);
    tr.innerHTML = '<td><span class="swatch"></span><span class="addr"></span></td><td><span class="badge"></span></td>'
      + '<td class="num"></td><td class="num"></td><td class="num col-latency"></td>';
    const cells = tr.children;
    cells[0].querySelector('.swatch').style.background = colorOf(String(b.address));
    cells[0].querySelector('.addr').textContent = String(b.address);
    const badge = cells[1].firstChild;
    badge.className = healthy ? 'badge badge-ok' : 'badge badge-bad';
    badge.textContent = healthy ? 'healthy' : 'unhealthy';
    if (b.state || b.last_error) badge.title = [b.state, b.last_error && `last error: ${b.last_error}`].filter(Boolean).join(' · ');
    // Calls, and the frames per call when RenderBatch calls carried several (--batch-max).
    const batch = meanBatch(b);
    cells[2].textContent = String(b.total_requests ?? '–') + (batch > 1 ? ` ×${batch.toFixed(1)}` : '');
    cells[2].title = Number.isNaN(batch) ? '' : `${b.frames_sent} frames in ${b.total_requests} calls`;
    cells[3].textContent = String(b.error_count ?? '–');
    cells[4].textContent = latencyText(b);
    return tr;
  });
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    tr.innerHTML = '<td colspan="5" class="muted">no backends configured</td>';
    rows.push(tr);
  }
  tbody.replaceChildren(...rows);
  const hasLatency = backends.some((b) => Object.keys(b).some((k) => /latency/i.test(k)));
  $('health-table').classList.toggle('no-latency', !hasLatency);
  const count = body.healthy_count ?? backends.filter((b) => b.healthy).length;
  const summary = $('health-summary');
  summary.textContent = `${count} of ${body.total_backends ?? backends.length} healthy`;
  summary.className = count > 0 ? 'muted small' : 'small bad';
  if (state.healthy !== null && (count > 0) !== state.healthy) {
    logEvent(count > 0 ? `backends available again (${count} healthy)` : 'no healthy backend', count > 0 ? 'info' : 'error');
  }
  state.healthy = count > 0;
  refreshConn(performance.now());
}

function renderHealthUnreachable(reason) {
  $('health-body').innerHTML = '<tr class="row-unhealthy"><td colspan="5"></td></tr>';
  $('health-body').querySelector('td').textContent = `proxy unreachable: ${reason}`;
  const summary = $('health-summary');
  summary.textContent = 'proxy unreachable';
  summary.className = 'small bad';
}

async function pollHealth() {
  try {
    const res = await fetch('/health', { cache: 'no-store' });
    // 503 still carries the JSON body (no healthy backend); anything else unparsable is a failure.
    const body = await res.json().catch(() => {
      throw new Error(`HTTP ${res.status} without a JSON body`);
    });
    renderHealth(body);
  } catch (err) {
    renderHealthUnreachable(err.message);
  } finally {
    setTimeout(pollHealth, 1000);
  }
}

// ---- wiring ------------------------------------------------------------------------------

$('controls').addEventListener('submit', (event) => {
  event.preventDefault();
  if (state.running) stop();
  else start();
});
$('fps').addEventListener('change', () => scheduleSend());

// Read-only view for tests and for poking around in DevTools.
window.framegate = {
  get running() { return state.running; },
  get connected() { return state.connected; },
  get drawn() { return state.drawn; },
  get drawnByFormat() { return { ...state.drawnByFormat }; },
  get received() { return state.received; },
  get skipped() { return state.skipped; },
  get errors() { return state.errors; },
  get lastError() { return state.lastError && { ...state.lastError }; },
  get perBackend() { return Object.fromEntries(state.perBackend); },
  get shed() { return state.shed; },
  get superseded() { return state.superseded; },
  get hint() { return state.hint && { ...state.hint }; },
  get latest() { return state.latest; },
  get sendFps() { return sendFps(); },
  get url() { return state.ws ? state.ws.url : null; },
};

setInterval(tick, 200);
tick();
pollHealth();
