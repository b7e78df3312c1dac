#!/usr/bin/env node
// Scaling benchmark (printed figures, not a test): how cost grows with the work. Run: node bench/scaling.mjs [repeats]
//   1. the tuner's time per trial at 10, 100 and 1,000 trials: candlelab TPE (univariate, multivariate)
//      and random search on Branin (a cheap objective, so the sampler's own cost shows), Optuna 3.1's
//      TPESampler and RandomSampler side by side (Debian's python3-optuna, bench/python/tuning_optuna.py);
//      the mean per trial over the run, the cost of the last trials (the marginal cost at that history
//      size) and how much of it is inside the sampler's methods.
//   2. a walk-forward run (the runner's spec `validation` section, runStages) over 1, 2, 4, 8, 16 and 24
//      windows on the seeded sample data, rolling and expanding: seconds in total and per window, the
//      fixed part (data, features, labels before the first window; backtest and record after the last)
//      and the model fits; the fingerprint is checked equal across repeats.
// Each part says whether the growth is linear (per-unit cost at the largest size / at the smallest) and why not.
// The engine (10^5…10^7 bars) and features (10^5…10^7 rows) scale in bench/backtest.mjs and bench/features.mjs.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cl, now, fmt } from './lib.mjs';
import { runCandlelab, runOptuna } from './tuning-lib.mjs';

const { tuning } = cl;
const REPEATS = Math.max(2, Number(process.argv[2] ?? 3));
const failures = [];
const check = (ok, what) => {
  if (!ok) failures.push(what);
  return ok;
};
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const spread = (values) => `${fmt(Math.min(...values), 2)}–${fmt(Math.max(...values), 2)}`;
/** "linear" when the per-unit cost at the largest size is within 10 % of the smallest's. */
const growth = (ratio) => (ratio <= 1.1 && ratio >= 0.9 ? 'linear' : ratio > 1 ? 'super-linear' : 'sub-linear');

console.log(`candlelab scaling bench · node ${process.version} · ${os.cpus().length} × ${os.cpus()[0].model} · best of ${REPEATS}`);

// ---------------------------------------------------------------------------------------------------
// 1. The tuner: time per trial against the number of trials.
// ---------------------------------------------------------------------------------------------------
const SIZES = [10, 100, 1000];
const FUNCTION = 'branin';
/** Trials at the end of a run whose median time is the marginal cost at that history size. */
const tail = (n) => Math.min(10, n);
const SAMPLERS = {
  'TPE': { make: () => new tuning.TPESampler(), optuna: { samplers: ['tpe'], multivariate: [false] } },
  'TPE multivariate': { make: () => new tuning.TPESampler({ multivariate: true }), optuna: { samplers: ['tpe'], multivariate: [true] } },
  'random': { make: () => new tuning.RandomSampler(), optuna: { samplers: ['random'], multivariate: [false] } },
};
console.log(`\n1. tuner: time per trial in ms (study + sampler: ask, suggests, tell; the objective excluded), ${FUNCTION} 2-D`);
console.log(`   candlelab ${REPEATS} runs per size (best), Optuna in one Python process per repeat (best); TPE's first 10 trials are random in both`);
// Warm-up (JIT): the first TPE trials of a cold process cost ~3× the warm ones.
for (const { make } of Object.values(SAMPLERS)) await runCandlelab(FUNCTION, make, 99, 200);

