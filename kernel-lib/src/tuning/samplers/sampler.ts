import type { Distribution, ParamValue } from '../distributions';
import type { FrozenTrial, StudyView, TrialState } from '../frozen-trial';

/**
 * Optuna's sampler contract. At the start of a trial the study asks for a relative search space and
 * samples it jointly (`sampleRelative`, multivariate TPE, NSGA-II); every parameter not covered is
 * drawn on its own when the objective suggests it (`sampleIndependent`).
 */
export interface Sampler {
  inferRelativeSearchSpace(study: StudyView, trial: FrozenTrial): Record<string, Distribution>;
  sampleRelative(study: StudyView, trial: FrozenTrial, searchSpace: Record<string, Distribution>): Record<string, ParamValue>;
  sampleIndependent(study: StudyView, trial: FrozenTrial, name: string, distribution: Distribution): ParamValue;
  /** Called when a trial is asked, before the relative search space (the grid picks its point here). */
  beforeTrial?(study: StudyView, trial: FrozenTrial): void;
  /** Called once the trial's final state is stored. */
  afterTrial?(study: StudyView, trial: FrozenTrial, state: TrialState, values: readonly number[] | undefined): void;
  /** True when no new trial should start (an exhausted grid). */
  isExhausted?(study: StudyView): boolean;
}
