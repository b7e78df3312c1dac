import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { startFakeExchange, type FakeExchange } from '../src/testing';
import { addCoins } from '../src/runner/add-coins';
import { runSpec } from '../src/runner/run-spec';
import { tempDir } from './helpers';

const candles = generateSyntheticCandles({ seed: 31, bars: 2500, timeframe: '1h', start: '2023-01-01T00:00:00Z' });
let fake: FakeExchange;
beforeAll(async () => {
  fake = await startFakeExchange({ datasets: [{ market: 'futures', symbol: 'SOL/USDT', timeframe: '1h', candles }] });
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
