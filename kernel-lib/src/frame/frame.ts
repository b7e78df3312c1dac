import { DataError } from '../errors';

/** Where a series comes from. */
export type FrameMeta = {
  readonly exchange?: string;
  readonly symbol: string;
  readonly timeframe: string;
  readonly source?: string;
};

export type OhlcvColumn = 'open' | 'high' | 'low' | 'close' | 'volume';
export const OHLCV_COLUMNS: readonly OhlcvColumn[] = ['open', 'high', 'low', 'close', 'volume'];

/**
 * A columnar table: a strictly increasing epoch-ms `time` index and named Float64Array columns of equal
 * length. Frames are immutable: adding columns returns a new Frame whose type gains the keys, and column
 * buffers are shared, never copied or mutated.
 */
export class Frame<K extends string = string> {
  readonly time: Float64Array;
  readonly meta: FrameMeta;
  private readonly columns: ReadonlyMap<string, Float64Array>;

  private constructor(time: Float64Array, columns: ReadonlyMap<string, Float64Array>, meta: FrameMeta) {
    this.time = time;
    this.columns = columns;
    this.meta = meta;
  }

  /** Build a frame, checking equal lengths and a strictly increasing time index. */
  static fromColumns<C extends string>(time: Float64Array, columns: Record<C, Float64Array>, meta: FrameMeta): Frame<C> {
    const map = columnsOfLength(time.length, columns);
    for (let i = 1; i < time.length; i++) {
      if (!(time[i] > time[i - 1])) {
        throw new DataError(
          `time is not strictly increasing at row ${i} (${isoTime(time[i - 1])} then ${isoTime(time[i])}); sort and deduplicate the candles first`,
        );
      }
    }
    return new Frame<C>(time, map, meta);
  }

  /**
   * `fromColumns` for a reader that has checked the time index's strict order in a pass of its own
   * (the Arrow reader does while it converts the stored int64 times): lengths are still checked, the
   * order is not checked twice.
   */
  static fromOrderedColumns<C extends string>(time: Float64Array, columns: Record<C, Float64Array>, meta: FrameMeta): Frame<C> {
    return new Frame<C>(time, columnsOfLength(time.length, columns), meta);
  }

  get length(): number {
    return this.time.length;
  }

  /** The column names, in insertion order. */
  get names(): K[] {
    return [...this.columns.keys()] as K[];
  }

  has(name: string): name is K {
    return this.columns.has(name);
  }

  /** The column's values; throws naming the existing columns when it is absent. */
  column(name: K): Float64Array {
    const values = this.columns.get(name);
    if (!values) throw new DataError(`frame has no column '${name}'; it has: ${this.names.join(', ')}`);
    return values;
  }

  /** A new frame with these columns added (or replaced). Inputs are not mutated. */
  withColumns<N extends string>(columns: Record<N, Float64Array>): Frame<K | N> {
    const map = new Map(this.columns);
    for (const [name, values] of Object.entries<Float64Array>(columns)) {
      if (values.length !== this.length) {
        throw new DataError(`column '${name}' has ${values.length} rows but the frame has ${this.length}`);
      }
      map.set(name, values);
    }
    return new Frame<K | N>(this.time, map, this.meta);
  }

  /** The same columns with changed metadata (e.g. a timeframe inferred after reading a CSV). */
  withMeta(meta: Partial<FrameMeta>): Frame<K> {
    return new Frame<K>(this.time, this.columns, { ...this.meta, ...meta });
  }

  /** A new frame with only the named columns. */
  select<S extends K>(names: readonly S[]): Frame<S> {
    const map = new Map<string, Float64Array>();
    for (const name of names) map.set(name, this.column(name));
    return new Frame<S>(this.time, map, this.meta);
  }

  /** Rows [start, end) as views over the same buffers (no copy). */
  slice(start: number, end: number = this.length): Frame<K> {
    const map = new Map<string, Float64Array>();
    for (const [name, values] of this.columns) map.set(name, values.subarray(start, end));
    return new Frame<K>(this.time.subarray(start, end), map, this.meta);
  }

