import { ConfigError } from '../errors';

/**
 * Search-space distributions, as in Optuna: a float range (optionally log-scaled or on a step grid),
 * an integer range (optionally log-scaled or stepped) and a list of categorical choices. Plain JSON
 * objects, so a journal can store them and another process can read them back.
 *
 * Samplers work in the "internal" representation: the value itself for numbers, the choice index for
 * categoricals (Optuna's `to_internal_repr`).
 */
export type CategoricalChoice = string | number | boolean | null;
export type ParamValue = CategoricalChoice;

export type FloatDistribution = { readonly type: 'float'; readonly low: number; readonly high: number; readonly log: boolean; readonly step: number | null };
export type IntDistribution = { readonly type: 'int'; readonly low: number; readonly high: number; readonly log: boolean; readonly step: number };
export type CategoricalDistribution = { readonly type: 'categorical'; readonly choices: readonly CategoricalChoice[] };
export type Distribution = FloatDistribution | IntDistribution | CategoricalDistribution;

export type NumericOptions = { log?: boolean; step?: number };

/** Round off binary noise from `low + k·step` (0.1 + 2·0.1 → 0.30000000000000004 → 0.3). */
function tidy(x: number): number {
  return Number.parseFloat(x.toPrecision(15));
}

/**
 * A float range. With `step`, `high` is lowered to the last grid point `low + k·step` (Optuna does
 * the same, with a warning); `log` and `step` cannot be combined.
 */
export function floatDistribution(name: string, low: number, high: number, options: NumericOptions = {}): FloatDistribution {
  const log = options.log ?? false;
  const step = options.step ?? null;
  if (!Number.isFinite(low) || !Number.isFinite(high)) throw new ConfigError(`suggestFloat('${name}'): low and high must be finite numbers, got [${low}, ${high}]`);
  if (low > high) throw new ConfigError(`suggestFloat('${name}'): low ${low} is above high ${high}; swap them`);
  if (log && step !== null) throw new ConfigError(`suggestFloat('${name}'): log and step cannot be combined; drop one of them`);
  if (log && low <= 0) throw new ConfigError(`suggestFloat('${name}'): a log range needs low > 0, got ${low}`);
  if (step !== null && !(step > 0)) throw new ConfigError(`suggestFloat('${name}'): step must be positive, got ${step}`);
  let top = high;
  if (step !== null) top = tidy(low + Math.floor(tidy((high - low) / step)) * step);
  return { type: 'float', low, high: top, log, step };
}

/** An integer range; with `step`, `high` is lowered to the last value `low + k·step`. */
export function intDistribution(name: string, low: number, high: number, options: NumericOptions = {}): IntDistribution {
  const log = options.log ?? false;
  const step = options.step ?? 1;
  if (!Number.isInteger(low) || !Number.isInteger(high)) throw new ConfigError(`suggestInt('${name}'): low and high must be integers, got [${low}, ${high}]`);
  if (low > high) throw new ConfigError(`suggestInt('${name}'): low ${low} is above high ${high}; swap them`);
  if (!Number.isInteger(step) || step < 1) throw new ConfigError(`suggestInt('${name}'): step must be a positive integer, got ${step}`);
  if (log && step !== 1) throw new ConfigError(`suggestInt('${name}'): log needs step 1, got step ${step}; drop one of them`);
  if (log && low < 1) throw new ConfigError(`suggestInt('${name}'): a log range needs low ≥ 1, got ${low}`);
  return { type: 'int', low, high: low + Math.floor((high - low) / step) * step, log, step };
}

export function categoricalDistribution(name: string, choices: readonly CategoricalChoice[]): CategoricalDistribution {
  if (!Array.isArray(choices) || choices.length === 0) throw new ConfigError(`suggestCategorical('${name}'): choices must be a non-empty array`);
  for (const choice of choices) {
    const kind = typeof choice;
    if (!(choice === null || kind === 'string' || kind === 'number' || kind === 'boolean')) {
      throw new ConfigError(`suggestCategorical('${name}'): choices must be strings, numbers, booleans or null (storable as JSON), got ${kind}`);
    }
  }
  return { type: 'categorical', choices: [...choices] };
}

function sameChoice(a: CategoricalChoice, b: CategoricalChoice): boolean {
  return a === b || (typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b));
}

