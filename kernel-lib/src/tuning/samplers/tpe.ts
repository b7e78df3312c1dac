import { ConfigError } from '../../errors';
import { distributionsEqual, isSingle, toExternal, toInternal, type Distribution, type ParamValue } from '../distributions';
import { lastStep, type FrozenTrial, type StudyView, type TrialState } from '../frozen-trial';
import { ParzenEstimator, type ParzenEstimatorParameters } from './parzen-estimator';
import { sampleUniform } from './random';
import type { Sampler } from './sampler';
import { trialRng } from './trial-rng';

export type TPESamplerOptions = {
  /** Random sampling until this many trials are COMPLETE or PRUNED (default 10). */
  nStartupTrials?: number;
  /** Candidates drawn from l(x) per suggestion; the one maximising l(x)/g(x) wins (default 24). */
  nEiCandidates?: number;
  /** How many of n observations form the "good" group l(x) (default min(⌈0.1·n⌉, 25)). */
  gamma?: (n: number) => number;
  /** Observation weights, oldest first (default `defaultWeights`). */
  weights?: (n: number) => Float64Array;
  considerPrior?: boolean;
  priorWeight?: number;
  considerMagicClip?: boolean;
  considerEndpoints?: boolean;
  /** Sample all parameters of the intersection search space jointly (default false). */
  multivariate?: boolean;
  /**
   * Treat RUNNING trials as having the worst possible value (default true). They then land in g(x),
   * steering concurrent trials away from each other's parameters. Only trials running alongside the
   * one being sampled count, so a sequential study (nJobs 1, one process) is unaffected. With it, a draw
   * also never repeats the parameters of a trial running alongside while one of its `nEiCandidates`
   * candidates differs from them.
   */
  constantLiar?: boolean;
  /** Default: the study's seed. */
  seed?: number;
  /**
   * 'optuna-3.1' (default): Optuna 3.1's kernel log density, which leaves out the −log σ term of the
   * truncated normal (optuna#5109; Optuna 3.5 added it). 'normalized': with the term. The default is
   * kept because it is the algorithm Optuna 3.1 runs and it did better on bench/tuning.mjs (median
   * regret over 30 seeds at 100 trials: Branin 0.043 vs 0.056, Hartmann-6 0.20 vs 0.31, Rosenbrock-4 36 vs 105).
   */
  kernelDensity?: 'optuna-3.1' | 'normalized';
};

