import type * as TfModule from '@tensorflow/tfjs';
import { SeededRng } from '../util/rng';
import type { Tf } from '../models/neural/tf';
import { copyMlp, forwardMlp, initMlp, MlpScratch, TfMlp } from './networks';
import { progressDetail, type AgentContext, type LearningPoint, type Policy } from './policy';
import type { TradingEnvironment } from './trading-env';

/** PPO's settings (the core/ppo params carry them). */
export type PpoSettings = {
  readonly updates: number;
  /** Steps per environment per rollout. */
  readonly rolloutSteps: number;
  readonly epochs: number;
  readonly minibatches: number;
  readonly gamma: number;
  /** GAE's λ. */
  readonly lambda: number;
  readonly clip: number;
  readonly entropyCoef: number;
  readonly valueCoef: number;
  readonly learningRate: number;
  readonly hidden: readonly number[];
  /** Record a learning-curve point (and evaluate on the validation rows) every this many updates. */
  readonly evalEvery: number;
};

export type PpoResult = { policy: Policy; history: LearningPoint[]; episodes: number; bestRound: number };

const LOG_2PI = Math.log(2 * Math.PI);

/**
 * Proximal policy optimization (Schulman et al. 2017): rollouts from the vectorized environment,
 * advantages by GAE(γ, λ) with the value of the final observation bootstrapped at truncation, then
 * `epochs` passes of minibatch Adam on the clipped surrogate + valueCoef × value MSE − entropyCoef ×
 * entropy, advantages normalized per rollout. Discrete actions: a softmax policy over short/flat/long;
 * continuous: a Gaussian with a learned state-independent log standard deviation. Every random draw
 * (initial weights, actions, minibatch order) comes from the seed. The policy kept is the one whose
 * greedy run scored best on the validation rows.
 * @see https://arxiv.org/abs/1707.06347 and https://arxiv.org/abs/1506.02438 (GAE)
 */
