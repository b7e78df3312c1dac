import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { trainCoins } from '../src/runner/multi-coin';
import { createRegistry } from '../src/plugins/core-plugin';
import { defineModel, definePlugin } from '../src/plugins/define';
import type { XgboostClassifierModel } from '../src/models/xgboost/xgboost-model';

const coins = [
  { candles: generateSyntheticCandles({ seed: 31, bars: 2500, symbol: 'BTC/USDT' }) },
  { candles: generateSyntheticCandles({ seed: 32, bars: 2500, symbol: 'ETH/USDT', startPrice: 2000 }) },
  { candles: generateSyntheticCandles({ seed: 33, bars: 2500, symbol: 'SOL/USDT', startPrice: 30 }) },
];
const features = [
  { id: 'core/returns' },
  { id: 'core/rsi' },
  { id: 'core/volatility' },
  { id: 'core/coin-identity', params: { coins: ['BTC', 'ETH', 'SOL'], dims: 2 } },
];
const label = { id: 'core/direction', params: { bars: 5, threshold: 0.005 } };
const model = { id: 'core/xgboost', params: { rounds: 15, earlyStoppingRounds: 0, learningRate: 0.2 } };
const trees = (m: unknown) => JSON.parse(Buffer.from((m as XgboostClassifierModel).nativeJson).toString()).learner.gradient_booster.model.trees;

describe('several coins in one training stage', () => {
  it('per-coin: one model per coin on its own rows; universal: one model on all rows; each evaluated on its own test rows', async () => {
    const perCoin = await trainCoins({ coins, features, label, model, mode: 'per-coin' });
    const universal = await trainCoins({ coins, features, label, model, mode: 'universal' });
    try {
      expect(perCoin.coins.map((c) => c.coin)).toEqual(['BTC/USDT', 'ETH/USDT', 'SOL/USDT']);
      expect(new Set(perCoin.coins.map((c) => c.model)).size).toBe(3);
      for (const c of perCoin.coins) {
        expect(c.trainingRows).toBe(c.split.train.end - c.split.train.start);
        expect(c.testMetrics!.rows).toBeGreaterThan(300);
        expect(c.testPredictions.length).toBe(3 * (c.split.test.end - c.split.test.start));
      }
      expect(new Set(universal.coins.map((c) => c.model))).toEqual(new Set([universal.universal]));
      const allRows = universal.coins.reduce((sum, c) => sum + (c.split.train.end - c.split.train.start), 0);
      for (const c of universal.coins) expect(c.trainingRows).toBe(allRows);
      // the coin-identity columns are in the model's features and the universal model uses different inputs per coin
      expect(universal.universal!.featureNames).toEqual(expect.arrayContaining(['coin_BTC', 'coin_ETH', 'coin_SOL', 'coin_emb_0']));
      // the same model predicts each coin's rows: its predictions equal a direct predict on those rows
      expect(universal.coins[1].testPredictions).toEqual(await universal.universal!.predict({ values: (await import('../src/validation/split')).featureMatrix(universal.coins[1].features.frame, universal.coins[1].split.test.start, universal.coins[1].split.test.end).values, rows: universal.coins[1].split.test.end - universal.coins[1].split.test.start, cols: universal.universal!.featureNames.length }));
    } finally {
      perCoin.coins.forEach((c) => c.model.dispose());
      universal.universal!.dispose();
    }
  });

  it('fine-tune: each coin continues from the universal trees on its own rows (transfer learning)', async () => {
    const tuned = await trainCoins({ coins, features, label, model, mode: 'fine-tune', fineTuneParams: { rounds: 5, learningRate: 0.05 } });
    try {
      const base = trees(tuned.universal);
      expect(base).toHaveLength(3 * 15);
      for (const c of tuned.coins) {
        const own = trees(c.model);
        expect(own).toHaveLength(3 * 20);
        expect(own.slice(0, base.length).map((t: any) => t.split_conditions)).toEqual(base.map((t: any) => t.split_conditions));
        expect(c.model.info.initialRounds).toBe(15);
        expect(c.trainingRows).toBe(c.split.train.end - c.split.train.start);
      }
      // the three fine-tuned models differ: each saw its own coin
      expect(JSON.stringify(trees(tuned.coins[0].model).slice(45))).not.toBe(JSON.stringify(trees(tuned.coins[1].model).slice(45)));
    } finally {
      tuned.coins.forEach((c) => c.model.dispose());
      tuned.universal!.dispose();
    }
  });

  it('regression targets: per-coin regressors with test MAE/RMSE/R²/direction', async () => {
    const result = await trainCoins({ coins: coins.slice(0, 2), features, label: { id: 'core/future-return', params: { bars: 5 } }, model: { id: 'core/xgboost-regressor', params: { rounds: 10 } }, mode: 'fine-tune', fineTuneParams: { rounds: 3 } });
    try {
      for (const c of result.coins) {
        expect(c.testMetrics).toBeUndefined();
        expect(c.testRegression!.rows).toBeGreaterThan(300);
        expect(c.testRegression!.rmse).toBeGreaterThanOrEqual(c.testRegression!.mae);
      }
    } finally {
      result.coins.forEach((c) => c.model.dispose());
      result.universal!.dispose();
    }
  });

  it('refuses what cannot work, with the fix named', async () => {
    const noWarmStart = defineModel({
      id: 'test/constant',
      version: '1.0.0',
      doc: 'Predicts the training class frequencies.',
      task: 'classification',
      params: z.object({}),
      fit: async (data) => {
        const counts = [0, 0, 0];
        for (const y of data.train.y) counts[y]++;
        const p = counts.map((c) => c / data.train.y.length);
        return {
          modelId: 'test/constant', modelVersion: '1.0.0', task: 'classification', featureNames: data.featureNames, classes: data.classes, info: {},
          predict: async (X) => Float32Array.from({ length: X.rows * 3 }, (_, i) => p[i % 3]),
          save: async () => [], dispose: () => {},
        };
      },
      load: async () => { throw new Error('not saved'); },
    });
    const registry = createRegistry().register(definePlugin({ id: 'test', version: '1.0.0', models: [noWarmStart] }));
    await expect(trainCoins({ coins, features, label, model: { id: 'test/constant' }, mode: 'fine-tune', registry })).rejects.toThrow(/has no warm start .* use core\/xgboost/);
    await expect(trainCoins({ coins: coins.slice(0, 1), features, label, model, mode: 'universal' })).rejects.toThrow(/needs at least two coins/);
    await expect(trainCoins({ coins: [coins[0], coins[0]], features, label, model, mode: 'per-coin' })).rejects.toThrow(/coins must be distinct/);
    await expect(trainCoins({ coins, features, label: { id: 'core/future-return' }, model, mode: 'per-coin' })).rejects.toThrow(/pick a matching pair/);
  });
});
