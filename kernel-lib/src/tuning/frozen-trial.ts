import type { Distribution, ParamValue } from './distributions';

/** Optuna's trial states. WAITING: enqueued, not started; RUNNING: asked, not told yet. */
export type TrialState = 'RUNNING' | 'COMPLETE' | 'PRUNED' | 'FAIL' | 'WAITING';
export type StudyDirection = 'minimize' | 'maximize';

/** A finished (or a snapshot of a running) trial, as storages return it. Never mutated: updates make a new object. */
export type FrozenTrial = {
  /** 0, 1, 2 … in the order trials were created in the study (unique across processes sharing a journal). */
  readonly number: number;
  /** Storage-wide id (equals `number` for a storage holding one study). */
  readonly trialId: number;
  readonly state: TrialState;
  /** The objective value (single-objective studies; for PRUNED trials the last reported value, as in Optuna). */
  readonly value: number | undefined;
  readonly values: readonly number[] | undefined;
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly distributions: Readonly<Record<string, Distribution>>;
  /** Reported values by step (integer keys, so they enumerate in ascending step order). */
  readonly intermediateValues: Readonly<Record<number, number>>;
  readonly userAttrs: Readonly<Record<string, unknown>>;
  /** Bookkeeping of samplers and pruners (rungs, grid ids, fixed params of enqueued trials, retries). */
  readonly systemAttrs: Readonly<Record<string, unknown>>;
  /** ISO-8601 times; undefined while WAITING / RUNNING. */
  readonly datetimeStart: string | undefined;
  readonly datetimeComplete: string | undefined;
};

/** The last reported step, or undefined when nothing was reported. */
export function lastStep(trial: Pick<FrozenTrial, 'intermediateValues'>): number | undefined {
  let last: number | undefined;
  for (const key of Object.keys(trial.intermediateValues)) {
    const step = Number(key);
    if (last === undefined || step > last) last = step;
  }
  return last;
}

export function isFinished(state: TrialState): boolean {
  return state === 'COMPLETE' || state === 'PRUNED' || state === 'FAIL';
}

/**
 * What samplers and pruners see of a study: its trials in number order and a place to keep their
 * bookkeeping. The Hyperband pruner hands samplers and its brackets a filtered view.
 */
export interface StudyView {
  readonly studyName: string;
  readonly directions: readonly StudyDirection[];
  /** The study seed: samplers without their own seed derive per-trial random states from it. */
  readonly seed: number;
  /** Trials in number order, optionally only those in `states`. */
  getTrials(states?: readonly TrialState[]): readonly FrozenTrial[];
  setTrialSystemAttr(trialId: number, key: string, value: unknown): void;
  /** Stop the running optimize loop after the trials in flight (grid exhausted). */
  stop(): void;
}
