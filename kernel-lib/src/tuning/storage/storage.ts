import type { Distribution } from '../distributions';
import type { FrozenTrial, StudyDirection, TrialState } from '../frozen-trial';

export type StudyRecord = { readonly studyId: number; readonly studyName: string; readonly directions: readonly StudyDirection[] };

/** How a trial is created: RUNNING (asked now) or WAITING (enqueued), with optional attributes. */
export type TrialTemplate = {
  state: 'RUNNING' | 'WAITING';
  systemAttrs?: Record<string, unknown>;
  userAttrs?: Record<string, unknown>;
};

/**
 * Where studies and trials live. Writes are events (one per call); a storage shared by several
 * processes makes each call atomic and assigns trial numbers without gaps or duplicates.
 */
export interface Storage {
  /** Take in what other processes wrote since the last call (a no-op in memory). */
  refresh(): void;
  /** A new study; throws ConfigError when the name is taken. */
  createStudy(studyName: string, directions: readonly StudyDirection[]): StudyRecord;
  getStudy(studyName: string): StudyRecord | undefined;
  listStudies(): readonly StudyRecord[];
  /** A new trial numbered after every trial of the study (in every process). */
  createTrial(studyId: number, template: TrialTemplate): FrozenTrial;
  /** Store a suggested parameter in its internal representation (the choice index for categoricals). */
  setTrialParam(trialId: number, name: string, internalValue: number, distribution: Distribution): void;
  setTrialIntermediateValue(trialId: number, step: number, value: number): void;
  setTrialUserAttr(trialId: number, key: string, value: unknown): void;
  setTrialSystemAttr(trialId: number, key: string, value: unknown): void;
  /**
   * Move a trial to `state`. RUNNING is only taken from WAITING, a finished state only from RUNNING;
   * returns false (and changes nothing) when the trial is no longer in that state, e.g. another
   * process started the enqueued trial or failed the stale one first.
   */
  setTrialStateValues(trialId: number, state: TrialState, values?: readonly number[]): boolean;
  /** Note that the trial's process is alive (journal: a heartbeat record). */
  recordHeartbeat(trialId: number): void;
  getTrial(trialId: number): FrozenTrial;
  /** The study's trials in number order, optionally only those in `states`. */
  getAllTrials(studyId: number, states?: readonly TrialState[]): readonly FrozenTrial[];
  /** RUNNING trials whose process has died (how this is judged is the storage's to document). */
  staleTrials(studyId: number): readonly FrozenTrial[];
}
