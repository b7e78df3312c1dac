/**
 * Risk measures used by the backtest engine's monitors: rolling historical VaR / CVaR, and portfolio
 * volatility from the covariance of asset returns (the rolling deviation is features/kernels'
 * `rollingDeviation`).
 */
export { rollingDeviation } from '../features/kernels';

export type RollingTailState = { ring: number[]; tailPositions: number[]; inTail: number[]; tailLength: number; count: number; next: number };

/**
 * Rolling historical VaR and CVaR over the last `window` values. Only the lower tail matters, so only
 * the ⌊(1 − confidence) × window⌋ + 1 smallest values are kept sorted (as positions in a ring buffer);
 * the tail is rebuilt from the window when one of its members expires (≈ 1 − confidence of the pushes).
 * Amortized cost per push: a few comparisons, not a sort of the window.
 */
export class RollingTail {
  private readonly ring: Float64Array;
  /** Ring positions of the smallest values of the window, sorted by (value, position). */
  private readonly tailPositions: Int32Array;
  private readonly inTail: Uint8Array;
  /** The tail holds up to twice the values a read needs, so most expirations need no rescan. */
  private readonly needed: number;
  private tailLength = 0;
  private count = 0;
  private next = 0;
  /** The last `read`'s VaR and CVaR (fields, so the engine's per-bar read allocates nothing). */
  valueAtRisk = NaN;
  conditionalValueAtRisk = NaN;
  /**
   * The fields above are those of the current window: no push since the last read changed the tail's
   * first `needed` entries (a full window's read uses only those), so `read` has nothing to redo. Most
   * pushes change nothing there (a new value joins them, or one of them expires, ≈ 2 × (1 − confidence)).
   */
  private current = false;

  constructor(
    readonly window: number,
    readonly confidence: number,
  ) {
    this.ring = new Float64Array(window);
    this.inTail = new Uint8Array(window);
    this.needed = Math.floor((1 - confidence) * window) + 1;
    this.tailPositions = new Int32Array(Math.min(window, 2 * this.needed));
  }

  get full(): boolean {
    return this.count === this.window;
  }

  /** The argument of `pushValue` (a field: a double argument to a call that is not inlined is boxed). */
  value = 0.5;

  push(value: number): void {
    this.value = value;
    this.pushValue();
  }

  /** Push `this.value`: `push` without a boxed argument on the engine's per-bar path. */
  pushValue(): void {
    const value = this.value;
    const position = this.next;
    this.next = position + 1 === this.window ? 0 : position + 1;
    if (this.count < this.window) {
      // filling: the tail is the smallest min(capacity, count) values
      this.count++;
      this.ring[position] = value;
      this.insert(position, true);
      this.current = false;
      return;
    }
    if (this.inTail[position]) this.remove(position);
    this.ring[position] = value;
    // Invariant: the tail holds the `tailLength` smallest values of the window. A new value joins only if
    // it is smaller than the tail's largest (larger values may be preceded by values outside the tail).
    if (this.tailLength > 0 && this.before(position, this.tailPositions[this.tailLength - 1])) this.insert(position, false);
    if (this.tailLength < this.needed) this.refill();
  }

  /** (value, position) order: ties broken by position, so the tail is well defined with repeats. */
  private before(p: number, q: number): boolean {
    return this.ring[p] < this.ring[q] || (this.ring[p] === this.ring[q] && p < q);
  }

  /** Insert into the sorted tail; when full, the largest is dropped (or the newcomer, if it is largest). */
  private insert(position: number, filling: boolean): void {
    const positions = this.tailPositions;
    const capacity = positions.length;
    if (this.tailLength === capacity) {
      const last = positions[capacity - 1];
      if (filling && !this.before(position, last)) return;
      this.inTail[last] = 0;
      this.tailLength--;
      if (capacity <= this.needed) this.current = false;
    }
    let i = this.tailLength++;
    while (i > 0 && this.before(position, positions[i - 1])) {
      positions[i] = positions[i - 1];
      i--;
    }
    positions[i] = position;
    this.inTail[position] = 1;
    if (i < this.needed) this.current = false;
  }

