import { PluginError } from '../../errors';
import { copyState, decodeState, encodeState, type StreamCandle, type StreamingFeature, type StreamState } from './streaming-feature';

/** A series kept by row: `values[k]` is row `offset + k`'s value. */
export type RowHistory = { values: number[]; offset: number };

/** Row `row` of a history (it must still be kept). */
export function historyAt(history: RowHistory, row: number): number {
  return history.values[row - history.offset];
}

/** Rows `from` (inclusive) to `to` (exclusive) of a history, as a Float64Array. */
export function historyRows(history: RowHistory, from: number, to: number): Float64Array {
  if (from < history.offset) throw new PluginError(`stream history: row ${from} was dropped (rows kept from ${history.offset}); the stream keeps too few rows`);
  return Float64Array.from(history.values.slice(from - history.offset, to - history.offset));
}

/**
 * A streaming feature whose step needs a series of past values (a fitted feature's returns, for its
 * refits) besides a small plain-JSON state. Unlike `SteppedStream`, a revision does not copy the history:
 * it is append-only, so `replace` truncates it to its length before the last update and re-steps from a
 * copy of the small state only. Rows older than `keep(state)` are dropped (in amortized O(1) per update).
 */
export class HistoryStream<S> implements StreamingFeature {
  readonly outputs: readonly string[];
  readonly requiredInputs: number;
  private state: S;
  private history: RowHistory = { values: [], offset: 0 };
  private before: { state: S; length: number } | undefined;
  private last: Record<string, number> | undefined;
  private added = 0;
  private revisable = true;

  constructor(
    private readonly options: {
      kind: string;
      outputs: readonly string[];
      requiredInputs: number;
      initial: S;
      /** Rows of history the next steps may still read (Infinity: all). */
      keep: (state: S) => number;
      /** Advance by one candle: append its row to the history, update the state, return the values. */
      step: (state: S, history: RowHistory, candle: StreamCandle) => number[];
    },
  ) {
    this.outputs = options.outputs;
    this.requiredInputs = options.requiredInputs;
    this.state = options.initial;
  }

  get count(): number {
    return this.added;
  }

  private advance(candle: StreamCandle): Record<string, number> {
    const values = this.options.step(this.state, this.history, candle);
    const row: Record<string, number> = {};
    this.outputs.forEach((name, k) => (row[name] = values[k]));
    this.last = row;
    return row;
  }

  update(candle: StreamCandle): Record<string, number> {
    const keep = this.options.keep(this.state);
    const h = this.history;
    if (h.values.length > 2 * keep + 64) {
      const drop = h.values.length - keep;
      h.values.splice(0, drop);
      h.offset += drop;
    }
    if (this.revisable) this.before = { state: copyState(this.state), length: h.values.length };
    this.added++;
    return this.advance(candle);
  }

  replace(candle: StreamCandle): Record<string, number> {
    if (!this.revisable) throw new PluginError(`${this.options.kind}: this stream takes closed candles only (revisions were disabled); use a stream made without closedOnly to revise the forming bar`);
    if (this.before === undefined) throw new PluginError(`${this.options.kind}: replace() needs a candle added by update() first (nothing to revise at candle ${candle.time})`);
    this.history.values.length = this.before.length;
    this.state = copyState(this.before.state);
    return this.advance(candle);
  }

  getResult(): Record<string, number> | undefined {
    return this.last;
  }

  getResultOrThrow(): Record<string, number> {
    if (this.last === undefined || Object.values(this.last).some(Number.isNaN)) {
      throw new PluginError(`${this.options.kind}: no value yet after ${this.added} candles; it needs ${this.requiredInputs + 1} (warm-up ${this.requiredInputs})`);
    }
    return this.last;
  }

  disableRevisions(): void {
    this.revisable = false;
    this.before = undefined;
  }

  snapshot(): StreamState {
    return {
      kind: this.options.kind,
      version: 1,
      data: encodeState({ state: this.state, history: this.history, before: this.before ?? null, last: this.last ?? null, added: this.added }),
    };
  }

  restore(saved: StreamState): void {
    if (saved.kind !== this.options.kind) throw new PluginError(`cannot restore a '${saved.kind}' stream state into a '${this.options.kind}' stream; restore into the feature it was taken from`);
    const raw = saved.data as { state: unknown; history: unknown; before: unknown; last: unknown; added: number };
    this.state = decodeState(raw.state) as S;
    this.history = decodeState(raw.history) as RowHistory;
    this.before = raw.before === null ? undefined : (decodeState(raw.before) as { state: S; length: number });
    this.last = raw.last === null ? undefined : (decodeState(raw.last) as Record<string, number>);
    this.added = raw.added;
  }
}
