// Unit tests of the page's wire format (web/protocol.js) and rolling figures (web/stats.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  SUBPROTOCOL, MSG_FRAME, MSG_ERROR, MSG_HINT, FLAG_LATEST, MIN_ADAPTED_FPS, FORMAT_RGB24,
  FORMAT_RGBA32, FORMAT_JPEG, FORMAT_PNG, encodeRequest, decodeReply, decodeHint, messageType,
  isShed, isSuperseded, isFlagsRefused, adaptedFps, sessionUrl, toRgba, mimeType, statusName,
  formatName, frameLogLine,
} from '../../web/protocol.js';
import { SampleWindow, RateMeter, backoffDelay, backendColor, cacheHitRatio, meanBatch } from '../../web/stats.js';

// A reply built independently of decodeReply, field by field as the contract's table says.
function buildReply({ type = MSG_FRAME, status = 0, requestId = 0, frame = 0, grpcUs = 0, totalUs = 0,
  width = 0, height = 0, format = 0, attempts = 0, reserved = 0, backend = '', payload = [] }) {
  const backendBytes = Buffer.from(backend, 'utf8');
  const out = Buffer.alloc(28 + backendBytes.length + payload.length);
  out.writeUInt8(type, 0);
  out.writeUInt8(backendBytes.length, 1);
  out.writeUInt16LE(status, 2);
  out.writeUInt32LE(requestId, 4);
  out.writeUInt32LE(frame, 8);
  out.writeUInt32LE(grpcUs, 12);
  out.writeUInt32LE(totalUs, 16);
  out.writeUInt16LE(width, 20);
  out.writeUInt16LE(height, 22);
  out.writeUInt8(format, 24);
  out.writeUInt8(attempts, 25);
  out.writeUInt16LE(reserved, 26);
  backendBytes.copy(out, 28);
  Buffer.from(payload).copy(out, 28 + backendBytes.length);
  return out;
}

test('subprotocol name', () => {
  assert.equal(SUBPROTOCOL, 'framegate.v1');
});

test('encodeRequest lays out the 12-byte little-endian header, model and input', () => {
  const input = Uint8Array.from([9, 8, 7]);
  const msg = encodeRequest({ requestId: 0x04030201, frame: 0xa0b0c0d0, model: 'sanders', input });
  assert.ok(msg instanceof Uint8Array);
  const buf = Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
  assert.equal(buf.length, 12 + 7 + 3);
  assert.equal(buf[0], 1, 'type RENDER');
  assert.equal(buf[1], 7, 'model_len');
  assert.equal(buf.readUInt16LE(2), 0, 'flags');
  assert.deepEqual([...buf.subarray(4, 8)], [0x01, 0x02, 0x03, 0x04], 'request_id little-endian');
  assert.equal(buf.readUInt32LE(8), 0xa0b0c0d0, 'frame');
  assert.equal(buf.subarray(12, 19).toString('utf8'), 'sanders');
  assert.deepEqual([...buf.subarray(19)], [9, 8, 7]);
});

test('encodeRequest: empty input, UTF-8 model length in bytes, 32-bit wrap', () => {
  const msg = encodeRequest({ requestId: 2 ** 32 + 5, frame: 1, model: 'é' });
  assert.equal(msg.length, 14);
  assert.equal(msg[1], 2, 'é is two UTF-8 bytes');
  assert.equal(Buffer.from(msg).readUInt32LE(4), 5);
});

test('encodeRequest rejects an empty or over-long model name', () => {
  assert.throws(() => encodeRequest({ requestId: 1, frame: 1, model: '' }), RangeError);
  assert.throws(() => encodeRequest({ requestId: 1, frame: 1, model: 'x'.repeat(256) }), RangeError);
  assert.equal(encodeRequest({ requestId: 1, frame: 1, model: 'x'.repeat(255) })[1], 255);
});

test('decodeReply reads every FRAME header field', () => {
  const pixels = [1, 2, 3, 4, 5, 6];
  const wire = buildReply({ requestId: 77, frame: 42, grpcUs: 16400, totalUs: 18200, width: 2, height: 1,
    format: FORMAT_RGB24, attempts: 1, backend: 'localhost:50051', payload: pixels });
  const r = decodeReply(new Uint8Array(wire).buffer);
  assert.equal(r.type, MSG_FRAME);
  assert.equal(r.status, 0);
  assert.equal(r.requestId, 77);
  assert.equal(r.frame, 42);
  assert.equal(r.grpcUs, 16400);
  assert.equal(r.totalUs, 18200);
  assert.equal(r.width, 2);
  assert.equal(r.height, 1);
  assert.equal(r.format, FORMAT_RGB24);
  assert.equal(r.attempts, 1);
  assert.equal(r.backend, 'localhost:50051');
  assert.deepEqual([...r.payload], pixels);
  assert.equal(r.message, '');
});

