#!/usr/bin/env node
// A framegate.v1.FrameService + grpc.health.v1.Health backend written with @grpc/grpc-js.
//
// A third, independent implementation of the backend contract (docs/protocol.md), so the
// proxy is tested against the official Node gRPC server too. It renders a simple RGB24
// image: a background tinted by the port and a bar whose height follows the input level
// (16-bit LE PCM), or the frame number when the input is empty.
//
//   NODE_PATH=<build>/node_modules_root/node_modules node node_frame_server.js \
//       [--host 127.0.0.1] [--port 0] [--models sanders] [--width 128] [--height 64]
//       [--infer-ms 0] [--load-ms 0] [--fail-rate 0]
//
// Once bound it prints "node_frame_server listening on HOST:PORT" on stderr. Frames are
// rendered one at a time, in arrival order (like one GPU). SIGTERM/SIGINT: graceful stop.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const FRAME_SERVICE = 'framegate.v1.FrameService';
const SERVING = 1;
const NOT_SERVING = 2;
const SERVICE_UNKNOWN = 3;
const RGB24 = 1;

function parseArgs(argv) {
  const opts = {
    host: '127.0.0.1', port: 0, models: 'sanders', width: 128, height: 64,
    'infer-ms': 0, 'load-ms': 0, 'fail-rate': 0,
  };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m || !(m[1] in opts)) usage(`unknown argument ${argv[i]}`);
    const value = m[2] !== undefined ? m[2] : argv[++i];
    if (value === undefined) usage(`--${m[1]} needs a value`);
    if (typeof opts[m[1]] === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) usage(`bad value for --${m[1]}: ${value}`);
      opts[m[1]] = n;
    } else {
      opts[m[1]] = value;
    }
  }
  if (opts['fail-rate'] > 1 || opts.width < 1 || opts.height < 1) usage('bad --fail-rate/--width/--height');
  return opts;
}

function usage(msg) {
  process.stderr.write(`node_frame_server: ${msg}\n`);
  process.exit(2);
}

function loadProto(file) {
  const def = protoLoader.loadSync(file, {
    includeDirs: [path.join(__dirname, '..', '..', 'proto')],
    keepCase: true, longs: Number, enums: Number, defaults: true,
  });
  return grpc.loadPackageDefinition(def);
}

// 0..1 loudness of the PCM input (peak), or a sawtooth of the frame number if empty.
function levelOf(input, frame) {
  const n = Math.floor(input.length / 2);
  if (n === 0) return (frame % 30) / 29;
  let peak = 0;
  for (let i = 0; i < n; i++) peak = Math.max(peak, Math.abs(input.readInt16LE(i * 2)));
  return Math.min(1, peak / 32767);
}

function render(width, height, tint, level) {
  const img = Buffer.alloc(width * height * 3);
  const x0 = Math.floor(width / 3);
  const x1 = width - x0;
  const barFrom = height - Math.round(level * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const bar = y >= barFrom && x >= x0 && x < x1;
      img[o] = bar ? 255 : tint[0];
      img[o + 1] = bar ? 255 : tint[1];
      img[o + 2] = bar ? 255 : tint[2];
    }
  }
  return img;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const frames = loadProto('framegate/v1/frames.proto').framegate.v1;
  const health = loadProto('grpc/health/v1/health.proto').grpc.health.v1;
  const models = opts.models.split(',').filter((m) => m);
  let ready = false;
  let tint = [128, 128, 128];
  const watchers = new Set();
  // The simulated GPU: a FIFO of jobs, one running at a time.
  const queue = [];
  let busy = false;

  function pump() {
    if (busy || queue.length === 0) return;
    busy = true;
    const job = queue.shift();
    setTimeout(() => {
      busy = false;
      job();
      pump();
    }, opts['infer-ms']);
  }

  function renderOne(req) {
    return new Promise((resolve, reject) => {
      if (!models.includes(req.model)) {
        return reject({ code: grpc.status.NOT_FOUND, details: `unknown model "${req.model}"` });
      }
      if (!ready) return reject({ code: grpc.status.UNAVAILABLE, details: 'model loading' });
      const t0 = process.hrtime.bigint();
      queue.push(() => {
        if (Math.random() < opts['fail-rate']) {
          return reject({ code: grpc.status.INTERNAL, details: 'injected failure (--fail-rate)' });
        }
        const image = render(opts.width, opts.height, tint, levelOf(req.input, req.frame));
        resolve({
          frame: req.frame, image, format: RGB24, width: opts.width, height: opts.height,
          inference_us: Number((process.hrtime.bigint() - t0) / 1000n),
        });
      });
      pump();
    });
  }

  function statusOf(service) {
    if (service !== '' && service !== FRAME_SERVICE) return SERVICE_UNKNOWN;
    return ready ? SERVING : NOT_SERVING;
  }

  const server = new grpc.Server();
  server.addService(frames.FrameService.service, {
    Render: (call, cb) => renderOne(call.request).then((r) => cb(null, r), (e) => cb(e)),
    RenderBatch: (call, cb) => Promise.all(call.request.requests.map(renderOne))
      .then((replies) => cb(null, { replies }), (e) => cb(e)),
    ListModels: (call, cb) => cb(null, {
      models: models.map((name) => ({ name, ready, width: opts.width, height: opts.height })),
    }),
  });
  server.addService(health.Health.service, {
    Check: (call, cb) => {
      const st = statusOf(call.request.service);
      if (st === SERVICE_UNKNOWN) return cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
      cb(null, { status: st });
    },
    Watch: (call) => {
      const w = { call, last: statusOf(call.request.service) };
      call.write({ status: w.last });
      watchers.add(w);
      call.on('cancelled', () => watchers.delete(w));
    },
  });

  server.bindAsync(`${opts.host}:${opts.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) {
      process.stderr.write(`node_frame_server: cannot bind ${opts.host}:${opts.port}: ${err.message}\n`);
      process.exit(1);
    }
    tint = [(port * 73) % 200 + 30, (port * 151) % 200 + 30, (port * 29) % 200 + 30];
    process.stderr.write(`node_frame_server listening on ${opts.host}:${port}\n`);
    setTimeout(() => {
      ready = true;
      process.stderr.write(`node_frame_server models loaded: ${models.join(',')}\n`);
      for (const w of watchers) {
        const st = statusOf(w.call.request.service);
        if (st !== w.last) { w.last = st; w.call.write({ status: st }); }
      }
    }, opts['load-ms']);
  });

  const stop = () => {
    for (const w of watchers) w.call.end();
    watchers.clear();
    server.tryShutdown(() => {
      process.stderr.write('node_frame_server stopped\n');
      process.exit(0);
    });
    setTimeout(() => server.forceShutdown(), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
