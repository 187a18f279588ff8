#!/usr/bin/env node
// An @grpc/grpc-js client for the interop tests. It makes the calls and prints what it
// observed as one JSON object on stdout; test_grpcjs.py asserts on it.
//
//   NODE_PATH=<build>/node_modules_root/node_modules node grpcjs_client.js calls ADDR
//       Render, RenderBatch, ListModels, Health Check (+ Watch), an unknown model,
//       a too-short deadline, a queued-behind call with a long deadline.
//   ... grpcjs_client.js load ADDR CONCURRENCY TOTAL
//       TOTAL Render calls, CONCURRENCY in flight at any time, each reply checked
//       (frame echo, 24576-byte RGB24 image).
//   ... grpcjs_client.js loading ADDR
//       against a server still loading its model: Health, Render, Watch until SERVING, Render.
//       ADDR "-": print "ready" once the modules are loaded, then read ADDR from stdin (so
//       the test starts the server only then, and node's start-up time does not count).
//   ... grpcjs_client.js burst ADDR N
//       N Render calls at once; prints how many ended with each status code.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_DIR = path.join(process.env.FG_SOURCE_DIR || path.join(__dirname, '..', '..'), 'proto');

function load(file) {
  const def = protoLoader.loadSync(file, {
    includeDirs: [PROTO_DIR], keepCase: true, longs: Number, enums: String, defaults: true,
  });
  return grpc.loadPackageDefinition(def);
}

const frames = load('framegate/v1/frames.proto').framegate.v1;
const health = load('grpc/health/v1/health.proto').grpc.health.v1;

function deadline(ms) {
  return new Date(Date.now() + ms);
}

// Promise of {code, reply}: code 0 with the reply, or the gRPC status code.
function unary(client, method, req, ms) {
  return new Promise((resolve) => {
    client[method](req, { deadline: deadline(ms) }, (err, reply) => {
      resolve(err ? { code: err.code, details: err.details } : { code: 0, reply });
    });
  });
}

function summary(r) {
  if (r.code !== 0) return { code: r.code };
  const x = r.reply;
  return {
    code: 0, frame: x.frame, size: x.image.length, format: x.format,
    width: x.width, height: x.height, inference_us: x.inference_us,
  };
}

function watchStatuses(addr, wanted, ms) {
  return new Promise((resolve) => {
    const client = new health.Health(addr, grpc.credentials.createInsecure());
    const seen = [];
    const call = client.Watch({ service: '' }, { deadline: deadline(ms) });
    const finish = (extra) => {
      call.cancel();
      client.close();
      resolve({ statuses: seen, ...extra });
    };
    call.on('data', (m) => {
      seen.push(m.status);
      if (seen.length >= wanted) finish({});
    });
    call.on('error', (e) => { if (seen.length < wanted) finish({ code: e.code }); });
  });
}

async function calls(addr) {
  const client = new frames.FrameService(addr, grpc.credentials.createInsecure());
  const hc = new health.Health(addr, grpc.credentials.createInsecure());
  const out = {};
  out.render = summary(await unary(client, 'Render',
    { model: 'sanders', frame: 4242, input: Buffer.alloc(1600, 0x40), session: 'js' }, 5000));
  const batch = await unary(client, 'RenderBatch',
    { requests: [9, 8, 7].map((f) => ({ model: 'sanders', frame: f })) }, 5000);
  out.batch = batch.code === 0 ? batch.reply.replies.map((reply) => summary({ code: 0, reply })) : { code: batch.code };
  const models = await unary(client, 'ListModels', {}, 5000);
  out.models = models.code === 0 ? models.reply.models : { code: models.code };
  const hs = await unary(hc, 'Check', { service: '' }, 5000);
  out.health = hs.code === 0 ? hs.reply.status : hs.code;
  const hs2 = await unary(hc, 'Check', { service: 'framegate.v1.FrameService' }, 5000);
  out.health_service = hs2.code === 0 ? hs2.reply.status : hs2.code;
  out.not_found = (await unary(client, 'Render', { model: 'nobody', frame: 1 }, 5000)).code;
  // Queue one frame, then ask for another with a deadline shorter than the wait.
  const slow = unary(client, 'Render', { model: 'sanders', frame: 1 }, 5000);
  out.deadline = (await unary(client, 'Render', { model: 'sanders', frame: 2 }, 5)).code;
  out.slow = summary(await slow);
  out.watch = await watchStatuses(addr, 1, 2000);
  client.close();
  hc.close();
  return out;
}