test('decodeReply reads large unsigned values without sign errors', () => {
  const wire = buildReply({ requestId: 0xffffffff, frame: 0x80000000, grpcUs: 0xfffffffe, totalUs: 0xffffffff,
    width: 0xffff, height: 0x8000, format: 255, attempts: 255 });
  const r = decodeReply(wire);
  assert.equal(r.requestId, 0xffffffff);
  assert.equal(r.frame, 0x80000000);
  assert.equal(r.grpcUs, 0xfffffffe);
  assert.equal(r.totalUs, 0xffffffff);
  assert.equal(r.width, 0xffff);
  assert.equal(r.height, 0x8000);
  assert.equal(r.attempts, 255);
  assert.equal(r.backend, '');
  assert.equal(r.payload.length, 0);
});

test('decodeReply reads an ERROR reply with no backend', () => {
  const wire = buildReply({ type: MSG_ERROR, status: 14, requestId: 3, frame: 9, totalUs: 120,
    payload: Buffer.from('no backends available') });
  const r = decodeReply(wire);
  assert.equal(r.type, MSG_ERROR);
  assert.equal(r.status, 14);
  assert.equal(statusName(r.status), 'UNAVAILABLE');
  assert.equal(r.backend, '');
  assert.equal(r.message, 'no backends available');
  assert.equal(r.width, 0);
  assert.equal(r.format, 0);
});

test('decodeReply works on a view into a larger buffer (byteOffset != 0)', () => {
  const wire = buildReply({ requestId: 5, frame: 6, backend: 'b:1', payload: [7] });
  const big = new Uint8Array(wire.length + 10);
  big.set(wire, 5);
  const r = decodeReply(big.subarray(5, 5 + wire.length));
  assert.equal(r.requestId, 5);
  assert.equal(r.frame, 6);
  assert.equal(r.backend, 'b:1');
  assert.deepEqual([...r.payload], [7]);
});

test('decodeReply rejects short, unknown-type and truncated-backend replies', () => {
  assert.throws(() => decodeReply(new Uint8Array(27)), RangeError);
  assert.throws(() => decodeReply(buildReply({ type: 1 })), RangeError);
  assert.throws(() => decodeReply(buildReply({ type: 4 })), RangeError);
  const truncated = buildReply({ backend: 'localhost:50051' }).subarray(0, 30);
  assert.throws(() => decodeReply(truncated), RangeError);
  assert.throws(() => decodeReply('text'), TypeError);
});

test('toRgba expands RGB24, copies RGBA32, checks sizes, leaves compressed formats alone', () => {
  const rgb = Uint8Array.from([10, 20, 30, 40, 50, 60]);
  assert.deepEqual([...toRgba(FORMAT_RGB24, 2, 1, rgb)], [10, 20, 30, 255, 40, 50, 60, 255]);
  const rgba = Uint8Array.from([1, 2, 3, 4]);
  const out = toRgba(FORMAT_RGBA32, 1, 1, rgba);
  assert.ok(out instanceof Uint8ClampedArray);
  assert.deepEqual([...out], [1, 2, 3, 4]);
  assert.throws(() => toRgba(FORMAT_RGB24, 2, 2, rgb), RangeError);
  assert.throws(() => toRgba(FORMAT_RGBA32, 2, 1, rgba), RangeError);
  assert.equal(toRgba(FORMAT_JPEG, 1, 1, rgba), null);
  assert.equal(mimeType(FORMAT_JPEG), 'image/jpeg');
  assert.equal(mimeType(FORMAT_PNG), 'image/png');
  assert.equal(mimeType(FORMAT_RGB24), null);
  assert.equal(formatName(FORMAT_RGBA32), 'RGBA32');
});

