import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { ModelError } from '../../errors';
import { defineModel } from '../../plugins/define';
import { OnnxSession } from '../onnx/onnx-session';
import { compileXgboostTrees, type CompiledTrees } from './compiled-trees';
import { ONNX_PROBABILITIES_OUTPUT, ONNX_VALUE_OUTPUT, xgboostJsonToOnnx } from '../onnx/tree-ensemble';
import type { Artifact, FittedModel, Matrix, ModelContext, TrainingData } from '../model';
import { Booster, DMatrix, libxgboostVersion } from './libxgboost';
import { writeArtifact } from '../artifact';

export const XGBOOST_CLASSIFIER_VERSION = '1.0.0';
export const XGBOOST_REGRESSOR_VERSION = '1.0.0';

/** Parameters both XGBoost models take. */
const commonParams = {
  rounds: z.number().int().min(1).max(100_000).default(300),
  maxDepth: z.number().int().min(1).max(32).default(4),
  learningRate: z.number().positive().max(1).default(0.05),
  subsample: z.number().positive().max(1).default(0.8),
  colsampleByTree: z.number().positive().max(1).default(0.8),
  minChildWeight: z.number().min(0).default(1),
  /** L1 regularization on leaf weights. */
  alpha: z.number().min(0).default(0),
  /** L2 regularization on leaf weights. */
  lambda: z.number().min(0).default(1),
  /** Stop when the validation metric has not improved for this many rounds, and keep the trees up to the best round (0: train and keep every round). */
  earlyStoppingRounds: z.number().int().min(0).default(30),
  treeMethod: z.enum(['hist', 'exact', 'approx']).default('hist'),
  maxBin: z.number().int().min(2).default(256),
  /** libxgboost threads; results are identical for the same thread count. */
  threads: z.number().int().min(1).max(256).default(2),
  /**
   * Warm start: a model folder this model's `save` wrote (e.g. models/<name>/versions/<n>/model). Training
   * continues from its trees on the new data, with the same features (and classes) in the same order.
   */
  initModel: z.string().min(1).optional(),
};

export const xgboostClassifierParams = z.object({
  ...commonParams,
  /** 'balanced' weights each row by n / (classes × rows of its class), so rare BUY/SELL rows count. */
  classWeight: z.enum(['balanced', 'none']).default('balanced'),
});
export type XgboostClassifierParams = z.output<typeof xgboostClassifierParams>;

export const xgboostRegressorParams = z.object({
  ...commonParams,
  /** squarederror (RMSE), pseudohubererror (robust to outliers), absoluteerror (MAE). */
  objective: z.enum(['squarederror', 'pseudohubererror', 'absoluteerror']).default('squarederror'),
});
export type XgboostRegressorParams = z.output<typeof xgboostRegressorParams>;

type XgboostParams = XgboostClassifierParams | XgboostRegressorParams;
type Task = 'classification' | 'regression';

const FILES = { native: 'model.json', onnx: 'model.onnx', card: 'model-card.json' } as const;

/** What model-card.json records beside the artifacts. */
type ModelCard = {
  modelId: string;
  modelVersion: string;
  task: Task;
  featureNames: string[];
  classes?: string[];
  params: XgboostParams;
  info: Record<string, unknown>;
};

/** XGBoost's JSON model as an object (bytes and text are parsed; an object is returned as is). */
function parseModelJson(model: Uint8Array | string | object): any {
  if (typeof model === 'string') return JSON.parse(model);
  return model instanceof Uint8Array ? JSON.parse(new TextDecoder().decode(model)) : model;
}

export type FeatureImportance = { feature: string; gain: number; totalGain: number; splits: number; cover: number };

/**
 * Importance of each feature from the trees of an XGBoost JSON model, as xgboost's get_score defines it:
 * gain = average loss reduction of the feature's splits, totalGain = their sum, splits = how many
 * ('weight'), cover = average hessian sum at those splits. Sorted by gain; unused features are left out.
 */
