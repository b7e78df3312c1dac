import * as fs from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { computeFeatures, computePlannedFeatures, featureContext, planFeatures, type FeatureSet } from '../src/features/compute-features';
import { ColumnArena } from '../src/features/column-arena';
import { lastFeatureRunThreads, MIN_ROWS_FOR_THREADS } from '../src/features/parallel-features';
import { createRegistry } from '../src/plugins/core-plugin';
import { defineFeature, definePlugin } from '../src/plugins/define';
import type { DefinitionRef } from '../src/plugins/registry';
import { fileWriter, tempDir } from './helpers';

// The workers run kernel-lib/dist/features/feature-worker.js (vitest runs the sources, a worker thread
// cannot): these tests need `npm run build` after a change to the features, as npm test does.
const dir = tempDir('parallel-features');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const write = fileWriter(dir);
afterEach(() => {
  delete process.env.CANDLELAB_FEATURE_WORKER;
});

const base = { version: '1.0.0', doc: 'a test feature', params: z.object({}) };
/** A plugin feature: only the main thread can compute it (workers hold the built-ins only). */
const pluginFeature = defineFeature({
  ...base,
  id: 'test/half-range',
  lookback: () => 0,
  outputs: () => ['half_range'],
  compute: (candles) => ({ half_range: Float64Array.from(candles.column('high'), (h, i) => (h - candles.column('low')[i]) / 2) }),
});
const failing = defineFeature({ ...base, id: 'test/fails', lookback: () => 0, outputs: () => ['x'], compute: () => { throw new Error('test/fails broke on purpose'); } });
const short = defineFeature({ ...base, id: 'test/short', lookback: () => 0, outputs: () => ['x'], compute: () => ({ x: new Float64Array(3) }) });
const registry = createRegistry([definePlugin({ id: 'test', version: '1.0.0', features: [pluginFeature, failing, short] })]);

const candles = generateSyntheticCandles({ seed: 11, timeframe: '1h', bars: 3000, symbol: 'ETH/USDT' });

/** Built-ins of every family, a feature reading earlier columns, a plugin feature and one calling another feature. */
const MIXED: DefinitionRef[] = [
  { id: 'core/returns', params: { periods: [1, 4, 24] } },
  { id: 'core/rsi', params: { period: 14 } },
  { id: 'test/half-range' },
  { id: 'core/ema', params: { period: 50 } },
  { id: 'core/macd', params: {} },
  { id: 'core/bollinger', params: { period: 20 } },
  { id: 'core/atr', params: {} },
  { id: 'core/stochastic', params: {} },
  { id: 'core/obv', params: {} },
  { id: 'core/adx', params: {} },
  { id: 'core/volume', params: {} },
  { id: 'core/interaction', params: { a: 'rsi_14', b: 'volume_z_24', op: 'product' } },
  { id: 'core/candle-shape', params: {} },
  { id: 'core/time', params: {} },
  { id: 'core/higher-timeframe', params: { timeframe: '4h', feature: { id: 'core/rsi', params: { period: 7 } } } },
  { id: 'core/trading-signals', params: { indicator: 'TEMA', args: [20] } },
  { id: 'core/garch', params: { refitEvery: 1000 } },
  { id: 'core/wavelet', params: {} },
  { id: 'core/candle-patterns', params: {} },
  { id: 'core/coin-identity', params: { coins: ['BTC', 'ETH'] } },
];

function expectSameBits(actual: FeatureSet, expected: FeatureSet): void {
  expect(actual.names).toEqual(expected.names);
  expect(actual.lookback).toBe(expected.lookback);
  expect(actual.resolved).toEqual(expected.resolved);
  expect(Array.from(actual.frame.time)).toEqual(Array.from(expected.frame.time));
  const differ = expected.names.filter((name) => {
    const a = actual.frame.column(name);
    const b = expected.frame.column(name);
    return !Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  });
  expect(differ).toEqual([]);
}

const oneThread = (refs: DefinitionRef[]) => computeFeatures(candles, refs, registry, { threads: 1 });
const threads = (count: number, refs: DefinitionRef[] = MIXED, patienceMs?: number) => computeFeatures(candles, refs, registry, { threads: count, minRows: 0, patienceMs, workersFirst: true });

