import * as os from 'node:os';
import { ConfigError, DataError } from '../../errors';
import { toExternal, type Distribution } from '../distributions';
import { isFinished, type FrozenTrial, type StudyDirection, type TrialState } from '../frozen-trial';
import type { StudyRecord, Storage, TrialTemplate } from './storage';

/** A number that survives JSON: NaN and ±Infinity as strings. */
export type EncodedNumber = number | 'NaN' | 'Infinity' | '-Infinity';

export function encodeNumber(x: number): EncodedNumber {
  if (Number.isFinite(x)) return x;
  return Number.isNaN(x) ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity';
}

export function decodeNumber(x: EncodedNumber): number {
  return typeof x === 'number' ? x : x === 'NaN' ? NaN : x === 'Infinity' ? Infinity : -Infinity;
}

/** The process that runs a trial: a RUNNING trial whose process is gone is stale. */
export type TrialOwner = { pid: number; host: string };

/**
 * The events every storage is made of. The in-memory storage applies them directly; the journal
 * writes each as one JSON line first and replays them on open, so both share this one model.
 */
export type StorageRecord =
  | { op: 'create_study'; studyId: number; studyName: string; directions: StudyDirection[]; time: number }
  | {
      op: 'create_trial'; studyId: number; trialId: number; number: number; state: 'RUNNING' | 'WAITING'; time: number;
      owner?: TrialOwner; systemAttrs?: Record<string, unknown>; userAttrs?: Record<string, unknown>;
    }
  | { op: 'set_param'; trialId: number; name: string; value: number; distribution: Distribution }
  | { op: 'report'; trialId: number; step: number; value: EncodedNumber }
  | { op: 'set_user_attr'; trialId: number; key: string; value: unknown }
  | { op: 'set_system_attr'; trialId: number; key: string; value: unknown }
  | { op: 'set_state'; trialId: number; state: TrialState; values?: EncodedNumber[]; time: number; owner?: TrialOwner }
  | { op: 'heartbeat'; trialId: number; time: number };

type TrialSlot = {
  trialId: number;
  studyId: number;
  number: number;
  state: TrialState;
  values: number[] | undefined;
  params: Record<string, number>;
  distributions: Record<string, Distribution>;
  intermediateValues: Record<number, number>;
  userAttrs: Record<string, unknown>;
  systemAttrs: Record<string, unknown>;
  start: number | undefined;
  complete: number | undefined;
  owner: TrialOwner | undefined;
  heartbeat: number | undefined;
  /** The frozen view, rebuilt after a change. */
  frozen: FrozenTrial | undefined;
};

export type InMemoryStorageOptions = {
  /** Wall clock for trial start / complete times and heartbeats (default Date.now). */
  clock?: () => number;
};

/** Whether a process with this pid exists (on this host). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Studies and trials in this process's memory: the default storage, lost when the process ends. */
export class InMemoryStorage implements Storage {
  protected readonly clock: () => number;
  private readonly studies: StudyRecord[] = [];
  private readonly trialSlots: TrialSlot[] = [];
  private readonly trialsOfStudy: number[][] = [];

  constructor(options: InMemoryStorageOptions = {}) {
    this.clock = options.clock ?? Date.now;
  }

  /** Run `body` atomically with respect to other writers (the journal takes its file lock here). */
  protected transaction<T>(body: () => T): T {
    return body();
  }

  /** Make one event durable and apply it (the journal appends it to its file first). */
  protected commit(record: StorageRecord): void {
    this.apply(record);
  }

  protected owner(): TrialOwner {
    return { pid: process.pid, host: os.hostname() };
  }

  refresh(): void {}

  createStudy(studyName: string, directions: readonly StudyDirection[]): StudyRecord {
    return this.transaction(() => {
      if (this.getStudy(studyName)) throw new ConfigError(`a study named '${studyName}' already exists in this storage; pass loadIfExists: true to continue it, or choose another studyName`);
      this.commit({ op: 'create_study', studyId: this.studies.length, studyName, directions: [...directions], time: this.clock() });
      return this.studies[this.studies.length - 1];
    });
  }

  getStudy(studyName: string): StudyRecord | undefined {
    return this.studies.find((study) => study.studyName === studyName);
  }

