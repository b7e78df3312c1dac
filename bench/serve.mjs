#!/usr/bin/env node
// Prediction endpoint benchmark (printed figures, not tests). Run: npm run bench
//   `candlelab serve` (a child process, as a user starts it) answering POST /api/predict, measured by a
//   client in this process over kept-alive sockets, side by side with:
//     - the machine's floor: a bare fastify route that parses the same JSON body and answers a constant;
//     - the endpoint a Python user would write: FastAPI + uvicorn + pandas features + python-xgboost, on
//       the same model (bench/python/serve_fastapi.py), when python3-fastapi and python3-uvicorn are installed.
//   Cases: one prediction (the model's minimum candles: its warm-up + 1) and a batch (1,000 candles, every
//   row answered), each at 1 and 16 concurrent clients: p50/p99 latency and throughput.
//   Also in-process: the prediction itself (features + model + strategy) and one ONNX Runtime row.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { root, cl, now, fmt } from './lib.mjs';

const REQUESTS = Number(process.env.BENCH_SERVE_REQUESTS ?? 3000);
const NAME = 'quickstart-BTC-USDT-1h';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'candlelab-bench-serve-'));
const workspace = { root: dir, dataDir: path.join(dir, 'data'), modelsDir: path.join(dir, 'models'), runsDir: path.join(dir, 'runs') };
const env = { ...process.env, CANDLELAB_DATA_DIR: workspace.dataDir, CANDLELAB_MODELS_DIR: workspace.modelsDir, CANDLELAB_RUNS_DIR: workspace.runsDir };
const children = [];

const rank = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];

/** Start a server process; resolves with its URL (the first stdout line matching http://…). */
function startServer(command, args, options = {}) {
  const child = spawn(command, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], ...options });
  children.push(child);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const url = /https?:\/\/[\w.:[\]]+/.exec(line)?.[0];
      if (url) resolve(url);
    });
    child.once('exit', (code) => reject(new Error(`${command} exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`)));
  });
}