export function featureImportance(nativeJson: Uint8Array | string | object, featureNames: readonly string[]): FeatureImportance[] {
  const model = parseModelJson(nativeJson);
  const trees: Array<{ left_children: number[]; split_indices: number[]; loss_changes: number[]; sum_hessian: number[] }> = model.learner.gradient_booster.model.trees;
  const total = new Float64Array(featureNames.length);
  const cover = new Float64Array(featureNames.length);
  const splits = new Float64Array(featureNames.length);
  for (const tree of trees) {
    for (let node = 0; node < tree.left_children.length; node++) {
      if (tree.left_children[node] === -1) continue;
      const feature = tree.split_indices[node];
      total[feature] += tree.loss_changes[node];
      cover[feature] += tree.sum_hessian[node];
      splits[feature]++;
    }
  }
  return featureNames
    .map((feature, f) => ({ feature, gain: splits[f] ? total[f] / splits[f] : 0, totalGain: total[f], splits: splits[f], cover: splits[f] ? cover[f] / splits[f] : 0 }))
    .filter((entry) => entry.splits > 0)
    .sort((a, b) => b.gain - a.gain);
}

/** Balanced class weights: n / (k × count(class)), as scikit-learn's class_weight='balanced'. */
export function balancedWeights(y: Float64Array, numClasses: number): Float32Array {
  const counts = new Array<number>(numClasses).fill(0);
  for (const label of y) counts[label]++;
  const weights = new Float32Array(y.length);
  for (let i = 0; i < y.length; i++) weights[i] = y.length / (numClasses * counts[y[i]]);
  return weights;
}

/** Checks in front of native code: shapes, finite values, class ids; the number of classes (0 for regression). */
function checkTrainingData(data: TrainingData, task: Task): number {
  const classes = task === 'classification' ? (data.classes?.length ?? 0) : 0;
  if (task === 'classification' && classes < 2) throw new ModelError('xgboost classifier needs class names (a classification labeler)');
  for (const [name, segment] of [['train', data.train], ['valid', data.valid]] as const) {
    if (segment.X.cols !== data.featureNames.length) {
      throw new ModelError(`${name} has ${segment.X.cols} feature columns but ${data.featureNames.length} feature names`);
    }
    if (segment.y.length !== segment.X.rows) {
      throw new ModelError(`${name} has ${segment.X.rows} feature rows but ${segment.y.length} labels; features and labels must align`);
    }
    for (const value of segment.X.values) {
      if (!Number.isFinite(value)) throw new ModelError(`${name} features contain ${value}; drop warm-up rows or fix the feature`);
    }
    for (const label of segment.y) {
      if (task === 'regression') {
        if (!Number.isFinite(label)) throw new ModelError(`${name} targets contain ${label}; drop rows whose target needs bars past the end`);
      } else if (!Number.isInteger(label) || label < 0 || label >= classes) {
        throw new ModelError(`${name} label ${label} is not a class id in 0..${classes - 1}`);
      }
    }
  }
  if (task === 'classification') {
    const present = new Set(data.train.y);
    if (present.size < 2) {
      throw new ModelError(`the train labels have one class only (${data.classes![[...present][0]]}); lower the labeler's threshold or use more data`);
    }
  }
  return classes;
}

/**
 * A fitted XGBoost model: the libxgboost booster kept for parity checks, ONNX Runtime for predictions.
 * Exported so its type has a name: a notebook (tslab) cannot hold an unnamed class with private members in a const.
 */
export class XgboostModel implements FittedModel {
  readonly modelVersion: string;

  constructor(
    readonly modelId: 'core/xgboost' | 'core/xgboost-regressor',
    readonly task: Task,
    private readonly booster: Booster,
    private readonly session: OnnxSession,
    readonly nativeJson: Uint8Array,
    readonly onnxBytes: Uint8Array,
    readonly featureNames: readonly string[],
    readonly classes: readonly string[] | undefined,
    readonly params: XgboostParams,
    readonly info: Record<string, unknown>,
  ) {
    this.modelVersion = task === 'classification' ? XGBOOST_CLASSIFIER_VERSION : XGBOOST_REGRESSOR_VERSION;
  }

  /** Class probabilities (rows × classes) or values (rows × 1) from ONNX Runtime, row-major. */
  predict(X: Matrix): Promise<Float32Array> {
    return this.session.run(X, this.task === 'classification' ? ONNX_PROBABILITIES_OUTPUT : ONNX_VALUE_OUTPUT);
  }

