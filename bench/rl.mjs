#!/usr/bin/env node
// RL benchmarks (printed figures, not tests). Run: npm run bench (or node bench/rl.mjs)
//   1. trading-environment steps per second: one environment, then N = 16 and 64 stepped at once
//   2. PPO updates per second (8 environments × 64 steps per rollout, 4 epochs × 4 minibatches, 64×64 tanh MLPs)
//   3. DQN environment steps per second with one gradient step each (4 environments, batch 64)
import { cl, now, fmt } from './lib.mjs';

const ROWS = 20_000;
const COLS = 16;
const WINDOW = 8;
const STEPS = Number(process.env.BENCH_RL_STEPS ?? 400_000);

// a random walk and random features: the environment's cost does not depend on what they hold
let state = 1;
const rng = { uniform: () => (state = (state * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648 };
const open = new Float64Array(ROWS);
const close = new Float64Array(ROWS);
let price = 100;
for (let t = 0; t < ROWS; t++) {
  open[t] = price;
  price *= 1 + 0.01 * (rng.uniform() - 0.5);
  close[t] = price;
}
const features = Float32Array.from({ length: ROWS * COLS }, () => rng.uniform() - 0.5);
const market = { open, close, features, cols: COLS };
const costs = cl.rl.environmentCosts({ commissionBps: 10, slippageBps: 5 });
console.log(`\ncandlelab RL bench · ${ROWS.toLocaleString('en-US')} bars, ${COLS} features, window ${WINDOW} (observation ${WINDOW * COLS + 2} values)`);

// 1. environment steps per second
console.log(`\n1. environment steps per second (random short/flat/long actions, episodes of 256 bars, same-step autoreset)`);
for (const count of [1, 16, 64]) {
  const env = new cl.rl.TradingEnvironment({ market, costs, window: WINDOW, count, episodeBars: 256 });
  env.reset(7);
  const actions = new Float32Array(count);
  const calls = Math.ceil(STEPS / count);
  const t = now();
  for (let k = 0; k < calls; k++) {
    for (let i = 0; i < count; i++) actions[i] = (k * 7 + i * 13) % 3;
    env.step(actions);
  }
  const seconds = (now() - t) / 1000;
  console.log(`   N = ${String(count).padStart(2)}: ${fmt((calls * count) / seconds / 1e6, 2)} M environment steps/s (${fmt((calls / seconds) / 1e3, 1)} k step calls/s)`);
}

// 2 and 3 run on tfjs
const { tf, backend } = await cl.models.loadTf('auto');
const trainMarket = { open: open.subarray(0, 4000), close: close.subarray(0, 4000), features: features.subarray(0, 4000 * COLS), cols: COLS };
const validEnv = new cl.rl.TradingEnvironment({ market: trainMarket, costs, window: WINDOW, start: 'first', autoReset: false });
const evaluate = (policy) => cl.rl.greedyRun(policy, validEnv).meanReward;
{
  const env = new cl.rl.TradingEnvironment({ market: trainMarket, costs, window: WINDOW, count: 8, episodeBars: 256 });
  const settings = { updates: 10, rolloutSteps: 64, epochs: 4, minibatches: 4, gamma: 0.95, lambda: 0.95, clip: 0.2, entropyCoef: 0.01, valueCoef: 0.5, learningRate: 3e-4, hidden: [64, 64], evalEvery: 1000 };
  cl.rl.trainPpo(tf, env, { ...settings, updates: 1 }, { seed: 1, evaluate }); // warm-up (kernels compile)
  const t = now();
  cl.rl.trainPpo(tf, env, settings, { seed: 1, evaluate });
  const seconds = (now() - t) / 1000;
  console.log(`\n2. PPO on tfjs (${backend}): ${fmt(settings.updates / seconds, 2)} updates/s (512 samples, 16 minibatch gradient steps each; ${fmt(seconds, 2)} s for ${settings.updates})`);
}
{
  const env = new cl.rl.TradingEnvironment({ market: trainMarket, costs, window: WINDOW, count: 4, episodeBars: 256 });
  const settings = { steps: 500, bufferSize: 50_000, batchSize: 64, learningRate: 1e-3, gamma: 0.95, targetUpdate: 200, epsilonStart: 1, epsilonEnd: 0.05, epsilonFraction: 0.5, learningStarts: 50, trainEvery: 1, hidden: [64, 64], evalEvery: 100_000 };
  const t = now();
  cl.rl.trainDqn(tf, env, settings, { seed: 1, evaluate });
  const seconds = (now() - t) / 1000;
  console.log(`3. DQN on tfjs (${backend}): ${fmt((settings.steps * 4) / seconds, 0)} environment steps/s with ${fmt((settings.steps - settings.learningStarts) / seconds, 0)} gradient steps/s (batch 64)`);
}
