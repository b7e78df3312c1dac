import { describe, expect, it } from 'vitest';
import { SeriesLedger } from '../src/backtest/ledger';
import { rng as random } from './ensemble-helpers';

/**
 * The ledger gives back, bit for bit, the series an engine would have stored event by event: equity =
 * cash + Σ units × close summed in sleeve order, gross exposure / equity, cash; and the values of events
 * it was told about as exceptions.
 */

type Stored = { equity: number[]; cash: number[]; gross: number[] };

/** The kernel's markAll, written out: what the engine stores at an event. */
function marked(cash: number, units: number[], price: number): [number, number] {
  let value = cash;
  let total = 0;
  for (const held of units) {
    const positionValue = held * price;
    value += positionValue;
    total += Math.abs(positionValue);
  }
  return [value, value > 0 ? total / value : NaN];
}

/** Random states held for random stretches, logged as an engine logs them; the stored series beside them. */
function simulate(sleeves: number, events: number, seed: number, exceptionRate = 0) {
  const next = random(seed);
  const close = Float64Array.from({ length: events }, (_, k) => 100 * Math.exp(Math.sin(k / 17) + 0.01 * k * next()));
  const ledger = new SeriesLedger(sleeves);
  const stored: Stored = { equity: [], cash: [], gross: [] };
  let cash = 10_000;
  let units = Array.from({ length: sleeves }, () => 0);
  for (let k = 0; k < events; k++) {
    // a fill now and then: cash and some sleeve's units move (sometimes to −0 or back to a state seen before)
    if (next() < 0.15) {
      const s = Math.floor(next() * sleeves);
      const before = units[s];
      units = [...units];
      units[s] = next() < 0.2 ? (next() < 0.5 ? 0 : -0) : (next() - 0.4) * 50;
      cash -= (units[s] - before) * close[k] * (1 + 0.001 * next());
    }
    ledger.log(k, cash, units);
    let [equity, gross] = marked(cash, units, close[k]);
    if (next() < exceptionRate) {
      // marked at another price (as a fill inside the bar would): stored whole
      [equity, gross] = marked(cash, units, close[k] * 1.01);
    }
    ledger.check(k, close[k], equity, gross);
    stored.equity.push(equity);
    stored.cash.push(cash);
    stored.gross.push(gross);
  }
  return { ledger, stored, close };
}

const same = (derived: Float64Array, stored: number[]): boolean => derived.length === stored.length && stored.every((x, k) => Object.is(x, derived[k]));

describe('SeriesLedger: the stored series from the logged states', () => {
  for (const [sleeves, seed] of [[1, 1], [1, 2], [2, 3], [3, 4]] as const) {
    it(`${sleeves} sleeve(s), seed ${seed}: equity, cash and gross exposure bit for bit; far fewer states than events`, () => {
      const { ledger, stored, close } = simulate(sleeves, 5_000, seed);
      expect(same(ledger.derive('equity', 5_000, close), stored.equity)).toBe(true);
      expect(same(ledger.derive('cash', 5_000, close), stored.cash)).toBe(true);
      expect(same(ledger.derive('gross', 5_000, close), stored.gross)).toBe(true);
      expect(ledger.exceptions).toBe(0);
    });
  }

  it('events marked at another price are kept whole', () => {
    const { ledger, stored, close } = simulate(2, 3_000, 9, 0.05);
    expect(ledger.exceptions).toBeGreaterThan(100);
    expect(same(ledger.derive('equity', 3_000, close), stored.equity)).toBe(true);
    expect(same(ledger.derive('gross', 3_000, close), stored.gross)).toBe(true);
    expect(same(ledger.derive('cash', 3_000, close), stored.cash)).toBe(true);
  });

  it('a prefix, and into a given array', () => {
    const { ledger, stored, close } = simulate(1, 2_000, 5, 0.02);
    const into = new Float64Array(700).fill(Number.NaN);
    const out = ledger.derive('equity', 700, close, into);
    expect(out).toBe(into);
    expect(same(out, stored.equity.slice(0, 700))).toBe(true);
  });

  it('a second log or check of the same event replaces the first (the kill switch re-marks its event)', () => {
    const close = Float64Array.of(100, 110, 120);
    const ledger = new SeriesLedger(1);
    ledger.log(0, 1_000, [0]);
    ledger.check(0, 100, 1_000, 0);
    ledger.log(1, 1_000, [5]);
    // an odd mark first, then the event re-marked after everything closed
    ledger.check(1, 110, 999, 0.5);
    expect(ledger.exceptions).toBe(1);
    ledger.log(1, 1_540, [0]);
    ledger.check(1, 110, 1_540, 0);
    expect(ledger.exceptions).toBe(0);
    ledger.log(2, 1_540, [0]);
    ledger.check(2, 120, 1_540, 0);
    expect(Array.from(ledger.derive('equity', 3, close))).toEqual([1_000, 1_540, 1_540]);
    expect(Array.from(ledger.derive('cash', 3, close))).toEqual([1_000, 1_540, 1_540]);
  });

  it('−0 and +0 are different states (a sum of zeros keeps the sign)', () => {
    const close = Float64Array.of(1, 1);
    const ledger = new SeriesLedger(1);
    ledger.log(0, -0, [-0]);
    ledger.log(1, -0, [0]);
    const equity = ledger.derive('equity', 2, close);
    expect(Object.is(equity[0], -0)).toBe(true);
    expect(Object.is(equity[1], 0)).toBe(true);
  });

  it('zero or negative equity has no gross exposure ratio (NaN), as stored', () => {
    const close = Float64Array.of(10, 10);
    const ledger = new SeriesLedger(1);
    ledger.log(0, -50, [2]);
    ledger.log(1, 0, [0]);
    expect(Array.from(ledger.derive('gross', 2, close))).toEqual([NaN, NaN]);
    expect(Array.from(ledger.derive('equity', 2, close))).toEqual([-30, 0]);
  });
});
