#!/usr/bin/env node
// LSTM training bench (printed figures, not a test). Run: npm run bench, or node bench/lstm.mjs
//   LSTM(64) over windows of 60 rows × 32 features, 3 classes, batch 64, Adam, seconds per epoch of 20k
//   samples, for:
//   - tfjs wasm with tf.layers.lstm (before: ~15 tiny ops per time step forward, ~40 backward),
//   - tfjs wasm with candlelab's FastLSTM (after: one matMul per step, a loop over the cells, a
//     hand-written gradient; what buildNetwork uses now), from the same initial weights on the same
//     batches (the two epochs' training losses are printed side by side: they must agree),
//   - FastLSTM on the pure-JS cpu backend, and the native backends when installed,
//   - the same network in PyTorch on CPU, one thread and all threads, run alternately with ours.
//   Each figure is measured on a subset of the samples and scaled to 20k (the output says so), best of
//   N runs with the spread; wall time and process CPU time are both printed (CPU time is less disturbed
//   when other processes share the cores).
// Environment: BENCH_LSTM_SAMPLES (samples an epoch stands for, default 20000), BENCH_LSTM_MEASURE (samples
// measured for the fast paths and PyTorch, default 2560), BENCH_LSTM_SLOW_MEASURE (samples for
// tf.layers.lstm and the cpu backend, default 640), BENCH_LSTM_RUNS (best of, default 3).
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { root, cl, fmt, require } from './lib.mjs';

const { SeededRng } = require('candlelab/dist/util/rng.js');
const { loadTf, buildNetwork, trainNetwork } = cl.models.neural;
const { SequenceWindows } = cl.preprocessing;

const SAMPLES = Number(process.env.BENCH_LSTM_SAMPLES ?? 20_000);
const MEASURE = Math.min(SAMPLES, Number(process.env.BENCH_LSTM_MEASURE ?? 2560));
const SLOW_MEASURE = Math.min(SAMPLES, Number(process.env.BENCH_LSTM_SLOW_MEASURE ?? 640));
const RUNS = Math.max(1, Number(process.env.BENCH_LSTM_RUNS ?? 3));
const SEQ = 60;
const FEATURES = 32;
const UNITS = 64;
const BATCH = 64;
const AIM = 5;

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
const shape = { seqLen: SEQ, features: FEATURES, outputs: 3, task: 'classification' };

/** The network as buildNetwork makes it now (FastLSTM), or the same layers with tfjs' own LSTM and the same weights. */
function network(tf, layer) {
  const fast = buildNetwork(tf, { architecture: 'lstm', params }, shape, 1).model;
  if (layer === 'fast') return fast;
  const input = tf.input({ shape: [SEQ, FEATURES] });
  const h = tf.layers.lstm({ units: UNITS }).apply(input);
  const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 3, activation: 'softmax' }).apply(h) });
  model.setWeights(fast.getWeights());
  fast.dispose();
  return model;
}

const options = { task: 'classification', outputs: 3, epochs: 1, batchSize: BATCH, learningRate: 1e-3, patience: 0, lrPatience: 0, lrFactor: 0.5, minLearningRate: 1e-5, seed: 1 };

/** One epoch over `samples` windows from the same initial weights each run (after a warm-up), wall and CPU seconds. */
async function tfjsEpoch(backend, layer, samples) {
  const { tf } = await loadTf(backend, (line) => console.log(`   ${line}`));
  const train = dataset(samples, 1);
  const valid = dataset(64, 2);
  const model = network(tf, layer);
  const initial = model.getWeights().map((w) => w.clone());
  // warm-up: kernel set-up and the JIT; a measured epoch is a steady-state one
  trainNetwork(tf, model, { ...options, valid, train: dataset(4 * BATCH, 3) });
  model.setWeights(initial);
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const result = trainNetwork(tf, model, { ...options, valid, train });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  model.dispose();
  initial.forEach((w) => w.dispose());
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, loss: result.history[0].train };
}

