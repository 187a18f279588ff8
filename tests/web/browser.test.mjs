// End-to-end: the page at / in headless Chromium against a real framegate and three real frameservers,
// then against two Python kit backends running the torch model.
//
// Environment (set by tests/web/meson.build): FG_BUILD_DIR, FRAMESERVER, FRAMEGATE, PYTHON_BACKEND
// (backends/python/serve.py), FG_NPM_WEB (folder holding node_modules/playwright-core), CHROMIUM
// (default /usr/bin/chromium).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const BUILD_DIR = process.env.FG_BUILD_DIR;
const FRAMESERVER = process.env.FRAMESERVER;
const FRAMEGATE = process.env.FRAMEGATE;
const PYTHON_BACKEND = process.env.PYTHON_BACKEND;
const NPM_DIR = process.env.FG_NPM_WEB;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOT_DIR = path.join(BUILD_DIR || tmpdir(), 'web-screenshots');
const FRAME_LINE = /^✅ sanders frame (\d+) \[([^\]]+)\]: gRPC=\d+ms total=\d+ms size=\d+ bytes$/;

const children = new Set();
// Every process started, for the exit check at the end: framegate and frameserver must exit 0 on
// SIGTERM (a crash, another status, or a SIGKILL after the grace fails the test), except those
// a test killed on purpose.
const started = [];
const STOP_GRACE_MS = 20000; // drain (5 s) and, in a sanitizer build, LeakSanitizer's report

