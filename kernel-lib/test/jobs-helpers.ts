import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { writeCandlesCsv } from '../src/data/csv-file';
import { ROOT } from './helpers';

/** Specs for the sweep tests (jobs.test.ts, bullmq.test.ts): small synthetic data, a quick XGBoost, a test strategy plugin. */

/** A plugin with a strategy that throws for one param value (a poison job) and sleeps on request (a slow one). */
export function writeTestPlugin(folder: string): string {
  const file = path.join(folder, 'sweep-test-plugin.js');
  const lib = path.join(ROOT, 'kernel-lib', 'dist', 'index.js');
  fs.writeFileSync(
    file,
    `const { definePlugin, defineStrategy, strategy, z } = require(${JSON.stringify(lib)});
module.exports = definePlugin({
  id: 'sweep-test', version: '1.0.0',
  strategies: [defineStrategy({
    id: 'test/threshold', version: '1.0.0', doc: 'long when P(BUY) > threshold; throws when threshold is 0.66; busy for busyMs',
    needs: { predictions: true, task: 'classification' },
    params: z.object({ threshold: z.number().default(0.4), busyMs: z.number().default(0) }),
    targets: (input, p) => {
      if (p.threshold === 0.66) throw new Error('poisoned point: threshold 0.66');
      const until = Date.now() + p.busyMs;
      while (Date.now() < until) {}
      const buy = strategy.classProbability(input, 'BUY');
      return Float64Array.from(buy, (b) => (b > p.threshold ? 1 : 0));
    },
  })],
});
`,
  );
  return file;
}

export function writeSweepSpec(folder: string, name: string, extra: Record<string, unknown> = {}): string {
  fs.mkdirSync(folder, { recursive: true });
  if (!fs.existsSync(path.join(folder, 'btc.csv'))) writeCandlesCsv(path.join(folder, 'btc.csv'), generateSyntheticCandles({ seed: 5, bars: 2400 }));
  const plugin = writeTestPlugin(folder);
  const file = path.join(folder, `${name}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      name,
      seed: 3,
      plugins: [plugin], // absolute: plugins resolve from the workspace root (the project, for these CLI calls)
      data: { source: 'file', path: 'btc.csv', symbol: 'BTC/USDT', timeframe: '1h' },
      features: [{ id: 'core/returns', params: { periods: [1, 4, 24] } }, { id: 'core/rsi', params: { period: 14 } }],
      label: { id: 'core/direction', params: { bars: 5, threshold: 0.004 } },
      split: { train: 0.7, valid: 0.15, test: 0.15 },
      model: { id: 'core/xgboost', params: { rounds: 30, maxDepth: 3, learningRate: 0.1, earlyStoppingRounds: 10, threads: 1 } },
      strategy: { id: 'test/threshold', params: { threshold: 0.4 } },
      ...extra,
    }),
  );
  return file;
}