/** The internal (sampler-side) value: the number itself, or the index of a categorical choice. */
export function toInternal(distribution: Distribution, value: ParamValue): number {
  if (distribution.type === 'categorical') {
    const index = distribution.choices.findIndex((choice) => sameChoice(choice, value));
    if (index < 0) throw new ConfigError(`value ${JSON.stringify(value)} is not one of the choices ${JSON.stringify(distribution.choices)}`);
    return index;
  }
  if (typeof value !== 'number' || Number.isNaN(value)) throw new ConfigError(`a ${distribution.type} parameter needs a number, got ${JSON.stringify(value)}`);
  return value;
}

/** The user-facing value of an internal value. */
export function toExternal(distribution: Distribution, internal: number): ParamValue {
  if (distribution.type === 'categorical') return distribution.choices[Math.round(internal)];
  if (distribution.type === 'int') return Math.round(internal);
  if (distribution.step !== null) {
    // On the grid, without binary noise: low 0.35, step 0.05, k 2 → 0.45 (not 0.44999999999999996)
    const k = Math.round((internal - distribution.low) / distribution.step);
    return Number((distribution.low + k * distribution.step).toPrecision(12));
  }
  return internal;
}

/** Whether an internal value lies in the distribution (on its grid, for stepped ones). */
export function distributionContains(distribution: Distribution, internal: number): boolean {
  if (distribution.type === 'categorical') return Number.isInteger(internal) && internal >= 0 && internal < distribution.choices.length;
  if (!(internal >= distribution.low && internal <= distribution.high)) return false;
  if (distribution.type === 'int') return Number.isInteger(internal) && (internal - distribution.low) % distribution.step === 0;
  if (distribution.step === null) return true;
  const k = (internal - distribution.low) / distribution.step;
  return Math.abs(k - Math.round(k)) < 1e-8;
}

/** A distribution with one possible value (samplers leave those alone). */
export function isSingle(distribution: Distribution): boolean {
  if (distribution.type === 'categorical') return distribution.choices.length === 1;
  if (distribution.low === distribution.high) return true;
  return distribution.type === 'float' && distribution.step !== null && distribution.high - distribution.low < distribution.step;
}

/** The only value of a single-valued distribution. */
export function singleValue(distribution: Distribution): ParamValue {
  return distribution.type === 'categorical' ? distribution.choices[0] : distribution.low;
}

export function distributionsEqual(a: Distribution, b: Distribution): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'categorical') {
    const choices = (b as CategoricalDistribution).choices;
    return a.choices.length === choices.length && a.choices.every((choice, i) => sameChoice(choice, choices[i]));
  }
  const other = b as FloatDistribution | IntDistribution;
  return a.low === other.low && a.high === other.high && a.log === other.log && a.step === other.step;
}

/** Text for error messages: `float [0.001, 1] log`, `categorical ["a","b"]`. */
export function describeDistribution(distribution: Distribution): string {
  if (distribution.type === 'categorical') return `categorical ${JSON.stringify(distribution.choices)}`;
  const extras = [distribution.log ? 'log' : '', distribution.step !== null && !(distribution.type === 'int' && distribution.step === 1) ? `step ${distribution.step}` : ''].filter(Boolean);
  return `${distribution.type} [${distribution.low}, ${distribution.high}]${extras.length ? ' ' + extras.join(' ') : ''}`;
}

/**
 * A parameter suggested again in the same trial, or in another trial of the study, must keep its kind
 * (Optuna's check_distribution_compatibility): a float cannot become categorical, and categorical
 * choices cannot change, since samplers compare internal values across trials.
 */
export function assertCompatible(name: string, previous: Distribution, next: Distribution): void {
  if (previous.type !== next.type) {
    throw new ConfigError(`parameter '${name}' was ${describeDistribution(previous)} and is now ${describeDistribution(next)}; one name must keep one kind, rename one of them`);
  }
  if (previous.type === 'categorical' && !distributionsEqual(previous, next)) {
    throw new ConfigError(`parameter '${name}' changed its choices from ${JSON.stringify(previous.choices)} to ${JSON.stringify((next as CategoricalDistribution).choices)}; categorical choices cannot change within a study, use a new name`);
  }
  if (previous.type !== 'categorical' && previous.log !== (next as FloatDistribution | IntDistribution).log) {
    throw new ConfigError(`parameter '${name}' changed log scaling (${describeDistribution(previous)} → ${describeDistribution(next)}); use a new name`);
  }
}
