import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { ModelError } from '../errors';
import { defineModel, type ModelDefinition } from '../plugins/define';
import { fitScaler, transform, type FittedScaler } from '../preprocessing/scalers';
import { parseBacktestSettings } from '../backtest/settings';
import { writeArtifact } from '../models/artifact';
import type { Artifact, FittedModel, Matrix, ModelContext, ModelStream, TrainingData } from '../models/model';
import { loadTf, TF_BACKEND_CHOICES, type TfBackendChoice } from '../models/neural/tf';
import { forwardMlp, MlpScratch, packWeights, unpackWeights } from './networks';
import { greedyAction, greedyRun, type Policy } from './policy';
import { trainPpo } from './ppo';
import { trainDqn } from './dqn';
import { DEFAULT_REWARD, DISCRETE_TARGETS, environmentCosts, leverageCap, TradingEnvironment, type EnvironmentCosts, type EnvironmentMarket, type RewardWeights } from './trading-env';

export const RL_MODEL_VERSION = '1.0.0';

/** The files an RL model saves: the policy network's weights and the model card. */
export const RL_FILES = { weights: 'policy.bin', card: 'model-card.json' } as const;

const rewardParams = z
  .object({
    pnl: z.number().default(DEFAULT_REWARD.pnl),
    drawdown: z.number().min(0).default(DEFAULT_REWARD.drawdown),
    turnover: z.number().min(0).default(DEFAULT_REWARD.turnover),
    sharpe: z.number().min(0).default(DEFAULT_REWARD.sharpe),
    scale: z.number().positive().default(DEFAULT_REWARD.scale),
    sharpeDecay: z.number().positive().max(1).default(DEFAULT_REWARD.sharpeDecay),
  })
  .strict();

/** Settings every RL model shares: what the environment shows and rewards. */
const environmentParams = {
  /**
   * The feature column holding each bar's close-to-close return (close[t]/close[t−1] − 1): the environment
   * trades on the prices it implies. core/returns with periods [1] makes `ret_1`.
   */
  returnColumn: z.string().min(1).default('ret_1'),
  /** 'simple': the column is close[t]/close[t−1] − 1; 'log': it is ln(close[t]/close[t−1]) (core/returns with log: true, `logret_1`). */
  returnKind: z.enum(['simple', 'log']).default('simple'),
  /** Feature rows per observation (this bar and window − 1 before it). */
  window: z.number().int().min(1).max(256).default(1),
  /** Environments stepped together while training. */
  envs: z.number().int().min(1).max(1024).default(8),
  /** Bars per training episode (episodes start at random rows of the training segment). */
  episodeBars: z.number().int().min(2).default(256),
  /** Reward = (pnl·r − drawdown·Δdrawdown⁺ − turnover·|Δexposure|) × scale + sharpe·DSR. */
  reward: rewardParams.default({}),
  /** Hidden layer widths (tanh) of the networks. */
  hidden: z.array(z.number().int().min(1).max(1024)).min(1).max(4).default([64, 64]),
  gamma: z.number().min(0).max(1).default(0.95),
  scaler: z.enum(['standard', 'robust', 'minmax']).default('standard'),
  /** tfjs backend for the gradient steps ('auto': CANDLELAB_TF_BACKEND, else the fastest that works). */
  backend: z.enum(TF_BACKEND_CHOICES as [TfBackendChoice, ...TfBackendChoice[]]).default('auto'),
};

export const ppoParams = z
  .object({
    ...environmentParams,
    /** 'discrete': short / flat / long; 'continuous': a target exposure in [−1, 1] (Gaussian policy). */
    actions: z.enum(['discrete', 'continuous']).default('discrete'),
    updates: z.number().int().min(1).max(100_000).default(60),
    rolloutSteps: z.number().int().min(2).max(100_000).default(64),
    epochs: z.number().int().min(1).max(100).default(4),
    minibatches: z.number().int().min(1).max(1024).default(4),
    lambda: z.number().min(0).max(1).default(0.95),
    clip: z.number().positive().max(1).default(0.2),
    entropyCoef: z.number().min(0).default(0.01),
    valueCoef: z.number().min(0).default(0.5),
    learningRate: z.number().positive().max(1).default(3e-4),
    /** Learning-curve point and validation run every this many updates. */
    evalEvery: z.number().int().min(1).default(5),
  })
  .strict()
  .refine((p) => p.rolloutSteps * p.envs >= p.minibatches, { message: 'rolloutSteps × envs must be at least minibatches', path: ['minibatches'] });

