import { ConfigError } from '../errors';
import type { Distribution, ParamValue } from './distributions';
import { isFinished, lastStep, type FrozenTrial, type StudyDirection, type StudyView, type TrialState } from './frozen-trial';
import { paretoFront } from './pareto-front';
import { MedianPruner } from './pruners/median';
import type { Pruner } from './pruners/pruner';
import { NSGAIISampler } from './samplers/nsga2';
import type { Sampler } from './samplers/sampler';
import { TPESampler } from './samplers/tpe';
import { InMemoryStorage } from './storage/in-memory';
import { JournalFileStorage } from './storage/journal-file';
import type { Storage } from './storage/storage';
import { Trial, TrialPruned, type TrialHost } from './trial';

export type CreateStudyOptions = {
  /** One objective's direction (default 'minimize'). */
  direction?: StudyDirection;
  /** Several objectives' directions (multi-objective; the default sampler becomes NSGA-II). */
  directions?: readonly StudyDirection[];
  /** Default: TPESampler for one objective, NSGAIISampler for several (as Optuna). */
  sampler?: Sampler;
  /** Default: MedianPruner (as Optuna). */
  pruner?: Pruner;
  /** A journal file path (shared by processes, survives crashes) or a Storage; default in memory. */
  storage?: string | Storage;
  /** Default 'no-name' (Optuna: 'no-name-<uuid>'; a fixed name keeps Hyperband brackets reproducible). */
  studyName?: string;
  /** Seed of the samplers that have none of their own (default 0: runs are reproducible unless asked otherwise). */
  seed?: number;
  /** Continue the study of that name in the storage instead of failing when it exists. */
  loadIfExists?: boolean;
  /** How often a trial left RUNNING by a dead process is re-run with the same parameters (default 3). */
  maxStaleRetries?: number;
  /** Wall clock for timeouts (default Date.now). */
  clock?: () => number;
};

/** Something `catch` lets through: error classes, or true for every error. */
export type CatchOption = true | ReadonlyArray<abstract new (...args: never[]) => unknown>;

export type OptimizeOptions = {
  /** Stop after this many trials started by this call. */
  nTrials?: number;
  /** Start no trial after this many seconds. */
  timeoutSec?: number;
  /**
   * Trials in flight at once in this process (default 1). Async objectives overlap; synchronous ones
   * still run one after another, but trials are asked before earlier ones are told.
   */
  nJobs?: number;
  /** Errors that fail the trial but let the study go on; any other error fails the trial and ends optimize. */
  catch?: CatchOption;
  /** Called after every finished trial. */
  callbacks?: ReadonlyArray<(study: Study, trial: FrozenTrial) => void>;
  /** Start no trial once aborted (running ones finish). */
  signal?: AbortSignal;
  /** Record a heartbeat for running trials this often (lets other hosts sharing a journal detect a dead process). */
  heartbeatIntervalSec?: number;
};

export type Objective = (trial: Trial) => number | readonly number[] | Promise<number | readonly number[]>;

/** What `tell` takes: a value, one value per objective, or a final state. */
export type TellResult = number | readonly number[] | 'PRUNED' | 'FAIL';

export type EnqueueOptions = {
  userAttrs?: Record<string, unknown>;
  /** Skip when a trial with these parameters is already there (enqueued, running or finished). */
  skipIfExists?: boolean;
};

const FAIL_REASON = 'fail_reason';

/** Create a study (or continue one with `loadIfExists`). */
export function createStudy(options: CreateStudyOptions = {}): Study {
  if (options.direction && options.directions) throw new ConfigError('createStudy: give direction or directions, not both');
  const directions = options.directions ? [...options.directions] : [options.direction ?? 'minimize'];
  if (directions.length === 0) throw new ConfigError('createStudy: directions is empty; give at least one');
  for (const direction of directions) {
    if (direction !== 'minimize' && direction !== 'maximize') throw new ConfigError(`createStudy: direction must be 'minimize' or 'maximize', got '${String(direction)}'`);
  }
  const storage = resolveStorage(options.storage);
  const studyName = options.studyName ?? 'no-name';
  let record = storage.getStudy(studyName);
  if (record && !options.loadIfExists) throw new ConfigError(`a study named '${studyName}' already exists in this storage; pass loadIfExists: true to continue it, or choose another studyName`);
  if (record && record.directions.join() !== directions.join()) {
    throw new ConfigError(`study '${studyName}' was created with directions [${record.directions.join(', ')}], not [${directions.join(', ')}]; use the same directions or another studyName`);
  }
  if (!record) {
    try {
      record = storage.createStudy(studyName, directions);
    } catch (error) {
      // Several processes starting together: another one created it between our look and our write.
      record = options.loadIfExists ? storage.getStudy(studyName) : undefined;
      if (!record) throw error;
      if (record.directions.join() !== directions.join()) throw new ConfigError(`study '${studyName}' was created with directions [${record.directions.join(', ')}], not [${directions.join(', ')}]; use the same directions or another studyName`);
    }
  }
  return new Study(storage, record.studyId, studyName, directions, options);
}