function torchEpoch(threads, samples) {
  const run = spawnSync('/usr/bin/python3', [path.join(root, 'bench', 'python', 'lstm_torch.py'), String(samples), String(SEQ), String(FEATURES), String(UNITS), String(BATCH), '1', String(threads)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`PyTorch peer unavailable: ${(run.stderr || run.error?.message || '').trim().split('\n').pop()}`);
  const peer = JSON.parse(run.stdout.trim().split('\n').pop());
  return { seconds: peer.seconds_per_epoch, cpuSeconds: peer.cpu_seconds_per_epoch, loss: peer.final_loss, torch: peer.torch };
}

console.log(`\ncandlelab LSTM bench · LSTM(${UNITS}) · sequence ${SEQ} × ${FEATURES} features · ${SAMPLES.toLocaleString('en-US')} samples an epoch · batch ${BATCH} · Adam`);
console.log(`   ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()}), load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`   best of ${RUNS}; each path measured on a subset and scaled to ${SAMPLES.toLocaleString('en-US')} samples; wall s/epoch (CPU s/epoch)`);

const paths = [
  { name: 'wasm, tf.layers.lstm (before)', key: 'stock', run: () => tfjsEpoch('wasm', 'stock', SLOW_MEASURE), samples: SLOW_MEASURE },
  { name: 'wasm, FastLSTM (now)', key: 'wasm', run: () => tfjsEpoch('wasm', 'fast', MEASURE), samples: MEASURE },
  { name: 'cpu, FastLSTM', key: 'cpu', run: () => tfjsEpoch('cpu', 'fast', SLOW_MEASURE), samples: SLOW_MEASURE, once: true },
  { name: 'tensorflow (tfjs-node)', key: 'tensorflow', run: () => tfjsEpoch('tensorflow', 'fast', MEASURE), samples: MEASURE },
  { name: 'PyTorch CPU, 1 thread', key: 'torch1', run: () => torchEpoch(1, MEASURE), samples: MEASURE },
  ...(os.cpus().length > 1 ? [{ name: `PyTorch CPU, ${os.cpus().length} threads`, key: 'torchN', run: () => torchEpoch(os.cpus().length, MEASURE), samples: MEASURE }] : []),
];

// alternate the paths run by run, so a burst of load from elsewhere hits all of them alike
const runs = new Map(paths.map((p) => [p.key, []]));
const unavailable = new Map();
for (let r = 0; r < RUNS; r++) {
  for (const p of paths) {
    if (unavailable.has(p.key) || (p.once && r > 0)) continue;
    try {
      runs.get(p.key).push(await p.run());
    } catch (error) {
      const reason = error.message.match(/^tfjs backend '[\w-]+' is not available \([\w-]+: (.*)\); install/)?.[1] ?? error.message.split('\n')[0];
      unavailable.set(p.key, reason);
    }
  }
}

const figures = new Map();
for (const p of paths) {
  if (unavailable.has(p.key)) {
    console.log(`   ${p.name.padEnd(32)} not available: ${unavailable.get(p.key)}`);
    continue;
  }
  const scale = SAMPLES / p.samples;
  const list = runs.get(p.key);
  const wall = list.map((x) => x.seconds * scale).sort((a, b) => a - b);
  const cpu = list.map((x) => x.cpuSeconds * scale).sort((a, b) => a - b);
  figures.set(p.key, { wall: wall[0], cpu: cpu[0], loss: list[0].loss });
  const spread = list.length > 1 ? ` (spread ${fmt(wall[0], 1)}–${fmt(wall[wall.length - 1], 1)})` : '';
  console.log(`   ${p.name.padEnd(32)} ${fmt(wall[0], 1).padStart(7)} s/epoch${spread}  cpu ${fmt(cpu[0], 1)} s  · measured on ${p.samples.toLocaleString('en-US')} samples ×${fmt(scale, 1)}, ${list.length} run${list.length > 1 ? 's' : ''}  loss ${list[0].loss.toFixed(4)}`);
}

// correctness: the two wasm paths trained the same weights on the same batches
const stock = figures.get('stock');
const fast = figures.get('wasm');
if (stock && fast && SLOW_MEASURE === MEASURE) console.log(`   same training: epoch loss tf.layers.lstm ${stock.loss.toFixed(6)} vs FastLSTM ${fast.loss.toFixed(6)} (|Δ| ${Math.abs(stock.loss - fast.loss).toExponential(1)})`);
else if (stock && fast) {
  const check = [];
  for (const layer of ['stock', 'fast']) check.push((await tfjsEpoch('wasm', layer, 2 * BATCH)).loss);
  console.log(`   same training (one epoch of ${2 * BATCH} samples, same weights and batches): loss tf.layers.lstm ${check[0].toFixed(6)} vs FastLSTM ${check[1].toFixed(6)} (|Δ| ${Math.abs(check[0] - check[1]).toExponential(1)})`);
}
if (stock && fast) console.log(`   FastLSTM speed-up on wasm: ${fmt(stock.wall / fast.wall, 1)}× wall, ${fmt(stock.cpu / fast.cpu, 1)}× CPU time`);

const peers = ['torch1', 'torchN'].filter((k) => figures.has(k));
if (peers.length) {
  console.log(`   ratio (tfjs s/epoch ÷ PyTorch s/epoch; aim ≤ ${AIM}× PyTorch on one thread), wall (CPU):`);
  for (const p of paths.filter((q) => !q.key.startsWith('torch') && figures.has(q.key))) {
    const ours = figures.get(p.key);
    const text = peers.map((k) => `${fmt(ours.wall / figures.get(k).wall, 1)}× (${fmt(ours.cpu / figures.get(k).cpu, 1)}×) ${k === 'torch1' ? '1 thread' : `${os.cpus().length} threads`}`).join(', ');
    const verdict = figures.has('torch1') ? (ours.wall / figures.get('torch1').wall <= AIM ? '  meets the aim' : '  misses the aim') : '';
    console.log(`     ${p.name.padEnd(30)} ${text}${verdict}`);
  }
}
