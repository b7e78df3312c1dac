import { ConfigError } from '../../errors';
import { lastStep, type FrozenTrial, type StudyView, type TrialState } from '../frozen-trial';
import type { Pruner } from './pruner';
import { SuccessiveHalvingPruner } from './successive-halving';
import { crc32 } from '../../util/hash';

export type HyperbandPrunerOptions = {
  /** Steps before the first rung of the most aggressive bracket (default 1). */
  minResource?: number;
  /** The longest a trial runs; 'auto' (default): last step of the first complete trial + 1. */
  maxResource?: number | 'auto';
  /** Default 3. */
  reductionFactor?: number;
  /** As in SuccessiveHalvingPruner (needs a fixed maxResource). */
  bootstrapCount?: number;
};

/** zlib's CRC-32 (Python's binascii.crc32): Optuna picks a trial's bracket with it. */
export { crc32 };

/**
 * Hyperband (Li et al. 2018) as Optuna's HyperbandPruner: several Successive Halving brackets with
 * min early-stopping rates 0 … n−1 (n = ⌊log_η(maxResource / minResource)⌋ + 1); each trial belongs to
 * one bracket, chosen exactly as Optuna does — CRC-32 of "<studyName>_<trial number>" modulo the total
 * budget Σ ⌈n·η^s / (s+1)⌉ — and is judged only against its bracket's trials. Samplers too see only the
 * trial's bracket (Optuna's _filter_study).
 * @see https://arxiv.org/abs/1603.06560
 */
export class HyperbandPruner implements Pruner {
  private readonly minResource: number;
  private maxResource: number | 'auto';
  private readonly reductionFactor: number;
  private readonly bootstrapCount: number;
  private pruners: SuccessiveHalvingPruner[] = [];
  private budgets: number[] = [];
  private totalBudget = 0;

  constructor(options: HyperbandPrunerOptions = {}) {
    this.minResource = options.minResource ?? 1;
    this.maxResource = options.maxResource ?? 'auto';
    this.reductionFactor = options.reductionFactor ?? 3;
    this.bootstrapCount = options.bootstrapCount ?? 0;
    if (this.maxResource !== 'auto' && !(Number.isInteger(this.maxResource) && this.maxResource >= 1)) throw new ConfigError(`HyperbandPruner: maxResource must be an integer ≥ 1 or 'auto', got ${this.maxResource}`);
    if (this.bootstrapCount > 0 && this.maxResource === 'auto') throw new ConfigError(`HyperbandPruner: bootstrapCount > 0 needs a fixed maxResource, not 'auto'`);
  }

  prune(study: StudyView, trial: FrozenTrial): boolean {
    if (this.pruners.length === 0) {
      this.initialize(study);
      if (this.pruners.length === 0) return false;
    }
    const bracket = this.bracketOf(study.studyName, trial.number);
    return this.pruners[bracket].prune(this.bracketView(study, bracket), trial);
  }

  samplerView(study: StudyView, trial: FrozenTrial): StudyView {
    return this.bracketView(study, this.bracketOf(study.studyName, trial.number));
  }

  /** The trial's bracket (0 before the brackets exist). */
  bracketOf(studyName: string, trialNumber: number): number {
    if (this.pruners.length === 0) return 0;
    let n = crc32(`${studyName}_${trialNumber}`) % this.totalBudget;
    for (let bracket = 0; bracket < this.budgets.length; bracket++) {
      n -= this.budgets[bracket];
      if (n < 0) return bracket;
    }
    throw new Error('unreachable: bracket budgets cover the total');
  }

  private initialize(study: StudyView): void {
    if (this.maxResource === 'auto') {
      const steps = study.getTrials(['COMPLETE']).map(lastStep).filter((s): s is number => s !== undefined);
      if (steps.length === 0) return;
      this.maxResource = Math.max(...steps) + 1;
    }
    const nBrackets = Math.floor(Math.log(this.maxResource / this.minResource) / Math.log(this.reductionFactor)) + 1;
    for (let bracket = 0; bracket < nBrackets; bracket++) {
      const s = nBrackets - 1 - bracket;
      const budget = Math.ceil((nBrackets * this.reductionFactor ** s) / (s + 1));
      this.budgets.push(budget);
      this.totalBudget += budget;
      this.pruners.push(new SuccessiveHalvingPruner({ minResource: this.minResource, reductionFactor: this.reductionFactor, minEarlyStoppingRate: bracket, bootstrapCount: this.bootstrapCount }));
    }
  }

  private bracketView(study: StudyView, bracket: number): StudyView {
    return {
      studyName: study.studyName,
      directions: study.directions,
      seed: study.seed,
      getTrials: (states?: readonly TrialState[]) => study.getTrials(states).filter((t) => this.bracketOf(study.studyName, t.number) === bracket),
      setTrialSystemAttr: (trialId, key, value) => study.setTrialSystemAttr(trialId, key, value),
      stop: () => study.stop(),
    };
  }
}