const ours = {}; // ours[label][n] = runs
const theirs = {}; // theirs[label][n] = runs
let optunaVersion;
let optunaError;
const optunaLabel = (run) => (run.sampler === 'random' ? 'random' : run.multivariate ? 'TPE multivariate' : 'TPE');
for (let rep = 0; rep < REPEATS; rep++) {
  // ours and the peer alternate, so both see the same machine load
  for (const [label, { make }] of Object.entries(SAMPLERS)) {
    ours[label] ??= {};
    for (const n of SIZES) (ours[label][n] ??= []).push(await runCandlelab(FUNCTION, make, 0, n));
  }
  if (optunaError) continue;
  // Optuna at 1,000 trials takes ~20–40 s per sampler on this machine: one run, in the first repeat only.
  for (const n of rep === 0 ? SIZES : SIZES.filter((s) => s < 1000)) {
    const optuna = runOptuna([FUNCTION], [0], n, [false, true], { samplers: ['tpe', 'random'] });
    if (optuna.error) {
      optunaError = optuna.error;
      break;
    }
    optunaVersion = optuna.version;
    for (const run of optuna.runs) ((theirs[optunaLabel(run)] ??= {})[n] ??= []).push(run);
  }
}
if (optunaError) console.log(`   Optuna: ${optunaError}`);

/** Per size: best mean ms per trial, its spread, the marginal cost (median of the last trials), inside the sampler. */
function summarise(runs, n) {
  const means = runs.map((r) => r.samplerMs / n);
  const bestRun = runs[means.indexOf(Math.min(...means))];
  return {
    mean: Math.min(...means),
    spread: spread(means),
    marginal: Math.min(...runs.map((r) => median(r.trialMs.slice(-tail(n))))),
    inSampler: bestRun.inSamplerMs / bestRun.samplerMs,
    runs: runs.length,
  };
}
for (const [label] of Object.entries(SAMPLERS)) {
  for (const n of SIZES) {
    const runs = ours[label][n];
    check(runs.every((r) => r.trials === n && r.complete === n), `candlelab ${label} ${n} trials: every run has ${n} COMPLETE trials`);
    check(runs.every((r) => r.best.join() === runs[0].best.join()), `candlelab ${label} ${n} trials: the same best-so-far curve in every repeat (seeded)`);
    for (const r of theirs[label]?.[n] ?? []) check(r.trials === n, `Optuna ${label} ${n} trials: ${n} trials`);
  }
}
console.log(`   ${'sampler'.padEnd(28)} ${SIZES.map((n) => `${n} trials: mean (spread) · last ${tail(n)} · in sampler`.padEnd(50)).join('')}`);
const table = {};
for (const label of Object.keys(SAMPLERS)) {
  for (const [who, store] of [['candlelab', ours], ['Optuna', theirs]]) {
    if (!store[label]) continue;
    const row = Object.fromEntries(SIZES.filter((n) => store[label][n]).map((n) => [n, summarise(store[label][n], n)]));
    table[`${who} ${label}`] = row;
    console.log(`   ${`${who} ${label}`.padEnd(28)} ${SIZES.map((n) => (row[n] ? `${fmt(row[n].mean, 3)} (${row[n].spread})${row[n].runs === 1 ? ' one run' : ''} · ${fmt(row[n].marginal, 3)} · ${fmt(100 * row[n].inSampler, 0)} %` : 'n/a').padEnd(50)).join('')}`);
  }
}
if (optunaVersion) {
  console.log(`   ratio candlelab / Optuna ${optunaVersion}, mean time per trial (aim: far below 1 — the sampler must not be what a user waits for)`);
  for (const label of Object.keys(SAMPLERS)) {
    const a = table[`candlelab ${label}`];
    const b = table[`Optuna ${label}`];
    if (b) console.log(`     ${label.padEnd(26)} ${SIZES.filter((n) => b[n]).map((n) => `${n}: ${fmt(a[n].mean / b[n].mean, 3)}`).join('   ')}`);
  }
}
console.log(`   growth: mean per trial at 1,000 / at 10 (1 = total time linear in the trials); the marginal cost per trial (last trials)`);
console.log(`   at ~1,000 / at ~100 trials of history, fitted as a + b·n; and the time outside the sampler (study + storage) per trial`);
for (const [label, row] of Object.entries(table)) {
  if (!row[1000] || !row[10]) continue;
  const ratio = row[1000].mean / row[10].mean;
  const marginal = row[1000].marginal / row[100].marginal;
  const b = (row[1000].marginal - row[100].marginal) / 900;
  const a = row[100].marginal - 100 * b;
  const outside = SIZES.map((n) => row[n].mean * (1 - row[n].inSampler));
  const exponent = Math.log(marginal) / Math.log(10);
  const fit = a >= 0 ? `≈ ${fmt(a, 3)} ms + ${fmt(1000 * b, 2)} µs·n` : `∝ n^${fmt(exponent, 2)}`;
  console.log(`     ${label.padEnd(28)} ${fmt(ratio, 2).padStart(6)} ${growth(ratio).padEnd(14)} marginal ×${fmt(marginal, 2).padEnd(6)} ${fit.padEnd(26)} outside the sampler ${outside.map((ms) => fmt(ms, 3)).join(' / ')} ms`);
}
console.log(`   why: TPE fits two Parzen estimators over the n finished trials and scores 24 candidates against every kernel of both, so a`);
console.log(`   trial costs a fixed part plus O(n) (the b·n term; the "in sampler" share at 1,000 trials is that work) and a study of n trials`);
console.log(`   O(n²): the mean per trial at 1,000 trials is tens of times the one at 10. At 10 trials every TPE trial is one of the 10 random`);
console.log(`   startup trials, so that column is the random sampler's cost. Random search does not look at the history; what grows in its`);
console.log(`   cost per trial is the study's bookkeeping ("outside the sampler"): candlelab's ask scans every trial for enqueued and stale`);
console.log(`   ones, O(n) with a small constant; Optuna's study walks its trial list in Python on every ask and tell. Neither matters beside TPE.`);

