import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { startFakeExchange, type FakeExchange } from '../src/testing';
import { addCoins } from '../src/runner/add-coins';
import { runSpec } from '../src/runner/run-spec';
import { tempDir } from './helpers';
import { createLocalRunner } from '../src/jobs/run-jobs';

const candles = generateSyntheticCandles({ seed: 31, bars: 2500, timeframe: '1h', start: '2023-01-01T00:00:00Z' });
let fake: FakeExchange;
beforeAll(async () => {
  fake = await startFakeExchange({
    datasets: [
      { market: 'futures', symbol: 'SOL/USDT', timeframe: '1h', candles },
      { market: 'spot', symbol: 'ADA/USDT', timeframe: '1h', candles: generateSyntheticCandles({ seed: 32, bars: 2000, timeframe: '1h', start: '2023-01-01T00:00:00Z' }) },
      { market: 'spot', symbol: 'XRP/USDT', timeframe: '1h', candles: generateSyntheticCandles({ seed: 33, bars: 2000, timeframe: '1h', start: '2023-01-01T00:00:00Z' }) },
    ],
  });
});
afterAll(async () => {
  await fake?.close();
});

describe('addCoins with training', () => {
  it('downloads a futures coin, writes its spec and trains the quickstart pipeline on the stored candles', async () => {
    const dir = tempDir('coin-train');
    const lines: string[] = [];
    const [result] = await addCoins({
      symbols: ['SOL/USDT'],
      market: 'futures',
      from: '2023-01-01',
      apiUrl: fake.url,
      rateLimitMs: 1,
      dataDir: path.join(dir, 'data'),
      runsDir: path.join(dir, 'runs'),
      modelsDir: path.join(dir, 'models'),
      specsDir: path.join(dir, 'specs'),
      progress: 'quiet',
      log: (line) => lines.push(line),
    });
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({ ok: true, symbol: 'SOL/USDT:USDT' });
    expect(result.download).toMatchObject({ total: 2500, funding: { added: 312 }, openInterest: { added: 2500 } });
    const spec = JSON.parse(fs.readFileSync(result.specFile!, 'utf8'));
    expect(path.basename(result.specFile!)).toBe('coin-binance-futures-SOL-USDT-USDT-1h.json');
    expect(spec.name).toBe('quickstart-binance-futures');
    expect(spec.data).toEqual({ source: 'store', exchange: 'binance', market: 'futures', symbol: 'SOL/USDT:USDT', timeframe: '1h', start: '2023-01-01T00:00:00.000Z' });
    // The run read the stored candles, and running the written spec again gives the same fingerprint.
    const record = JSON.parse(fs.readFileSync(path.join(result.run!.runDir, 'run.json'), 'utf8'));
    expect(record.data.rows).toBe(2500);
    expect(fs.readdirSync(path.join(dir, 'models'))).toEqual(['quickstart-binance-futures-SOL-USDT-USDT-1h']);
    const again = await runSpec(result.specFile!, { progress: 'quiet', log: () => undefined, workspace: { dataDir: path.join(dir, 'data'), runsDir: path.join(dir, 'runs2'), modelsDir: path.join(dir, 'models2') } });
    expect(again.record.fingerprint).toBe(result.run!.fingerprint);
    expect(lines.join('\n')).toMatch(/binance\/futures\/SOL-USDT-USDT\/1h: 2500 new candles[\s\S]*quality: ok[\s\S]*features: 12 columns[\s\S]*trained: run quickstart-binance-futures-\d{8}T\d{6}Z-/);
  });
});

describe('addCoins training the coins as parallel jobs', () => {
  it('trains each coin in a worker process, with the fingerprints a run in this process gives; a second call reuses the runs', async () => {
    const dir = tempDir('coin-jobs');
    const folders = { dataDir: path.join(dir, 'data'), runsDir: path.join(dir, 'runs'), modelsDir: path.join(dir, 'models'), cacheDir: path.join(dir, 'cache') };
    const add = async () => {
      const runner = createLocalRunner(2);
      const lines: string[] = [];
      try {
        const results = await addCoins({ symbols: ['ADA/USDT', 'XRP/USDT'], from: '2023-01-01', apiUrl: fake.url, rateLimitMs: 1, ...folders, specsDir: path.join(dir, 'specs'), runner, progress: 'quiet', log: (line) => lines.push(line) });
        return { results, log: lines.join('\n') };
      } finally {
        await runner.close();
      }
    };
    const first = await add();
    expect(first.results.map((r) => [r.symbol, r.ok, r.error])).toEqual([['ADA/USDT', true, undefined], ['XRP/USDT', true, undefined]]);
    expect(fs.readdirSync(folders.modelsDir).sort()).toEqual(['quickstart-binance-spot-ADA-USDT-1h', 'quickstart-binance-spot-XRP-USDT-1h']);
    for (const result of first.results) {
      const again = await runSpec(result.specFile!, { progress: 'quiet', log: () => undefined, workspace: { dataDir: folders.dataDir, runsDir: path.join(dir, 'runs2'), modelsDir: path.join(dir, 'models2') } });
      expect(again.record.fingerprint).toBe(result.run!.fingerprint);
    }
    const second = await add();
    expect(second.results.map((r) => r.run!.runId)).toEqual(first.results.map((r) => r.run!.runId));
    expect(second.log).toMatch(/ADA\/USDT trained: run .* \(reused: same data and spec\)/);
    expect(fs.readdirSync(folders.runsDir)).toHaveLength(2);
  });
});
