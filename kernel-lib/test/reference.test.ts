import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { writeCandlesCsv } from '../src/data/csv-file';
import * as k from '../src/features/kernels';
import { exec, tempDir } from './helpers';

/**
 * Reference-data test: the kernels against an independent implementation (pandas, in
 * reference/indicators.py) on a fixture series, to 1e-9 relative; warm-up NaNs must coincide.
 */
const dir = tempDir('reference');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('indicator kernels vs pandas (reference data)', () => {
  it('agree to 1e-9 relative, NaN where pandas has NaN', async () => {
    const candles = generateSyntheticCandles({ seed: 17, bars: 3000 });
    const input = path.join(dir, 'fixture.csv');
    const output = path.join(dir, 'expected.csv');
    writeCandlesCsv(input, candles);
    const result = await exec('/usr/bin/python3', [path.join(__dirname, 'reference', 'indicators.py'), input, output]);
    expect(result.status, result.stderr).toBe(0);
    const [header, ...lines] = fs.readFileSync(output, 'utf8').trim().split('\n');
    const names = header.split(',');
    const expected: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, [] as number[]]));
    for (const line of lines) line.split(',').forEach((cell, i) => expected[names[i]].push(cell === '' ? NaN : Number(cell)));

    const [high, low, close, volume] = (['high', 'low', 'close', 'volume'] as const).map((c) => candles.column(c));
    const macd = k.macdKernel(close, 12, 26, 9);
    const bands = k.bollingerKernel(close, 20, 2);
    const ours: Record<string, Float64Array> = {
      sma_20: k.smaKernel(close, 20),
      ema_20: k.emaKernel(close, 20),
      rsi_14: k.rsiKernel(close, 14),
      macd_line: macd.macd,
      macd_signal: macd.signal,
      bb_upper: bands.upper,
      bb_lower: bands.lower,
      atr_14: k.atrKernel(high, low, close, 14),
      roc_10: k.rocKernel(close, 10),
      wma_20: k.wmaKernel(close, 20),
      willr_14: k.williamsRKernel(high, low, close, 14),
      cci_20: k.cciKernel(high, low, close, 20),
      vwap_24: k.vwapKernel(high, low, close, volume, 24),
      volume_z_24: k.zScoreKernel(volume, 24),
      volatility_24: k.volatilityKernel(close, 24),
    };
    expect(Object.keys(ours).sort()).toEqual([...names].sort());
    for (const name of names) {
      const reference = expected[name];
      const values = ours[name];
      let compared = 0;
      for (let i = 0; i < values.length; i++) {
        if (Number.isNaN(reference[i])) {
          expect(Number.isNaN(values[i]), `${name}[${i}] should be warm-up (NaN)`).toBe(true);
          continue;
        }
        expect(Math.abs(values[i] - reference[i]), `${name}[${i}]: ${values[i]} vs ${reference[i]}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(reference[i])));
        compared++;
      }
      expect(compared, name).toBeGreaterThan(2900);
    }
  });
});
