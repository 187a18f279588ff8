// framegate.v1 WebSocket wire format (see docs/protocol.md, "Client contract").
// Pure functions, no DOM: the page and the Node unit tests both import this module.

export const SUBPROTOCOL = 'framegate.v1';

export const MSG_RENDER = 1;
export const MSG_FRAME = 2;
export const MSG_ERROR = 3;
export const MSG_HINT = 4; // v1.1, only with ?hints=1

// v1.1 request flag: this request supersedes the connection's requests not yet sent to a backend.
export const FLAG_LATEST = 0x0001;
export const HINT_LEN = 16;
export const STATUS_CANCELLED = 1;
export const STATUS_INVALID_ARGUMENT = 3;
export const STATUS_RESOURCE_EXHAUSTED = 8;
// The page never asks for fewer frames/s than this, whatever a hint says: a pool that recovers
// must still see requests to measure (and a 0 would stop the page for good).
export const MIN_ADAPTED_FPS = 1;

export const REQUEST_HEADER_LEN = 12;
export const REPLY_HEADER_LEN = 28;
export const MODEL_MAX_LEN = 255;

export const FORMAT_RGB24 = 1;
export const FORMAT_RGBA32 = 2;
export const FORMAT_JPEG = 3;
export const FORMAT_PNG = 4;

const FORMAT_NAMES = { 1: 'RGB24', 2: 'RGBA32', 3: 'JPEG', 4: 'PNG' };

const STATUS_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND',
  'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED',
  'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8');

export function statusName(code) {
  return STATUS_NAMES[code] ?? `STATUS_${code}`;
}

export function formatName(format) {
  return FORMAT_NAMES[format] ?? `FORMAT_${format}`;
}

// One RENDER request: 12-byte little-endian header, model name, input bytes; flags 0 or
// FLAG_LATEST. Throws RangeError for what the proxy would reject anyway (empty or too long model
// name, an unknown flag).
export function encodeRequest({ requestId, frame, model, input = new Uint8Array(0), flags = 0 }) {
  const modelBytes = utf8Encoder.encode(model);
  if (modelBytes.length < 1 || modelBytes.length > MODEL_MAX_LEN) {
    throw new RangeError(`model name must be 1..${MODEL_MAX_LEN} bytes of UTF-8`);
  }
  if ((flags & ~FLAG_LATEST) !== 0) throw new RangeError(`unknown request flags ${flags}`);
  const out = new Uint8Array(REQUEST_HEADER_LEN + modelBytes.length + input.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, MSG_RENDER);
  view.setUint8(1, modelBytes.length);
  view.setUint16(2, flags, true);
  view.setUint32(4, requestId >>> 0, true);
  view.setUint32(8, frame >>> 0, true);
  out.set(modelBytes, REQUEST_HEADER_LEN);
  out.set(input, REQUEST_HEADER_LEN + modelBytes.length);
  return out;
}

function asBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('reply must be an ArrayBuffer or a typed array');
}