export const dqnParams = z
  .object({
    ...environmentParams,
    /** Environment steps per environment. */
    steps: z.number().int().min(1).max(10_000_000).default(3000),
    bufferSize: z.number().int().min(1).default(50_000),
    batchSize: z.number().int().min(1).max(8192).default(64),
    learningRate: z.number().positive().max(1).default(1e-3),
    targetUpdate: z.number().int().min(1).default(200),
    epsilonStart: z.number().min(0).max(1).default(1),
    epsilonEnd: z.number().min(0).max(1).default(0.05),
    epsilonFraction: z.number().positive().max(1).default(0.5),
    learningStarts: z.number().int().min(0).default(100),
    trainEvery: z.number().int().min(1).default(1),
    /** Learning-curve point and validation run every this many steps. */
    evalEvery: z.number().int().min(1).default(250),
  })
  .strict();

export type PpoParams = z.output<typeof ppoParams>;
export type DqnParams = z.output<typeof dqnParams>;
type Algorithm = 'ppo' | 'dqn';

/** model-card.json: everything besides the weights needed to act as the fitted policy did. */
type RlCard = {
  modelId: string;
  modelVersion: string;
  algorithm: Algorithm;
  featureNames: string[];
  returnColumn: string;
  returnKind: 'simple' | 'log';
  window: number;
  actions: 'discrete' | 'continuous';
  sizes: number[];
  scaler: FittedScaler;
  costs: EnvironmentCosts;
  reward: RewardWeights;
  info: Record<string, unknown>;
};

function checkMatrix(name: string, X: Matrix, featureNames: readonly string[]): void {
  if (X.cols !== featureNames.length) throw new ModelError(`${name} has ${X.cols} feature columns but the model uses ${featureNames.length} (${featureNames.join(', ')})`);
  for (let i = 0; i < X.values.length; i++) {
    if (!Number.isFinite(X.values[i])) throw new ModelError(`${name} features contain ${X.values[i]} (column ${featureNames[i % X.cols]}, row ${Math.floor(i / X.cols)}); drop warm-up rows or fix the feature`);
  }
}

/** The column index of the return feature; a one-line error naming the remedy when it is missing. */
function returnIndex(modelId: string, featureNames: readonly string[], returnColumn: string): number {
  const index = featureNames.indexOf(returnColumn);
  if (index < 0) {
    throw new ModelError(
      `${modelId} trades on the bar returns in feature column '${returnColumn}', which the features lack (${featureNames.join(', ')}); add {"id": "core/returns", "params": {"periods": [1]}} to the spec's features or set returnColumn`,
    );
  }
  return index;
}

/** The close after `price` given the bar's return; a one-line error for an impossible simple return. */
function nextPrice(price: number, r: number, kind: 'simple' | 'log', row: number): number {
  if (kind === 'log') return price * Math.exp(r);
  if (!(r > -1)) throw new ModelError(`return column value ${r} at row ${row} is not a return above −100%; returnColumn must hold close[t]/close[t−1] − 1 (or set returnKind: 'log')`);
  return price * (1 + r);
}

/**
 * Prices implied by a return column: close[0] = 1, close[t] = close[t−1] × (1 + r[t]), and each bar
 * opens at the previous close (returns carry no gaps), so a fill at the next open is a fill at this close.
 */
export function marketFromReturns(X: Matrix, column: number, scaled: Matrix, kind: 'simple' | 'log' = 'simple'): EnvironmentMarket {
  const open = new Float64Array(X.rows);
  const close = new Float64Array(X.rows);
  let price = 1;
  for (let t = 0; t < X.rows; t++) {
    open[t] = price;
    if (t > 0) {
      price = nextPrice(price, X.values[t * X.cols + column], kind, t);
    }
    close[t] = price;
  }
  return { open, close, features: scaled.values, cols: X.cols };
}

/**
 * A trained RL policy as a model: `predict` rolls the greedy policy forward from flat over the block's
 * rows, each row's observation holding the policy's own position and unrealized P&L (from the return
 * column), and outputs the target exposure decided at each row (rows × 1, −1 … 1). Row t's output uses
 * rows ≤ t only. `stream()` does the same one row at a time, so paper and live sessions decide what the
 * backtest decided.
 */
export class RlPolicyModel implements FittedModel {
  readonly task = 'regression' as const;
  readonly modelVersion = RL_MODEL_VERSION;

