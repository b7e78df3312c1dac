import { PluginError } from '../../errors';
import { copyState, decodeState, encodeState, type StreamCandle, type StreamingFeature, type StreamState } from './streaming-feature';

/** The twin's own state: the forming higher bar, whether it was fed on, and the inner feature's last values. */
type HigherState = {
  /** Open time of the higher bar being built (NaN before any candle). */
  bucket: number;
  /** Whether it is the first bucket of the stream (dropped, as `resampleCandles` drops it: the data may start inside it). */
  first: boolean;
  /** Whether it was already handed to the inner stream (it closed). */
  fed: boolean;
  /** open, high, low, close, volume of the bucket so far. */
  bar: number[];
  /** The inner feature's values for the latest closed higher bar (NaN before one). */
  values: number[];
};

/**
 * The streaming twin of core/higher-timeframe: it builds the higher bar from the base candles as
 * `resampleCandles` does (UTC-aligned buckets, the first bucket dropped), hands each bucket to the inner
 * feature's own stream (its twin, or its trailing buffer on the higher bars) once it has closed — when
 * a base candle closes at or after the bucket's close, or a candle of a later bucket arrives (a gap) —
 * and gives every base candle the inner values of the latest closed higher bar, as `alignToBase` does.
 * O(1) per base candle plus one inner update per higher bar, at any ratio (1m → 1d included), so it
 * equals the batch on every candle; the trailing buffer it replaces kept too few higher bars on 1m data.
 */
export class HigherTimeframeStream implements StreamingFeature {
  readonly outputs: readonly string[];
  readonly requiredInputs: number;
  private state: HigherState;
  private before: HigherState | undefined;
  /** The inner stream's snapshot before the last update fed it (for `replace`); null when that update did not. */
  private innerBefore: StreamState | null = null;
  private last: Record<string, number> | undefined;
  private added = 0;
  private revisable = true;

  constructor(
    private readonly kind: string,
    outputs: readonly string[],
    requiredInputs: number,
    private readonly inner: StreamingFeature,
    private readonly baseStep: number,
    private readonly step: number,
  ) {
    if (outputs.length !== inner.outputs.length) throw new PluginError(`${kind}: ${outputs.length} outputs for an inner feature of ${inner.outputs.length}`);
    this.outputs = outputs;
    this.requiredInputs = requiredInputs;
    this.state = { bucket: NaN, first: true, fed: false, bar: [], values: inner.outputs.map(() => NaN) };
  }

  get count(): number {
    return this.added;
  }

  private feed(fedThisUpdate: { done: boolean }): void {
    const s = this.state;
    s.fed = true;
    if (s.first) return;
    if (this.revisable && !fedThisUpdate.done) this.innerBefore = this.inner.snapshot();
    fedThisUpdate.done = true;
    const [open, high, low, close, volume] = s.bar;
    const values = this.inner.update({ time: s.bucket, open, high, low, close, volume });
    s.values = this.inner.outputs.map((name) => values[name]);
  }

  private advance(c: StreamCandle): Record<string, number> {
    const s = this.state;
    const fed = { done: false };
    const start = Math.floor(c.time / this.step) * this.step;
    if (start !== s.bucket) {
      const hadBucket = !Number.isNaN(s.bucket);
      if (hadBucket && !s.fed) this.feed(fed); // a gap: the bucket closed without its last candle
      s.bucket = start;
      s.first = !hadBucket;
      s.fed = false;
      s.bar = [c.open, c.high, c.low, c.close, c.volume];
    } else {
      // the same comparisons as resampleCandles (NaN never replaces a value)
      if (c.high > s.bar[1]) s.bar[1] = c.high;
      if (c.low < s.bar[2]) s.bar[2] = c.low;
      s.bar[3] = c.close;
      s.bar[4] += c.volume;
    }
    if (!s.fed && c.time + this.baseStep >= start + this.step) this.feed(fed);
    if (!fed.done) this.innerBefore = null;
    const row: Record<string, number> = {};
    this.outputs.forEach((name, k) => (row[name] = s.values[k]));
    this.last = row;
    return row;
  }

  update(candle: StreamCandle): Record<string, number> {
    if (this.revisable) this.before = copyState(this.state);
    this.added++;
    return this.advance(candle);
  }

  replace(candle: StreamCandle): Record<string, number> {
    if (!this.revisable) throw new PluginError(`${this.kind}: this stream takes closed candles only (revisions were disabled); use a stream made without closedOnly to revise the forming bar`);
    if (this.before === undefined) throw new PluginError(`${this.kind}: replace() needs a candle added by update() first (nothing to revise at candle ${candle.time})`);
    if (this.innerBefore) this.inner.restore(this.innerBefore);
    this.state = copyState(this.before);
    return this.advance(candle);
  }

  getResult(): Record<string, number> | undefined {
    return this.last;
  }

  getResultOrThrow(): Record<string, number> {
    if (this.last === undefined || Object.values(this.last).some(Number.isNaN)) {
      throw new PluginError(`${this.kind}: no value yet after ${this.added} candles; it needs ${this.requiredInputs + 1} (warm-up ${this.requiredInputs})`);
    }
    return this.last;
  }

  disableRevisions(): void {
    this.revisable = false;
    this.before = undefined;
    this.innerBefore = null;
    this.inner.disableRevisions?.();
  }

  snapshot(): StreamState {
    return {
      kind: this.kind,
      version: 1,
      data: {
        own: encodeState({ state: this.state, before: this.before ?? null, last: this.last ?? null, added: this.added }),
        innerBefore: this.innerBefore,
        inner: this.inner.snapshot(),
      },
    };
  }

  restore(saved: StreamState): void {
    if (saved.kind !== this.kind) throw new PluginError(`cannot restore a '${saved.kind}' stream state into a '${this.kind}' stream; restore into the feature it was taken from`);
    const data = saved.data as { own: { state: unknown; before: unknown; last: unknown; added: number }; innerBefore: StreamState | null; inner: StreamState };
    this.state = decodeState(data.own.state) as HigherState;
    this.before = data.own.before === null ? undefined : (decodeState(data.own.before) as HigherState);
    this.last = data.own.last === null ? undefined : (decodeState(data.own.last) as Record<string, number>);
    this.added = data.own.added;
    this.innerBefore = data.innerBefore;
    this.inner.restore(data.inner);
  }
}