  listStudies(): readonly StudyRecord[] {
    return [...this.studies];
  }

  createTrial(studyId: number, template: TrialTemplate): FrozenTrial {
    return this.transaction(() => {
      this.study(studyId);
      const trialId = this.trialSlots.length;
      this.commit({
        op: 'create_trial', studyId, trialId, number: this.trialsOfStudy[studyId].length, state: template.state, time: this.clock(),
        ...(template.state === 'RUNNING' ? { owner: this.owner() } : {}),
        ...(template.systemAttrs ? { systemAttrs: template.systemAttrs } : {}),
        ...(template.userAttrs ? { userAttrs: template.userAttrs } : {}),
      });
      return this.getTrial(trialId);
    });
  }

  setTrialParam(trialId: number, name: string, internalValue: number, distribution: Distribution): void {
    this.transaction(() => {
      this.assertRunning(trialId, `set parameter '${name}' of`);
      this.commit({ op: 'set_param', trialId, name, value: internalValue, distribution });
    });
  }

  setTrialIntermediateValue(trialId: number, step: number, value: number): void {
    this.transaction(() => {
      this.assertRunning(trialId, `report step ${step} of`);
      this.commit({ op: 'report', trialId, step, value: encodeNumber(value) });
    });
  }

  setTrialUserAttr(trialId: number, key: string, value: unknown): void {
    this.transaction(() => {
      this.slot(trialId);
      this.commit({ op: 'set_user_attr', trialId, key, value });
    });
  }

  setTrialSystemAttr(trialId: number, key: string, value: unknown): void {
    this.transaction(() => {
      this.slot(trialId);
      this.commit({ op: 'set_system_attr', trialId, key, value });
    });
  }

  setTrialStateValues(trialId: number, state: TrialState, values?: readonly number[]): boolean {
    return this.transaction(() => {
      const slot = this.slot(trialId);
      if (state === 'WAITING') throw new ConfigError(`trial ${slot.number} cannot be moved back to WAITING; enqueue a new trial instead`);
      const from = state === 'RUNNING' ? 'WAITING' : 'RUNNING';
      if (slot.state !== from) return false;
      this.commit({
        op: 'set_state', trialId, state, time: this.clock(),
        ...(values ? { values: values.map(encodeNumber) } : {}),
        ...(state === 'RUNNING' ? { owner: this.owner() } : {}),
      });
      return true;
    });
  }

  recordHeartbeat(trialId: number): void {
    this.transaction(() => {
      if (this.slot(trialId).state === 'RUNNING') this.commit({ op: 'heartbeat', trialId, time: this.clock() });
    });
  }

  getTrial(trialId: number): FrozenTrial {
    return this.freeze(this.slot(trialId));
  }

  getAllTrials(studyId: number, states?: readonly TrialState[]): readonly FrozenTrial[] {
    this.study(studyId);
    const out: FrozenTrial[] = [];
    for (const trialId of this.trialsOfStudy[studyId]) {
      const slot = this.trialSlots[trialId];
      if (!states || states.includes(slot.state)) out.push(this.freeze(slot));
    }
    return out;
  }

  /** Judged by the owner's pid: a RUNNING trial started on this host by a process that no longer exists. */
  staleTrials(studyId: number): readonly FrozenTrial[] {
    const host = os.hostname();
    return this.trialsOfStudy[studyId]
      .map((trialId) => this.trialSlots[trialId])
      .filter((slot) => slot.state === 'RUNNING' && slot.owner !== undefined && slot.owner.host === host && !processAlive(slot.owner.pid))
      .map((slot) => this.freeze(slot));
  }

  /** The time of the trial's last heartbeat (or its start), for storages judging staleness by age. */
  protected lastSignOfLife(trialId: number): { owner: TrialOwner | undefined; time: number | undefined } {
    const slot = this.slot(trialId);
    return { owner: slot.owner, time: slot.heartbeat ?? slot.start };
  }