  constructor(
    readonly modelId: string,
    readonly algorithm: Algorithm,
    readonly featureNames: readonly string[],
    readonly returnColumn: string,
    readonly returnKind: 'simple' | 'log',
    readonly window: number,
    readonly policy: Policy,
    readonly scaler: FittedScaler,
    readonly costs: EnvironmentCosts,
    readonly reward: RewardWeights,
    readonly info: Record<string, unknown>,
  ) {}

  private environment(X: Matrix): TradingEnvironment {
    const scaled = transform(this.scaler, X);
    const market = marketFromReturns(X, returnIndex(this.modelId, this.featureNames, this.returnColumn), scaled, this.returnKind);
    return new TradingEnvironment({ market, costs: this.costs, window: this.window, actions: this.policy.actions, reward: this.reward, start: 'first', autoReset: false, closeAtEnd: false });
  }

  async predict(X: Matrix): Promise<Float32Array> {
    return this.predictSync(X);
  }

  predictSync(X: Matrix): Float32Array {
    checkMatrix('the prediction input', X, this.featureNames);
    if (X.rows === 0) return new Float32Array(0);
    if (X.rows === 1) return Float32Array.from([this.stream().next(X.values)[0]]);
    return Float32Array.from(greedyRun(this.policy, this.environment(X)).targets);
  }

  /** The greedy policy's result on a block of rows: its targets and the environment's total return (closing at the end). */
  evaluate(X: Matrix): { targets: Float64Array; totalReturn: number } {
    checkMatrix('the evaluation input', X, this.featureNames);
    const scaled = transform(this.scaler, X);
    const market = marketFromReturns(X, returnIndex(this.modelId, this.featureNames, this.returnColumn), scaled, this.returnKind);
    const env = new TradingEnvironment({ market, costs: this.costs, window: this.window, actions: this.policy.actions, reward: this.reward, start: 'first', autoReset: false });
    return greedyRun(this.policy, env);
  }

  stream(): ModelStream {
    return new RlPolicyStream(this);
  }

  async save(dir: string): Promise<Artifact[]> {
    const card: RlCard = {
      modelId: this.modelId,
      modelVersion: this.modelVersion,
      algorithm: this.algorithm,
      featureNames: [...this.featureNames],
      returnColumn: this.returnColumn,
      returnKind: this.returnKind,
      window: this.window,
      actions: this.policy.actions,
      sizes: [...this.policy.network.sizes],
      scaler: this.scaler,
      costs: this.costs,
      reward: this.reward,
      info: this.info,
    };
    return [
      writeArtifact(dir, RL_FILES.weights, 'rl-policy-weights', packWeights([this.policy.network])),
      writeArtifact(dir, RL_FILES.card, 'model-card', JSON.stringify(card, null, 2) + '\n'),
    ];
  }

  dispose(): void {}
}

type StreamState = {
  rows: number;
  price: number;
  cash: number;
  units: number;
  held: number;
  entryPrice: number;
  pending: number;
  recent: number[];
};

/**
 * The policy one row at a time: the environment's account (TradingEnvironment.applyTarget and fill, for
 * one account on the return-implied prices) and a ring of the last `window` scaled rows. Equal to
 * `predict` over all rows fed so far (rl.test.ts checks it).
 */
class RlPolicyStream implements ModelStream {
  private state: StreamState;
  private readonly scratch = new MlpScratch();
  private readonly observation: Float32Array;
  private readonly out: Float32Array;
  private readonly column: number;

  constructor(private readonly model: RlPolicyModel) {
    this.column = returnIndex(model.modelId, model.featureNames, model.returnColumn);
    this.observation = new Float32Array(model.window * model.featureNames.length + 2);
    this.out = new Float32Array(model.policy.network.sizes[model.policy.network.sizes.length - 1]);
    this.state = { rows: 0, price: 1, cash: model.costs.initialCash, units: 0, held: 0, entryPrice: 0, pending: 0, recent: [] };
  }

  next(row: Float32Array): Float32Array {
    const { model, state } = this;
    const cols = model.featureNames.length;
    checkMatrix('the streamed row', { values: row, rows: 1, cols: row.length }, model.featureNames);
    const scaled = transform(model.scaler, { values: row, rows: 1, cols }).values;
    if (state.rows > 0) {
      // the previous decision fills at this bar's open, which is the previous close
      this.applyTarget(state.pending, state.price);
      state.price = nextPrice(state.price, row[this.column], model.returnKind, state.rows);
    }
    if (state.recent.length === 0) for (let k = 0; k < model.window; k++) state.recent.push(...scaled);
    else {
      state.recent.splice(0, cols);
      state.recent.push(...scaled);
    }
    state.rows++;
    this.observation.set(state.recent, 0);
    this.observation[model.window * cols] = state.held;
    this.observation[model.window * cols + 1] = state.units !== 0 ? Math.sign(state.units) * (state.price / state.entryPrice - 1) : 0;
    forwardMlp(model.policy.network, this.observation, 1, this.out, this.scratch);
    const action = greedyAction(this.out, 0, model.policy);
    let target = model.policy.actions === 'discrete' ? DISCRETE_TARGETS[action] : action;
    if (target < 0 && !model.costs.allowShort) target = 0;
    state.pending = target;
    return Float32Array.of(target);
  }

