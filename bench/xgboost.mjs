#!/usr/bin/env node
// XGBoost training benchmark (printed figures, not a test). Run: npm run bench, or node bench/xgboost.mjs [rows] [rounds]
//   200k rows × 50 features (the features bench's 50 standard columns on synthetic 1m candles),
//   SELL/HOLD/BUY labels, the same parameters on both sides: candlelab's libxgboost binding (koffi →
//   libxgboost 1.7) against Python's xgboost (Debian's python3-xgboost, the same C++ library), run side
//   by side from this script. Both time DMatrix creation + training; the train log-loss must match.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { STANDARD_FEATURES } from './standard-features.mjs';
import { root, cl, now, fmt } from './lib.mjs';


const ROWS = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 100);
const REPEAT = Number(process.env.BENCH_XGB_REPEAT ?? 3);

console.log(`candlelab xgboost bench · node ${process.version} · ${os.cpus().length} × ${os.cpus()[0].model} · libxgboost ${cl.models.libxgboostVersion()}`);
const candles = cl.data.generateSyntheticCandles({ seed: 8, timeframe: '1m', bars: ROWS + 400 });
const set = cl.features.computeFeatures(candles, STANDARD_FEATURES, cl.createRegistry());
const labels = cl.labels.directionLabels(candles.column('close'), 5, 0.001);
const start = set.lookback;
const X = cl.validation.featureMatrix(set.frame, start, start + ROWS);
const y = Float64Array.from(labels.subarray(start, start + ROWS));
console.log(`   ${fmt(X.rows, 0)} rows × ${X.cols} features, ${ROUNDS} rounds, classes ${[0, 1, 2].map((c) => `${(100 * y.filter((v) => v === c).length / y.length).toFixed(0)}%`).join('/')}`);

const params = { objective: 'multi:softprob', num_class: 3, eval_metric: 'mlogloss', max_depth: 6, eta: 0.1, subsample: 0.8, colsample_bytree: 0.8, min_child_weight: 1, tree_method: 'hist', max_bin: 256, nthread: 2, seed: 1, verbosity: 0 };
// Alternate the two sides (candlelab, Python, candlelab, …) so drifting machine load hits both alike.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'candlelab-bench-xgb-'));
fs.writeFileSync(path.join(dir, 'X.f32'), Buffer.from(X.values.buffer, X.values.byteOffset, X.values.byteLength));
fs.writeFileSync(path.join(dir, 'y.f32'), Buffer.from(Float32Array.from(y).buffer));
let tsMs = Infinity;
let tsLoss;
let py = { ms: Infinity };
const tsRuns = [];
const pyRuns = [];
let pythonError;
for (let r = 0; r < REPEAT; r++) {
  const t = now();
  const train = new cl.models.DMatrix(X, y, undefined, params.nthread);
  const booster = cl.models.Booster.create([train], params);
  for (let round = 0; round < ROUNDS; round++) booster.update(round, train);
  tsRuns.push(now() - t);
  tsMs = Math.min(tsMs, tsRuns[tsRuns.length - 1]);
  tsLoss = booster.evaluate(ROUNDS - 1, [['train', train]])['train-mlogloss'];
  booster.free();
  train.free();
  if (pythonError) continue;
  const python = spawnSync('/usr/bin/python3', [path.join(root, 'bench', 'python', 'xgboost_train.py'), path.join(dir, 'X.f32'), path.join(dir, 'y.f32'), String(X.rows), String(X.cols), String(ROUNDS), '1', JSON.stringify(params)], { encoding: 'utf8' });
  if (python.status !== 0) pythonError = /No module named 'xgboost'/.test(python.stderr) ? 'not installed — apt-get install python3-xgboost' : `failed: ${python.stderr.trim().split('\n').pop()}`;
  else {
    const result = JSON.parse(python.stdout.trim().split('\n').pop());
    pyRuns.push(result.ms);
    if (result.ms < py.ms) py = result;
  }
}
fs.rmSync(dir, { recursive: true, force: true });
const spread = (runs) => `runs ${fmt(Math.min(...runs), 0)}–${fmt(Math.max(...runs), 0)} ms`;
console.log(`\n   candlelab (koffi → libxgboost): ${fmt(tsMs, 0)} ms  (${fmt(tsMs / ROUNDS, 1)} ms/round), train log-loss ${tsLoss.toFixed(6)}   (best of ${REPEAT}; ${spread(tsRuns)})`);
if (pythonError) console.log(`   Python xgboost: ${pythonError}`);
else {
  console.log(`   Python xgboost ${py.version}:        ${fmt(py.ms, 0)} ms  (${fmt(py.ms / ROUNDS, 1)} ms/round), train log-loss ${py.train_loss.toFixed(6)}   (best of ${REPEAT}; ${spread(pyRuns)})`);
  console.log(`   ratio candlelab / Python: ${fmt(tsMs / py.ms, 3)} (aim ≤ 1.05)   same model: ${Math.abs(py.train_loss - tsLoss) < 1e-5 ? 'yes' : 'NO'}`);
}