export function trainPpo(tf: Tf, env: TradingEnvironment, settings: PpoSettings, context: AgentContext): PpoResult {
  const rng = new SeededRng(context.seed ^ 0x70706f);
  const discrete = env.actionType === 'discrete';
  const D = env.observationSize;
  const A = env.actionCount;
  const N = env.count;
  const T = settings.rolloutSteps;
  const policyNet = initMlp([D, ...settings.hidden, A], context.seed, 0.01);
  const valueNet = initMlp([D, ...settings.hidden, 1], context.seed + 1, 1);
  const policyTf = new TfMlp(tf, policyNet);
  const valueTf = new TfMlp(tf, valueNet);
  const logStd = discrete ? undefined : tf.variable(tf.scalar(-0.5), true);
  const optimizer = tf.train.adam(settings.learningRate);
  const variables = [...policyTf.variables, ...valueTf.variables, ...(logStd ? [logStd] : [])];
  const scratch = new MlpScratch();
  // rollout buffers, allocated once
  const size = T * N;
  const observations = new Float32Array(size * D);
  const actions = new Float32Array(size);
  const logProbs = new Float32Array(size);
  const values = new Float32Array(size);
  const rewards = new Float32Array(size);
  const dones = new Uint8Array(size);
  const advantages = new Float32Array(size);
  const returns = new Float32Array(size);
  const out = new Float32Array(N * A);
  const valueOut = new Float32Array(N);
  const finalValue = new Float32Array(N);
  const order = new Int32Array(size);
  const batch = Math.floor(size / settings.minibatches);
  const batchObs = new Float32Array(batch * D);
  const batchActions = new Float32Array(batch);
  const batchOld = new Float32Array(batch);
  const batchAdvantages = new Float32Array(batch);
  const batchReturns = new Float32Array(batch);
  const history: LearningPoint[] = [];
  let best: { score: number; round: number; network: Policy['network'] } | undefined;
  let episodes = 0;
  let rewardSum = 0;
  let rewardCount = 0;
  let lossSum = 0;
  let lossCount = 0;
  let observation = env.reset(context.seed);
  try {
    for (let update = 1; update <= settings.updates; update++) {
      const std = logStd ? Math.exp(logStd.dataSync()[0]) : 0;
      for (let t = 0; t < T; t++) {
        const base = t * N;
        observations.set(observation, base * D);
        forwardMlp(policyNet, observation, N, out, scratch);
        forwardMlp(valueNet, observation, N, valueOut, scratch);
        for (let i = 0; i < N; i++) {
          let action: number;
          let logProb: number;
          if (discrete) {
            // sample from the softmax of the logits
            let max = -Infinity;
            for (let k = 0; k < A; k++) max = Math.max(max, out[i * A + k]);
            let total = 0;
            for (let k = 0; k < A; k++) total += Math.exp(out[i * A + k] - max);
            let u = rng.uniform() * total;
            action = A - 1;
            for (let k = 0; k < A; k++) {
              u -= Math.exp(out[i * A + k] - max);
              if (u < 0) {
                action = k;
                break;
              }
            }
            logProb = out[i * A + action] - max - Math.log(total);
          } else {
            const mean = out[i];
            const z = rng.normal();
            action = mean + std * z;
            logProb = -0.5 * z * z - Math.log(std) - 0.5 * LOG_2PI;
          }
          actions[base + i] = action;
          logProbs[base + i] = logProb;
          values[base + i] = valueOut[i];
        }
        const result = env.step(actions.subarray(base, base + N));
        let truncatedAny = false;
        for (let i = 0; i < N; i++) {
          rewards[base + i] = result.reward[i];
          dones[base + i] = result.terminated[i] | result.truncated[i];
          if (result.truncated[i]) truncatedAny = true;
          if (dones[base + i]) episodes++;
          rewardSum += result.reward[i];
          rewardCount++;
        }
        if (truncatedAny) {
          // a truncated episode did not end: its last reward carries the discounted value of where it stopped
          forwardMlp(valueNet, result.info.finalObservation, N, finalValue, scratch);
          for (let i = 0; i < N; i++) if (result.truncated[i]) rewards[base + i] += settings.gamma * finalValue[i];
        }
        observation = result.observation;
      }
      // GAE(γ, λ) backwards through the rollout
      forwardMlp(valueNet, observation, N, valueOut, scratch);
      for (let i = 0; i < N; i++) {
        let next = valueOut[i];
        let carry = 0;
        for (let t = T - 1; t >= 0; t--) {
          const k = t * N + i;
          const live = dones[k] ? 0 : 1;
          const delta = rewards[k] + settings.gamma * next * live - values[k];
          carry = delta + settings.gamma * settings.lambda * live * carry;
          advantages[k] = carry;
          returns[k] = carry + values[k];
          next = values[k];
        }
      }
      let mean = 0;
      for (let k = 0; k < size; k++) mean += advantages[k];
      mean /= size;
      let variance = 0;
      for (let k = 0; k < size; k++) variance += (advantages[k] - mean) ** 2;
      const deviation = Math.sqrt(variance / size) + 1e-8;
      for (let k = 0; k < size; k++) advantages[k] = (advantages[k] - mean) / deviation;

      for (let epoch = 0; epoch < settings.epochs; epoch++) {
        for (let k = 0; k < size; k++) order[k] = k;
        for (let k = size - 1; k > 0; k--) {
          const j = Math.floor(rng.uniform() * (k + 1));
          const swap = order[k];
          order[k] = order[j];
          order[j] = swap;
        }
        for (let m = 0; m < settings.minibatches; m++) {
          for (let b = 0; b < batch; b++) {
            const k = order[m * batch + b];
            batchObs.set(observations.subarray(k * D, (k + 1) * D), b * D);
            batchActions[b] = actions[k];
            batchOld[b] = logProbs[k];
            batchAdvantages[b] = advantages[k];
            batchReturns[b] = returns[k];
          }
          const cost = optimizer.minimize(
            () =>
              tf.tidy(() => {
                const x = tf.tensor2d(batchObs, [batch, D]);
                const advantage = tf.tensor1d(batchAdvantages);
                const old = tf.tensor1d(batchOld);
                const output = policyTf.apply(x);
                let logProb: TfModule.Tensor1D;
                let entropy: TfModule.Scalar;
                if (discrete) {
                  const logSoftmax = tf.logSoftmax(output);
                  const picked = tf.oneHot(tf.tensor1d(batchActions, 'int32'), A);
                  logProb = tf.sum(tf.mul(logSoftmax, picked), 1) as TfModule.Tensor1D;
                  entropy = tf.mean(tf.neg(tf.sum(tf.mul(tf.exp(logSoftmax), logSoftmax), 1)));
                } else {
                  const meanAction = tf.reshape(output, [batch]);
                  const z = tf.div(tf.sub(tf.tensor1d(batchActions), meanAction), tf.exp(logStd!));
                  logProb = tf.sub(tf.sub(tf.mul(-0.5, tf.square(z)), logStd!), 0.5 * LOG_2PI) as TfModule.Tensor1D;
                  entropy = tf.add(logStd!, 0.5 * (1 + LOG_2PI)) as TfModule.Scalar;
                }
                const ratio = tf.exp(tf.sub(logProb, old));
                const clipped = tf.clipByValue(ratio, 1 - settings.clip, 1 + settings.clip);
                const surrogate = tf.mean(tf.minimum(tf.mul(ratio, advantage), tf.mul(clipped, advantage)));
                const value = tf.reshape(valueTf.apply(x), [batch]);
                const valueLoss = tf.mean(tf.square(tf.sub(value, tf.tensor1d(batchReturns))));
                return tf.sub(tf.add(tf.neg(surrogate), tf.mul(settings.valueCoef, valueLoss)), tf.mul(settings.entropyCoef, entropy)) as TfModule.Scalar;
              }),
            true,
            variables,
          );
          lossSum += cost!.dataSync()[0];
          lossCount++;
          cost!.dispose();
        }
      }
      policyTf.sync();
      valueTf.sync();
      if (update % settings.evalEvery === 0 || update === settings.updates) {
        const policy: Policy = { network: policyNet, actions: env.actionType };
        const valid = context.evaluate(policy);
        const point: LearningPoint = { round: update, train: rewardSum / Math.max(1, rewardCount), valid, loss: lossSum / Math.max(1, lossCount), episodes };
        history.push(point);
        if (!best || valid > best.score) best = { score: valid, round: update, network: copyMlp(policyNet) };
        rewardSum = rewardCount = lossSum = lossCount = 0;
      }
      context.progress?.tick(1, progressDetail(history[history.length - 1] ?? { episodes, train: rewardSum / Math.max(1, rewardCount), loss: lossSum / Math.max(1, lossCount) }));
    }
  } finally {
    policyTf.dispose();
    valueTf.dispose();
    logStd?.dispose();
    optimizer.dispose();
  }
  context.progress?.done();
  return { policy: { network: best!.network, actions: env.actionType }, history, episodes, bestRound: best!.round };
}