// ---------------------------------------------------------------------------------------------------
// 2. Walk-forward over 1…24 windows.
// ---------------------------------------------------------------------------------------------------
const WINDOWS = [1, 2, 4, 8, 16, 24];
const TRAIN = 2000;
const TEST = 250;
const ROUNDS = 20;
const baseSpec = (bars, mode) => ({
  name: 'walk-forward-scaling',
  seed: 42,
  data: { source: 'sample', symbol: 'BTC/USDT', timeframe: '1h', seed: 42, bars },
  features: [
    { id: 'core/returns', params: { periods: [1, 4, 24] } },
    { id: 'core/rsi', params: { period: 14 } },
    { id: 'core/ema', params: { period: 20 } },
    { id: 'core/ema', params: { period: 100 } },
    { id: 'core/macd', params: { fast: 12, slow: 26, signal: 9 } },
    { id: 'core/bollinger', params: { period: 20, deviations: 2 } },
    { id: 'core/atr', params: { period: 14 } },
  ],
  label: { id: 'core/direction', params: { bars: 5, threshold: 0.005 } },
  split: { train: 0.85, valid: 0.15, test: 0.15 },
  validation: { method: 'walk-forward', train: TRAIN, test: TEST, mode },
  model: { id: 'core/xgboost', params: { rounds: ROUNDS, maxDepth: 4, learningRate: 0.1, earlyStoppingRounds: 0, threads: 1 } },
  strategy: { id: 'core/probability-threshold', params: { buyThreshold: 0.45, allowShort: false } },
  backtest: { initialCash: 10000, commissionBps: 10, slippageBps: 5 },
});
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'candlelab-scaling-'));
const workspace = { dataDir: path.join(dir, 'data'), modelsDir: path.join(dir, 'models'), runsDir: path.join(dir, 'runs') };
const contextFor = (spec, log = () => {}) => cl.createRunContext(spec, { progress: 'quiet', log, workspace });
// The first usable row (features' and labels' warm-up): the data is sized so that exactly W windows of TEST rows fit.
const warmup = (() => {
  const context = contextFor(baseSpec(3000, 'rolling'));
  const candles = cl.loadCandles(context);
  return Math.max(cl.buildFeatures(context, candles).lookback, cl.buildLabels(context, candles).lookback);
})();