/** Continue a study stored in `storage` (its directions come from the storage). */
export function loadStudy(options: Omit<CreateStudyOptions, 'direction' | 'directions' | 'loadIfExists'> & { studyName: string; storage: string | Storage }): Study {
  const storage = resolveStorage(options.storage);
  const record = storage.getStudy(options.studyName);
  if (!record) {
    const names = storage.listStudies().map((s) => s.studyName);
    throw new ConfigError(`no study named '${options.studyName}' in this storage (it has: ${names.length ? names.join(', ') : 'none'}); create it with createStudy`);
  }
  return new Study(storage, record.studyId, record.studyName, [...record.directions], options);
}

function resolveStorage(storage: string | Storage | undefined): Storage {
  if (storage === undefined) return new InMemoryStorage();
  return typeof storage === 'string' ? new JournalFileStorage(storage) : storage;
}

/**
 * An optimisation study, with Optuna's API in camelCase: `optimize` runs an objective, or drive it
 * yourself with `ask` / `tell` (what a process-parallel runner does, each process with the same
 * journal). Results: `trials`, `bestTrial` / `bestValue` / `bestParams`, `bestTrials` (Pareto front).
 */
export class Study implements TrialHost {
  readonly studyName: string;
  readonly directions: readonly StudyDirection[];
  readonly sampler: Sampler;
  readonly pruner: Pruner;
  readonly storage: Storage;
  readonly seed: number;
  private readonly studyId: number;
  private readonly maxStaleRetries: number;
  private readonly clock: () => number;
  private stopRequested = false;

  /** @internal use createStudy / loadStudy */
  constructor(storage: Storage, studyId: number, studyName: string, directions: StudyDirection[], options: CreateStudyOptions) {
    this.storage = storage;
    this.studyId = studyId;
    this.studyName = studyName;
    this.directions = Object.freeze([...directions]);
    this.seed = options.seed ?? 0;
    if (!Number.isFinite(this.seed)) throw new ConfigError(`createStudy: seed must be a finite number, got ${options.seed}`);
    this.sampler = options.sampler ?? (directions.length > 1 ? new NSGAIISampler() : new TPESampler());
    this.pruner = options.pruner ?? new MedianPruner();
    this.maxStaleRetries = options.maxStaleRetries ?? 3;
    this.clock = options.clock ?? Date.now;
  }

  /** The direction of a single-objective study. */
  get direction(): StudyDirection {
    if (this.directions.length > 1) throw new ConfigError(`study '${this.studyName}' has ${this.directions.length} objectives; use study.directions`);
    return this.directions[0];
  }

  /** Every trial, in number order, including what other processes sharing the storage wrote. */
  get trials(): readonly FrozenTrial[] {
    this.storage.refresh();
    return this.storage.getAllTrials(this.studyId);
  }

  /** Trials in number order, optionally only those in `states` (as last refreshed). */
  getTrials(states?: readonly TrialState[]): readonly FrozenTrial[] {
    return this.storage.getAllTrials(this.studyId, states);
  }

  /** The COMPLETE trial with the best value (the first one on ties). */
  get bestTrial(): FrozenTrial {
    const sign = this.direction === 'maximize' ? -1 : 1;
    let best: FrozenTrial | undefined;
    for (const trial of this.trials) {
      if (trial.state !== 'COMPLETE' || trial.value === undefined) continue;
      if (!best || sign * trial.value < sign * best.value!) best = trial;
    }
    if (!best) throw new ConfigError(`study '${this.studyName}' has no COMPLETE trial yet; run optimize (or tell a value) first`);
    return best;
  }

  get bestValue(): number {
    return this.bestTrial.value!;
  }

  get bestParams(): Readonly<Record<string, ParamValue>> {
    return this.bestTrial.params;
  }

