import type * as TfModule from '@tensorflow/tfjs';
import { ConfigError } from '../errors';
import { SeededRng } from '../util/rng';
import type { Tf } from '../models/neural/tf';
import { copyMlp, forwardMlp, initMlp, MlpScratch, TfMlp, type MlpWeights } from './networks';
import { greedyAction, progressDetail, type AgentContext, type LearningPoint, type Policy } from './policy';
import type { TradingEnvironment } from './trading-env';

/** DQN's settings (the core/dqn params carry them). */
export type DqnSettings = {
  /** Environment steps per environment. */
  readonly steps: number;
  readonly bufferSize: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly gamma: number;
  /** Gradient steps between copies of the online network into the target network. */
  readonly targetUpdate: number;
  readonly epsilonStart: number;
  readonly epsilonEnd: number;
  /** Share of the steps over which ε falls linearly from epsilonStart to epsilonEnd. */
  readonly epsilonFraction: number;
  /** Environment steps (per environment) before learning starts. */
  readonly learningStarts: number;
  /** One gradient step every this many environment steps. */
  readonly trainEvery: number;
  readonly hidden: readonly number[];
  /** Record a learning-curve point (and evaluate on the validation rows) every this many steps. */
  readonly evalEvery: number;
};

export type DqnResult = { policy: Policy; history: LearningPoint[]; episodes: number; bestRound: number };

/**
 * Double DQN (van Hasselt et al. 2016) with a target network and a uniform replay buffer: actions are
 * ε-greedy (ε falls linearly), the online network picks the next action and the target network values
 * it, Huber loss, Adam. Truncated episodes bootstrap from their final observation; only the end of the
 * data is terminal. All draws come from the seed. The policy kept is the one whose greedy run scored best
 * on the validation rows.
 * @see https://arxiv.org/abs/1509.06461
 */
export function trainDqn(tf: Tf, env: TradingEnvironment, settings: DqnSettings, context: AgentContext): DqnResult {
  if (env.actionType !== 'discrete') throw new ConfigError(`DQN needs discrete actions (short, flat, long); set actions: 'discrete' or use core/ppo for a continuous exposure`);
  const rng = new SeededRng(context.seed ^ 0x64716e);
  const D = env.observationSize;
  const A = env.actionCount;
  const N = env.count;
  const online = initMlp([D, ...settings.hidden, A], context.seed, 1);
  let target: MlpWeights = copyMlp(online);
  const onlineTf = new TfMlp(tf, online);
  const optimizer = tf.train.adam(settings.learningRate);
  const scratch = new MlpScratch();
  const capacity = settings.bufferSize;
  const states = new Float32Array(capacity * D);
  const nextStates = new Float32Array(capacity * D);
  const storedActions = new Int32Array(capacity);
  const storedRewards = new Float32Array(capacity);
  const terminal = new Uint8Array(capacity);
  let stored = 0;
  let cursor = 0;
  const B = settings.batchSize;
  const batchStates = new Float32Array(B * D);
  const batchNext = new Float32Array(B * D);
  const batchActions = new Int32Array(B);
  const batchTargets = new Float32Array(B);
  const batchIndex = new Int32Array(B);
  const nextOnline = new Float32Array(B * A);
  const nextTarget = new Float32Array(B * A);
  const out = new Float32Array(N * A);
  const actions = new Float32Array(N);
  const history: LearningPoint[] = [];
  let best: { score: number; round: number; network: MlpWeights } | undefined;
  let episodes = 0;
  let gradientSteps = 0;
  let rewardSum = 0;
  let rewardCount = 0;
  let lossSum = 0;
  let lossCount = 0;
  const decaySteps = Math.max(1, Math.floor(settings.epsilonFraction * settings.steps));
  let observation = env.reset(context.seed);
  try {
    for (let step = 1; step <= settings.steps; step++) {
      const epsilon = settings.epsilonStart + (settings.epsilonEnd - settings.epsilonStart) * Math.min(1, (step - 1) / decaySteps);
      forwardMlp(online, observation, N, out, scratch);
      for (let i = 0; i < N; i++) actions[i] = rng.uniform() < epsilon ? Math.floor(rng.uniform() * A) : greedyAction(out, i * A, { network: online, actions: 'discrete' });
      // the observation buffer is the environment's: copy each state before stepping
      for (let i = 0; i < N; i++) states.set(observation.subarray(i * D, (i + 1) * D), ((cursor + i) % capacity) * D);
      const result = env.step(actions);
      for (let i = 0; i < N; i++) {
        const k = (cursor + i) % capacity;
        const finished = result.terminated[i] || result.truncated[i];
        const source = finished ? result.info.finalObservation : result.observation;
        nextStates.set(source.subarray(i * D, (i + 1) * D), k * D);
        storedActions[k] = actions[i];
        storedRewards[k] = result.reward[i];
        terminal[k] = result.terminated[i];
        if (finished) episodes++;
        rewardSum += result.reward[i];
        rewardCount++;
      }
      cursor = (cursor + N) % capacity;
      stored = Math.min(capacity, stored + N);
      observation = result.observation;

      if (step > settings.learningStarts && step % settings.trainEvery === 0 && stored >= B) {
        for (let b = 0; b < B; b++) {
          const k = Math.floor(rng.uniform() * stored);
          batchStates.set(states.subarray(k * D, (k + 1) * D), b * D);
          batchNext.set(nextStates.subarray(k * D, (k + 1) * D), b * D);
          batchActions[b] = storedActions[k];
          batchIndex[b] = k;
        }
        // double DQN target: the online network chooses the next action, the target network values it
        forwardMlp(online, batchNext, B, nextOnline, scratch);
        forwardMlp(target, batchNext, B, nextTarget, scratch);
        for (let b = 0; b < B; b++) {
          const k = batchIndex[b];
          const next = greedyAction(nextOnline, b * A, { network: online, actions: 'discrete' });
          batchTargets[b] = storedRewards[k] + (terminal[k] ? 0 : settings.gamma * nextTarget[b * A + next]);
        }
        const cost = optimizer.minimize(
          () =>
            tf.tidy(() => {
              const q = onlineTf.apply(tf.tensor2d(batchStates, [B, D]));
              const chosen = tf.sum(tf.mul(q, tf.oneHot(tf.tensor1d(batchActions, 'int32'), A)), 1);
              return tf.losses.huberLoss(tf.tensor1d(batchTargets), chosen) as TfModule.Scalar;
            }),
          true,
          onlineTf.variables,
        );
        lossSum += cost!.dataSync()[0];
        lossCount++;
        cost!.dispose();
        onlineTf.sync();
        if (++gradientSteps % settings.targetUpdate === 0) target = copyMlp(online);
      }
      if (step % settings.evalEvery === 0 || step === settings.steps) {
        const valid = context.evaluate({ network: online, actions: 'discrete' });
        const point: LearningPoint = { round: step, train: rewardSum / Math.max(1, rewardCount), valid, loss: lossSum / Math.max(1, lossCount), episodes };
        history.push(point);
        // only policies that have learned something compete for the best
        if (gradientSteps > 0 && (!best || valid > best.score)) best = { score: valid, round: step, network: copyMlp(online) };
        rewardSum = rewardCount = lossSum = lossCount = 0;
        context.progress?.tick(1, progressDetail(point));
      }
    }
  } finally {
    onlineTf.dispose();
    optimizer.dispose();
  }
  context.progress?.done();
  const chosen = best ?? { network: copyMlp(online), round: settings.steps };
  return { policy: { network: chosen.network, actions: 'discrete' }, history, episodes, bestRound: chosen.round };
}
