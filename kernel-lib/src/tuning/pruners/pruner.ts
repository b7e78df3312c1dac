import type { FrozenTrial, StudyView } from '../frozen-trial';

/** Optuna's pruner contract: asked after each `trial.report`, through `trial.shouldPrune()`. */
export interface Pruner {
  prune(study: StudyView, trial: FrozenTrial): boolean;
  /**
   * The study as the sampler should see it for `trial` (Hyperband: only the trial's bracket, as in
   * Optuna's `_filter_study`). Absent: the whole study.
   */
  samplerView?(study: StudyView, trial: FrozenTrial): StudyView;
}