// The plugin's full fit: per-round validation, early stopping bookkeeping, JSON + ONNX export, ORT session.
{
  const cut = Math.floor(ROWS * 0.85);
  const rows = (from, to) => ({ values: X.values.subarray(from * X.cols, to * X.cols), rows: to - from, cols: X.cols });
  const data = { featureNames: set.names, classes: ['SELL', 'HOLD', 'BUY'], train: { X: rows(0, cut), y: y.subarray(0, cut) }, valid: { X: rows(cut, ROWS), y: y.subarray(cut) } };
  const t = now();
  const model = await cl.models.xgboostClassifier.fit(data, cl.models.xgboostClassifier.params.parse({ rounds: ROUNDS, maxDepth: 6, learningRate: 0.1, earlyStoppingRounds: 0 }), { seed: 1 });
  console.log(`   plugin fit (train ${fmt(cut, 0)} rows + validation every round + ONNX export): ${fmt(now() - t, 0)} ms`);
  // one-row scoring of this larger model (serve's bench has the quickstart model): ONNX Runtime against
  // the trees in JavaScript, both forms, into a reused buffer; every row timed after warm-up
  const json = JSON.parse(new TextDecoder().decode(model.nativeJson));
  const nodes = json.learner.gradient_booster.model.trees.reduce((sum, tree) => sum + tree.left_children.length, 0);
  const testRows = Array.from({ length: 2000 }, (_, i) => ({ values: X.values.slice((cut + i) * X.cols, (cut + i + 1) * X.cols), rows: 1, cols: X.cols }));
  const rank = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  const show = (label, lat) => {
    lat.sort();
    console.log(`     ${label.padEnd(40)} p50 ${fmt(rank(lat, 0.5) * 1000, 2).padStart(7)} µs  p99 ${fmt(rank(lat, 0.99) * 1000, 2).padStart(7)} µs`);
  };
  const onnx = new Float64Array(20_000);
  for (let k = -2000; k < onnx.length; k++) {
    const t0 = now();
    await model.predict(testRows[(k + 2000) % testRows.length]);
    if (k >= 0) onnx[k] = now() - t0;
  }
  console.log(`   one row of this model (${json.learner.gradient_booster.model.trees.length} trees, ${fmt(nodes, 0)} nodes, ${fmt(onnx.length, 0)} rows timed):`);
  show('ONNX Runtime', onnx);
  const out = new Float32Array(3);
  let diff = 0;
  const label = { complete: 'complete trees', code: 'generated code', flat: 'flat walker' };
  for (const form of ['complete', 'code', 'flat']) {
    const trees = cl.models.compileXgboostTrees(json, { form });
    const lat = new Float64Array(100_000);
    for (let k = -10_000; k < lat.length; k++) {
      const row = testRows[(k + 10_000) % testRows.length];
      const t0 = now();
      trees.predictRow(row.values, out);
      if (k >= 0) lat[k] = now() - t0;
    }
    show(`${label[form]} (predictRow, reused out)`, lat);
    for (const row of testRows) {
      const a = await model.predict(row);
      const b = trees.predict(row);
      for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
    }
  }
  console.log(`     parity: max |Δ| vs ONNX Runtime over ${fmt(testRows.length, 0)} rows ${diff.toExponential(1)} (≤ 1e-6: ${diff <= 1e-6 ? 'yes' : 'NO'}); predictSync uses the ${label[cl.models.compileXgboostTrees(json).form]} form for this model; aim p99 ≤ 10 µs`);
  model.dispose();
}