  /** The Pareto front: COMPLETE trials no other complete trial dominates (for one objective, the best ones). */
  get bestTrials(): FrozenTrial[] {
    return paretoFront(this.trials, this.directions);
  }

  /** Stop `optimize` after the trials in flight. */
  stop(): void {
    this.stopRequested = true;
  }

  setTrialSystemAttr(trialId: number, key: string, value: unknown): void {
    this.storage.setTrialSystemAttr(trialId, key, value);
  }

  samplerView(trial: FrozenTrial): StudyView {
    return this.pruner.samplerView?.(this, trial) ?? this;
  }

  /** Queue a trial with fixed parameters; the next `ask` starts it (parameters it does not fix are sampled). */
  enqueueTrial(params: Record<string, ParamValue>, options: EnqueueOptions = {}): void {
    if (options.skipIfExists) {
      const same = (other: Readonly<Record<string, ParamValue>>): boolean => Object.keys(params).every((name) => name in other && Object.is(other[name], params[name]));
      for (const trial of this.trials) {
        const fixed = trial.systemAttrs.fixed_params as Record<string, ParamValue> | undefined;
        if (same(trial.params) || (fixed && same(fixed))) return;
      }
    }
    this.storage.createTrial(this.studyId, { state: 'WAITING', systemAttrs: { fixed_params: { ...params } }, userAttrs: options.userAttrs });
  }

  /**
   * Start a trial: the oldest enqueued one if any (atomically, so two processes never take the same),
   * else a new one. Trials left RUNNING by a dead process are failed first and re-enqueued with their
   * parameters (at most `maxStaleRetries` times per original trial). `fixedDistributions` are
   * suggested at once (define-and-run, for runners that pass trial parameters elsewhere).
   */
  ask(fixedDistributions: Record<string, Distribution> = {}): Trial {
    this.storage.refresh();
    this.failStaleTrials();
    let frozen: FrozenTrial | undefined;
    for (const waiting of this.storage.getAllTrials(this.studyId, ['WAITING'])) {
      if (this.storage.setTrialStateValues(waiting.trialId, 'RUNNING')) {
        frozen = this.storage.getTrial(waiting.trialId);
        break;
      }
    }
    frozen ??= this.storage.createTrial(this.studyId, { state: 'RUNNING' });
    const trial = new Trial(this, frozen);
    for (const [name, distribution] of Object.entries(fixedDistributions)) trial.suggestDistribution(name, distribution);
    return trial;
  }

  /**
   * Finish a trial: a value (or one per objective) completes it — NaN or a wrong count fails it, as in
   * Optuna; 'PRUNED' records its last reported value; 'FAIL' fails it. Returns the stored trial.
   */
  tell(trial: Trial | number, result: TellResult, failReason?: string): FrozenTrial {
    this.storage.refresh();
    const frozen = typeof trial === 'number' ? this.storage.getAllTrials(this.studyId).find((t) => t.number === trial) : this.storage.getTrial(trial.trialId);
    if (!frozen) throw new ConfigError(`study '${this.studyName}' has no trial number ${trial as number}`);
    if (isFinished(frozen.state)) throw new ConfigError(`trial ${frozen.number} is already ${frozen.state}; tell each trial once`);
    let state: TrialState;
    let values: number[] | undefined;
    let reason = failReason;
    if (result === 'PRUNED') {
      state = 'PRUNED';
      const step = lastStep(frozen);
      if (step !== undefined && !Number.isNaN(frozen.intermediateValues[step])) values = [frozen.intermediateValues[step]];
    } else if (result === 'FAIL') state = 'FAIL';
    else {
      const given = typeof result === 'number' ? [result] : [...(result as readonly number[])];
      const problem =
        given.length !== this.directions.length ? `the objective returned ${given.length} values for ${this.directions.length} objectives`
        : given.some((v) => typeof v !== 'number' || Number.isNaN(v)) ? `the objective returned ${JSON.stringify(given.map(String))}, not numbers`
        : undefined;
      if (problem) {
        state = 'FAIL';
        reason ??= problem;
      } else {
        state = 'COMPLETE';
        values = given;
      }
    }
    if (state === 'FAIL' && reason) this.storage.setTrialSystemAttr(frozen.trialId, FAIL_REASON, reason);
    if (!this.storage.setTrialStateValues(frozen.trialId, state, values)) {
      throw new ConfigError(`trial ${frozen.number} was finished by another process (failed as stale?) before this tell`);
    }
    const finished = this.storage.getTrial(frozen.trialId);
    this.sampler.afterTrial?.(this.samplerView(finished), finished, state, values);
    return finished;
  }