/** Wait until GET /health answers (uvicorn prints nothing on stdout). */
async function waitHealthy(url, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not become healthy`);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function post(url, body) {
  return new Promise((resolve, reject) => {
    const request = http.request(`${url}/api/predict`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk) => (text += chunk));
      response.on('end', () => (response.statusCode === 200 ? resolve(text) : reject(new Error(`${response.statusCode}: ${text.slice(0, 200)}`))));
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** `requests` POSTs from `concurrency` clients: latency per request (ms) and throughput (requests/s). */
async function load(url, bodies, requests, concurrency) {
  for (let i = 0; i < 50; i++) await post(url, bodies[i % bodies.length]); // warm-up
  const latencies = [];
  let next = 0;
  const started = now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        const body = bodies[next++ % bodies.length];
        const t = now();
        await post(url, body);
        latencies.push(now() - t);
      }
    }),
  );
  const seconds = (now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { p50: rank(latencies, 0.5), p99: rank(latencies, 0.99), rps: requests / seconds };
}

const rowsOf = (candles, from, to) => {
  const out = [];
  const [o, h, l, c, v] = ['open', 'high', 'low', 'close', 'volume'].map((k) => candles.column(k));
  for (let i = from; i < to; i++) out.push({ time: candles.time[i], open: o[i], high: h[i], low: l[i], close: c[i], volume: v[i] });
  return out;
};

try {
  console.log(`\ncandlelab serve bench · quickstart model (XGBoost, 12 features, 3 classes), ${REQUESTS.toLocaleString('en-US')} requests per case`);
  await cl.runSpec(path.join(root, 'specs', 'quickstart.json'), { overrides: ['data.bars=4000', 'model.params.rounds=100'], workspace, progress: 'quiet', log: () => {} });
  new cl.registry.ModelRegistry(workspace.modelsDir).promote(NAME, 1, 'production');
  const market = cl.data.generateSyntheticCandles({ seed: 11, bars: 6000, timeframe: '1h', start: '2024-01-01T00:00:00Z' });

  // ——— in process: the prediction without HTTP, and one ONNX Runtime row ———
  const setup = await cl.trading.resolveTradingSetup({ model: `${NAME}@1`, workspace });
  const served = cl.serve.createServedVersion(setup);
  const minimum = served.minCandles;
  const single = (k) => market.slice(1000 + k, 1000 + k + minimum);
  const inProcess = [];
  for (let k = 0; k < 2000; k++) {
    const t = now();
    await served.predict(single(k % 500));
    if (k >= 200) inProcess.push(now() - t);
  }
  inProcess.sort((a, b) => a - b);
  // one-row scoring on the real feature rows of the sample market (varied rows: the branch predictor
  // cannot learn one path)
  const names = setup.model.featureNames;
  const featureFrame = cl.runner.buildFeatures(setup.context, market).frame;
  const featureRows = [];
  for (let i = 500; i < market.length; i++) featureRows.push({ values: Float32Array.from(names, (name) => featureFrame.column(name)[i]), rows: 1, cols: names.length });
  const onnx = [];
  for (let k = 0; k < 5500; k++) {
    const t = now();
    await setup.model.predict(featureRows[k % featureRows.length]);
    if (k >= 500) onnx.push(now() - t);
  }
  onnx.sort((a, b) => a - b);
  // the compiled trees, both forms (generated code; the flat-array walker), each as serve calls them
  // (predictSync: a new output array per row) and allocation-free (predictRow into a reused buffer);
  // 200,000 timed rows after 20,000 of warm-up, every row timed (GC pauses included)
  const json = JSON.parse(new TextDecoder().decode(setup.model.nativeJson));
  const trees = json.learner.gradient_booster.model.trees;
  const nodes = trees.reduce((sum, tree) => sum + tree.left_children.length, 0);
  const timeRows = (fn) => {
    const N = 200_000, W = 20_000;
    const lat = new Float64Array(N);
    for (let k = 0; k < W + N; k++) {
      const t = now();
      fn(featureRows[k % featureRows.length]);
      const d = now() - t;
      if (k >= W) lat[k - W] = d;
    }
    lat.sort();
    return lat;
  };
  const out = new Float32Array(setup.model.classes?.length ?? 1);
  const forms = {};
  const formLabel = { complete: 'complete trees', code: 'generated code', flat: 'flat walker   ' };
  for (const form of ['complete', 'code', 'flat']) {
    const trees = cl.models.compileXgboostTrees(json, { form });
    forms[form] = {
      sync: timeRows((row) => trees.predict(row)),
      row: timeRows((row) => trees.predictRow(row.values, out)),
      trees,
    };
  }
  const compiled = timeRows((row) => setup.model.predictSync(row));
  let diff = 0;
  for (const r of featureRows.slice(0, 2000)) {
    const a = await setup.model.predict(r);
    for (const b of [setup.model.predictSync(r), forms.flat.trees.predict(r), forms.code.trees.predict(r)]) for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  const us = (sorted, q) => fmt(rank(sorted, q) * 1000, 2);
  console.log(`in process: one prediction over ${minimum} candles (streamed features + model + strategy + stop levels) p50 ${fmt(rank(inProcess, 0.5) * 1000, 0)} µs, p99 ${fmt(rank(inProcess, 0.99) * 1000, 0)} µs`);
  console.log(`one row of the model (${trees.length} trees, ${nodes.toLocaleString('en-US')} nodes; ${fmt(compiled.length, 0)} rows timed after warm-up, GC pauses included):`);
  console.log(`   ONNX Runtime (onnxruntime-node)              p50 ${us(onnx, 0.5).padStart(7)} µs  p99 ${us(onnx, 0.99).padStart(8)} µs  p99.9 ${us(onnx, 0.999).padStart(8)} µs`);
  console.log(`   model.predictSync (what serve and sessions use) p50 ${us(compiled, 0.5).padStart(7)} µs  p99 ${us(compiled, 0.99).padStart(8)} µs  p99.9 ${us(compiled, 0.999).padStart(8)} µs`);
  for (const form of ['complete', 'code', 'flat']) {
    const f = forms[form];
    console.log(`   ${formLabel[form]}: predict (new array)     p50 ${us(f.sync, 0.5).padStart(7)} µs  p99 ${us(f.sync, 0.99).padStart(8)} µs  p99.9 ${us(f.sync, 0.999).padStart(8)} µs`);
    console.log(`   ${formLabel[form]}: predictRow (reused out) p50 ${us(f.row, 0.5).padStart(7)} µs  p99 ${us(f.row, 0.99).padStart(8)} µs  p99.9 ${us(f.row, 0.999).padStart(8)} µs`);
  }
  console.log(`   parity: max |Δ| compiled trees vs ONNX Runtime over 2,000 rows ${diff.toExponential(1)} (must be ≤ 1e-6: ${diff <= 1e-6 ? 'yes' : 'NO'}); aim p99 ≤ 10 µs: ${rank(compiled, 0.99) * 1000 <= 10 ? 'met' : 'not met'} (predictSync), ONNX p99 / compiled p99 ${fmt(rank(onnx, 0.99) / rank(compiled, 0.99), 0)}×`);

  // ——— the servers ———
  const candlelabUrl = await startServer(path.join(root, 'node_modules', '.bin', 'candlelab'), ['serve', '--model', NAME, '--port', '0', '--no-served-log']);
  const floorSource = `
    const app = require('fastify')({ logger: false, bodyLimit: 8 * 1024 * 1024 });
    app.post('/api/predict', async () => ({ signal: 'FLAT', confidence: 0.5 }));
    app.post('/echo', async () => ({ ok: 1 }));
    app.get('/health', async () => ({ status: 'ok' }));
    app.listen({ host: '127.0.0.1', port: 0 }).then((url) => console.log(url));`;
  const floorUrl = await startServer(process.execPath, ['-e', floorSource], { cwd: root });
  let peerUrl;
  const modelFile = path.join(workspace.modelsDir, NAME, 'versions', '1', 'model.json');
  try {
    const port = 20000 + (process.pid % 20000);
    const peer = spawn('/usr/bin/python3', [path.join(root, 'bench', 'python', 'serve_fastapi.py'), modelFile, String(port), '0.45'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(peer);
    let peerError = '';
    peer.stderr.setEncoding('utf8').on('data', (chunk) => (peerError += chunk));
    const exited = new Promise((_, reject) => peer.once('exit', (code) => reject(new Error(`exited ${code}: ${peerError.trim().split('\n').slice(-1)[0]}`))));
    await Promise.race([waitHealthy(`http://127.0.0.1:${port}`), exited]);
    peerUrl = `http://127.0.0.1:${port}`;
  } catch (error) {
    console.log(`   (the FastAPI peer is not available: ${error.message}; install python3-fastapi python3-uvicorn)`);
  }

  // the HTTP round trip itself on this machine: a tiny body to a route that does nothing
  {
    const tiny = [];
    const postTiny = () => new Promise((resolve, reject) => {
      const request = http.request(`${floorUrl}/echo`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': 2 } }, (response) => response.on('data', () => {}).on('end', resolve));
      request.on('error', reject);
      request.end('{}');
    });
    for (let i = 0; i < 3000; i++) {
      const t = now();
      await postTiny();
      if (i >= 300) tiny.push(now() - t);
    }
    tiny.sort((a, b) => a - b);
    console.log(`the machine's HTTP round trip (a 2-byte body to a fastify route that does nothing, keep-alive): p50 ${fmt(rank(tiny, 0.5), 3)} ms, p99 ${fmt(rank(tiny, 0.99), 3)} ms`);
  }

  // ——— correctness: candlelab and the peer on the same windows ———
  const singleBodies = Array.from({ length: 200 }, (_, k) => JSON.stringify({ candles: rowsOf(market, 1000 + 7 * k, 1000 + 7 * k + minimum) }));
  const batchBodies = Array.from({ length: 20 }, (_, k) => JSON.stringify({ candles: rowsOf(market, 2000 + 50 * k, 3000 + 50 * k), all: true }));
  if (peerUrl) {
    let maxDiff = 0;
    let agree = 0;
    for (const body of singleBodies) {
      const a = JSON.parse(await post(candlelabUrl, body));
      const b = JSON.parse(await post(peerUrl, body));
      maxDiff = Math.max(maxDiff, ...a.prediction.map((p, i) => Math.abs(p - b.prediction[i])));
      if (a.signal === b.signal) agree++;
    }
    console.log(`same answers: candlelab vs FastAPI peer on ${singleBodies.length} windows: max |Δ probability| ${maxDiff.toExponential(2)}, same signal ${agree}/${singleBodies.length}`);
  }

  // ——— latency and throughput ———
  const cases = [
    { name: `one prediction (${minimum} candles)`, bodies: singleBodies, requests: REQUESTS },
    { name: 'a batch (1,000 candles, every row)', bodies: batchBodies, requests: Math.max(100, Math.round(REQUESTS / 10)) },
  ];
  const servers = [
    ['candlelab serve', candlelabUrl],
    ['bare fastify (floor)', floorUrl],
    ...(peerUrl ? [['FastAPI + pandas + xgboost', peerUrl]] : []),
  ];
  for (const c of cases) {
    for (const concurrency of [1, 16]) {
      console.log(`\n${c.name}, ${concurrency} concurrent client(s):`);
      const results = {};
      for (const [label, url] of servers) {
        // the peer parses 1,000-candle bodies but answers the last row only: the batch case is candlelab's
        const r = await load(url, c.bodies, c.requests, concurrency);
        results[label] = r;
        console.log(`   ${label.padEnd(28)} p50 ${fmt(r.p50, 3).padStart(8)} ms  p99 ${fmt(r.p99, 3).padStart(8)} ms  ${fmt(r.rps, 0).padStart(7)} req/s`);
      }
      const ours = results['candlelab serve'];
      const floor = results['bare fastify (floor)'];
      const peer = results['FastAPI + pandas + xgboost'];
      console.log(`   → candlelab at ${fmt((100 * ours.rps) / floor.rps, 0)}% of the floor's throughput${peer ? `; ${fmt(ours.rps / peer.rps, 1)}× the FastAPI peer's throughput, p99 ${fmt(peer.p99 / ours.p99, 1)}× lower` : ''}${concurrency === 1 && c === cases[0] ? `; aim p99 < 1 ms: ${ours.p99 < 1 ? 'met' : 'not met'}` : ''}`);
    }
  }
} finally {
  agent.destroy();
  for (const child of children) child.kill('SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
}
