import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  adaptiveDirectionLabels,
  classBalance,
  consensusLabels,
  futureValues,
  riskRewardLabels,
  trailingVolatility,
  trendLabels,
  tripleBarrierLabels,
} from '../src/labels/core-labelers';
import { BUY, HOLD, SELL } from '../src/labels/direction';
import { runSpec } from '../src/runner/run-spec';
import { ROOT, tempDir, hourlyBars } from './helpers';

const dir = tempDir('labels');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const H = 3_600_000;
const bars = hourlyBars;
const nan = (values: Float64Array) => Array.from(values, (v) => (Number.isNaN(v) ? null : v));

// Every registered labeler's horizon, warm-up and prefixes: the contract suite (plugin-authoring.test.ts).

describe('labelers by hand', () => {
  it('adaptive direction: threshold = k × trailing volatility × √bars', () => {
    const close = Float64Array.from([100, 101, 100, 101, 100, 101, 100, 103, 97, 100]);
    const volatility = trailingVolatility(close, 4);
    const labels = adaptiveDirectionLabels(close, 1, 1, 4);
    for (let i = 4; i < 9; i++) {
      const r = close[i + 1] / close[i] - 1;
      expect(labels[i]).toBe(r > volatility[i] ? BUY : r < -volatility[i] ? SELL : HOLD);
    }
    expect(Number.isNaN(labels[3])).toBe(true); // volatility not yet defined
  });

  it('consensus: majority of the horizons, ties HOLD, unknown if any horizon is unknown', () => {
    const a = Float64Array.from([BUY, BUY, SELL, HOLD, NaN]);
    const b = Float64Array.from([BUY, SELL, SELL, BUY, BUY]);
    const c = Float64Array.from([HOLD, HOLD, BUY, SELL, BUY]);
    expect(nan(consensusLabels([a, b, c]))).toEqual([BUY, HOLD, SELL, HOLD, null]);
  });

  it('risk/reward from the future high and low', () => {
    // from 100: next 2 bars reach 106 high, 99 low → upside 6%, downside 1% → BUY at ratio 2
    const candles = bars([[100, 100, 100, 100], [100, 103, 99, 102], [102, 106, 101, 105], [105, 105, 90, 91], [91, 92, 90, 91]]);
    const labels = riskRewardLabels(candles.column('high'), candles.column('low'), candles.column('close'), 2, 2, 0.01);
    expect(labels[0]).toBe(BUY);
    expect(labels[2]).toBe(SELL); // from 105: upside 0.95%... downside 14%
    expect(Number.isNaN(labels[3])).toBe(true);
  });

  it('triple barrier: first touch wins, both in one bar is the stop, time barrier HOLD, with event end times', () => {
    const candles = bars([
      [100, 100, 100, 100],
      [100, 101, 99, 100],
      [100, 103, 99.5, 102], // +3% touches the 2% take-profit from row 0 → BUY at t=2H
      [102, 102.5, 97, 98],
      [98, 98.5, 97.5, 98],
      [98, 98.4, 97.6, 98],
    ]);
    const { target, eventEnd } = tripleBarrierLabels(candles.time, candles.column('high'), candles.column('low'), candles.column('close'), { bars: 2, upper: 0.02, lower: 0.02 });
    expect(target[0]).toBe(BUY);
    expect(eventEnd[0]).toBe(2 * H);
    expect(target[1]).toBe(BUY); // from 100: row 2's high 103 reaches +2% before row 3's low
    expect(target[2]).toBe(SELL); // from 102: row 3's low 97 is below −2% (99.96)
    expect(eventEnd[2]).toBe(3 * H);
    expect(target[3]).toBe(HOLD); // nothing touched within 2 bars: the time barrier at row 5
    expect(eventEnd[3]).toBe(5 * H);
    expect(Number.isNaN(target[5])).toBe(true);
    // both barriers inside one bar: the stop (conservative)
    const wide = bars([[100, 100, 100, 100], [100, 110, 90, 100], [100, 100, 100, 100]]);
    expect(tripleBarrierLabels(wide.time, wide.column('high'), wide.column('low'), wide.column('close'), { bars: 2, upper: 0.05, lower: 0.05 }).target[0]).toBe(SELL);
  });

  it('future return, log-return and price', () => {
    const close = Float64Array.from([100, 110, 121]);
    expect(nan(futureValues(close, 1, 'return'))).toEqual([expect.closeTo(0.1, 12), expect.closeTo(0.1, 12), null]);
    expect(futureValues(close, 2, 'log-return')[0]).toBeCloseTo(Math.log(1.21), 12);
    expect(nan(futureValues(close, 1, 'price'))).toEqual([110, 121, null]);
  });

  it('trend: least-squares log change over the next bars', () => {
    const up = Float64Array.from({ length: 10 }, (_, i) => 100 * Math.exp(0.01 * i));
    expect(trendLabels(up, 4, 0.02)[0]).toBe(2); // fitted change 0.04 > 0.02
    expect(trendLabels(up, 4, 0.05)[0]).toBe(1);
    expect(trendLabels(Float64Array.from(up).reverse(), 4, 0.02)[0]).toBe(0);
  });
});

describe('class balance', () => {
  it('counts classes and flags one-class, dominant and rare labels', () => {
    const swamped = Float64Array.from([...Array(90).fill(HOLD), ...Array(8).fill(BUY), ...Array(2).fill(SELL), NaN]);
    const balance = classBalance(swamped, ['SELL', 'HOLD', 'BUY']);
    expect(balance.rows).toBe(100);
    expect(balance.classes.map((c) => c.count)).toEqual([2, 90, 8]);
    expect(balance.flags).toEqual(['rare:SELL', 'dominant:HOLD']);
    expect(classBalance(Float64Array.from([1, 1, 1]), ['SELL', 'HOLD', 'BUY']).flags).toContain('one-class');
  });

  it('is recorded with the run and logged before training', async () => {
    const lines: string[] = [];
    const { record } = await runSpec(path.join(ROOT, 'specs', 'quickstart.json'), {
      overrides: ['label.id=core/triple-barrier', 'label.params={"bars":12,"upper":1,"lower":1}', 'register=false', 'model.params.rounds=40'],
      progress: 'quiet',
      log: (line) => lines.push(line),
      workspace: { dataDir: path.join(dir, 'data'), modelsDir: path.join(dir, 'models'), runsDir: path.join(dir, 'runs') },
    });
    expect(record.label.id).toBe('core/triple-barrier');
    expect(record.label.balance?.classes.map((c) => c.name)).toEqual(['SELL', 'HOLD', 'BUY']);
    expect(record.label.balance!.rows).toBeGreaterThan(20_000);
    expect(record.metrics.classification!.test.rows).toBeGreaterThan(3000);
    const skewed = await runSpec(path.join(ROOT, 'specs', 'quickstart.json'), {
      overrides: ['label.params.threshold=0.05', 'register=false', 'model.params.rounds=20'],
      progress: 'quiet',
      log: (line) => lines.push(line),
      workspace: { dataDir: path.join(dir, 'data'), modelsDir: path.join(dir, 'models'), runsDir: path.join(dir, 'runs') },
    });
    expect(skewed.record.label.balance!.flags).toContain('dominant:HOLD');
    expect(lines.some((line) => /^label balance: .*dominant:HOLD/.test(line))).toBe(true);
  });
});