test('frameLogLine matches the proxy log line', () => {
  const r = decodeReply(buildReply({ frame: 42, grpcUs: 16000, totalUs: 18000, backend: 'localhost:50051',
    format: FORMAT_RGB24, payload: new Uint8Array(24576) }));
  assert.equal(frameLogLine('sanders', r),
    '✅ sanders frame 42 [localhost:50051]: gRPC=16ms total=18ms size=24576 bytes');
  const e = decodeReply(buildReply({ type: MSG_ERROR, status: 14, frame: 43, totalUs: 100,
    payload: Buffer.from('no backends available') }));
  const line = frameLogLine('sanders', e);
  assert.equal(line, '❌ sanders frame 43: UNAVAILABLE (14): no backends available (attempts=0 total=0ms)');
  const f = decodeReply(buildReply({ type: MSG_ERROR, status: 5, frame: 44, attempts: 1, totalUs: 2600,
    backend: 'localhost:50052', payload: Buffer.from('unknown model "x"') }));
  assert.equal(frameLogLine('x', f), '❌ x frame 44 [localhost:50052]: NOT_FOUND (5): unknown model "x" (attempts=1 total=3ms)');
});

test('statusName covers the gRPC codes', () => {
  assert.equal(statusName(0), 'OK');
  assert.equal(statusName(3), 'INVALID_ARGUMENT');
  assert.equal(statusName(4), 'DEADLINE_EXCEEDED');
  assert.equal(statusName(8), 'RESOURCE_EXHAUSTED');
  assert.equal(statusName(16), 'UNAUTHENTICATED');
  assert.equal(statusName(99), 'STATUS_99');
});

test('SampleWindow percentiles over the most recent samples', () => {
  const w = new SampleWindow(100);
  assert.ok(Number.isNaN(w.percentile(50)));
  for (let i = 1; i <= 100; i++) w.add(i);
  assert.equal(w.percentile(50), 50);
  assert.equal(w.percentile(95), 95);
  assert.equal(w.percentile(100), 100);
  assert.equal(w.percentile(0), 1);
  for (let i = 0; i < 100; i++) w.add(1000); // the window forgets the old samples
  assert.equal(w.percentile(50), 1000);
});

test('RateMeter counts events inside its window', () => {
  const m = new RateMeter(1000);
  for (let t = 0; t < 1000; t += 40) m.mark(t);
  assert.equal(m.rate(999), 25);
  assert.equal(m.rate(1500), 12);
  assert.equal(m.rate(5000), 0);
});

test('backoffDelay doubles and caps', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 10].map((n) => backoffDelay(n)), [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
});

test('backendColor follows the reference backend\'s port tint', () => {
  // fs_render.c: hue = port * 137 mod 360.
  assert.equal(backendColor('localhost:50051'), `hsl(${(50051 * 137) % 360} 78% 64%)`);
  assert.equal(backendColor('127.0.0.1:50052'), 'hsl(204 78% 64%)');
  assert.notEqual(backendColor('a:50051'), backendColor('a:50052'));
  assert.equal(backendColor('no-port'), null);
});

// ---- v1.1: LATEST, HINT, shed / superseded, the adaptive rate ----------------------------

test('encodeRequest puts LATEST in bit 0 of the u16 flags at offset 2, refuses other bits', () => {
  const msg = encodeRequest({ requestId: 5, frame: 6, model: 'm', flags: FLAG_LATEST });
  assert.equal(FLAG_LATEST, 1);
  assert.deepEqual([...msg.subarray(0, 4)], [1, 1, 1, 0]);
  const plain = encodeRequest({ requestId: 5, frame: 6, model: 'm' });
  assert.deepEqual([...plain.subarray(2, 4)], [0, 0]);
  assert.throws(() => encodeRequest({ requestId: 5, frame: 6, model: 'm', flags: 2 }), RangeError);
  assert.throws(() => encodeRequest({ requestId: 5, frame: 6, model: 'm', flags: 0x8001 }), RangeError);
});

// A HINT built field by field as the contract's table says.
function buildHint({ healthy = 0, fpsMilli = 0, waitUs = 0, reserved1 = 0, reserved2 = 0, type = MSG_HINT, length = 16 }) {
  const out = Buffer.alloc(length);
  out.writeUInt8(type, 0);
  out.writeUInt8(reserved1, 1);
  out.writeUInt16LE(healthy, 2);
  out.writeUInt32LE(fpsMilli, 4);
  out.writeUInt32LE(waitUs, 8);
  out.writeUInt32LE(reserved2, 12);
  return out;
}

