import type { Progress } from '../util/progress';
import { forwardMlp, MlpScratch, type MlpWeights } from './networks';
import type { TradingEnvironment } from './trading-env';

/** A trained policy: a network mapping an observation to action logits / Q values (discrete) or a mean exposure (continuous). */
export type Policy = {
  readonly network: MlpWeights;
  readonly actions: 'discrete' | 'continuous';
};

/** One point of the learning curve (the report plots `train` and `valid`, and `loss` on a second axis). */
export type LearningPoint = {
  /** PPO: the update; DQN: environment steps per environment. */
  round: number;
  /** Mean reward per bar over the training rollouts since the previous point. */
  train: number;
  /** Mean reward per bar of the greedy policy over the validation rows. */
  valid: number;
  /** Mean training loss since the previous point. */
  loss: number;
  /** Episodes finished so far. */
  episodes: number;
};

/** The greedy action for one observation's network output. */
export function greedyAction(output: Float32Array, offset: number, policy: Policy): number {
  if (policy.actions === 'continuous') return Math.max(-1, Math.min(1, output[offset]));
  const width = policy.network.sizes[policy.network.sizes.length - 1];
  let best = 0;
  for (let k = 1; k < width; k++) if (output[offset + k] > output[offset + best]) best = k;
  return best;
}

/** What a greedy run over a whole market gives: the target at each row and the account's result. */
export type GreedyRun = {
  /** Target exposure decided at each row (the last row's decision is never filled). */
  targets: Float64Array;
  /** Final equity / initial equity − 1 (the last bar closes what is open). */
  totalReturn: number;
  /** Mean reward per step. */
  meanReward: number;
};

/**
 * Run the greedy policy from flat over an environment's whole market (count 1, start 'first', no
 * autoreset): the policy sees its own position, as it will in a backtest.
 */
export function greedyRun(policy: Policy, env: TradingEnvironment): GreedyRun {
  const scratch = new MlpScratch();
  const outputs = policy.network.sizes[policy.network.sizes.length - 1];
  const out = new Float32Array(outputs);
  const observation = new Float32Array(env.observationSize);
  const targets = new Float64Array(env.length);
  env.reset(0);
  const initial = env.equityOf(0);
  let rewards = 0;
  let steps = 0;
  for (let row = env.rowOf(0); row < env.length; row++) {
    env.observe(0, observation, 0);
    forwardMlp(policy.network, observation, 1, out, scratch);
    const action = greedyAction(out, 0, policy);
    targets[row] = env.targetOf(action);
    if (row === env.length - 1) break;
    const result = env.step(action);
    rewards += result.reward[0];
    steps++;
  }
  return { targets, totalReturn: env.equityOf(0) / initial - 1, meanReward: steps > 0 ? rewards / steps : 0 };
}

/** Progress detail: episodes, mean reward, loss. */
export function progressDetail(point: { episodes: number; train: number; loss: number }): string {
  return `episodes ${point.episodes} reward ${point.train.toFixed(4)} loss ${point.loss.toFixed(4)}`;
}

/** Ambient services an agent's training uses. */
export type AgentContext = {
  readonly seed: number;
  readonly progress?: Progress;
  /** Mean reward per bar of a greedy policy on the validation rows (for the learning curve and the best-policy choice). */
  readonly evaluate: (policy: Policy) => number;
};
