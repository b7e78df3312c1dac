#!/usr/bin/env node
// Sequence-model bench (printed figures, not a test). Run: node bench/sequence-models.mjs
//   1. N-BEATS (generic, interpretable) against an LSTM on a synthetic seasonal series (periods 24 and 7,
//      a slow trend, noise σ = 0.1): test MSE of the next value and milliseconds per training epoch.
//   2. core/deepar on a target with a known per-row distribution (Gaussian, then Student-t ν = 3):
//      quantile calibration — mean |predicted − true| quantile and the empirical coverage of each level.
// Environment: BENCH_SEQ_EPOCHS (default 20).
import * as os from 'node:os';
import { cl, fmt, require } from './lib.mjs';

const { SeededRng } = require('candlelab/dist/util/rng.js');
const { normalQuantile } = require('candlelab/dist/validation/overfitting.js');
const { studentTQuantile } = require('candlelab/dist/models/neural/distributions.js');
const { nbeatsRegressor, lstmRegressor, deepar } = cl.models;
const EPOCHS = Number(process.env.BENCH_SEQ_EPOCHS ?? 20);

const matrix = (values, rows, cols) => ({ values, rows, cols });
const rowsOf = (X, a, b) => matrix(X.values.subarray(a * X.cols, b * X.cols), b - a, X.cols);

function seasonal(rows, seed) {
  const rng = new SeededRng(seed);
  const x = new Float64Array(rows + 1);
  for (let t = 0; t <= rows; t++) x[t] = Math.sin((2 * Math.PI * t) / 24) + 0.5 * Math.sin((2 * Math.PI * t) / 7) + 0.001 * t + 0.1 * rng.normal();
  const seg = (a, b) => ({ X: matrix(Float32Array.from(x.subarray(a, b)), b - a, 1), y: x.slice(a + 1, b + 1) });
  const train = Math.floor(rows * 0.6), valid = Math.floor(rows * 0.8);
  return { data: { featureNames: ['x'], train: seg(0, train), valid: seg(train, valid) }, test: seg(valid, rows) };
}

async function timedFit(definition, data, params) {
  const started = performance.now();
  const model = await definition.fit(data, definition.params.parse(params), { seed: 1 });
  const epochs = model.info.history.length;
  return { model, epochs, msPerEpoch: (performance.now() - started) / epochs };
}

console.log(`\ncandlelab sequence-model bench · ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const { data, test } = seasonal(1500, 1);
let mean = 0;
for (const v of test.y) mean += v / test.y.length;
const variance = test.y.reduce((s, v) => s + (v - mean) ** 2, 0) / test.y.length;
console.log(`1. seasonal series: ${data.train.X.rows} train rows, seqLen 48, up to ${EPOCHS} epochs; test variance ${fmt(variance, 3)}, noise floor 0.010`);
const common = { seqLen: 48, epochs: EPOCHS, batchSize: 32, learningRate: 0.003, patience: 6 };
for (const [name, definition, params] of [
  ['N-BEATS generic', nbeatsRegressor, { ...common, stackType: 'generic', stacks: 2, blocks: 2, units: 32, hiddenLayers: 2, forecastLength: 4 }],
  ['N-BEATS interpretable', nbeatsRegressor, { ...common, stackType: 'interpretable', blocks: 2, units: 32, hiddenLayers: 2, harmonics: 6, forecastLength: 4 }],
  ['LSTM(16)', lstmRegressor, { ...common, units: 16, denseUnits: 16, dropout: 0, batchNorm: false }],
]) {
  const { model, epochs, msPerEpoch } = await timedFit(definition, data, params);
  const p = await model.predict(test.X);
  let sum = 0;
  for (let i = 48; i < test.y.length; i++) sum += (p[i] - test.y[i]) ** 2;
  console.log(`   ${name.padEnd(22)} test MSE ${fmt(sum / (test.y.length - 48), 4)}  ${epochs} epochs  ${fmt(msPerEpoch, 0)} ms/epoch  ${model.info.parameters} weights`);
  model.dispose();
}

function noisy(rows, seed, nu) {
  const rng = new SeededRng(seed);
  const values = new Float32Array(rows * 2);
  for (let i = 0; i < values.length; i++) values[i] = rng.normal();
  const y = new Float64Array(rows), mu = new Float64Array(rows), sigma = new Float64Array(rows);
  for (let t = 0; t < rows; t++) {
    mu[t] = t > 0 ? 0.8 * values[(t - 1) * 2] : 0;
    sigma[t] = 0.3 + 0.4 * Math.abs(values[t * 2 + 1]);
    let e = rng.normal();
    if (nu) {
      let chi = 0;
      for (let k = 0; k < nu; k++) chi += rng.normal() ** 2;
      e /= Math.sqrt(chi / nu);
    }
    y[t] = mu[t] + sigma[t] * e;
  }
  return { X: matrix(values, rows, 2), y, mu, sigma };
}

const QUANTILES = [0.05, 0.1, 0.5, 0.9, 0.95];
console.log(`2. core/deepar calibration: y = 0.8 f0[t−1] + (0.3 + 0.4 |f1[t]|) ε, 3000 train rows, 1000 test rows, quantiles ${QUANTILES.join(', ')}`);
for (const [distribution, nu] of [['gaussian', undefined], ['student-t', 3]]) {
  const task = noisy(4500, 2, nu);
  const seg = (a, b) => ({ X: rowsOf(task.X, a, b), y: task.y.slice(a, b) });
  const { model, epochs, msPerEpoch } = await timedFit(deepar, { featureNames: ['f0', 'f1'], train: seg(0, 3000), valid: seg(3000, 3500) }, { seqLen: 3, units: 16, denseUnits: 16, epochs: EPOCHS, batchSize: 64, learningRate: 0.01, patience: 5, distribution, quantiles: QUANTILES });
  const p = await model.predict(seg(3500, 4500).X);
  const width = 1 + QUANTILES.length;
  let error = 0, count = 0, sigmaSum = 0;
  const below = QUANTILES.map(() => 0);
  for (let i = 3; i < 1000; i++) {
    const r = 3500 + i;
    sigmaSum += task.sigma[r];
    QUANTILES.forEach((q, k) => {
      const z = nu ? studentTQuantile(q, nu) : normalQuantile(q);
      error += Math.abs(p[i * width + 1 + k] - (task.mu[r] + task.sigma[r] * z));
      count++;
      if (task.y[r] < p[i * width + 1 + k]) below[k]++;
    });
  }
  const coverage = below.map((b, k) => `${QUANTILES[k]}→${fmt(b / 997, 3)}`).join(' ');
  const calibration = below.reduce((s, b, k) => s + Math.abs(b / 997 - QUANTILES[k]), 0) / QUANTILES.length;
  console.log(`   ${distribution.padEnd(10)} (true ${nu ? `t, ν = ${nu}` : 'Gaussian'}): mean |q − true q| ${fmt(error / count, 3)} (mean σ ${fmt(sigmaSum / 997, 2)}); coverage ${coverage}; mean calibration error ${fmt(calibration, 3)}; ${epochs} epochs, ${fmt(msPerEpoch, 0)} ms/epoch`);
  model.dispose();
}