// Decodes a FRAME or ERROR reply. `payload` is a view into `data` (no copy).
// Throws RangeError when the message is malformed (short, unknown type, backend past the end).
export function decodeReply(data) {
  const bytes = asBytes(data);
  if (bytes.length < REPLY_HEADER_LEN) {
    throw new RangeError(`reply is ${bytes.length} bytes, shorter than the ${REPLY_HEADER_LEN}-byte header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint8(0);
  if (type !== MSG_FRAME && type !== MSG_ERROR) {
    throw new RangeError(`unknown reply type ${type}`);
  }
  const backendLen = view.getUint8(1);
  const payloadStart = REPLY_HEADER_LEN + backendLen;
  if (payloadStart > bytes.length) {
    throw new RangeError('backend address runs past the end of the reply');
  }
  const reply = {
    type,
    status: view.getUint16(2, true),
    requestId: view.getUint32(4, true),
    frame: view.getUint32(8, true),
    grpcUs: view.getUint32(12, true),
    totalUs: view.getUint32(16, true),
    width: view.getUint16(20, true),
    height: view.getUint16(22, true),
    format: view.getUint8(24),
    attempts: view.getUint8(25),
    backend: utf8Decoder.decode(bytes.subarray(REPLY_HEADER_LEN, payloadStart)),
    payload: bytes.subarray(payloadStart),
    message: '',
  };
  if (type === MSG_ERROR) reply.message = utf8Decoder.decode(reply.payload);
  return reply;
}

// The type byte of a message from the proxy (FRAME, ERROR or HINT); 0 when empty.
export function messageType(data) {
  const bytes = asBytes(data);
  return bytes.length ? bytes[0] : 0;
}

// Decodes a HINT (v1.1): 16 bytes, type 4, u16 healthy backends at 2, u32 sustainable frames/s
// x1000 at 4, u32 queue wait in microseconds at 8. Throws RangeError when malformed.
export function decodeHint(data) {
  const bytes = asBytes(data);
  if (bytes.length !== HINT_LEN) throw new RangeError(`HINT is ${bytes.length} bytes, not ${HINT_LEN}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint8(0) !== MSG_HINT) throw new RangeError(`type ${view.getUint8(0)} is not a HINT`);
  const fpsMilli = view.getUint32(4, true);
  return {
    healthyBackends: view.getUint16(2, true),
    fpsMilli,
    fps: fpsMilli / 1000,
    queueWaitUs: view.getUint32(8, true),
  };
}

// ERROR 8 "overloaded": the proxy shed the request (it could not start within its deadline).
export function isShed(reply) {
  return reply.type === MSG_ERROR && reply.status === STATUS_RESOURCE_EXHAUSTED && reply.message === 'overloaded';
}

// ERROR 1 CANCELLED: a later LATEST request superseded this one before it reached a backend.
export function isSuperseded(reply) {
  return reply.type === MSG_ERROR && reply.status === STATUS_CANCELLED;
}

// A v1 proxy refuses any request flag (ERROR 3 "flags must be 0"): the page then sends without.
export function isFlagsRefused(reply) {
  return reply.type === MSG_ERROR && reply.status === STATUS_INVALID_ARGUMENT && /flags/.test(reply.message);
}

// The frames/s to send at: the rate the user chose, lowered to the hinted sustainable rate when
// there is a hint (never above the user's choice, never below MIN_ADAPTED_FPS).
export function adaptedFps(chosenFps, hint) {
  if (!hint || !Number.isFinite(hint.fps)) return chosenFps;
  return Math.min(chosenFps, Math.max(MIN_ADAPTED_FPS, hint.fps));
}

// The WebSocket URL of the page's session: /ws on the page's own host, asking for HINTs.
export function sessionUrl(pageProtocol, host) {
  const scheme = pageProtocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${host}/ws?hints=1`;
}

// RGB24 / RGBA32 pixels as the RGBA bytes ImageData wants; null for compressed formats.
// Throws RangeError when the payload size does not match width x height.
export function toRgba(format, width, height, payload) {
  const pixels = width * height;
  if (format === FORMAT_RGBA32) {
    if (payload.length !== pixels * 4) throw new RangeError(`RGBA32 ${width}x${height} needs ${pixels * 4} bytes, got ${payload.length}`);
    return new Uint8ClampedArray(payload); // a copy: ImageData must own whole, aligned storage
  }
  if (format === FORMAT_RGB24) {
    if (payload.length !== pixels * 3) throw new RangeError(`RGB24 ${width}x${height} needs ${pixels * 3} bytes, got ${payload.length}`);
    const rgba = new Uint8ClampedArray(pixels * 4);
    for (let src = 0, dst = 0; dst < rgba.length; src += 3, dst += 4) {
      rgba[dst] = payload[src];
      rgba[dst + 1] = payload[src + 1];
      rgba[dst + 2] = payload[src + 2];
      rgba[dst + 3] = 255;
    }
    return rgba;
  }
  return null;
}

export function mimeType(format) {
  if (format === FORMAT_JPEG) return 'image/jpeg';
  if (format === FORMAT_PNG) return 'image/png';
  return null;
}

function ms(us) {
  return Math.round(us / 1000);
}

// The per-frame console line, the same shape as the proxy's log:
// ✅ sanders frame 42 [localhost:50051]: gRPC=16ms total=18ms size=24576 bytes
export function frameLogLine(model, reply) {
  const backend = reply.backend || '-';
  if (reply.type === MSG_FRAME) {
    return `✅ ${model} frame ${reply.frame} [${backend}]: gRPC=${ms(reply.grpcUs)}ms total=${ms(reply.totalUs)}ms size=${reply.payload.length} bytes`;
  }
  const where = reply.backend ? ` [${reply.backend}]` : '';
  return `❌ ${model} frame ${reply.frame}${where}: ${statusName(reply.status)} (${reply.status}): ${reply.message || 'no message'} (attempts=${reply.attempts} total=${ms(reply.totalUs)}ms)`;
}
