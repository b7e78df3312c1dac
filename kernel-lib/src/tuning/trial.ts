import { ConfigError } from '../errors';
import {
  assertCompatible,
  categoricalDistribution,
  describeDistribution,
  distributionContains,
  distributionsEqual,
  floatDistribution,
  intDistribution,
  isSingle,
  singleValue,
  toInternal,
  type CategoricalChoice,
  type Distribution,
  type NumericOptions,
  type ParamValue,
} from './distributions';
import type { FrozenTrial, StudyView } from './frozen-trial';
import type { Pruner } from './pruners/pruner';
import type { Sampler } from './samplers/sampler';
import type { Storage } from './storage/storage';

/**
 * Throw from an objective (usually right after `trial.shouldPrune()` said so) to end the trial as
 * PRUNED; the study records its last reported value.
 */
export class TrialPruned extends Error {
  constructor(message = 'trial pruned') {
    super(message);
    this.name = 'TrialPruned';
  }
}

/** What a trial needs from its study (the Study class provides it). */
export interface TrialHost extends StudyView {
  readonly storage: Storage;
  readonly sampler: Sampler;
  readonly pruner: Pruner;
  /** The study as the sampler sees it for this trial (the Hyperband pruner narrows it to a bracket). */
  samplerView(trial: FrozenTrial): StudyView;
}

/**
 * A running trial, handed to the objective: suggest parameters, report intermediate values and ask
 * whether to prune. Every call is stored at once, so another process sharing the journal sees it.
 */
export class Trial {
  private frozen: FrozenTrial;
  private readonly relativeSearchSpace: Record<string, Distribution>;
  private readonly relativeParams: Record<string, ParamValue>;

  /** @internal Studies create trials (`study.ask()`); objectives receive them. */
  constructor(private readonly host: TrialHost, frozen: FrozenTrial) {
    this.frozen = frozen;
    const view = host.samplerView(frozen);
    host.sampler.beforeTrial?.(view, this.frozen);
    this.frozen = host.storage.getTrial(frozen.trialId);
    this.relativeSearchSpace = host.sampler.inferRelativeSearchSpace(view, this.frozen);
    this.relativeParams = host.sampler.sampleRelative(view, this.frozen, this.relativeSearchSpace);
    this.frozen = host.storage.getTrial(frozen.trialId);
  }

  get number(): number {
    return this.frozen.number;
  }

  /** @internal storage id, for `study.tell`. */
  get trialId(): number {
    return this.frozen.trialId;
  }

  get params(): Readonly<Record<string, ParamValue>> {
    return this.frozen.params;
  }

  get distributions(): Readonly<Record<string, Distribution>> {
    return this.frozen.distributions;
  }

  get userAttrs(): Readonly<Record<string, unknown>> {
    return this.frozen.userAttrs;
  }

  get systemAttrs(): Readonly<Record<string, unknown>> {
    return this.frozen.systemAttrs;
  }

  get intermediateValues(): Readonly<Record<number, number>> {
    return this.frozen.intermediateValues;
  }

  get datetimeStart(): string | undefined {
    return this.frozen.datetimeStart;
  }

  /** A float in [low, high]; `log` samples uniformly in log space, `step` on the grid low + k·step. */
  suggestFloat(name: string, low: number, high: number, options: NumericOptions = {}): number {
    return this.suggest(name, floatDistribution(name, low, high, options)) as number;
  }

  /** An integer in [low, high]; `log` samples uniformly in log space, `step` on the grid low + k·step. */
  suggestInt(name: string, low: number, high: number, options: NumericOptions = {}): number {
    return this.suggest(name, intDistribution(name, low, high, options)) as number;
  }

  /** One of `choices` (strings, numbers, booleans or null: they are stored as JSON). */
  suggestCategorical<T extends CategoricalChoice>(name: string, choices: readonly T[]): T {
    return this.suggest(name, categoricalDistribution(name, choices)) as T;
  }

  /**
   * Record the objective's value at `step` (an integer ≥ 0, e.g. the epoch) for pruners and the
   * intermediate-values plot. Reporting a step twice keeps the first value, as Optuna does.
   */
  report(value: number, step: number): void {
    if (this.host.directions.length > 1) throw new ConfigError('trial.report is for single-objective studies (pruners compare one value); report nothing in multi-objective studies');
    if (!Number.isInteger(step) || step < 0) throw new ConfigError(`trial.report: step must be an integer ≥ 0, got ${step}`);
    if (typeof value !== 'number') throw new ConfigError(`trial.report: value must be a number, got ${typeof value}`);
    if (step in this.frozen.intermediateValues) return;
    this.host.storage.setTrialIntermediateValue(this.frozen.trialId, step, value);
    this.frozen = this.host.storage.getTrial(this.frozen.trialId);
  }

  /** Whether the study's pruner judges this trial not worth continuing (then throw `new TrialPruned()`). */
  shouldPrune(): boolean {
    if (this.host.directions.length > 1) throw new ConfigError('trial.shouldPrune is for single-objective studies; pruners compare one value');
    const decision = this.host.pruner.prune(this.host, this.frozen);
    this.frozen = this.host.storage.getTrial(this.frozen.trialId);
    return decision;
  }

  /** Attach a JSON value to the trial (shown in `study.trials`, kept in the journal). */
  setUserAttr(key: string, value: unknown): void {
    this.host.storage.setTrialUserAttr(this.frozen.trialId, key, value);
    this.frozen = this.host.storage.getTrial(this.frozen.trialId);
  }

  /** Suggest with a ready-made distribution (what the typed suggest methods and `study.ask(fixed)` use). */
  suggestDistribution(name: string, distribution: Distribution): ParamValue {
    return this.suggest(name, distribution);
  }

  private suggest(name: string, distribution: Distribution): ParamValue {
    const previous = this.frozen.distributions[name];
    if (previous) {
      assertCompatible(name, previous, distribution);
      return this.frozen.params[name];
    }
    let value: ParamValue;
    const fixed = (this.frozen.systemAttrs.fixed_params as Record<string, ParamValue> | undefined) ?? undefined;
    if (fixed && name in fixed) {
      if (!fixedFits(distribution, fixed[name])) throw new ConfigError(`trial ${this.number}: enqueued value ${JSON.stringify(fixed[name])} of '${name}' is outside ${describeDistribution(distribution)}; enqueue a value the suggest call accepts`);
      value = fixed[name];
    } else if (isSingle(distribution)) value = singleValue(distribution);
    else if (name in this.relativeParams && this.relativeSearchSpace[name] && distributionsEqual(this.relativeSearchSpace[name], distribution)) value = this.relativeParams[name];
    else value = this.host.sampler.sampleIndependent(this.host.samplerView(this.frozen), this.frozen, name, distribution);
    this.host.storage.setTrialParam(this.frozen.trialId, name, toInternal(distribution, value), distribution);
    this.frozen = this.host.storage.getTrial(this.frozen.trialId);
    return this.frozen.params[name];
  }
}

/** Whether an enqueued value fits the suggest call (Optuna only warns; we refuse, see suggest). */
function fixedFits(distribution: Distribution, value: ParamValue): boolean {
  try {
    return distributionContains(distribution, toInternal(distribution, value));
  } catch {
    return false;
  }
}
