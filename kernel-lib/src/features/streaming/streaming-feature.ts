import { PluginError } from '../../errors';

/**
 * One closed (or forming) candle as a streaming feature sees it: epoch-ms open time, OHLCV, and any
 * extra columns (data columns such as funding_rate, or feature columns made earlier in a feature list).
 */
export type StreamCandle = {
  readonly time: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
  readonly [column: string]: number;
};

/** A streaming feature's persisted state: plain JSON (NaN and ±Infinity encoded), safe to stringify. */
export type StreamState = { readonly kind: string; readonly version: number; readonly data: unknown };

/**
 * The streaming twin of a batch feature (the trading-signals contract, one closed candle at a time):
 * `update` adds a closed candle, `replace` revises the last one (the forming bar), and the values
 * returned for the candle at row t equal row t of the batch `compute` over the same candles.
 */
export interface StreamingFeature {
  /** The output column names, in the order the batch `compute` declares them. */
  readonly outputs: readonly string[];
  /** The declared warm-up: candles before the first value (the feature's lookback). NaN until then. */
  readonly requiredInputs: number;
  /** Candles added so far (a replace does not add one). */
  readonly count: number;
  /** Add a closed candle; its output values (NaN during warm-up). */
  update(candle: StreamCandle): Record<string, number>;
  /** Revise the last candle added (the forming bar): as if `update` had been called with this one instead. */
  replace(candle: StreamCandle): Record<string, number>;
  /** The values for the last candle, or undefined before any candle. */
  getResult(): Record<string, number> | undefined;
  /** The values for the last candle; throws during warm-up (any NaN) or before any candle. */
  getResultOrThrow(): Record<string, number>;
  /** The whole state as plain JSON, so a bot can persist it and resume with `restore`. */
  snapshot(): StreamState;
  /** Continue from a `snapshot` of a stream of the same feature and params. */
  restore(state: StreamState): void;
  /**
   * For consumers that only ever add closed candles (the prediction endpoint): stop keeping the copy of
   * the state that `replace` needs, which is most of an update's cost; `replace` then throws.
   */
  disableRevisions?(): void;
}

// ─── JSON codec for states: NaN and infinities do not survive JSON.stringify ──────────────────────

/** A state value as plain JSON: NaN → null, ±Infinity → '+Inf' / '-Inf'; arrays and objects recursively. */
export function encodeState(value: unknown): unknown {
  if (typeof value === 'number') return Number.isNaN(value) ? null : value === Infinity ? '+Inf' : value === -Infinity ? '-Inf' : value;
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return Array.from(value as ArrayLike<unknown>, encodeState);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encodeState(v)]));
  return value;
}

/** The inverse of `encodeState` (null → NaN: states hold numbers only, never a real null). */
export function decodeState(value: unknown): unknown {
  if (value === null) return NaN;
  if (value === '+Inf') return Infinity;
  if (value === '-Inf') return -Infinity;
  if (Array.isArray(value)) return value.map(decodeState);
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, decodeState(v)]));
  return value;
}

/** A deep copy of a state made of numbers, strings, booleans, arrays and plain objects (keeps NaN). */
export function copyState<S>(value: S): S {
  if (Array.isArray(value)) return value.map(copyState) as S;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key in value) out[key] = copyState((value as Record<string, unknown>)[key]);
    return out as S;
  }
  return value;
}

/** Whether any value is NaN (warm-up). */
function hasNaN(values: Record<string, number>): boolean {
  for (const key in values) if (Number.isNaN(values[key])) return true;
  return false;
}

/**
 * A streaming feature as a pure step over a plain state object: `step(state, candle)` advances the state
 * by one candle and returns the values. `replace` re-steps from a copy of the state before the last
 * candle, so every twin gets the forming-bar revision and snapshot/restore from this one place.
 */
export class SteppedStream<S> implements StreamingFeature {
  readonly outputs: readonly string[];
  readonly requiredInputs: number;
  private readonly kind: string;
  private readonly step: (state: S, candle: StreamCandle) => Record<string, number>;
  private state: S;
  private before: S | undefined;
  private last: Record<string, number> | undefined;
  private added = 0;
  private revisable = true;

  constructor(options: { kind: string; outputs: readonly string[]; requiredInputs: number; initial: S; step: (state: S, candle: StreamCandle) => Record<string, number> }) {
    this.kind = options.kind;
    this.outputs = options.outputs;
    this.requiredInputs = options.requiredInputs;
    this.state = options.initial;
    this.step = options.step;
  }

  get count(): number {
    return this.added;
  }

  update(candle: StreamCandle): Record<string, number> {
    if (this.revisable) this.before = copyState(this.state);
    this.added++;
    this.last = this.step(this.state, candle);
    return this.last;
  }

  replace(candle: StreamCandle): Record<string, number> {
    if (!this.revisable) throw new PluginError(`${this.kind}: this stream takes closed candles only (revisions were disabled); use a stream made without closedOnly to revise the forming bar`);
    if (this.before === undefined) throw new PluginError(`${this.kind}: replace() needs a candle added by update() first (nothing to revise at candle ${candle.time})`);
    this.state = copyState(this.before);
    this.last = this.step(this.state, candle);
    return this.last;
  }

  getResult(): Record<string, number> | undefined {
    return this.last;
  }

  disableRevisions(): void {
    this.revisable = false;
    this.before = undefined;
  }

  getResultOrThrow(): Record<string, number> {
    if (this.last === undefined || hasNaN(this.last)) {
      throw new PluginError(`${this.kind}: no value yet after ${this.added} candles; it needs ${this.requiredInputs + 1} (warm-up ${this.requiredInputs})`);
    }
    return this.last;
  }

  snapshot(): StreamState {
    return { kind: this.kind, version: 1, data: encodeState({ state: this.state, before: this.before ?? null, last: this.last ?? null, added: this.added }) };
  }

  restore(saved: StreamState): void {
    if (saved.kind !== this.kind) throw new PluginError(`cannot restore a '${saved.kind}' stream state into a '${this.kind}' stream; restore into the feature it was taken from`);
    // null marks "absent" here; decodeState would read it as NaN, so look before decoding
    const raw = saved.data as { state: unknown; before: unknown; last: unknown; added: number };
    this.state = decodeState(raw.state) as S;
    this.before = raw.before === null ? undefined : (decodeState(raw.before) as S);
    this.last = raw.last === null ? undefined : (decodeState(raw.last) as Record<string, number>);
    this.added = raw.added;
  }
}