  private compiled: CompiledTrees | null | undefined;

  private compiledTrees(): CompiledTrees {
    if (this.compiled === undefined) this.compiled = compileXgboostTrees(parseModelJson(this.nativeJson)) ?? null;
    if (!this.compiled) throw new ModelError(`${this.modelId}: this model's trees cannot be compiled to JavaScript; use predict`);
    return this.compiled;
  }

  /** The same from the trees compiled to JavaScript (≤ 1e-6 from ONNX; compiled on first use). */
  predictSync(X: Matrix): Float32Array {
    return this.compiledTrees().predict(X);
  }

  /**
   * One row's outputs into `out` (from `outOffset`) from the compiled trees, with no allocation: the
   * latency path (reuse `out` and nothing is left for the garbage collector).
   */
  predictRow(row: ArrayLike<number>, out: Float32Array, outOffset = 0): Float32Array {
    const compiled = this.compiledTrees();
    if (row.length !== compiled.features) throw new ModelError(`the model expects ${compiled.features} features, got ${row.length}`);
    compiled.predictRow(row, out, 0, outOffset);
    return out;
  }

  /** The same from libxgboost itself (the reference the ONNX export is tested against). */
  predictNative(X: Matrix): Float32Array {
    if (X.cols !== this.featureNames.length) throw new ModelError(`the model expects ${this.featureNames.length} features, got ${X.cols}`);
    const matrix = new DMatrix(X, undefined, undefined, this.params.threads);
    try {
      return this.booster.predict(matrix);
    } finally {
      matrix.free();
    }
  }

  /** Gain-based feature importance of the trees (see `featureImportance`). */
  importance(): FeatureImportance[] {
    return featureImportance(this.nativeJson, this.featureNames);
  }

  async save(dir: string): Promise<Artifact[]> {
    const card: ModelCard = {
      modelId: this.modelId,
      modelVersion: this.modelVersion,
      task: this.task,
      featureNames: [...this.featureNames],
      ...(this.classes ? { classes: [...this.classes] } : {}),
      params: this.params,
      info: this.info,
    };
    const files: Array<[string, string, Uint8Array | string]> = [
      [FILES.native, 'xgboost-json', this.nativeJson],
      [FILES.onnx, 'onnx', this.onnxBytes],
      [FILES.card, 'model-card', JSON.stringify(card, null, 2) + '\n'],
    ];
    return files.map(([name, kind, content]) => writeArtifact(dir, name, kind, content));
  }

  dispose(): void {
    this.booster.free();
    void this.session.dispose();
  }
}

/** The classifier's type, for code that needs libxgboost's own predictions or the native JSON. */
export type XgboostClassifierModel = XgboostModel;
export type XgboostRegressorModel = XgboostModel;

async function buildModel(
  task: Task,
  booster: Booster,
  nativeJson: Uint8Array,
  card: Omit<ModelCard, 'modelId' | 'modelVersion' | 'task'>,
  parsed: object = parseModelJson(nativeJson),
): Promise<XgboostModel> {
  const id = task === 'classification' ? 'core/xgboost' : 'core/xgboost-regressor';
  const version = task === 'classification' ? XGBOOST_CLASSIFIER_VERSION : XGBOOST_REGRESSOR_VERSION;
  const onnxBytes = xgboostJsonToOnnx(parsed, {
    producerVersion: version,
    metadata: { feature_names: JSON.stringify(card.featureNames), ...(card.classes ? { classes: JSON.stringify(card.classes) } : {}) },
  });
  const session = await OnnxSession.create(onnxBytes, card.featureNames.length);
  return new XgboostModel(id, task, booster, session, nativeJson, onnxBytes, card.featureNames, card.classes, card.params, card.info);
}