  /** Plain row objects (for display and small exports; not for hot paths). */
  rows(start = 0, end = this.length): Array<Record<'time' | K, number>> {
    const out: Array<Record<'time' | K, number>> = [];
    const names = this.names;
    for (let i = Math.max(0, start); i < Math.min(end, this.length); i++) {
      const row = { time: this.time[i] } as Record<'time' | K, number>;
      for (const name of names) row[name] = this.columns.get(name)![i];
      out.push(row);
    }
    return out;
  }
}

/** The columns as a map, each checked to hold `length` rows. */
function columnsOfLength(length: number, columns: Record<string, Float64Array>): Map<string, Float64Array> {
  const map = new Map<string, Float64Array>();
  for (const [name, values] of Object.entries<Float64Array>(columns)) {
    if (values.length !== length) {
      throw new DataError(`column '${name}' has ${values.length} rows but time has ${length}; all columns must have equal length`);
    }
    map.set(name, values);
  }
  return map;
}

/** A frame with at least the OHLCV columns. */
export type Candles = Frame<OhlcvColumn>;

/**
 * Epoch ms as ISO 8601 (`new Date(ms).toISOString()`, or String(ms) when not finite). Records carry one per
 * signal, fill and event, so the common case (whole ms from 1970 to 9999) reuses the day's date part and
 * writes the time of day itself as one flat string of char codes: a template of ten parts would make a
 * rope of ten nodes per record, kept alive with it (measured: the rope cost more than a Date per call).
 */
export function isoTime(ms: number): string {
  if (!(ms >= 0 && ms < 253_402_300_800_000 && Math.floor(ms) === ms)) return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
  const day = Math.floor(ms / 86_400_000);
  if (day !== isoDay) {
    isoDay = day;
    const prefix = new Date(day * 86_400_000).toISOString();
    for (let i = 0; i < 11; i++) isoDayCodes[i] = prefix.charCodeAt(i);
  }
  let rest = ms - day * 86_400_000;
  const milli = rest % 1000;
  rest = (rest - milli) / 1000;
  const second = rest % 60;
  rest = (rest - second) / 60;
  const minute = rest % 60;
  const hour = (rest - minute) / 60;
  const c = isoDayCodes;
  // '0' is 48; ':' 58, '.' 46, 'Z' 90
  return String.fromCharCode(
    c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10],
    48 + Math.floor(hour / 10), 48 + (hour % 10), 58, 48 + Math.floor(minute / 10), 48 + (minute % 10), 58, 48 + Math.floor(second / 10), 48 + (second % 10), 46,
    48 + Math.floor(milli / 100), 48 + (Math.floor(milli / 10) % 10), 48 + (milli % 10), 90,
  );
}
let isoDay = NaN;
/** The char codes of the day's 'YYYY-MM-DDT'. */
const isoDayCodes = new Array<number>(11).fill(0);

/** Milliseconds per bar for the usual timeframes ('1m', '5m', '15m', '1h', '4h', '1d', '1w'). */
export function timeframeMs(timeframe: string): number {
  const match = /^(\d+)([smhdw])$/.exec(timeframe);
  if (!match) throw new DataError(`unknown timeframe '${timeframe}'; use a number and a unit, like 1m, 5m, 1h, 4h, 1d`);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[match[2] as 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(match[1]) * unit;
}

/** The smallest step between consecutive times (a series' bar length when it has gaps); undefined below two rows. */
export function smallestSpacing(time: Float64Array): number | undefined {
  let step = Infinity;
  for (let i = 1; i < time.length; i++) step = Math.min(step, time[i] - time[i - 1]);
  return Number.isFinite(step) ? step : undefined;
}

/** Bars per year for annualizing (crypto trades every hour of every day). */
export function barsPerYear(timeframe: string): number {
  return (365 * 86_400_000) / timeframeMs(timeframe);
}