  snapshot(): unknown {
    return structuredClone(this.state);
  }

  restore(saved: unknown): void {
    this.state = structuredClone(saved as StreamState);
  }

  private applyTarget(target: number, base: number): void {
    const state = this.state;
    const held = state.held;
    if (target === held) return;
    const flip = held !== 0 && (target === 0 || Math.sign(target) !== Math.sign(held));
    if (this.model.costs.exclusive || flip) {
      if (state.units !== 0) this.fill(state.units > 0 ? -1 : 1, Math.abs(state.units), base);
      if (target !== 0) this.enter(target, base, false);
    } else if (target !== 0) this.enter(target, base, held !== 0);
    state.held = target;
  }

  private enter(target: number, base: number, adjust: boolean): void {
    const { costs } = this.model;
    const state = this.state;
    const direction = target > 0 ? 1 : -1;
    const capital = Math.max(0, state.cash + state.units * base);
    const rate = costs.commission.kind === 'rate' ? costs.commission.rate : 0;
    const desired = (capital * costs.fraction * Math.abs(target)) / (base * (1 + direction * costs.slippage) * (1 + rate));
    let side = direction;
    let quantity = desired;
    if (adjust) {
      const delta = direction * desired - state.units;
      side = delta >= 0 ? 1 : -1;
      quantity = Math.abs(delta);
    }
    if (state.units === 0 || Math.sign(state.units) === side) quantity = leverageCap(quantity, base, state.cash + state.units * base, Math.abs(state.units * base), costs.leverage);
    this.fill(side, quantity, base);
  }

  private fill(direction: number, quantity: number, base: number): void {
    if (!(quantity > 1e-12)) return;
    const { costs } = this.model;
    const state = this.state;
    const price = base * (1 + direction * costs.slippage);
    const notional = quantity * price;
    const fee = costs.commission.kind === 'rate' ? notional * costs.commission.rate : notional > 0 ? costs.commission.perFill : 0;
    state.cash -= direction * notional + fee;
    if (state.units === 0 || Math.sign(state.units) === direction) {
      const held = Math.abs(state.units);
      state.entryPrice = (held * state.entryPrice + quantity * price) / (held + quantity);
    }
    let next = state.units + direction * quantity;
    if (Math.abs(next) <= 1e-12) next = 0;
    state.units = next;
  }
}

/** Fit an RL agent: scale (train rows), build the training and validation environments, train, keep the best policy. */
async function fitRl(modelId: string, algorithm: Algorithm, data: TrainingData, params: PpoParams | DqnParams, context: ModelContext): Promise<RlPolicyModel> {
  const column = returnIndex(modelId, data.featureNames, params.returnColumn);
  for (const [name, segment] of [['train', data.train], ['valid', data.valid]] as const) {
    checkMatrix(name, segment.X, data.featureNames);
    if (segment.X.rows < 2) throw new ModelError(`${modelId} needs at least 2 ${name} rows to step an environment, got ${segment.X.rows}`);
  }
  const costs = environmentCosts(context.backtest ?? parseBacktestSettings({}));
  const actions = algorithm === 'ppo' ? (params as PpoParams).actions : 'discrete';
  const scaler = fitScaler(data.train.X, params.scaler);
  const reward: RewardWeights = params.reward;
  const envOf = (X: Matrix, options: { count: number; start: 'random' | 'first'; episodeBars: number; autoReset: boolean }) =>
    new TradingEnvironment({ market: marketFromReturns(X, column, transform(scaler, X), params.returnKind), costs, window: params.window, actions, reward, ...options });
  const trainEnv = envOf(data.train.X, { count: params.envs, start: 'random', episodeBars: Math.min(params.episodeBars, data.train.X.rows - 1), autoReset: true });
  const validEnv = envOf(data.valid.X, { count: 1, start: 'first', episodeBars: 0, autoReset: false });
  const runtime = await loadTf(params.backend);
  const evaluate = (policy: Policy) => greedyRun(policy, validEnv).meanReward;
  // progress ticks: one per PPO update, one per DQN learning-curve point
  const ticks = algorithm === 'ppo' ? (params as PpoParams).updates : Math.ceil((params as DqnParams).steps / params.evalEvery);
  const progress = context.progress?.(`${modelId} (${runtime.backend})`, ticks);
  const agentContext = { seed: context.seed, progress, evaluate };
  const result =
    algorithm === 'ppo'
      ? trainPpo(runtime.tf, trainEnv, { ...(params as PpoParams), hidden: params.hidden }, agentContext)
      : trainDqn(runtime.tf, trainEnv, { ...(params as DqnParams), hidden: params.hidden }, agentContext);
  const validRun = greedyRun(result.policy, envOf(data.valid.X, { count: 1, start: 'first', episodeBars: 0, autoReset: false }));
  const parameters = result.policy.network.weights.reduce((sum, w) => sum + w.length, 0);
  const info: Record<string, unknown> = {
    backend: runtime.backend,
    algorithm,
    actions,
    parameters,
    observationSize: trainEnv.observationSize,
    returnColumn: params.returnColumn,
    costs,
    episodes: result.episodes,
    bestRound: result.bestRound,
    validReturn: validRun.totalReturn,
    historyMetric: 'mean reward per bar',
    historyStep: algorithm === 'ppo' ? 'update' : 'environment step',
    history: result.history,
    seed: context.seed,
  };
  return new RlPolicyModel(modelId, algorithm, data.featureNames, params.returnColumn, params.returnKind, params.window, result.policy, scaler, costs, reward, info);
}