  private remove(position: number): void {
    const positions = this.tailPositions;
    let i = 0;
    while (positions[i] !== position) i++;
    if (i < this.needed) this.current = false;
    for (; i < this.tailLength - 1; i++) positions[i] = positions[i + 1];
    this.tailLength--;
    this.inTail[position] = 0;
  }

  /** Rebuild the tail from the whole window (rare: after `needed` of its members have expired). */
  private refill(): void {
    this.current = false;
    for (let i = 0; i < this.tailLength; i++) this.inTail[this.tailPositions[i]] = 0;
    this.tailLength = 0;
    for (let p = 0; p < this.count; p++) this.insert(p, true);
  }

  /**
   * Historical VaR and CVaR as positive loss fractions: VaR is minus the ⌊(1 − confidence) × n⌋-th
   * smallest value (0-based), CVaR minus the mean of the values up to and including it.
   */
  read(): void {
    if (this.current) return;
    this.current = this.count === this.window;
    if (this.count === 0) {
      this.valueAtRisk = this.conditionalValueAtRisk = NaN;
      return;
    }
    const k = Math.min(this.count - 1, Math.floor((1 - this.confidence) * this.count), this.tailLength - 1);
    let sum = 0;
    for (let i = 0; i <= k; i++) sum += this.ring[this.tailPositions[i]];
    this.valueAtRisk = -this.ring[this.tailPositions[k]];
    this.conditionalValueAtRisk = -sum / (k + 1);
  }

  /** The window's whole state as plain arrays (for the engine kernel's snapshot). */
  snapshot(): RollingTailState {
    return { ring: Array.from(this.ring), tailPositions: Array.from(this.tailPositions), inTail: Array.from(this.inTail), tailLength: this.tailLength, count: this.count, next: this.next };
  }

  restore(state: RollingTailState): void {
    this.ring.set(state.ring);
    this.tailPositions.set(state.tailPositions);
    this.inTail.set(state.inTail);
    this.tailLength = state.tailLength;
    this.count = state.count;
    this.next = state.next;
    this.current = false;
  }

  tail(): { valueAtRisk: number; conditionalValueAtRisk: number } {
    this.read();
    return { valueAtRisk: this.valueAtRisk, conditionalValueAtRisk: this.conditionalValueAtRisk };
  }
}

/** VaR/CVaR of the trailing `window` returns (NaN until there are `window` of them). For one-off use. */
export function historicalVar(returns: ArrayLike<number>, window: number, confidence: number): { valueAtRisk: number; conditionalValueAtRisk: number } {
  if (returns.length < window) return { valueAtRisk: NaN, conditionalValueAtRisk: NaN };
  const tail = new RollingTail(window, confidence);
  for (let i = returns.length - window; i < returns.length; i++) tail.push(returns[i]);
  return tail.tail();
}

/**
 * Annualized volatility of a portfolio with exposure `weights` (position value / equity per asset) from
 * the sample covariance of the assets' recent returns (aligned on their last common length).
 */
export function portfolioVolatility(weights: readonly number[], returns: readonly Float64Array[], periodsPerYear: number): number {
  const n = Math.min(...returns.map((r) => r.length));
  if (n < 3) return 0;
  const k = weights.length;
  const means = returns.map((r) => {
    let sum = 0;
    for (let i = r.length - n; i < r.length; i++) sum += r[i];
    return sum / n;
  });
  let variance = 0;
  for (let i = 0; i < k; i++) {
    if (weights[i] === 0) continue;
    for (let j = 0; j < k; j++) {
      if (weights[j] === 0) continue;
      const ri = returns[i];
      const rj = returns[j];
      let covariance = 0;
      for (let t = 0; t < n; t++) covariance += (ri[ri.length - n + t] - means[i]) * (rj[rj.length - n + t] - means[j]);
      variance += weights[i] * weights[j] * (covariance / (n - 1));
    }
  }
  return Math.sqrt(Math.max(0, variance) * periodsPerYear);
}
