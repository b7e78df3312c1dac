import { ConfigError } from '../../errors';
import { lastStep, type FrozenTrial, type StudyView } from '../frozen-trial';
import { decodeNumber, encodeNumber, type EncodedNumber } from '../storage/in-memory';
import type { Pruner } from './pruner';

export type SuccessiveHalvingPrunerOptions = {
  /** Steps before the first rung; 'auto' (default): max(last step of the longest complete trial / 100, 1), once one completes. */
  minResource?: number | 'auto';
  /** Keep the best 1/reductionFactor of each rung (default 4). */
  reductionFactor?: number;
  /** Rung k sits at minResource · reductionFactor^(minEarlyStoppingRate + k) steps (default 0). */
  minEarlyStoppingRate?: number;
  /** Prune unless more than this many trials reached the rung (default 0; needs a fixed minResource). */
  bootstrapCount?: number;
};

const rungKey = (rung: number): string => `completed_rung_${rung}`;

/**
 * Asynchronous Successive Halving (ASHA, Li et al. 2018) as Optuna's SuccessiveHalvingPruner: at each
 * rung a trial is promoted only when its value is within the top 1/reductionFactor of the values all
 * trials recorded at that rung so far; the values are kept as `completed_rung_k` system attributes.
 * @see https://arxiv.org/abs/1810.05934
 */
export class SuccessiveHalvingPruner implements Pruner {
  private minResource: number | undefined;
  private readonly reductionFactor: number;
  private readonly minEarlyStoppingRate: number;
  private readonly bootstrapCount: number;

  constructor(options: SuccessiveHalvingPrunerOptions = {}) {
    const minResource = options.minResource ?? 'auto';
    this.reductionFactor = options.reductionFactor ?? 4;
    this.minEarlyStoppingRate = options.minEarlyStoppingRate ?? 0;
    this.bootstrapCount = options.bootstrapCount ?? 0;
    if (minResource !== 'auto' && !(Number.isInteger(minResource) && minResource >= 1)) throw new ConfigError(`SuccessiveHalvingPruner: minResource must be an integer ≥ 1 or 'auto', got ${minResource}`);
    if (!(Number.isInteger(this.reductionFactor) && this.reductionFactor >= 2)) throw new ConfigError(`SuccessiveHalvingPruner: reductionFactor must be an integer ≥ 2, got ${this.reductionFactor}`);
    if (!(this.minEarlyStoppingRate >= 0)) throw new ConfigError(`SuccessiveHalvingPruner: minEarlyStoppingRate must be ≥ 0, got ${this.minEarlyStoppingRate}`);
    if (!(this.bootstrapCount >= 0)) throw new ConfigError(`SuccessiveHalvingPruner: bootstrapCount must be ≥ 0, got ${this.bootstrapCount}`);
    if (this.bootstrapCount > 0 && minResource === 'auto') throw new ConfigError(`SuccessiveHalvingPruner: bootstrapCount > 0 needs a fixed minResource, not 'auto'`);
    this.minResource = minResource === 'auto' ? undefined : minResource;
  }

  prune(study: StudyView, trial: FrozenTrial): boolean {
    const step = lastStep(trial);
    if (step === undefined) return false;
    let rung = 0;
    while (rungKey(rung) in trial.systemAttrs) rung++;
    const value = trial.intermediateValues[step];
    let trials: readonly FrozenTrial[] | undefined;
    for (;;) {
      if (this.minResource === undefined) {
        trials ??= study.getTrials();
        this.minResource = estimateMinResource(trials);
        if (this.minResource === undefined) return false;
      }
      const promotionStep = this.minResource * this.reductionFactor ** (this.minEarlyStoppingRate + rung);
      if (step < promotionStep) return false;
      if (Number.isNaN(value)) return true;
      trials ??= study.getTrials();
      const key = rungKey(rung);
      study.setTrialSystemAttr(trial.trialId, key, encodeNumber(value));
      const competing = trials.filter((t) => key in t.systemAttrs).map((t) => decodeNumber(t.systemAttrs[key] as EncodedNumber));
      competing.push(value);
      if (competing.length <= this.bootstrapCount) return true;
      if (!promotable(value, competing, this.reductionFactor, study.directions[0] === 'maximize')) return true;
      rung++;
    }
  }
}

/** max(last step of the longest complete trial // 100, 1), or undefined before any trial completes. */
function estimateMinResource(trials: readonly FrozenTrial[]): number | undefined {
  let longest: number | undefined;
  for (const t of trials) {
    if (t.state !== 'COMPLETE') continue;
    const step = lastStep(t);
    if (step !== undefined && (longest === undefined || step > longest)) longest = step;
  }
  return longest === undefined ? undefined : Math.max(Math.floor(longest / 100), 1);
}

function promotable(value: number, competing: number[], reductionFactor: number, maximize: boolean): boolean {
  let index = Math.floor(competing.length / reductionFactor) - 1;
  if (index === -1) index = 0;
  competing.sort((a, b) => (a === b ? 0 : a < b ? -1 : 1));
  return maximize ? value >= competing[competing.length - 1 - index] : value <= competing[index];
}
