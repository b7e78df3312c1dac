#!/usr/bin/env node
// LSTM training bench (printed figures, not a test). Run: npm run bench, or node bench/lstm.mjs
//   LSTM(64) over windows of 60 rows × 32 features, 3 classes, batch 64, Adam, 20k samples per epoch:
//   seconds per epoch on each tfjs backend that works here, and the same network in PyTorch on CPU.
// Environment: BENCH_LSTM_SAMPLES (default 20000), BENCH_LSTM_CPU_SAMPLES (default 640: the pure-JS cpu
// backend is measured on fewer samples and scaled to BENCH_LSTM_SAMPLES; the output says so).
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { root, cl, now, fmt, require } from './lib.mjs';

const { createProgress } = require('candlelab/dist/util/progress.js');
const { SeededRng } = require('candlelab/dist/util/rng.js');
const { loadTf, buildNetwork, trainNetwork } = cl.models.neural;
const { SequenceWindows } = cl.preprocessing;

const SAMPLES = Number(process.env.BENCH_LSTM_SAMPLES ?? 20_000);
const CPU_SAMPLES = Math.min(SAMPLES, Number(process.env.BENCH_LSTM_CPU_SAMPLES ?? 640));
const SEQ = 60;
const FEATURES = 32;
const UNITS = 64;
const BATCH = 64;

/** Seeded N(0, 1) features and random class labels for `samples` windows (samples + SEQ − 1 rows). */
function dataset(samples, seed) {
  const rng = new SeededRng(seed);
  const rows = samples + SEQ - 1;
  const values = new Float32Array(rows * FEATURES);
  const labels = new Float64Array(rows);
  for (let i = 0; i < values.length; i++) values[i] = rng.normal();
  for (let i = 0; i < rows; i++) labels[i] = Math.floor(rng.uniform() * 3);
  return new SequenceWindows({ values, rows, cols: FEATURES }, SEQ, labels);
}

const params = cl.models.lstmClassifier.params.parse({ seqLen: SEQ, units: UNITS, layers: 1, denseUnits: 0, batchNorm: false, dropout: 0, batchSize: BATCH });

/** Seconds for one epoch over `samples` windows on `backend` after a two-batch warm-up (validation on 64 windows, included). */
async function tfjsEpoch(backend, samples) {
  const { tf } = await loadTf(backend, (line) => console.log(`   ${line}`));
  const network = buildNetwork(tf, { architecture: 'lstm', params }, { seqLen: SEQ, features: FEATURES, outputs: 3, task: 'classification' }, 1);
  const train = dataset(samples, 1);
  const valid = dataset(64, 2);
  const options = { task: 'classification', outputs: 3, valid, epochs: 1, batchSize: BATCH, learningRate: 1e-3, patience: 0, lrPatience: 0, lrFactor: 0.5, minLearningRate: 1e-5, seed: 1 };
  // warm-up: the first step of a backend costs seconds (kernel set-up, JIT); measure steady-state epochs
  trainNetwork(tf, network.model, { ...options, train: dataset(2 * BATCH, 3) });
  const progress = createProgress(`   ${backend} epoch`, Math.ceil(samples / BATCH), process.stderr.isTTY ? 'bar' : 'quiet');
  const started = performance.now();
  const result = trainNetwork(tf, network.model, { ...options, train, progress });
  const seconds = (performance.now() - started) / 1000;
  network.model.dispose();
  return { seconds, loss: result.history[0].train };
}

console.log(`\ncandlelab LSTM bench · LSTM(${UNITS}) · sequence ${SEQ} × ${FEATURES} features · ${SAMPLES.toLocaleString('en-US')} samples · batch ${BATCH} · Adam`);
console.log(`   ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()}), load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

const results = [];
for (const backend of ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']) {
  const samples = backend === 'cpu' ? CPU_SAMPLES : SAMPLES;
  try {
    const { seconds, loss } = await tfjsEpoch(backend, samples);
    const perEpoch = (seconds * SAMPLES) / samples;
    results.push({ backend, perEpoch });
    const scaled = samples === SAMPLES ? '' : ` (measured ${fmt(seconds, 2)} s on ${samples.toLocaleString('en-US')} samples, scaled ×${fmt(SAMPLES / samples, 1)})`;
    console.log(`   tfjs ${backend.padEnd(14)} ${fmt(perEpoch, 1).padStart(7)} s/epoch${scaled}  loss ${loss.toFixed(4)}`);
  } catch (error) {
    const reason = error.message.match(/^tfjs backend '[\w-]+' is not available \([\w-]+: (.*)\); install/)?.[1] ?? error.message.split('\n')[0];
    console.log(`   tfjs ${backend.padEnd(14)}  not available: ${reason}`);
  }
}

const torch = [];
// one thread on all samples; all CPUs on a quarter of them, scaled (OpenMP threads suffer badly when
// another process holds a core, and this keeps the bench within a few minutes)
for (const [threads, samples] of [[1, SAMPLES], [os.cpus().length, Math.ceil(SAMPLES / 4)]].filter(([t], i) => i === 0 || t > 1)) {
  const run = spawnSync('/usr/bin/python3', [path.join(root, 'bench', 'python', 'lstm_torch.py'), String(samples), String(SEQ), String(FEATURES), String(UNITS), String(BATCH), '1', String(threads)], { encoding: 'utf8' });
  if (run.status !== 0) {
    console.log(`   PyTorch peer unavailable: ${(run.stderr || run.error?.message || '').trim().split('\n').pop()}`);
    break;
  }
  const peer = JSON.parse(run.stdout.trim().split('\n').pop());
  const perEpoch = (peer.seconds_per_epoch * SAMPLES) / samples;
  torch.push({ ...peer, perEpoch });
  const scaled = samples === SAMPLES ? '' : ` (measured ${fmt(peer.seconds_per_epoch, 2)} s on ${samples.toLocaleString('en-US')} samples, scaled ×${fmt(SAMPLES / samples, 1)})`;
  console.log(`   PyTorch ${peer.torch} CPU, ${threads} thread${threads > 1 ? 's' : ''}: ${fmt(perEpoch, 2).padStart(6)} s/epoch${scaled}  loss ${peer.final_loss.toFixed(4)}`);
}
if (torch.length) {
  console.log('   ratio (tfjs s/epoch ÷ PyTorch s/epoch):');
  for (const { backend, perEpoch } of results) {
    console.log(`     ${backend.padEnd(14)} ${torch.map((peer) => `${fmt(perEpoch / peer.perEpoch, 1)}× PyTorch (${peer.threads} thread${peer.threads > 1 ? 's' : ''})`).join(', ')}`);
  }
}
