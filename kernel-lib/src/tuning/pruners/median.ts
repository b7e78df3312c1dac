import { ConfigError } from '../../errors';
import { lastStep, type FrozenTrial, type StudyView } from '../frozen-trial';
import type { Pruner } from './pruner';

export type PercentilePrunerOptions = {
  /** Never prune before this many trials are COMPLETE (default 5). */
  nStartupTrials?: number;
  /** Never prune a trial before this step (default 0). */
  nWarmupSteps?: number;
  /** Judge every `intervalSteps` steps after the warm-up (default 1). */
  intervalSteps?: number;
  /** Need at least this many complete trials that reported the step (default 1). */
  nMinTrials?: number;
};

/** numpy.nanpercentile with linear interpolation; NaN when every value is NaN. */
export function nanPercentile(values: readonly number[], percentile: number): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const position = (percentile / 100) * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  const fraction = position - below;
  if (fraction === 0) return sorted[below];
  return sorted[below] + (sorted[above] - sorted[below]) * fraction;
}

/**
 * Prune when the trial's best value so far is worse than the given percentile of what complete
 * trials reported at the same step (Optuna's PercentilePruner, same rules and defaults).
 */
export class PercentilePruner implements Pruner {
  protected readonly percentile: number;
  private readonly nStartupTrials: number;
  private readonly nWarmupSteps: number;
  private readonly intervalSteps: number;
  private readonly nMinTrials: number;

  constructor(percentile: number, options: PercentilePrunerOptions = {}) {
    this.percentile = percentile;
    this.nStartupTrials = options.nStartupTrials ?? 5;
    this.nWarmupSteps = options.nWarmupSteps ?? 0;
    this.intervalSteps = options.intervalSteps ?? 1;
    this.nMinTrials = options.nMinTrials ?? 1;
    if (!(percentile >= 0 && percentile <= 100)) throw new ConfigError(`PercentilePruner: percentile must be within [0, 100], got ${percentile}`);
    if (!(this.nStartupTrials >= 0)) throw new ConfigError(`pruner: nStartupTrials must be ≥ 0, got ${this.nStartupTrials}`);
    if (!(this.nWarmupSteps >= 0)) throw new ConfigError(`pruner: nWarmupSteps must be ≥ 0, got ${this.nWarmupSteps}`);
    if (!(this.intervalSteps >= 1)) throw new ConfigError(`pruner: intervalSteps must be ≥ 1, got ${this.intervalSteps}`);
    if (!(this.nMinTrials >= 1)) throw new ConfigError(`pruner: nMinTrials must be ≥ 1, got ${this.nMinTrials}`);
  }

  prune(study: StudyView, trial: FrozenTrial): boolean {
    const complete = study.getTrials(['COMPLETE']);
    if (complete.length === 0 || complete.length < this.nStartupTrials) return false;
    const step = lastStep(trial);
    if (step === undefined || step < this.nWarmupSteps) return false;
    if (!this.isFirstInInterval(step, trial)) return false;
    const maximize = study.directions[0] === 'maximize';
    const own = Object.values(trial.intermediateValues).filter((v) => !Number.isNaN(v));
    if (own.length === 0) return true;
    const best = maximize ? Math.max(...own) : Math.min(...own);
    const atStep = complete.filter((t) => step in t.intermediateValues).map((t) => t.intermediateValues[step]);
    if (atStep.length < this.nMinTrials) return false;
    const threshold = nanPercentile(atStep, maximize ? 100 - this.percentile : this.percentile);
    if (Number.isNaN(threshold)) return false;
    return maximize ? best < threshold : best > threshold;
  }

  /** Whether `step` is the first report at or after the latest pruning checkpoint. */
  private isFirstInInterval(step: number, trial: FrozenTrial): boolean {
    const checkpoint = Math.floor((step - this.nWarmupSteps) / this.intervalSteps) * this.intervalSteps + this.nWarmupSteps;
    let secondLast = -1;
    for (const key of Object.keys(trial.intermediateValues)) {
      const s = Number(key);
      if (s > secondLast && s !== step) secondLast = s;
    }
    return secondLast < checkpoint;
  }
}

/** Prune below the median of complete trials at the same step (Optuna's MedianPruner: percentile 50, same defaults). */
export class MedianPruner extends PercentilePruner {
  constructor(options: PercentilePrunerOptions = {}) {
    super(50, options);
  }
}
