import { newLargeFloat64Arrays } from '../util/huge-pages';

/**
 * The per-event series of a one-asset replay, kept as the state they come from instead of per-bar arrays.
 *
 * At each event (a bar's close) the engine stores equity, cash and gross exposure / equity, marked at the
 * close: equity = cash + Σ units × close over the sleeves, summed in sleeve order as the kernel's markAll
 * does. Cash and units change only when something fills, so the ledger logs them when they change; the
 * series come back on read with the same expressions, so the same bits. An event whose stored values the
 * logged state does not give (a mark at another price) is kept whole, as an exception.
 *
 * A run then writes no per-bar memory; whoever reads a series pays for that one.
 */
export class SeriesLedger {
  /** Logged states: from event at[e] on, cash[e] and units[e × sleeves + s]. */
  private readonly at: number[] = [];
  private readonly cash: number[] = [];
  private readonly units: number[] = [];
  /** Events stored whole: their equity and gross exposure. */
  private readonly fixAt: number[] = [];
  private readonly fixEquity: number[] = [];
  private readonly fixGross: number[] = [];

  constructor(readonly sleeves: number) {}

  /** The state holding from event k on (k never decreases); a second log at the same event replaces the first. */
  log(k: number, cash: number, units: ArrayLike<number>): void {
    let e = this.at.length - 1;
    const count = this.sleeves;
    if (e >= 0) {
      // Object.is: −0 and +0 mark differently in a sum of zeros, so they are different states
      let same = Object.is(this.cash[e], cash);
      for (let s = 0; same && s < count; s++) same = Object.is(this.units[e * count + s], units[s]);
      if (same) return;
    }
    if (e < 0 || this.at[e] !== k) {
      e++;
      this.at.push(k);
      this.cash.push(0);
      for (let s = 0; s < count; s++) this.units.push(0);
    }
    this.cash[e] = cash;
    for (let s = 0; s < count; s++) this.units[e * count + s] = units[s];
  }

  /** Event k (logged) stores `equity` and `gross`: kept as an exception unless the logged state gives them at `price`. */
  check(k: number, price: number, equity: number, gross: number): void {
    const e = this.at.length - 1;
    const value = this.marks(e, price);
    const total = this.total;
    const last = this.fixAt.length - 1;
    if (Object.is(value, equity) && Object.is(value > 0 ? total / value : NaN, gross)) {
      // a second check of the same event that passes drops the first one's exception
      if (last >= 0 && this.fixAt[last] === k) [this.fixAt.length, this.fixEquity.length, this.fixGross.length] = [last, last, last];
      return;
    }
    const f = last >= 0 && this.fixAt[last] === k ? last : this.fixAt.push(k) - 1;
    this.fixEquity[f] = equity;
    this.fixGross[f] = gross;
  }

  /** Events stored whole (none when every mark is at the close). */
  get exceptions(): number {
    return this.fixAt.length;
  }

  /**
   * Events [0, n)'s equity, cash or gross exposure / equity, event k marked at close[k]; into `into` when
   * given, else new memory. Every event below n must have been logged.
   */
  derive(which: 'equity' | 'cash' | 'gross', n: number, close: ArrayLike<number>, into?: Float64Array): Float64Array {
    const out = into ?? newLargeFloat64Arrays(1, n)[0];
    const { at, cash, units } = this;
    const count = this.sleeves;
    for (let e = 0; e < at.length && at[e] < n; e++) {
      const from = at[e];
      const to = e + 1 < at.length ? Math.min(at[e + 1], n) : n;
      const cashThen = cash[e];
      if (which === 'cash') {
        out.fill(cashThen, from, to);
      } else if (count === 1) {
        // one sleeve: sums of one term, in loops of their own
        const held = units[e];
        if (which === 'equity') {
          for (let k = from; k < to; k++) out[k] = cashThen + held * close[k];
        } else {
          for (let k = from; k < to; k++) {
            const positionValue = held * close[k];
            const value = cashThen + positionValue;
            out[k] = value > 0 ? Math.abs(positionValue) / value : NaN;
          }
        }
      } else {
        for (let k = from; k < to; k++) {
          const value = this.marks(e, close[k]);
          out[k] = which === 'equity' ? value : value > 0 ? this.total / value : NaN;
        }
      }
    }
    if (which !== 'cash') {
      const fixed = which === 'equity' ? this.fixEquity : this.fixGross;
      for (let f = 0; f < this.fixAt.length && this.fixAt[f] < n; f++) out[this.fixAt[f]] = fixed[f];
    }
    return out;
  }

  /** marks' gross exposure (a field: no array per call). */
  private total = 0;

  /** Equity of logged state e at `price` (its gross exposure into `total`), summed as the kernel's markAll sums them. */
  private marks(e: number, price: number): number {
    let value = this.cash[e];
    let total = 0;
    for (let s = 0; s < this.sleeves; s++) {
      const positionValue = this.units[e * this.sleeves + s] * price;
      value += positionValue;
      total += Math.abs(positionValue);
    }
    this.total = total;
    return value;
  }
}