/** Read a saved model folder's card and native JSON, with errors that name the missing piece. */
function readModelFolder(dir: string): { card: ModelCard; nativeJson: Uint8Array } {
  const read = (name: string): Buffer => {
    try {
      return fs.readFileSync(path.join(dir, name));
    } catch {
      throw new ModelError(`${path.join(dir, name)} is missing; the model folder is incomplete (train and save it again)`);
    }
  };
  let card: ModelCard;
  try {
    card = JSON.parse(read(FILES.card).toString('utf8'));
  } catch (error) {
    if (error instanceof ModelError) throw error;
    throw new ModelError(`${path.join(dir, FILES.card)} is not valid JSON`);
  }
  return { card, nativeJson: new Uint8Array(read(FILES.native)) };
}

/** The columns two feature lists do not share, for "different feature set" errors. */
function featureDifference(expected: readonly string[], got: readonly string[]): string {
  const missing = expected.filter((name) => !got.includes(name));
  const extra = got.filter((name) => !expected.includes(name));
  if (!missing.length && !extra.length) return 'the same columns in another order';
  return [missing.length ? `missing ${missing.join(', ')}` : '', extra.length ? `extra ${extra.join(', ')}` : ''].filter(Boolean).join('; ');
}

/**
 * Train with libxgboost: multi:softprob (classification) or reg:* (regression), early stopping on the
 * validation split, seeded, cut to the best round. With `initModel` it continues from a saved model.
 */
async function fitXgboost(task: Task, data: TrainingData, params: XgboostParams, context: ModelContext): Promise<XgboostModel> {
  const numClasses = checkTrainingData(data, task);
  const init = params.initModel ? readModelFolder(path.resolve(params.initModel)) : undefined;
  if (init) {
    if (init.card.task !== task) throw new ModelError(`initModel ${params.initModel} is a ${init.card.task} model; warm-start a ${task} model from a ${task} model`);
    if (init.card.featureNames.join('\u0000') !== data.featureNames.join('\u0000')) {
      throw new ModelError(`initModel ${params.initModel} was trained on other features (${featureDifference(init.card.featureNames, data.featureNames)}); use the same feature list`);
    }
    if (task === 'classification' && init.card.classes?.join() !== data.classes?.join()) {
      throw new ModelError(`initModel ${params.initModel} has classes ${init.card.classes?.join('/')}, the labels have ${data.classes?.join('/')}; use the same labeler`);
    }
  }
  const weights = task === 'classification' && (params as XgboostClassifierParams).classWeight === 'balanced' ? balancedWeights(data.train.y, numClasses) : undefined;
  const train = new DMatrix(data.train.X, data.train.y, weights, params.threads);
  const valid = new DMatrix(data.valid.X, data.valid.y, undefined, params.threads);
  const objective = task === 'classification' ? { objective: 'multi:softprob', num_class: numClasses, eval_metric: 'mlogloss' } : { objective: `reg:${(params as XgboostRegressorParams).objective}`, eval_metric: (params as XgboostRegressorParams).objective === 'absoluteerror' ? 'mae' : 'rmse' };
  const metric = String(objective.eval_metric);
  let full: Booster | undefined;
  try {
    full = Booster.create([train, valid], {});
    // warm start: the saved trees first, then the parameters (as xgboost.train(xgb_model=…) does)
    if (init) full.load(init.nativeJson);
    const settings = {
      ...objective,
      max_depth: params.maxDepth,
      eta: params.learningRate,
      subsample: params.subsample,
      colsample_bytree: params.colsampleByTree,
      min_child_weight: params.minChildWeight,
      alpha: params.alpha,
      lambda: params.lambda,
      tree_method: params.treeMethod,
      max_bin: params.maxBin,
      nthread: params.threads,
      seed: context.seed,
      verbosity: 0,
    };
    // regression starts from the training targets' mean (xgboost 1.7's default of 0.5 suits probabilities,
    // not returns); a warm start keeps the saved model's own base score
    if (task === 'regression' && !init) {
      const y = data.train.y;
      let sum = 0;
      for (let i = 0; i < y.length; i++) sum += y[i];
      Object.assign(settings, { base_score: y.length ? sum / y.length : 0 });
    }
    for (const [name, value] of Object.entries(settings)) full.setParam(name, String(value));
    const initialRounds = init ? full.boostedRounds : 0;
    const progress = context.progress?.('xgboost', params.rounds);
    // the starting point: nothing (fresh) or the warm-start model's own validation score
    let best = { round: initialRounds - 1, loss: init ? full.evaluate(initialRounds - 1, [['valid', valid]])[`valid-${metric}`] : Infinity };
    const history: Array<{ round: number; train: number; valid: number }> = [];
    let round = initialRounds;
    for (; round < initialRounds + params.rounds; round++) {
      full.update(round, train);
      const metrics = full.evaluate(round, [['train', train], ['valid', valid]]);
      const validLoss = metrics[`valid-${metric}`];
      history.push({ round, train: metrics[`train-${metric}`], valid: validLoss });
      if (validLoss < best.loss) best = { round, loss: validLoss };
      progress?.tick(1, `valid-${metric} ${validLoss.toFixed(5)}`);
      context.reportValidation?.(round, validLoss);
      if (params.earlyStoppingRounds > 0 && round - best.round >= params.earlyStoppingRounds) break;
    }
    progress?.done(`best round ${best.round} (valid-${metric} ${best.loss.toFixed(5)})`);
    // With early stopping, keep the trees up to the best round (Python's xgboost: best_iteration);
    // without it, keep every round trained.
    const keep = params.earlyStoppingRounds > 0 ? best.round + 1 : full.boostedRounds;
    const booster = keep < full.boostedRounds ? full.slice(keep) : full;
    if (booster !== full) full.free();
    full = undefined;
    booster.setAttr('best_iteration', String(best.round));
    const nativeJson = booster.toJson();
    const parsed = parseModelJson(nativeJson); // once, for the importance and the ONNX export
    return await buildModel(task, booster, nativeJson, {
      featureNames: [...data.featureNames],
      classes: task === 'classification' ? [...data.classes!] : undefined,
      params,
      info: {
        libxgboost: libxgboostVersion(),
        metric,
        ...(init ? { warmStartFrom: params.initModel, initialRounds } : {}),
        roundsTrained: history.length,
        bestRound: best.round,
        bestValidLoss: best.loss,
        ...(task === 'classification' ? { bestValidLogLoss: best.loss } : {}),
        stoppedEarly: history.length < params.rounds,
        history,
        importance: featureImportance(parsed, data.featureNames),
        seed: context.seed,
      },
    }, parsed);
  } finally {
    full?.free();
    train.free();
    valid.free();
  }
}