// Starts a program and resolves once a line of its output matches `ready` (the match is returned).
function startProcess(name, file, args, ready, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    started.push(child);
    child.expectExit = 0;
    child.label = name;
    child.output = '';
    let done = false;
    const timer = setTimeout(() => finish(new Error(`${name} not ready after ${timeoutMs} ms:\n${child.output}`)), timeoutMs);
    function finish(err, match) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve({ child, match });
    }
    const onData = (chunk) => {
      child.output += chunk.toString();
      if (done) {
        if (child.output.length > 65536) child.output = child.output.slice(-32768); // keep the tail
        return;
      }
      const match = child.output.match(ready);
      if (match) finish(null, match);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => finish(err));
    child.on('exit', (code, signal) => {
      children.delete(child);
      finish(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${child.output}`));
    });
  });
}

function startFrameserver(port = 0, format = 'rgb24', ...extra) {
  return startProcess(`frameserver:${port}`, FRAMESERVER,
    ['--host', '127.0.0.1', '--port', String(port), '--load-ms', '100', '--format', format, ...extra],
    /frameserver listening on 127\.0\.0\.1:(\d+)/);
}

function startPythonBackend() {
  return startProcess('python-backend', '/usr/bin/python3',
    [PYTHON_BACKEND, '--host', '127.0.0.1', '--port', '0', '--model', 'torch-face'],
    /framegate-backend listening on 127\.0\.0\.1:(\d+)/, 30000);
}

function launchBrowser(chromium, profile) {
  // A persistent context is how playwright takes a fresh --user-data-dir.
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

async function stopProcess(child, signal = 'SIGTERM', graceMs = STOP_GRACE_MS) {
  if (signal === 'SIGKILL') child.expectExit = null; // killed on purpose: no status to check
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const timer = setTimeout(() => {
    child.hung = true;
    child.kill('SIGKILL');
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

// Stops what still runs with SIGTERM; returns what went wrong at exit, for every process started.
async function stopAll() {
  await Promise.all([...children].map((child) => stopProcess(child)));
  const problems = [];
  for (const child of started) {
    if (child.hung) problems.push(`${child.label}: still running ${STOP_GRACE_MS} ms after SIGTERM (SIGKILLed)`);
    else if (child.expectExit !== null && child.exitCode !== child.expectExit) {
      problems.push(`${child.label}: exited ${child.exitCode ?? child.signalCode}, expected ${child.expectExit}`);
    }
  }
  return problems;
}
// The end of every test: the browser closed, every process stopped and its exit status
// checked (a failure of its own when the test passed otherwise), the profile removed.
async function endTest(t, failed, browser, profile) {
  if (browser) await browser.close().catch(() => {});
  const problems = await stopAll();
  rmSync(profile, { recursive: true, force: true });
  if (problems.length && !failed) {
    for (const child of started) t.diagnostic(`--- ${child.label} output ---\n${child.output.slice(-3000)}`);
    assert.fail(`process exit:\n${problems.join('\n')}`);
  }
}
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

// A digest of the canvas pixels plus how many distinct colours it holds.
function canvasSample(page) {
  return page.evaluate(() => {
    const canvas = document.getElementById('canvas');
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let hash = 2166136261;
    const colours = new Set();
    for (let i = 0; i < data.length; i += 4) {
      const rgb = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
      colours.add(rgb);
      hash = Math.imul(hash ^ rgb, 16777619);
    }
    return { hash: hash >>> 0, colours: colours.size, width: canvas.width, height: canvas.height };
  });
}

async function waitForHealthy(url, count, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      const body = await res.json();
      if (res.status === 200 && body.healthy_count === count) return;
      last = `${res.status} ${JSON.stringify(body)}`;
    } catch (err) {
      last = err.message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not report ${count} healthy backends in ${timeoutMs} ms: ${last}`);
}

const drawn = (page) => page.evaluate(() => window.framegate.drawn);

async function waitForMoreFrames(page, count, timeoutMs) {
  const start = await drawn(page);
  await page.waitForFunction((target) => window.framegate.drawn >= target, start + count, { timeout: timeoutMs, polling: 50 });
  return start;
}

function healthRow(page, address, healthy) {
  return page.waitForSelector(`#health-body tr[data-address="${address}"][data-healthy="${healthy}"]`, { timeout: 2000 });
}

test('the page renders frames from three backends and survives their failures', { timeout: 150000 }, async (t) => {
  assert.ok(BUILD_DIR && FRAMESERVER && FRAMEGATE && NPM_DIR, 'FG_BUILD_DIR, FRAMESERVER, FRAMEGATE and FG_NPM_WEB must be set');
  const require = createRequire(path.join(NPM_DIR, 'node_modules', 'noop.js'));
  const { chromium } = require('playwright-core');
  mkdirSync(SHOT_DIR, { recursive: true });
  const profile = mkdtempSync(path.join(tmpdir(), 'fg-chromium-'));
  let browser;
  let failed = false;
  const consoleLines = [];
  const consoleErrors = [];
  const pageErrors = [];
  try {
    // One backend sends JPEG so both drawing paths (ImageData and createImageBitmap) are used.
    const servers = await Promise.all([startFrameserver(), startFrameserver(), startFrameserver(0, 'jpeg')]);
    const ports = servers.map((s) => Number(s.match[1]));
    const addresses = ports.map((p) => `127.0.0.1:${p}`);
    const gate = await startProcess('framegate', FRAMEGATE,
      ['--ws-port', '0', '--host', '127.0.0.1', '--grpc-addrs', addresses.join(',')],
      /listening on 127\.0\.0\.1:(\d+)/);
    const url = `http://127.0.0.1:${gate.match[1]}/`;
    // Open the page once the proxy sees every backend SERVING, as a person would after the demo
    // command; a page opened earlier rightly shows the 503 of /health while the models load.
    await waitForHealthy(`${url}health`, 3, 10000);

    browser = await launchBrowser(chromium, profile);
    const page = browser.pages()[0] ?? await browser.newPage();
    page.on('console', (msg) => {
      const entry = { type: msg.type(), text: msg.text(), at: Date.now() };
      consoleLines.push(entry);
      if (entry.type === 'error') consoleErrors.push(entry);
    });
    page.on('pageerror', (err) => pageErrors.push(err.message));

    // --- load and start ---
    const response = await page.goto(url);
    assert.equal(response.status(), 200);
    assert.match(response.headers()['content-type'], /^text\/html/);
    await page.evaluate(() => { window.__sameDocument = true; });
    await page.waitForSelector('#health-body tr[data-healthy="true"]', { timeout: 10000 });
    await page.click('#toggle');
    assert.equal(await page.textContent('#toggle'), 'Stop');
    await page.waitForFunction(() => window.framegate.drawn >= 60, null, { timeout: 20000, polling: 100 });
    t.diagnostic(`drawn=${await drawn(page)} after start`);

    // --- v1.1 session: hints asked for on the URL, shed and superseded counted apart ---
    // (A v1 proxy refuses the LATEST flag once; the page then sends without it and keeps going.)
    assert.match(await page.evaluate(() => window.framegate.url), /\/ws\?hints=1$/);
    assert.equal(await page.textContent('#fig-shed'), '0', 'nothing shed by a healthy pool');
    assert.match(await page.textContent('#fig-superseded'), /^\d+$/);
    assert.equal(await page.textContent('#fig-rate'), '30', 'sending at the chosen 30 frames/s');
    assert.equal(await page.evaluate(() => window.framegate.shed), 0);
    t.diagnostic(`latest=${await page.evaluate(() => window.framegate.latest)} superseded=${await page.evaluate(() => window.framegate.superseded)} hint=${JSON.stringify(await page.evaluate(() => window.framegate.hint))}`);
    // framegate speaks v1.1: LATEST is kept on every frame, and a HINT came with the session.
    assert.equal(await page.evaluate(() => window.framegate.latest), true, 'the proxy refused LATEST');
    const hint = await page.evaluate(() => window.framegate.hint);
    assert.ok(hint && hint.healthyBackends === 3 && hint.fps > 0, `HINT: ${JSON.stringify(hint)}`);
    assert.match(await page.textContent('#fig-hint'), /^\d+(\.\d)?\/s$/);

    // --- canvas shows real, changing pictures ---
    const first = await canvasSample(page);
    assert.ok(first.colours > 4, `canvas looks blank (${first.colours} colours)`);
    await waitForMoreFrames(page, 5, 5000);
    const second = await canvasSample(page);
    assert.notEqual(second.hash, first.hash, 'canvas did not change between frames');
    const formats = await page.evaluate(() => window.framegate.drawnByFormat);
    assert.ok(formats.RGB24 > 0 && formats.JPEG > 0, `frames drawn by format: ${JSON.stringify(formats)}`);

    // --- all three backends take turns, in the console as in the proxy's log ---
    const seen = () => new Set(consoleLines.map((l) => l.text.match(FRAME_LINE)).filter(Boolean).map((m) => m[2]));
    for (let i = 0; i < 50 && addresses.some((a) => !seen().has(a)); i++) await page.waitForTimeout(100);
    assert.deepEqual([...seen()].sort(), [...addresses].sort(), 'console lines name all three backends');
    for (const address of addresses) {
      assert.ok(await page.$(`#chips li[data-address="${address}"]`), `chip for ${address}`);
      await healthRow(page, address, 'true');
    }
    assert.equal(await page.$$eval('#health-body tr[data-healthy="true"]', (rows) => rows.length), 3);
    await page.waitForTimeout(1200); // let the figures settle for the picture
    await page.screenshot({ path: path.join(SHOT_DIR, 'running.png') });
    assert.deepEqual(pageErrors, [], 'uncaught page errors');
    assert.deepEqual(consoleErrors.map((e) => e.text), [], 'console errors while everything is healthy');

    // --- one backend dies: marked unhealthy within 2 s, frames keep coming ---
    const killedAt = Date.now();
    await stopProcess(servers[0].child, 'SIGKILL');
    await healthRow(page, addresses[0], 'false');
    t.diagnostic(`unhealthy row after ${Date.now() - killedAt} ms`);
    await waitForMoreFrames(page, 30, 5000);
    const afterKill = consoleLines.filter((l) => l.at > Date.now() - 1000).map((l) => l.text.match(FRAME_LINE)).filter(Boolean);
    assert.ok(afterKill.length > 0 && afterKill.every((m) => m[2] !== addresses[0]), 'frames come from the live backends');
    await page.screenshot({ path: path.join(SHOT_DIR, 'one-down.png') });

    // --- all backends gone: the page says so, plainly ---
    await Promise.all([stopProcess(servers[1].child), stopProcess(servers[2].child)]);
    await page.waitForFunction(() => document.getElementById('overlay-title').textContent === 'No backends available'
      && document.getElementById('overlay').classList.contains('overlay-error'), null, { timeout: 10000, polling: 100 });
    assert.match(await page.innerText('#stage'), /no backends available/i);
    assert.ok(await page.isVisible('#overlay-title'));
    await page.waitForSelector('#errors-by-status li >> text=UNAVAILABLE (14)', { timeout: 2000 });
    await page.screenshot({ path: path.join(SHOT_DIR, 'no-backends.png') });

    // --- one comes back on its old port: frames resume in the same page ---
    const revived = await startFrameserver(ports[1]);
    assert.equal(Number(revived.match[1]), ports[1]);
    await waitForMoreFrames(page, 20, 15000);
    await page.waitForFunction(() => document.getElementById('overlay').classList.contains('overlay-hidden'), null, { timeout: 3000 });
    await healthRow(page, addresses[1], 'true');
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');
    await page.screenshot({ path: path.join(SHOT_DIR, 'recovered.png') });
    assert.deepEqual(pageErrors, [], 'uncaught page errors');
    // While backends are down the browser itself reports /health's 503; nothing else may be an error.
    const unexpected = consoleErrors.filter((e) => !/Failed to load resource: .*503/.test(e.text));
    assert.deepEqual(unexpected.map((e) => e.text), [], 'unexpected console errors');

    // --- the proxy itself restarts: the page says it is reconnecting, then carries on ---
    await stopProcess(gate.child);
    await page.waitForFunction(() => /reconnecting in \d/.test(document.getElementById('conn-text').textContent)
      && document.getElementById('overlay-title').textContent === 'Disconnected', null, { timeout: 5000, polling: 100 });
    await page.screenshot({ path: path.join(SHOT_DIR, 'reconnecting.png') });
    await startProcess('framegate', FRAMEGATE,
      ['--ws-port', gate.match[1], '--host', '127.0.0.1', '--grpc-addrs', addresses.join(',')],
      /listening on 127\.0\.0\.1:(\d+)/);
    await waitForMoreFrames(page, 20, 15000);
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');
    assert.deepEqual(pageErrors, [], 'uncaught page errors');
  } catch (err) {
    failed = true;
    for (const child of children) t.diagnostic(`--- ${child.label} output ---\n${child.output.slice(-3000)}`);
    throw err;
  } finally {
    await endTest(t, failed, browser, profile);
  }
});

test('the page renders frames from Python kit backends (torch-face)', { timeout: 120000 }, async (t) => {
  assert.ok(BUILD_DIR && FRAMEGATE && PYTHON_BACKEND && NPM_DIR, 'FG_BUILD_DIR, FRAMEGATE, PYTHON_BACKEND and FG_NPM_WEB must be set');
  const require = createRequire(path.join(NPM_DIR, 'node_modules', 'noop.js'));
  const { chromium } = require('playwright-core');
  mkdirSync(SHOT_DIR, { recursive: true });
  const profile = mkdtempSync(path.join(tmpdir(), 'fg-chromium-'));
  let browser;
  const consoleLines = [];
  const pageErrors = [];
  let failed = false;
  try {
    const servers = await Promise.all([startPythonBackend(), startPythonBackend()]);
    const addresses = servers.map((s) => `127.0.0.1:${s.match[1]}`);
    const gate = await startProcess('framegate', FRAMEGATE,
      ['--ws-port', '0', '--host', '127.0.0.1', '--grpc-addrs', addresses.join(',')],
      /listening on 127\.0\.0\.1:(\d+)/);
    const url = `http://127.0.0.1:${gate.match[1]}/`;
    await waitForHealthy(`${url}health`, 2, 30000);
    browser = await launchBrowser(chromium, profile);
    const page = browser.pages()[0] ?? await browser.newPage();
    page.on('console', (msg) => consoleLines.push({ type: msg.type(), text: msg.text() }));
    page.on('pageerror', (err) => pageErrors.push(err.message));
    assert.equal((await page.goto(url)).status(), 200);
    await page.waitForSelector('#health-body tr[data-healthy="true"]', { timeout: 10000 });
    await page.click('#toggle');
    await page.waitForFunction(() => window.framegate.drawn >= 40, null, { timeout: 30000, polling: 100 });
    const sample = await canvasSample(page);
    assert.ok(sample.colours > 4, `canvas looks blank (${sample.colours} colours)`);
    const formats = await page.evaluate(() => window.framegate.drawnByFormat);
    assert.ok(formats.RGB24 >= 40, `frames drawn by format: ${JSON.stringify(formats)}`);
    const seen = new Set(consoleLines.map((l) => l.text.match(FRAME_LINE)).filter(Boolean).map((m) => m[2]));
    assert.deepEqual([...seen].sort(), [...addresses].sort(), 'console lines name both Python backends');
    await page.screenshot({ path: path.join(SHOT_DIR, 'python-torch.png') });
    assert.deepEqual(pageErrors, [], 'uncaught page errors');
    assert.deepEqual(consoleLines.filter((l) => l.type === 'error').map((l) => l.text), [], 'console errors');
    // SIGTERM drains a Python backend and it exits 0; the page keeps drawing from the other
    const exited = new Promise((resolve) => servers[0].child.once('exit', (code) => resolve(code)));
    servers[0].child.kill('SIGTERM');
    assert.equal(await exited, 0, 'a drained Python backend exits 0');
    await waitForMoreFrames(page, 20, 10000);
  } catch (err) {
    failed = true;
    for (const child of children) t.diagnostic(`--- ${child.label} output ---\n${child.output.slice(-3000)}`);
    throw err;
  } finally {
    await endTest(t, failed, browser, profile);
  }
});

// A CA and a certificate for 127.0.0.1 made with the openssl CLI in dir; returns the paths and
// the base64 SHA-256 of the certificate's public key, which Chromium is told to trust
// (--ignore-certificate-errors-spki-list) instead of installing the CA in a profile.
function makeCerts(dir) {
  const sh = (cmd) => execFileSync('sh', ['-c', cmd], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  sh('openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=browser test CA"');
  sh('openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1"');
  writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  sh('openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext');
  const spki = sh('openssl x509 -pubkey -noout -in server.pem | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64').trim();
  return { ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key'), spki };
}

test('the page over https renders frames through wss, grpcs behind (TLS on both sides)', { timeout: 90000 }, async (t) => {
  assert.ok(BUILD_DIR && FRAMESERVER && FRAMEGATE && NPM_DIR, 'FG_BUILD_DIR, FRAMESERVER, FRAMEGATE and FG_NPM_WEB must be set');
  const require = createRequire(path.join(NPM_DIR, 'node_modules', 'noop.js'));
  const { chromium } = require('playwright-core');
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-tls-'));
  const profile = mkdtempSync(path.join(tmpdir(), 'fg-chromium-'));
  let browser;
  try {
    const certs = makeCerts(dir);
    const server = await startProcess('frameserver:tls', FRAMESERVER,
      ['--host', '127.0.0.1', '--port', '0', '--load-ms', '100', '--tls-cert', certs.cert, '--tls-key', certs.key],
      /listening on 127\.0\.0\.1:(\d+)/);
    const address = `127.0.0.1:${server.match[1]}`;
    const gate = await startProcess('framegate:tls', FRAMEGATE,
      ['--ws-port', '0', '--host', '127.0.0.1', '--grpc-addrs', address, '--tls-cert', certs.cert,
        '--tls-key', certs.key, '--backend-tls', '--backend-ca', certs.ca],
      /listening on 127\.0\.0\.1:(\d+)/);
    const url = `https://127.0.0.1:${gate.match[1]}/`;
    // Node's fetch trusts only its own CAs: wait for the backend in the proxy's log instead.
    for (let i = 0; i < 100 && !/127\.0\.0\.1:\d+ healthy/.test(gate.child.output); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(gate.child.output, /127\.0\.0\.1:\d+ healthy/, 'the TLS backend became healthy');

    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        `--ignore-certificate-errors-spki-list=${certs.spki}`],
    });
    const page = browser.pages()[0] ?? await browser.newPage();
    const pageErrors = [];
    const consoleErrors = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => { if (msg.type() === 'error') consoleErrors.push(msg.text()); });
    const sockets = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    const response = await page.goto(url);
    assert.equal(response.status(), 200);
    assert.equal(await page.evaluate(() => location.protocol), 'https:');
    await page.waitForSelector('#health-body tr[data-healthy="true"]', { timeout: 10000 });
    await page.click('#toggle');
    await page.waitForFunction(() => window.framegate.drawn >= 40, null, { timeout: 20000, polling: 100 });
    assert.ok(sockets.length >= 1 && sockets.every((u) => u.startsWith('wss://')), `WebSocket URLs: ${sockets}`);
    const sample = await canvasSample(page);
    assert.ok(sample.colours > 4, `canvas looks blank (${sample.colours} colours)`);
    assert.deepEqual(pageErrors, [], 'uncaught page errors');
    assert.deepEqual(consoleErrors, [], 'console errors');
    t.diagnostic(`drawn=${await drawn(page)} over wss`);
    await browser.close();
    browser = null;
    // Both servers stop cleanly on SIGTERM (exit status 0).
    for (const child of [gate.child, server.child]) {
      await stopProcess(child, 'SIGTERM', 8000);
      assert.equal(child.exitCode, 0, `${child.label} exit status ${child.exitCode ?? child.signalCode}`);
    }
  } catch (err) {
    for (const child of children) t.diagnostic(`--- ${child.label} output ---\n${child.output.slice(-3000)}`);
    throw err;
  } finally {
    if (browser) await browser.close().catch(() => {});
    await stopAll();
    rmSync(profile, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the page slows to the rate the proxy hints at, and keeps drawing', { timeout: 90000 }, async (t) => {
  assert.ok(BUILD_DIR && FRAMESERVER && FRAMEGATE && NPM_DIR, 'FG_BUILD_DIR, FRAMESERVER, FRAMEGATE and FG_NPM_WEB must be set');
  const require = createRequire(path.join(NPM_DIR, 'node_modules', 'noop.js'));
  const { chromium } = require('playwright-core');
  const profile = mkdtempSync(path.join(tmpdir(), 'fg-chromium-'));
  let browser;
  let failed = false;
  try {
    // One backend of 100 ms: the pool renders 10 frames/s, less than the page's 30.
    const server = await startFrameserver(0, 'rgb24', '--infer-ms', '100');
    const gate = await startProcess('framegate', FRAMEGATE,
      ['--ws-port', '0', '--host', '127.0.0.1', '--grpc-addrs', `127.0.0.1:${server.match[1]}`,
        '--log-frames', 'off'],
      /listening on 127\.0\.0\.1:(\d+)/);
    const url = `http://127.0.0.1:${gate.match[1]}/`;
    await waitForHealthy(`${url}health`, 1, 10000);
    browser = await launchBrowser(chromium, profile);
    const page = browser.pages()[0] ?? await browser.newPage();
    assert.equal((await page.goto(url)).status(), 200);
    await page.waitForSelector('#health-body tr[data-healthy="true"]', { timeout: 10000 });
    await page.click('#toggle');
    // The proxy measures the backend, hints about 10 frames/s, and the page follows.
    await page.waitForFunction(() => window.framegate.hint && window.framegate.hint.fps < 20
      && window.framegate.sendFps < 20, null, { timeout: 20000, polling: 100 });
    const hint = await page.evaluate(() => window.framegate.hint);
    const rate = await page.evaluate(() => window.framegate.sendFps);
    t.diagnostic(`hint ${JSON.stringify(hint)}, sending at ${rate}/s`);
    assert.ok(rate <= Math.max(1, hint.fps) + 1e-9, `sending at ${rate}/s above the hinted ${hint.fps}/s`);
    // The tile follows on its next refresh.
    await page.waitForFunction(() => Number(document.querySelector('#fig-rate').textContent) < 20,
      null, { timeout: 2000, polling: 50 });
    await waitForMoreFrames(page, 10, 10000); // still drawing, at the rate the pool renders
  } catch (err) {
    failed = true;
    for (const child of children) t.diagnostic(`--- ${child.label} output ---\n${child.output.slice(-3000)}`);
    throw err;
  } finally {
    await endTest(t, failed, browser, profile);
  }
});