async function loadRun(addr, concurrency, total) {
  const client = new frames.FrameService(addr, grpc.credentials.createInsecure());
  let next = 0;
  let ok = 0;
  const errors = {};
  let wrong = 0;
  const t0 = process.hrtime.bigint();
  async function worker() {
    while (next < total) {
      const frame = next++;
      const r = await unary(client, 'Render', { model: 'sanders', frame }, 30000);
      if (r.code !== 0) errors[r.code] = (errors[r.code] || 0) + 1;
      else if (r.reply.frame !== frame || r.reply.image.length !== 24576 || r.reply.format !== 'IMAGE_FORMAT_RGB24') wrong++;
      else ok++;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  client.close();
  return { ok, wrong, errors, seconds, rate: ok / seconds };
}

async function loading(addr) {
  const client = new frames.FrameService(addr, grpc.credentials.createInsecure());
  const hc = new health.Health(addr, grpc.credentials.createInsecure());
  const out = {};
  const hs = await unary(hc, 'Check', { service: '' }, 5000);
  out.health_before = hs.code === 0 ? hs.reply.status : hs.code;
  out.render_before = (await unary(client, 'Render', { model: 'sanders', frame: 1 }, 5000)).code;
  const t0 = Date.now();
  out.watch = await watchStatuses(addr, 2, 10000);
  if (out.watch.code === grpc.status.UNIMPLEMENTED) {
    for (;;) {  // no Watch: poll Check
      const r = await unary(hc, 'Check', { service: '' }, 1000);
      if (r.code === 0 && r.reply.status === 'SERVING') break;
      if (Date.now() - t0 > 10000) break;
      await new Promise((res) => setTimeout(res, 50));
    }
  }
  out.serving_after_ms = Date.now() - t0;
  const hs2 = await unary(hc, 'Check', { service: '' }, 5000);
  out.health_after = hs2.code === 0 ? hs2.reply.status : hs2.code;
  out.render_after = summary(await unary(client, 'Render', { model: 'sanders', frame: 2 }, 5000));
  client.close();
  hc.close();
  return out;
}

async function burst(addr, n) {
  const client = new frames.FrameService(addr, grpc.credentials.createInsecure());
  await unary(client, 'ListModels', {}, 5000);  // connected before the burst
  const results = await Promise.all(Array.from({ length: n },
    (_, frame) => unary(client, 'Render', { model: 'sanders', frame }, 10000)));
  client.close();
  const codes = {};
  for (const r of results) codes[r.code] = (codes[r.code] || 0) + 1;
  return { codes };
}

function readLine() {
  return new Promise((resolve) => {
    let buf = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        process.stdin.pause();
        resolve(buf.slice(0, nl).trim());
      }
    });
  });
}

async function main() {
  const args = process.argv.slice(2);
  if (args[1] === '-') {
    process.stdout.write('ready\n');
    args[1] = await readLine();
  }
  const [mode, addr, a, b] = args;
  let out;
  if (mode === 'calls') out = await calls(addr);
  else if (mode === 'load') out = await loadRun(addr, Number(a), Number(b));
  else if (mode === 'loading') out = await loading(addr);
  else if (mode === 'burst') out = await burst(addr, Number(a));
  else {
    process.stderr.write('usage: grpcjs_client.js calls ADDR | load ADDR CONCURRENCY TOTAL | loading ADDR | burst ADDR N\n');
    process.exit(2);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`grpcjs_client: ${e.stack}\n`);
  process.exit(1);
});
