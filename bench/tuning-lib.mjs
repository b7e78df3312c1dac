// What bench/tuning.mjs and bench/scaling.mjs share: the test functions, one candlelab study with the
// sampler's own time (and each trial's), and Optuna's side (bench/python/tuning_optuna.py) run from Node.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { root, cl, now } from './lib.mjs';

const { tuning } = cl;

// The same formulas as bench/python/tuning_optuna.py.
const HARTMANN_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]];
const HARTMANN_P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991], [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]];
const HARTMANN_ALPHA = [1.0, 1.2, 3.0, 3.2];
export const FUNCTIONS = {
  branin: {
    bounds: [[-5, 10], [0, 15]], minimum: 0.397887357729739,
    f: ([x1, x2]) => (x2 - (5.1 / (4 * Math.PI ** 2)) * x1 ** 2 + (5 / Math.PI) * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x1) + 10,
  },
  hartmann6: {
    bounds: Array(6).fill([0, 1]), minimum: -3.32236801141551,
    f: (x) => -HARTMANN_ALPHA.reduce((sum, alpha, i) => sum + alpha * Math.exp(-x.reduce((s, xj, j) => s + HARTMANN_A[i][j] * (xj - 1e-4 * HARTMANN_P[i][j]) ** 2, 0)), 0),
  },
  rosenbrock4: {
    bounds: Array(4).fill([-5, 10]), minimum: 0,
    f: (x) => x.slice(0, 3).reduce((sum, xi, i) => sum + 100 * (x[i + 1] - xi ** 2) ** 2 + (xi - 1) ** 2, 0),
  },
};
export const NAMES = Object.keys(FUNCTIONS);

const SAMPLER_METHODS = ['inferRelativeSearchSpace', 'sampleRelative', 'sampleIndependent', 'beforeTrial', 'afterTrial', 'isExhausted'];

/** A sampler whose methods add their time to `clock.ms` (the sampler's own work, without the study and storage). */
function timedSampler(sampler, clock) {
  for (const name of SAMPLER_METHODS) {
    const method = sampler[name];
    if (typeof method !== 'function') continue;
    sampler[name] = (...args) => {
      const t = now();
      try {
        return method.apply(sampler, args);
      } finally {
        clock.ms += now() - t;
      }
    };
  }
  return sampler;
}

/**
 * One study: best-so-far per trial and the sampler's own time (suggest calls count, the formula does not).
 * samplerMs: optimize wall time minus time in the formula. trialMs[k]: the same for trial k alone (from the
 * end of trial k−1's formula to the end of trial k's: tell, ask, suggests). inSamplerMs: time inside the
 * sampler's methods only.
 */
export async function runCandlelab(name, makeSampler, seed, nTrials) {
  const { f, bounds } = FUNCTIONS[name];
  const clock = { ms: 0 };
  const study = tuning.createStudy({ sampler: timedSampler(makeSampler(), clock), seed });
  let spent = 0;
  const ends = []; // [end of the formula, time in the formula] per trial
  const start = now();
  await study.optimize((trial) => {
    const x = bounds.map(([low, high], i) => trial.suggestFloat(`x${i}`, low, high));
    const t = now();
    const value = f(x);
    const end = now();
    spent += end - t;
    ends.push([end, end - t]);
    return value;
  }, { nTrials });
  const samplerMs = now() - start - spent;
  const trialMs = ends.map(([end, formula], k) => end - (k ? ends[k - 1][0] : start) - formula);
  let best = Infinity;
  return { best: study.trials.map((t) => (best = Math.min(best, t.value))), samplerMs, trialMs, inSamplerMs: clock.ms, trials: study.trials.length, complete: study.trials.filter((t) => t.state === 'COMPLETE').length };
}

/**
 * Optuna's TPESampler (or RandomSampler) on the same functions, in one Python process. config:
 * {functions, seeds, trials, multivariate: [false, true], samplers?: ['tpe', 'random']}.
 * Returns {version, runs} or {error}.
 */
export function runOptuna(functions, seeds, trials, multivariate, extra = {}) {
  const python = spawnSync('/usr/bin/python3', [path.join(root, 'bench', 'python', 'tuning_optuna.py'), JSON.stringify({ functions, seeds, trials, multivariate, ...extra })], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (python.status !== 0) return { error: /No module named 'optuna'/.test(python.stderr) ? 'not installed — apt-get install python3-optuna' : `failed: ${python.stderr.trim().split('\n').pop()}` };
  return JSON.parse(python.stdout.trim().split('\n').pop());
}