/** One timed runStages: total, before the first window, the windows, after the last, model fitting; fingerprint. */
async function walkForward(context) {
  const logs = [];
  const done = [];
  const timed = { ...context, log: (line) => logs.push(now()) };
  const start = now();
  const results = await cl.runStages(timed, { onFold: () => done.push(now()) });
  const end = now();
  try {
    const record = results.validation.record;
    return {
      totalMs: end - start,
      beforeMs: logs[0] - start,
      windowsMs: done[done.length - 1] - logs[0],
      afterMs: end - done[done.length - 1],
      fitMs: results.validation.training.trainingMs,
      folds: results.validation.split.folds.length,
      trainRows: record.windows.reduce((sum, w) => sum + w.rows.train, 0),
      foldFitMs: results.validation.training.folds.map((f) => f.trainingMs),
      foldRows: record.windows.map((w) => w.rows.train),
      fingerprint: cl.runFingerprint(results.predictions, results.backtest.result.trades, cl.runner.runMetrics(results), record),
    };
  } finally {
    results.trained.model.dispose();
  }
}

const WF_REPEATS = REPEATS;
console.log(`\n2. walk-forward (runStages with spec validation: walk-forward, train ${TRAIN} bars, test ${TEST} bars per window; sample 1h data,`);
console.log(`   12 features, XGBoost ${ROUNDS} rounds depth 4, 1 thread), best of ${WF_REPEATS}; seconds`);
// Warm-up: JIT, libxgboost and ONNX Runtime loading, the sample data written to the store (the first
// timed configuration ran ~1.5× slower per window with a single warm-up run).
{
  const context = contextFor(baseSpec(warmup + TRAIN + 4 * TEST, 'rolling'));
  await cl.prepareData(context);
  for (let w = 0; w < 3; w++) await walkForward(context);
}
const wf = {};
for (const mode of ['rolling', 'expanding']) {
  wf[mode] = {};
  console.log(`   ${mode}`);
  console.log(`     ${'windows'.padStart(7)} ${'bars'.padStart(7)} ${'total'.padStart(7)} ${'spread'.padStart(12)} ${'per window'.padStart(11)} ${'fixed'.padStart(7)} ${'windows'.padStart(8)} ${'fits'.padStart(7)} ${'fit first'.padStart(10)} ${'fit last'.padStart(9)} ${'rows first'.padStart(11)} ${'rows last'.padStart(10)}  fingerprint`);
  const contexts = {};
  for (const windows of WINDOWS) {
    contexts[windows] = contextFor(baseSpec(warmup + TRAIN + windows * TEST, mode));
    await cl.prepareData(contexts[windows]);
    cl.loadCandles(contexts[windows]); // the sample is generated and stored on first use: not timed
  }
  // the repeats go round the sizes, so a slow spell of the machine does not land on one size's every run
  const byWindows = Object.fromEntries(WINDOWS.map((w) => [w, []]));
  for (let r = 0; r < WF_REPEATS; r++) for (const windows of WINDOWS) byWindows[windows].push(await walkForward(contexts[windows]));
  for (const windows of WINDOWS) {
    const bars = warmup + TRAIN + windows * TEST;
    const runs = byWindows[windows];
    const bestRun = runs.reduce((a, b) => (b.totalMs < a.totalMs ? b : a));
    const same = runs.every((r) => r.fingerprint === runs[0].fingerprint);
    check(same, `walk-forward ${mode} ${windows} windows: the same fingerprint in every repeat`);
    check(runs[0].folds === windows, `walk-forward ${mode} ${windows} windows: ${runs[0].folds} windows fitted`);
    // each window's fit, best over the repeats (the least disturbed)
    const foldFit = runs[0].foldFitMs.map((_, k) => Math.min(...runs.map((r) => r.foldFitMs[k])));
    wf[mode][windows] = { ...bestRun, foldFit };
    const s = (ms) => fmt(ms / 1000, 3).padStart(7);
    console.log(
      `     ${String(windows).padStart(7)} ${String(bars).padStart(7)} ${s(bestRun.totalMs)} ${spread(runs.map((r) => r.totalMs / 1000)).padStart(12)} ${fmt(bestRun.totalMs / windows / 1000, 3).padStart(11)} ${s(bestRun.beforeMs + bestRun.afterMs)} ${fmt(bestRun.windowsMs / 1000, 3).padStart(8)} ${s(bestRun.fitMs)} ${fmt(foldFit[0] / 1000, 3).padStart(10)} ${fmt(foldFit[windows - 1] / 1000, 3).padStart(9)} ${String(runs[0].foldRows[0]).padStart(11)} ${String(runs[0].foldRows[windows - 1]).padStart(10)}  ${runs[0].fingerprint.slice(0, 12)} ${same ? 'same ×' + WF_REPEATS : 'DIFFERS'}`,
    );
  }
  const first = wf[mode][WINDOWS[0]];
  const last = wf[mode][WINDOWS[WINDOWS.length - 1]];
  const n = WINDOWS[WINDOWS.length - 1];
  const perWindow = last.totalMs / n / first.totalMs;
  // per window, from the least disturbed figures: the fit (best of the repeats, per window) and the rest of the
  // window's work (its feature matrices, predictions, metrics: the windows' wall time minus the fits)
  const fitPerWindow = median(last.foldFit) / median(first.foldFit);
  const restMs = (run) => Math.max(0, run.windowsMs - run.fitMs) / run.folds;
  const fixed = (run) => run.beforeMs + run.afterMs;
  console.log(`     growth, per window at ${n} / at 1: total ${fmt(perWindow, 2)} (${growth(perWindow)}); the model fit (median window) ${fmt(fitPerWindow, 2)} (${growth(fitPerWindow)});`);
  console.log(`     the rest of a window's work ${fmt(restMs(first), 1)} ms at 1 window, ${fmt(restMs(last), 1)} ms at ${n}`);
  console.log(`     fixed part: ${fmt(fixed(first) / 1000, 3)} s at 1 window (${fmt(100 * fixed(first) / first.totalMs, 0)} % of the run), ${fmt(fixed(last) / 1000, 3)} s at ${n} (${fmt(100 * fixed(last) / last.totalMs, 0)} %): data, features and labels`);
  console.log(`     over all bars, then the backtest of the stitched account, the record and the last model's latency sample — it grows with the bars, not the windows`);
  const fits = last.foldFit;
  const rows = last.foldRows;
  const fitRatio = fits[n - 1] / fits[0];
  const rowRatio = rows[n - 1] / rows[0];
  if (mode === 'expanding') {
    const exponent = Math.log(fitRatio) / Math.log(rowRatio);
    console.log(`     expanding: window k trains on ${TRAIN} + k·${TEST} bars, so the last of ${n} windows fits ${rows[n - 1]} rows against ${rows[0]} (×${fmt(rowRatio, 2)}) in ×${fmt(fitRatio, 2)} the time`);
    console.log(`     (fit ∝ rows^${fmt(exponent, 2)} here: at a few thousand rows, most likely most of XGBoost's time per round does not depend on the rows).`);
    console.log(`     The growth is the model's training rows, not the runner: total time tends to O(W²) as the rows grow, and rolling windows avoid it`);
  } else {
    console.log(`     rolling: every window fits the same ${rows[0]} rows, so a constant cost per window is expected; the ${n} windows' fits (best of ${WF_REPEATS}`);
    console.log(`     each) range ${fmt(Math.min(...fits) / 1000, 3)}–${fmt(Math.max(...fits) / 1000, 3)} s, median ${fmt(median(fits) / 1000, 3)} s. The total per window falls with W by amortising the fixed part`);
  }
}
fs.rmSync(dir, { recursive: true, force: true });

console.log(`\nchecks: ${failures.length ? `FAILED — ${failures.join('; ')}` : 'every run has its trials count, the seeded tuner curves and the walk-forward fingerprints repeat, every run fitted the windows asked for'}`);
console.log('(figures from a noisy 2-core machine: remeasure on a quiet one)');
if (failures.length) process.exitCode = 1;