/** Optuna's default_gamma: the best 10 % of the observations, at most 25. */
export function defaultGamma(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

/** Optuna's default_weights: 1 for the last 25 observations, a linear ramp from 1/n for the older ones. */
export function defaultWeights(n: number): Float64Array {
  if (n < 25) return new Float64Array(n).fill(1);
  const weights = new Float64Array(n).fill(1);
  const ramp = n - 25;
  for (let i = 0; i < ramp; i++) weights[i] = ramp === 1 ? 1 / n : 1 / n + (i * (1 - 1 / n)) / (ramp - 1);
  return weights;
}

/**
 * Tree-structured Parzen Estimator, following Optuna 3.1's TPESampler (optuna/samplers/_tpe):
 *
 * - the first `nStartupTrials` (10) trials are random (the RandomSampler's draws for the same seed);
 * - then the observations — COMPLETE trials by value, PRUNED trials by their last reported value and
 *   ranked after complete ones, deeper-pruned first (Optuna sorts by (−last step, value)); RUNNING ones
 *   last under the constant liar — are split into the best γ(n) = min(⌈0.1 n⌉, 25) and the rest;
 * - a Parzen estimator is fitted to each group (see ParzenEstimator: prior weight 1, magic clip on,
 *   endpoints off, Optuna's default_weights) and the best of `nEiCandidates` (24) draws from the good
 *   one by log l(x) − log g(x) is returned.
 *
 * Univariate (default): each parameter on its own, over the trials that have it (conditional spaces
 * work naturally). Multivariate: the parameters every finished trial shares (the intersection search
 * space) are sampled jointly at the start of the trial; the others fall back to univariate sampling.
 *
 * Differences from Optuna: the random state of each draw comes from (seed, trial number, parameter),
 * not one generator per sampler; one objective only (use NSGAIISampler for several; Optuna 3.1 would
 * run MOTPE); the constant liar is on by default. The kernel density is Optuna 3.1's, see `kernelDensity`.
 *
 * What stays identical across nJobs (and processes): the random startup draws of each trial number,
 * and any draw given the same finished and running trials. The TPE draws themselves depend on which
 * trials had finished, and which ran alongside, when each trial started — as in Optuna.
 */
export class TPESampler implements Sampler {
  private readonly nStartupTrials: number;
  private readonly nEiCandidates: number;
  private readonly gamma: (n: number) => number;
  private readonly multivariate: boolean;
  private readonly constantLiar: boolean;
  private readonly seed: number | undefined;
  private readonly parzen: ParzenEstimatorParameters;

  constructor(options: TPESamplerOptions = {}) {
    this.nStartupTrials = options.nStartupTrials ?? 10;
    this.nEiCandidates = options.nEiCandidates ?? 24;
    this.gamma = options.gamma ?? defaultGamma;
    this.multivariate = options.multivariate ?? false;
    this.constantLiar = options.constantLiar ?? true;
    this.seed = options.seed;
    if (!Number.isInteger(this.nStartupTrials) || this.nStartupTrials < 0) throw new ConfigError(`TPESampler: nStartupTrials must be an integer ≥ 0, got ${options.nStartupTrials}`);
    if (!Number.isInteger(this.nEiCandidates) || this.nEiCandidates < 1) throw new ConfigError(`TPESampler: nEiCandidates must be an integer ≥ 1, got ${options.nEiCandidates}`);
    if (options.kernelDensity !== undefined && options.kernelDensity !== 'optuna-3.1' && options.kernelDensity !== 'normalized') {
      throw new ConfigError(`TPESampler: kernelDensity must be 'optuna-3.1' or 'normalized', got '${String(options.kernelDensity)}'`);
    }
    this.parzen = {
      considerPrior: options.considerPrior ?? true,
      priorWeight: options.priorWeight ?? 1,
      considerMagicClip: options.considerMagicClip ?? true,
      considerEndpoints: options.considerEndpoints ?? false,
      weights: options.weights ?? defaultWeights,
      multivariate: this.multivariate,
      unscaledLogPdf: (options.kernelDensity ?? 'optuna-3.1') === 'optuna-3.1',
    };
  }

  inferRelativeSearchSpace(study: StudyView): Record<string, Distribution> {
    if (!this.multivariate) return {};
    const space: Record<string, Distribution> = {};
    for (const [name, distribution] of Object.entries(intersectionSearchSpace(study.getTrials(['COMPLETE', 'PRUNED'])))) {
      if (!isSingle(distribution)) space[name] = distribution;
    }
    return space;
  }

  sampleRelative(study: StudyView, trial: FrozenTrial, searchSpace: Record<string, Distribution>): Record<string, ParamValue> {
    if (Object.keys(searchSpace).length === 0) return {};
    this.assertSingleObjective(study);
    const picked = this.sampleTpe(study, trial, searchSpace, `#relative`);
    return picked ?? {};
  }

  sampleIndependent(study: StudyView, trial: FrozenTrial, name: string, distribution: Distribution): ParamValue {
    this.assertSingleObjective(study);
    const picked = this.sampleTpe(study, trial, { [name]: distribution }, name);
    if (picked) return picked[name];
    return sampleUniform(distribution, trialRng(this.seed ?? study.seed, trial.number, name));
  }

  /** One TPE draw over `searchSpace`, or undefined while in the startup phase. */
  private sampleTpe(study: StudyView, trial: FrozenTrial, searchSpace: Record<string, Distribution>, stream: string): Record<string, ParamValue> | undefined {
    const names = Object.keys(searchSpace);
    const states: TrialState[] = this.constantLiar ? ['COMPLETE', 'PRUNED', 'RUNNING'] : ['COMPLETE', 'PRUNED'];
    const sign = study.directions[0] === 'maximize' ? -1 : 1;
    const trials = study.getTrials(states);
    // Rank keys (step key, loss): complete trials first by loss, then pruned ones deepest first, running last.
    const stepKey = new Float64Array(trials.length);
    const loss = new Float64Array(trials.length);
    const columns = names.map(() => new Float64Array(trials.length));
    let count = 0;
    let n = 0;
    for (const other of trials) {
      if (other.state === 'COMPLETE') {
        if (other.values === undefined) continue;
        stepKey[count] = -Infinity;
        loss[count] = sign * other.values[0];
      } else if (other.state === 'PRUNED') {
        const step = lastStep(other);
        if (step === undefined) {
          stepKey[count] = 1;
          loss[count] = 0;
        } else {
          const value = other.intermediateValues[step];
          stepKey[count] = -step;
          loss[count] = Number.isNaN(value) ? Infinity : sign * value;
        }
      } else {
        if (other.trialId === trial.trialId) continue; // the trial being sampled is no observation
        stepKey[count] = Infinity;
        loss[count] = sign * Infinity;
      }
      if (stepKey[count] < Infinity) n++;
      for (let p = 0; p < names.length; p++) {
        const distribution = other.distributions[names[p]];
        columns[p][count] = distribution && names[p] in other.params ? toInternal(distribution, other.params[names[p]]) : NaN;
      }
      count++;
    }
    if (n < this.nStartupTrials) return undefined;

    // The best γ(n) by (step key, loss), ties to the older trial: a stable sort's first γ(n), found by selection.
    const nBelow = Math.min(this.gamma(n), count);
    const precedes = (a: number, b: number): boolean => stepKey[a] < stepKey[b] || (stepKey[a] === stepKey[b] && compareLoss(loss[a], loss[b]) < 0);
    const selected: number[] = [];
    for (let i = 0; i < count && nBelow > 0; i++) {
      if (selected.length === nBelow && !precedes(i, selected[nBelow - 1])) continue;
      let at = selected.length;
      while (at > 0 && precedes(i, selected[at - 1])) at--;
      selected.splice(at, 0, i);
      if (selected.length > nBelow) selected.pop();
    }
    const isBelow = new Uint8Array(count);
    for (const i of selected) isBelow[i] = 1;
    // A trial counts as an observation when it has every parameter of the space.
    const observations = (below: boolean): Record<string, Float64Array> => {
      const kept: number[] = [];
      for (let i = 0; i < count; i++) if ((isBelow[i] === 1) === below && columns.every((column) => !Number.isNaN(column[i]))) kept.push(i);
      return Object.fromEntries(names.map((name, p) => [name, Float64Array.from(kept, (i) => columns[p][i])]));
    };
    const estimatorBelow = new ParzenEstimator(observations(true), searchSpace, this.parzen);
    const estimatorAbove = new ParzenEstimator(observations(false), searchSpace, this.parzen);
    const rng = trialRng(this.seed ?? study.seed, trial.number, `tpe:${stream}`);
    const candidates = estimatorBelow.sample(rng, this.nEiCandidates);
    const logL = estimatorBelow.logPdf(candidates);
    const logG = estimatorAbove.logPdf(candidates);
    // Parallel trials must not repeat each other: with the constant liar, a candidate equal (on this
    // space) to a trial running alongside is skipped while another candidate differs. Sequential
    // studies have no such trial, so their draws are unchanged.
    const running: number[] = [];
    for (let i = 0; i < count; i++) if (stepKey[i] === Infinity && columns.every((column) => !Number.isNaN(column[i]))) running.push(i);
    const repeatsRunning = (j: number): boolean => running.some((i) => names.every((name, p) => candidates[name][j] === columns[p][i]));
    let best = 0;
    let bestScore = -Infinity;
    let fresh = -1; // the best candidate that repeats no running trial
    let freshScore = -Infinity;
    for (let j = 0; j < logL.length; j++) {
      const score = logL[j] - logG[j];
      if (score > bestScore || (Number.isNaN(bestScore) && !Number.isNaN(score))) {
        best = j;
        bestScore = score;
      }
      if (running.length > 0 && !repeatsRunning(j) && (fresh < 0 || score > freshScore || (Number.isNaN(freshScore) && !Number.isNaN(score)))) {
        fresh = j;
        freshScore = score;
      }
    }
    if (fresh >= 0 && repeatsRunning(best)) best = fresh;
    return Object.fromEntries(names.map((name) => [name, toExternal(searchSpace[name], candidates[name][best])]));
  }

  private assertSingleObjective(study: StudyView): void {
    if (study.directions.length > 1) throw new ConfigError(`TPESampler handles one objective, this study has ${study.directions.length}; use NSGAIISampler for multi-objective studies`);
  }
}

/** NaN-safe ascending comparison (NaN last), as numpy sorts. */
function compareLoss(a: number, b: number): number {
  if (a === b) return 0;
  if (Number.isNaN(a)) return 1;
  if (Number.isNaN(b)) return -1;
  return a < b ? -1 : 1;
}

/**
 * The parameters every given trial has with the same distribution (Optuna's IntersectionSearchSpace),
 * in the order the latest trial suggested them.
 */
export function intersectionSearchSpace(trials: readonly FrozenTrial[]): Record<string, Distribution> {
  if (trials.length === 0) return {};
  let space: Record<string, Distribution> | undefined;
  for (let i = trials.length - 1; i >= 0; i--) {
    const distributions = trials[i].distributions;
    if (space === undefined) {
      space = { ...distributions };
      continue;
    }
    for (const name of Object.keys(space)) {
      const other = distributions[name];
      if (!other || !distributionsEqual(other, space[name])) delete space[name];
    }
  }
  return space ?? {};
}
