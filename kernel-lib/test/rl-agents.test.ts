import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dqnModel, ppoModel, RlPolicyModel } from '../src/rl/rl-model';
import { environmentCosts } from '../src/rl/trading-env';
import { parseBacktestSettings } from '../src/backtest/settings';
import type { ModelDefinition } from '../src/plugins/define';
import { oracleReturn, periodicData, rowsOf } from './rl-helpers';
import { tempDir } from './helpers';

const dir = tempDir('rl-agents');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// 50 cycles of 16 bars: 40 to train on, 10 to validate, then 25 unseen cycles to score.
const { data, test } = periodicData(1200, 640, 160);
const COSTS = environmentCosts({ commissionBps: 10, slippageBps: 5 });

const PPO = { updates: 15, hidden: [16], envs: 8, rolloutSteps: 64, episodeBars: 128, learningRate: 3e-3, gamma: 0.9, evalEvery: 5 };
const DQN = { steps: 800, hidden: [16], envs: 4, episodeBars: 128, learningRate: 2e-3, gamma: 0.9, evalEvery: 200, targetUpdate: 100 };

async function fit(definition: typeof ppoModel | typeof dqnModel, params: Record<string, unknown>, seed: number): Promise<RlPolicyModel> {
  const model: ModelDefinition = definition;
  return (await model.fit(data, model.params.parse(params), { seed })) as RlPolicyModel;
}

/** The policy's total return on the unseen rows over the oracle's. */
function fractionOfOracle(model: RlPolicyModel): { fraction: number; got: number; oracle: number } {
  const oracle = oracleReturn(test, COSTS);
  const got = model.evaluate(test).totalReturn;
  return { fraction: got / oracle, got, oracle };
}

describe('PPO and DQN on a periodic market with a known optimal policy', () => {
  let ppo: RlPolicyModel;
  let dqn: RlPolicyModel;
  beforeAll(async () => {
    ppo = await fit(ppoModel, PPO, 3);
    dqn = await fit(dqnModel, DQN, 3);
  }, 60_000);

  it('PPO reaches at least 80% of the oracle return on unseen cycles, with costs', () => {
    const { fraction, oracle } = fractionOfOracle(ppo);
    expect(oracle).toBeGreaterThan(0.2);
    console.log(`PPO: ${(100 * fraction).toFixed(1)}% of the oracle's ${(100 * oracle).toFixed(2)}% on unseen cycles`);
    expect(fraction).toBeGreaterThanOrEqual(0.8);
  });

  it('DQN reaches at least 80% of the oracle return on unseen cycles, with costs', () => {
    const { fraction, oracle } = fractionOfOracle(dqn);
    console.log(`DQN: ${(100 * fraction).toFixed(1)}% of the oracle's ${(100 * oracle).toFixed(2)}% on unseen cycles`);
    expect(fraction).toBeGreaterThanOrEqual(0.8);
  });

  it('records the learning curve (train and valid mean reward, loss, episodes) in info.history', () => {
    for (const [model, points] of [[ppo, 3], [dqn, 4]] as const) {
      const history = model.info.history as Array<{ round: number; train: number; valid: number; loss: number; episodes: number }>;
      expect(history.length).toBe(points);
      expect(history.every((h) => Number.isFinite(h.train) && Number.isFinite(h.valid) && Number.isFinite(h.loss))).toBe(true);
      expect(history[history.length - 1].episodes).toBeGreaterThan(0);
      // it learns: the last training reward beats the first
      expect(history[history.length - 1].train).toBeGreaterThan(history[0].train);
      expect(model.info).toMatchObject({ historyMetric: 'mean reward per bar', costs: COSTS });
    }
  });

  it('save → load → the same actions, and stream() reproduces predict() row by row, with snapshot/restore', async () => {
    for (const [definition, model] of [[ppoModel, ppo], [dqnModel, dqn]] as const) {
      const folder = path.join(dir, definition.id.replace('/', '-'));
      await model.save(folder);
      const loaded = await definition.load(folder, { seed: 0 });
      const actions = await model.predict(test);
      expect(Array.from(await loaded.predict(test))).toEqual(Array.from(actions));
      expect(actions.every((a) => a === -1 || a === 0 || a === 1)).toBe(true);
      expect(actions.includes(-1) && actions.includes(1)).toBe(true);
      const stream = loaded.stream!();
      const streamed: number[] = [];
      let saved: unknown;
      for (let r = 0; r < test.rows; r++) {
        if (r === 100) saved = stream.snapshot();
        streamed.push(stream.next(test.values.subarray(r * test.cols, (r + 1) * test.cols))[0]);
      }
      expect(streamed).toEqual(Array.from(actions));
      // a session restarted from a snapshot continues exactly
      const resumed = loaded.stream!();
      resumed.restore(JSON.parse(JSON.stringify(saved)));
      for (let r = 100; r < 140; r++) expect(resumed.next(test.values.subarray(r * test.cols, (r + 1) * test.cols))[0]).toBe(actions[r]);
      // causal: a prefix decides what the whole block decided on those rows
      expect(Array.from(await model.predict(rowsOf(test, 0, 57)))).toEqual(Array.from(actions.subarray(0, 57)));
    }
  });
});

describe('seeded training', () => {
  it('gives identical policies for the same seed on one backend, and different ones for another seed', async () => {
    const small = { ...PPO, updates: 3 };
    const [a, b, c] = [await fit(ppoModel, small, 5), await fit(ppoModel, small, 5), await fit(ppoModel, small, 6)];
    expect(a.policy.network.weights.map((w) => Array.from(w))).toEqual(b.policy.network.weights.map((w) => Array.from(w)));
    expect(a.policy.network.weights[0]).not.toEqual(c.policy.network.weights[0]);
    const smallDqn = { ...DQN, steps: 120, evalEvery: 60 };
    const [d, e] = [await fit(dqnModel, smallDqn, 5), await fit(dqnModel, smallDqn, 5)];
    expect(d.policy.network.weights.map((w) => Array.from(w))).toEqual(e.policy.network.weights.map((w) => Array.from(w)));
  }, 30_000);
});

describe('core/ppo and core/dqn as models', () => {
  // the model contract suite (checkModel) runs over every built-in in plugin-authoring.test.ts

  it('PPO trades a continuous exposure in [−1, 1] when asked', async () => {
    const model = await fit(ppoModel, { ...PPO, updates: 2, actions: 'continuous' }, 1);
    const exposure = await model.predict(test);
    expect(exposure.every((x) => x >= -1 && x <= 1)).toBe(true);
    expect(new Set(exposure).size).toBeGreaterThan(3);
  });

  it('name the missing return column and the remedy', async () => {
    await expect(ppoModel.fit(data, ppoModel.params.parse({ returnColumn: 'ret_2' }), { seed: 1 })).rejects.toThrow(
      /feature column 'ret_2'.*core\/returns.*returnColumn/,
    );
    expect(() => dqnModel.params.parse({ actions: 'continuous' })).toThrow();
  });

  it('take the fees from the run’s backtest settings', async () => {
    const model = await fit(dqnModel, { ...DQN, steps: 20, evalEvery: 10 }, 1);
    expect(model.costs).toEqual(environmentCosts({}));
    const costly = (await dqnModel.fit(data, dqnModel.params.parse({ ...DQN, steps: 20, evalEvery: 10 }), {
      seed: 1,
      backtest: parseBacktestSettings({ commissionBps: 30, slippageBps: 20 }),
    })) as RlPolicyModel;
    expect(costly.costs.commission).toEqual({ kind: 'rate', rate: 0.003 });
    expect(costly.costs.slippage).toBe(0.002);
  });
});