  /**
   * Run `objective` on new trials until `nTrials` were started, `timeoutSec` passed, the signal
   * aborted, `study.stop()` was called or the sampler is exhausted (grid). A trial that throws
   * `TrialPruned` is PRUNED; one that throws anything else is FAIL, and the error ends optimize
   * (after the trials in flight) unless `catch` lets it through.
   */
  async optimize(objective: Objective, options: OptimizeOptions = {}): Promise<void> {
    const nJobs = options.nJobs ?? 1;
    if (!Number.isInteger(nJobs) || nJobs < 1) throw new ConfigError(`optimize: nJobs must be an integer ≥ 1, got ${nJobs}`);
    if (options.nTrials !== undefined && !(Number.isInteger(options.nTrials) && options.nTrials >= 0)) throw new ConfigError(`optimize: nTrials must be an integer ≥ 0, got ${options.nTrials}`);
    this.stopRequested = false;
    const started = this.clock();
    let launched = 0;
    let fatal: { error: unknown } | undefined;
    const running = new Set<number>();
    const heartbeat = options.heartbeatIntervalSec
      ? setInterval(() => {
          for (const trialId of running) this.storage.recordHeartbeat(trialId);
        }, options.heartbeatIntervalSec * 1000)
      : undefined;
    heartbeat?.unref();

    const mayStart = (): boolean =>
      !this.stopRequested && fatal === undefined && !options.signal?.aborted
      && (options.nTrials === undefined || launched < options.nTrials)
      && (options.timeoutSec === undefined || (this.clock() - started) / 1000 < options.timeoutSec)
      && !(this.sampler.isExhausted?.(this) ?? false);

    const worker = async (): Promise<void> => {
      try {
        while (mayStart()) {
          launched++;
          const trial = this.ask();
          running.add(trial.trialId);
          let finished: FrozenTrial;
          try {
            finished = await this.runTrial(trial, objective, options.catch, (error) => (fatal ??= { error }));
          } finally {
            running.delete(trial.trialId);
          }
          for (const callback of options.callbacks ?? []) callback(this, finished);
        }
      } catch (error) {
        fatal ??= { error };
      }
    };
    try {
      await Promise.all(Array.from({ length: nJobs }, worker));
      if (fatal) throw fatal.error;
    } finally {
      if (heartbeat) clearInterval(heartbeat);
    }
  }

  private async runTrial(trial: Trial, objective: Objective, catchOption: CatchOption | undefined, onFatal: (error: unknown) => void): Promise<FrozenTrial> {
    let result: number | readonly number[];
    try {
      result = await objective(trial);
    } catch (error) {
      // By name too: an objective may throw the class of another copy of candlelab (a notebook's, a plugin's).
      if (error instanceof TrialPruned || (error instanceof Error && error.name === 'TrialPruned')) return this.tell(trial, 'PRUNED');
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      const finished = this.tell(trial, 'FAIL', message);
      const caught = catchOption === true || (catchOption ?? []).some((kind) => error instanceof kind);
      if (!caught) onFatal(error);
      return finished;
    }
    if (typeof result === 'number' || Array.isArray(result)) return this.tell(trial, result);
    return this.tell(trial, 'FAIL', `the objective returned ${result === null ? 'null' : typeof result}, not a number or an array of numbers`);
  }

  /** Fail RUNNING trials whose process died and re-enqueue their parameters (Optuna's RetryFailedTrialCallback). */
  private failStaleTrials(): void {
    for (const stale of this.storage.staleTrials(this.studyId)) {
      if (!this.storage.setTrialStateValues(stale.trialId, 'FAIL')) continue; // another process got there first
      this.storage.setTrialSystemAttr(stale.trialId, FAIL_REASON, 'its process died while it was RUNNING');
      const history = [...((stale.systemAttrs.retry_history as number[] | undefined) ?? []), stale.number];
      if (history.length > this.maxStaleRetries) continue;
      const original = (stale.systemAttrs.failed_trial as number | undefined) ?? stale.number;
      this.storage.createTrial(this.studyId, {
        state: 'WAITING',
        systemAttrs: { fixed_params: { ...stale.params }, failed_trial: original, retry_history: history },
        userAttrs: { ...stale.userAttrs },
      });
    }
  }
}