describe('features on several threads', () => {
  it('give the same columns, bit for bit, as one thread, with workers computing some of them', () => {
    const expected = oneThread(MIXED);
    expect(lastFeatureRunThreads()).toEqual({ threads: 1, workerJobs: 0 });
    expect(expected.names).toContain('rsi_14_x_volume_z_24');
    for (const count of [2, 3]) {
      const actual = threads(count);
      const run = lastFeatureRunThreads();
      expect(run.threads, `threads ${count}`).toBe(count);
      expect(run.workerJobs).toBeGreaterThan(0);
      expectSameBits(actual, expected);
    }
  });

  it('pass fitted features their fit rows, as one thread does', () => {
    const context = featureContext(registry, '1h', { fitRows: [{ start: 0, end: 1500 }] });
    const planned = planFeatures([{ id: 'core/garch', params: {} }, { id: 'core/rsi', params: {} }, { id: 'core/wavelet', params: {} }], registry, context);
    const expected = computePlannedFeatures(candles, planned, context, undefined, { threads: 1 });
    const actual = computePlannedFeatures(candles, planned, context, undefined, { threads: 2, minRows: 0, workersFirst: true });
    expect(lastFeatureRunThreads().workerJobs).toBeGreaterThan(0);
    expect(lastFeatureRunThreads().threads).toBe(2);
    expectSameBits(actual, expected);
  });

  it('stay on one thread below the row threshold, with an arena, or with fewer than two built-ins to share', () => {
    computeFeatures(candles, MIXED, registry, { threads: 2 });
    expect(candles.length).toBeLessThan(MIN_ROWS_FOR_THREADS);
    expect(lastFeatureRunThreads().threads).toBe(1);
    const arena = new ColumnArena(candles.length);
    const reused = computeFeatures(candles, MIXED, registry, { threads: 2, minRows: 0, arena });
    expect(lastFeatureRunThreads().threads).toBe(1);
    expectSameBits(reused, oneThread(MIXED));
    threads(2, [{ id: 'core/rsi', params: {} }, { id: 'test/half-range' }]);
    expect(lastFeatureRunThreads().threads).toBe(1);
  });

  it('report errors exactly as one thread does', () => {
    const cases: DefinitionRef[][] = [
      [...MIXED.slice(0, 6), { id: 'test/fails' }, ...MIXED.slice(6)],
      [{ id: 'core/rsi', params: {} }, { id: 'test/short' }, { id: 'core/ema', params: {} }, { id: 'core/atr', params: {} }],
      [{ id: 'core/rsi', params: {} }, { id: 'core/interaction', params: { a: 'rsi_14', b: 'no_such_column' } }, { id: 'core/ema', params: {} }, { id: 'core/atr', params: {} }],
    ];
    for (const refs of cases) {
      let expected = '';
      try {
        oneThread(refs);
      } catch (error) {
        expected = String(error);
      }
      expect(expected).not.toBe('');
      expect(() => threads(2, refs)).toThrow(expected.replace(/^\w*Error: /, ''));
    }
  });

  it('fall back to the main thread when a worker cannot start, fails or never answers', () => {
    const expected = oneThread(MIXED);
    const scripts = {
      missing: `${dir}/no-such-worker.js`,
      throws: write('throws.js', "throw new Error('worker broke on purpose');\n"),
      // claims every job, then exits without answering: the main thread waits its patience, then computes them
      silent: write('silent.js', "const { workerData } = require('node:worker_threads');\nAtomics.store(workerData.state, 1, 1e6);\nprocess.exit(0);\n"),
      // answers that it failed every job
      failsAll: write('fails.js', "const { workerData: d } = require('node:worker_threads');\nd.port.postMessage({ computed: [], failed: d.jobs.map((_, k) => k) });\nAtomics.store(d.state, d.doneAt, 1);\nAtomics.notify(d.state, d.doneAt);\n"),
    };
    for (const [name, script] of Object.entries(scripts)) {
      process.env.CANDLELAB_FEATURE_WORKER = script;
      const actual = threads(2, MIXED, 200);
      expect(lastFeatureRunThreads().workerJobs, name).toBe(0);
      expectSameBits(actual, expected);
    }
  });
});
