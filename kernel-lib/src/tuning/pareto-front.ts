import type { FrozenTrial, StudyDirection } from './frozen-trial';

/**
 * Whether trial `a` Pareto-dominates `b`: no worse in every objective and better in one (Optuna's
 * _dominates). A trial that is not COMPLETE never dominates and is dominated by every complete one.
 */
export function dominates(a: FrozenTrial, b: FrozenTrial, directions: readonly StudyDirection[]): boolean {
  if (a.state !== 'COMPLETE' || !a.values) return false;
  if (b.state !== 'COMPLETE' || !b.values) return true;
  let better = false;
  for (let i = 0; i < directions.length; i++) {
    const sign = directions[i] === 'maximize' ? -1 : 1;
    const x = sign * a.values[i];
    const y = sign * b.values[i];
    if (x > y) return false;
    if (x < y) better = true;
  }
  return better;
}

/** The COMPLETE trials no other complete trial dominates, in number order (Optuna's best_trials). */
export function paretoFront(trials: readonly FrozenTrial[], directions: readonly StudyDirection[]): FrozenTrial[] {
  const complete = trials.filter((t) => t.state === 'COMPLETE' && t.values !== undefined);
  return complete.filter((t) => !complete.some((other) => other !== t && dominates(other, t, directions)));
}