/** Load a model saved by `save`: the native JSON is reloaded into libxgboost, the ONNX into ONNX Runtime. */
async function loadXgboost(task: Task, dir: string): Promise<XgboostModel> {
  const { card, nativeJson } = readModelFolder(dir);
  if ((card.task ?? 'classification') !== task) throw new ModelError(`${dir} holds a ${card.task} model, not a ${task} one; load it with the matching model id`);
  const booster = Booster.fromBuffer(nativeJson);
  if (booster.numFeatures !== card.featureNames.length) {
    booster.free();
    throw new ModelError(`model.json has ${booster.numFeatures} features but the model card lists ${card.featureNames.length}`);
  }
  return buildModel(task, booster, nativeJson, { featureNames: card.featureNames, classes: card.classes, params: card.params, info: card.info });
}

export const xgboostClassifier = defineModel({
  id: 'core/xgboost',
  version: XGBOOST_CLASSIFIER_VERSION,
  doc: 'XGBoost multi-class classifier trained with libxgboost, served through ONNX Runtime (TreeEnsembleClassifier); warm start with initModel.',
  task: 'classification',
  params: xgboostClassifierParams,
  exampleParams: { rounds: 30 },
  fit: (data, params, context) => fitXgboost('classification', data, params, context),
  load: (dir) => loadXgboost('classification', dir),
});

export const xgboostRegressor = defineModel({
  id: 'core/xgboost-regressor',
  version: XGBOOST_REGRESSOR_VERSION,
  doc: 'XGBoost regressor (squared, pseudo-Huber or absolute error) trained with libxgboost, served through ONNX Runtime (TreeEnsembleRegressor); warm start with initModel.',
  task: 'regression',
  params: xgboostRegressorParams,
  exampleParams: { rounds: 30 },
  fit: (data, params, context) => fitXgboost('regression', data, params, context),
  load: (dir) => loadXgboost('regression', dir),
});