  /** Apply one event; inconsistent events (a corrupt or hand-edited journal) throw DataError. */
  protected apply(record: StorageRecord): void {
    switch (record.op) {
      case 'create_study': {
        if (record.studyId !== this.studies.length || this.getStudy(record.studyName)) throw new DataError(`study record ${JSON.stringify(record.studyName)} has id ${record.studyId}, expected ${this.studies.length}, or repeats a name`);
        this.studies.push({ studyId: record.studyId, studyName: record.studyName, directions: record.directions });
        this.trialsOfStudy.push([]);
        return;
      }
      case 'create_trial': {
        this.study(record.studyId);
        const trials = this.trialsOfStudy[record.studyId];
        if (record.trialId !== this.trialSlots.length || record.number !== trials.length) {
          throw new DataError(`trial record has id ${record.trialId} / number ${record.number}, expected ${this.trialSlots.length} / ${trials.length}: the journal was written without its lock or edited`);
        }
        this.trialSlots.push({
          trialId: record.trialId, studyId: record.studyId, number: record.number, state: record.state, values: undefined, params: {}, distributions: {}, intermediateValues: {},
          userAttrs: { ...record.userAttrs }, systemAttrs: { ...record.systemAttrs },
          start: record.state === 'RUNNING' ? record.time : undefined, complete: undefined, owner: record.owner, heartbeat: undefined, frozen: undefined,
        });
        trials.push(record.trialId);
        return;
      }
      case 'set_param': {
        const slot = this.slot(record.trialId);
        slot.params[record.name] = record.value;
        slot.distributions[record.name] = record.distribution;
        break;
      }
      case 'report':
        this.slot(record.trialId).intermediateValues[record.step] = decodeNumber(record.value);
        break;
      case 'set_user_attr':
        this.slot(record.trialId).userAttrs[record.key] = record.value;
        break;
      case 'set_system_attr':
        this.slot(record.trialId).systemAttrs[record.key] = record.value;
        break;
      case 'set_state': {
        const slot = this.slot(record.trialId);
        slot.state = record.state;
        if (record.values) slot.values = record.values.map(decodeNumber);
        if (record.state === 'RUNNING') {
          slot.start = record.time;
          slot.owner = record.owner;
        } else if (isFinished(record.state)) slot.complete = record.time;
        break;
      }
      case 'heartbeat':
        this.slot(record.trialId).heartbeat = record.time;
        return;
      default:
        throw new DataError(`unknown storage record ${JSON.stringify((record as { op?: unknown }).op)}`);
    }
    this.slot(record.trialId).frozen = undefined;
  }

  private study(studyId: number): StudyRecord {
    const study = this.studies[studyId];
    if (!study) throw new ConfigError(`no study with id ${studyId} in this storage`);
    return study;
  }

  private slot(trialId: number): TrialSlot {
    const slot = this.trialSlots[trialId];
    if (!slot) throw new ConfigError(`no trial with id ${trialId} in this storage`);
    return slot;
  }

  private assertRunning(trialId: number, what: string): void {
    const slot = this.slot(trialId);
    if (slot.state !== 'RUNNING') throw new ConfigError(`cannot ${what} trial ${slot.number}: it is ${slot.state}, not RUNNING`);
  }

  private freeze(slot: TrialSlot): FrozenTrial {
    if (slot.frozen) return slot.frozen;
    const params: Record<string, ReturnType<typeof toExternal>> = {};
    for (const name of Object.keys(slot.params)) params[name] = toExternal(slot.distributions[name], slot.params[name]);
    const values = slot.values ? Object.freeze([...slot.values]) : undefined;
    const frozen: FrozenTrial = Object.freeze({
      number: slot.number,
      trialId: slot.trialId,
      state: slot.state,
      value: values && values.length === 1 ? values[0] : undefined,
      values,
      params: Object.freeze(params),
      distributions: Object.freeze({ ...slot.distributions }),
      intermediateValues: Object.freeze({ ...slot.intermediateValues }),
      userAttrs: Object.freeze({ ...slot.userAttrs }),
      systemAttrs: Object.freeze({ ...slot.systemAttrs }),
      datetimeStart: slot.start === undefined ? undefined : new Date(slot.start).toISOString(),
      datetimeComplete: slot.complete === undefined ? undefined : new Date(slot.complete).toISOString(),
    });
    slot.frozen = frozen;
    return frozen;
  }
}