function readFile(dir: string, name: string): Buffer {
  try {
    return fs.readFileSync(path.join(dir, name));
  } catch {
    throw new ModelError(`${path.join(dir, name)} is missing; the model folder is incomplete (train and save it again)`);
  }
}

async function loadRl(dir: string, modelId: string): Promise<RlPolicyModel> {
  let card: RlCard;
  try {
    card = JSON.parse(readFile(dir, RL_FILES.card).toString('utf8')) as RlCard;
  } catch (error) {
    if (error instanceof ModelError) throw error;
    throw new ModelError(`${path.join(dir, RL_FILES.card)} is not valid JSON; the model folder is damaged (train and save it again)`);
  }
  if (card.modelId !== modelId) throw new ModelError(`${dir} holds a ${card.modelId} model, not ${modelId}; load it with ${card.modelId}`);
  const networks = unpackWeights(readFile(dir, RL_FILES.weights), [card.sizes]);
  if (typeof networks === 'string') throw new ModelError(`${path.join(dir, RL_FILES.weights)}: ${networks}; the model folder is damaged`);
  return new RlPolicyModel(card.modelId, card.algorithm, card.featureNames, card.returnColumn, card.returnKind, card.window, { network: networks[0], actions: card.actions }, card.scaler, card.costs, card.reward, card.info);
}

function rlModel<S extends z.ZodTypeAny>(modelId: string, algorithm: Algorithm, doc: string, schema: S, exampleParams: z.input<S>): ModelDefinition<S> {
  return defineModel({
    id: modelId,
    version: RL_MODEL_VERSION,
    doc,
    // the output is a target exposure per row (−1 … 1): a regression output, paired with any regression
    // labeler (the label itself is not used: the environment's reward is the training signal)
    task: 'regression',
    params: schema,
    exampleParams,
    fit: (data, params, context) => fitRl(modelId, algorithm, data, params as PpoParams | DqnParams, context),
    load: (dir) => loadRl(dir, modelId),
  });
}

/** Proximal policy optimization on the trading environment; outputs the greedy target exposure per row. */
export const ppoModel = rlModel(
  'core/ppo',
  'ppo',
  'PPO agent (clipped objective, GAE, entropy bonus) trading short/flat/long or a continuous exposure on a cost-aware environment; outputs the target exposure.',
  ppoParams,
  { returnColumn: 'f0', returnKind: 'log', updates: 3, rolloutSteps: 16, envs: 4, hidden: [8], evalEvery: 1 },
);

/** Double DQN on the trading environment; outputs the greedy target exposure per row. */
export const dqnModel = rlModel(
  'core/dqn',
  'dqn',
  'Double DQN agent (target network, replay buffer, ε schedule) trading short/flat/long on a cost-aware environment; outputs the target exposure.',
  dqnParams,
  { returnColumn: 'f0', returnKind: 'log', steps: 60, learningStarts: 10, envs: 4, hidden: [8], evalEvery: 20, batchSize: 16 },
);

export const rlModels = [ppoModel, dqnModel];
