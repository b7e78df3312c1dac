import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { runSpec } from '../src/runner/run-spec';
import { startFakeExchange, type FakeExchange } from '../src/testing';
import { runPaperSession, type SessionEvent } from '../src/trading/paper-session';
import { paperParity } from '../src/trading/parity';
import { readSession } from '../src/trading/session-outputs';
import { resolveTradingSetup } from '../src/trading/session-setup';
import { ModelFeed } from '../src/trading/model-feed';
import { createServedVersion } from '../src/services/serve/predictor';
import { ROOT, tempDir } from './helpers';

/**
 * A paper session with a sequence model (core/lstm, seqLen 12) feeds it the trailing window of feature
 * rows, not one row: its predictions equal the backtest's batch predictions over the same candles, also
 * across a restart (the window is saved with the session state).
 */

const HOUR = 3_600_000;
const dir = tempDir('sequence-session');
const workspace = { root: dir, dataDir: path.join(dir, 'data'), modelsDir: path.join(dir, 'models'), runsDir: path.join(dir, 'runs') };
const candles = generateSyntheticCandles({ seed: 42, bars: 1500, timeframe: '1h', start: '2021-01-01T00:00:00Z' });
const MODEL = 'lstm-BTC-USDT-1h@1';
const FAST = { reconnect: { baseDelayMs: 5, maxDelayMs: 20 }, retry: { baseDelayMs: 5 }, rateLimitMs: 1, timeoutMs: 5000 };
const SMALL = ['data.bars=1200', 'model.params.epochs=2', 'model.params.units=8', 'model.params.denseUnits=8', 'model.params.seqLen=12', 'strategy.params.buyThreshold=0.34'];
let fake: FakeExchange;

beforeAll(async () => {
  await runSpec(path.join(ROOT, 'specs', 'lstm.json'), { overrides: SMALL, workspace, progress: 'quiet', log: () => {} });
  fake = await startFakeExchange({ datasets: [{ market: 'spot', symbol: 'BTC/USDT', timeframe: '1h', candles }], now: candles.time[1300] });
}, 120_000);
afterAll(async () => {
  await fake?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function driveClock(event: SessionEvent): void {
  if ((event.kind === 'stream' && event.event.kind === 'subscribed') || (event.kind === 'candle' && event.mode === 'live')) setImmediate(() => fake.setNow(fake.now + HOUR));
}

describe('a paper session with core/lstm', () => {
  it('predicts over the trailing seqLen rows: the same predictions as the backtest (across a restart) and the prediction endpoint', async () => {
    const sessionDir = path.join(dir, 'runs', 'paper-lstm');
    fake.setNow(candles.time[1300]);
    await runPaperSession({ model: MODEL, apiUrl: fake.url, workspace, dir: sessionDir, maxCandles: 15, warmup: 60, ...FAST, log: () => {}, onEvent: driveClock });
    const state = JSON.parse(fs.readFileSync(path.join(sessionDir, 'state.json'), 'utf8'));
    expect(state.model.rows).toHaveLength(12);
    // a restart: the window comes back from the state
    await runPaperSession({ dir: sessionDir, apiUrl: fake.url, workspace, maxCandles: 15, ...FAST, log: () => {}, onEvent: driveClock });
    const session = readSession(sessionDir);
    expect(session.modes.filter((m) => m === 'live').length).toBe(30);
    const parity = await paperParity(sessionDir, { workspace });
    expect(parity.predictionDifference).toBeLessThan(1e-5);
    expect(parity.unexplained, JSON.stringify(parity.differences, null, 1)).toBe(0);

    // the defect this fixes: one row alone (an edge-padded window) gives other predictions
    const setup = await resolveTradingSetup({ model: MODEL, workspace });
    try {
      expect(setup.model.inputRows).toBe(12);
      const i = session.candles.length - 1;
      const logged = session.predictions[i]!;
      const decisions = fs.readFileSync(path.join(sessionDir, 'decisions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(decisions[i].prediction).toEqual(logged);
      const features = await featureRowsOf(sessionDir, i);
      const alone = await setup.model.predict({ values: features, rows: 1, cols: setup.model.featureNames.length });
      expect(Math.max(...logged.map((v, k) => Math.abs(v - alone[k])))).toBeGreaterThan(1e-4);
      // the prediction endpoint over the same candles answers with the session's last prediction
      const served = await createServedVersion(setup).predict(session.candles);
      expect(Math.max(...served.prediction.map((v, k) => Math.abs(v - logged[k])))).toBeLessThan(1e-5);
    } finally {
      setup.model.dispose();
    }
  }, 60_000);
});

/** The feature row the session computed at candle i (recomputed over the session's candles in batch). */
async function featureRowsOf(sessionDir: string, i: number): Promise<Float32Array> {
  const { computePlannedFeatures } = await import('../src/features/compute-features');
  const setup = await resolveTradingSetup({ model: MODEL, workspace });
  try {
    const session = readSession(sessionDir);
    const frame = computePlannedFeatures(session.candles, setup.context.plan.features, setup.context.plan.featureContext).frame;
    return Float32Array.from(setup.model.featureNames, (name) => frame.column(name)[i]);
  } finally {
    setup.model.dispose();
  }
}

describe('ModelFeed', () => {
  it('a row-wise model gets one row; a stream is preferred and its state saved', async () => {
    let seen: number[] = [];
    const rowwise = { modelId: 'x', modelVersion: '1', task: 'regression' as const, featureNames: ['a'], info: {}, save: async () => [], dispose: () => {}, predict: async (X: { values: Float32Array; rows: number }) => ((seen = Array.from(X.values)), Float32Array.from(X.values, (v) => v * 2)) };
    const feed = new ModelFeed(rowwise);
    await feed.next(Float32Array.of(1));
    expect(Array.from(await feed.next(Float32Array.of(3)))).toEqual([6]);
    expect(seen).toEqual([3]);
    let total = 0;
    const streamed = { ...rowwise, inputRows: 5, stream: () => ({ next: (row: Float32Array) => Float32Array.of((total += row[0])), snapshot: () => total, restore: (s: unknown) => void (total = s as number) }) };
    const second = new ModelFeed(streamed);
    await second.next(Float32Array.of(2));
    expect(Array.from(await second.next(Float32Array.of(5)))).toEqual([7]);
    expect(second.snapshot()).toEqual({ stream: 7 });
    expect(() => new ModelFeed(rowwise).restore({ stream: 1 })).toThrow(/through a stream/);
  });
});