test('decodeHint reads the 16-byte HINT, including values past 2^31', () => {
  const hint = decodeHint(buildHint({ healthy: 3, fpsMilli: 12500, waitUs: 40000 }));
  assert.deepEqual(hint, { healthyBackends: 3, fpsMilli: 12500, fps: 12.5, queueWaitUs: 40000 });
  const big = decodeHint(buildHint({ healthy: 65535, fpsMilli: 0xfffffffe, waitUs: 0x80000001 }));
  assert.equal(big.healthyBackends, 65535);
  assert.equal(big.fpsMilli, 0xfffffffe);
  assert.equal(big.queueWaitUs, 0x80000001);
  // A view into a larger buffer, as a WebSocket library might hand it over.
  const outer = Buffer.concat([Buffer.from([9, 9, 9]), buildHint({ fpsMilli: 7250 })]);
  assert.equal(decodeHint(new Uint8Array(outer.buffer, outer.byteOffset + 3, 16)).fps, 7.25);
});

test('decodeHint rejects a wrong length or type; messageType tells the three apart', () => {
  assert.throws(() => decodeHint(buildHint({ length: 15 })), RangeError);
  assert.throws(() => decodeHint(Buffer.concat([buildHint({}), Buffer.from([0])])), RangeError);
  assert.throws(() => decodeHint(buildHint({ type: MSG_FRAME })), RangeError);
  assert.equal(messageType(buildHint({})), MSG_HINT);
  assert.equal(messageType(buildReply({ type: MSG_ERROR })), MSG_ERROR);
  assert.equal(messageType(new Uint8Array(0)), 0);
  // A HINT is no reply: decodeReply refuses it.
  assert.throws(() => decodeReply(buildHint({})), RangeError);
});

test('shed, superseded and a v1 proxy refusing flags are told apart by status and message', () => {
  const err = (status, message) => decodeReply(buildReply({ type: MSG_ERROR, status, payload: Buffer.from(message) }));
  assert.ok(isShed(err(8, 'overloaded')));
  assert.ok(!isShed(err(8, 'too many requests in flight'))); // the in-flight limit is not a shed
  assert.ok(!isShed(err(14, 'overloaded')));
  assert.ok(isSuperseded(err(1, 'superseded')));
  assert.ok(!isSuperseded(err(8, 'overloaded')));
  assert.ok(isFlagsRefused(err(3, 'flags must be 0')));
  assert.ok(!isFlagsRefused(err(3, 'model name is empty')));
  const frame = decodeReply(buildReply({ type: MSG_FRAME, status: 0 }));
  assert.ok(!isShed(frame) && !isSuperseded(frame) && !isFlagsRefused(frame));
});

test('adaptedFps follows the hint below the chosen rate, never above it, never below the floor', () => {
  assert.equal(adaptedFps(30, null), 30);
  assert.equal(adaptedFps(30, { fps: 12.5 }), 12.5);
  assert.equal(adaptedFps(30, { fps: 45 }), 30);
  assert.equal(adaptedFps(30, { fps: 30 }), 30);
  assert.equal(adaptedFps(30, { fps: 0 }), MIN_ADAPTED_FPS);
  assert.equal(adaptedFps(30, { fps: 0.2 }), MIN_ADAPTED_FPS);
  assert.equal(adaptedFps(30, { fps: NaN }), 30);
  assert.equal(MIN_ADAPTED_FPS, 1);
  assert.equal(adaptedFps(1, { fps: 0 }), 1);
  // With a decoded hint, end to end.
  assert.equal(adaptedFps(60, decodeHint(buildHint({ fpsMilli: 23456 }))), 23.456);
});

test('sessionUrl asks for hints on the page\'s own host', () => {
  assert.equal(sessionUrl('http:', 'localhost:8086'), 'ws://localhost:8086/ws?hints=1');
  assert.equal(sessionUrl('https:', 'example.org'), 'wss://example.org/ws?hints=1');
});

test('cacheHitRatio counts the frames of backend "cache"', () => {
  assert.ok(Number.isNaN(cacheHitRatio(new Map())));
  assert.equal(cacheHitRatio(new Map([['127.0.0.1:50051', 3], ['cache', 1]])), 0.25);
  assert.equal(cacheHitRatio(new Map([['127.0.0.1:50051', 3]])), 0);
  assert.equal(cacheHitRatio(new Map([['cache', 2]])), 1);
});

test('meanBatch: frames per backend call from /health, NaN before a call', () => {
  assert.equal(meanBatch({ total_requests: 10, frames_sent: 35 }), 3.5);
  assert.equal(meanBatch({ total_requests: 4, frames_sent: 4 }), 1);
  assert.ok(Number.isNaN(meanBatch({ total_requests: 0, frames_sent: 0 })));
  assert.ok(Number.isNaN(meanBatch({ total_requests: 3 })));
});
