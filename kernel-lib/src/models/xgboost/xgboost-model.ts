import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { ModelError } from '../../errors';
import { defineModel } from '../../plugins/define';
import { sha256Hex } from '../../util/hash';
import { writeFileAtomic } from '../../util/atomic';
import { OnnxSession } from '../onnx/onnx-session';
import { ONNX_PROBABILITIES_OUTPUT, xgboostJsonToOnnx } from '../onnx/tree-ensemble';
import type { Artifact, FittedModel, Matrix, ModelContext, TrainingData } from '../model';
import { Booster, DMatrix, libxgboostVersion } from './libxgboost';

export const XGBOOST_CLASSIFIER_VERSION = '1.0.0';

export const xgboostClassifierParams = z.object({
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
  /** Stop when validation log-loss has not improved for this many rounds (0: never stop early). */
  earlyStoppingRounds: z.number().int().min(0).default(30),
  /** 'balanced' weights each row by n / (classes × rows of its class), so rare BUY/SELL rows count. */
  classWeight: z.enum(['balanced', 'none']).default('balanced'),
  treeMethod: z.enum(['hist', 'exact', 'approx']).default('hist'),
  maxBin: z.number().int().min(2).default(256),
  /** libxgboost threads; results are identical for the same thread count. */
  threads: z.number().int().min(1).max(256).default(2),
});
export type XgboostClassifierParams = z.output<typeof xgboostClassifierParams>;

const FILES = { native: 'model.json', onnx: 'model.onnx', card: 'model-card.json' } as const;

/** What model-card.json records beside the artifacts. */
type ModelCard = {
  modelId: string;
  modelVersion: string;
  task: 'classification';
  featureNames: string[];
  classes: string[];
  params: XgboostClassifierParams;
  info: Record<string, unknown>;
};

/** Balanced class weights: n / (k × count(class)), as scikit-learn's class_weight='balanced'. */
export function balancedWeights(y: Float64Array, numClasses: number): Float32Array {
  const counts = new Array<number>(numClasses).fill(0);
  for (const label of y) counts[label]++;
  const weights = new Float32Array(y.length);
  for (let i = 0; i < y.length; i++) weights[i] = y.length / (numClasses * counts[y[i]]);
  return weights;
}

function checkTrainingData(data: TrainingData): number {
  const classes = data.classes?.length ?? 0;
  if (classes < 2) throw new ModelError('xgboost classifier needs class names (a classification labeler)');
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
      if (!Number.isInteger(label) || label < 0 || label >= classes) {
        throw new ModelError(`${name} label ${label} is not a class id in 0..${classes - 1}`);
      }
    }
  }
  const present = new Set(data.train.y);
  if (present.size < 2) {
    throw new ModelError(`the train labels have one class only (${data.classes![[...present][0]]}); lower the labeler's threshold or use more data`);
  }
  return classes;
}

/** A fitted XGBoost classifier: libxgboost booster kept for parity checks, ONNX Runtime for predictions. */
class XgboostClassifierModel implements FittedModel {
  readonly modelId = 'core/xgboost';
  readonly modelVersion = XGBOOST_CLASSIFIER_VERSION;
  readonly task = 'classification' as const;

  constructor(
    private readonly booster: Booster,
    private readonly session: OnnxSession,
    readonly nativeJson: Uint8Array,
    readonly onnxBytes: Uint8Array,
    readonly featureNames: readonly string[],
    readonly classes: readonly string[],
    readonly params: XgboostClassifierParams,
    readonly info: Record<string, unknown>,
  ) {}

  /** Class probabilities from ONNX Runtime: rows × classes, row-major. */
  predict(X: Matrix): Promise<Float32Array> {
    return this.session.run(X, ONNX_PROBABILITIES_OUTPUT);
  }

  /** Class probabilities from libxgboost itself (the reference the ONNX export is tested against). */
  predictNative(X: Matrix): Float32Array {
    if (X.cols !== this.featureNames.length) throw new ModelError(`the model expects ${this.featureNames.length} features, got ${X.cols}`);
    const matrix = new DMatrix(X);
    try {
      return this.booster.predict(matrix);
    } finally {
      matrix.free();
    }
  }

  async save(dir: string): Promise<Artifact[]> {
    const card: ModelCard = {
      modelId: this.modelId,
      modelVersion: this.modelVersion,
      task: 'classification',
      featureNames: [...this.featureNames],
      classes: [...this.classes],
      params: this.params,
      info: this.info,
    };
    const files: Array<[string, string, Uint8Array | string]> = [
      [FILES.native, 'xgboost-json', this.nativeJson],
      [FILES.onnx, 'onnx', this.onnxBytes],
      [FILES.card, 'model-card', JSON.stringify(card, null, 2) + '\n'],
    ];
    return files.map(([name, kind, content]) => {
      writeFileAtomic(path.join(dir, name), content);
      const bytes = typeof content === 'string' ? Buffer.from(content) : content;
      return { path: name, kind, sha256: sha256Hex(bytes), bytes: bytes.length };
    });
  }

  dispose(): void {
    this.booster.free();
    void this.session.dispose();
  }
}

async function buildModel(
  booster: Booster,
  nativeJson: Uint8Array,
  featureNames: readonly string[],
  classes: readonly string[],
  params: XgboostClassifierParams,
  info: Record<string, unknown>,
): Promise<XgboostClassifierModel> {
  const onnxBytes = xgboostJsonToOnnx(nativeJson, {
    producerVersion: XGBOOST_CLASSIFIER_VERSION,
    metadata: { feature_names: JSON.stringify(featureNames), classes: JSON.stringify(classes) },
  });
  const session = await OnnxSession.create(onnxBytes, featureNames.length);
  return new XgboostClassifierModel(booster, session, nativeJson, onnxBytes, featureNames, classes, params, info);
}

/** Train with libxgboost: multi:softprob, early stopping on the validation split, seeded. */
async function fitXgboostClassifier(data: TrainingData, params: XgboostClassifierParams, context: ModelContext): Promise<XgboostClassifierModel> {
  const numClasses = checkTrainingData(data);
  const weights = params.classWeight === 'balanced' ? balancedWeights(data.train.y, numClasses) : undefined;
  const train = new DMatrix(data.train.X, data.train.y, weights);
  const valid = new DMatrix(data.valid.X, data.valid.y);
  let full: Booster | undefined;
  try {
    full = Booster.create([train, valid], {
      objective: 'multi:softprob',
      num_class: numClasses,
      eval_metric: 'mlogloss',
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
    });
    const progress = context.progress?.('xgboost', params.rounds);
    let best = { round: 0, loss: Infinity };
    const history: Array<{ round: number; train: number; valid: number }> = [];
    let round = 0;
    for (; round < params.rounds; round++) {
      full.update(round, train);
      const metrics = full.evaluate(round, [['train', train], ['valid', valid]]);
      const validLoss = metrics['valid-mlogloss'];
      history.push({ round, train: metrics['train-mlogloss'], valid: validLoss });
      if (validLoss < best.loss) best = { round, loss: validLoss };
      progress?.tick(1, `valid-mlogloss ${validLoss.toFixed(5)}`);
      if (params.earlyStoppingRounds > 0 && round - best.round >= params.earlyStoppingRounds) break;
    }
    progress?.done(`best round ${best.round} (valid-mlogloss ${best.loss.toFixed(5)})`);
    // Keep the trees up to the best round, as Python's xgboost does with best_iteration.
    const booster = best.round + 1 < full.boostedRounds ? full.slice(best.round + 1) : full;
    if (booster !== full) full.free();
    full = undefined;
    booster.setAttr('best_iteration', String(best.round));
    const nativeJson = booster.toJson();
    return await buildModel(booster, nativeJson, data.featureNames, data.classes!, params, {
      libxgboost: libxgboostVersion(),
      roundsTrained: history.length,
      bestRound: best.round,
      bestValidLogLoss: best.loss,
      stoppedEarly: history.length < params.rounds,
      history,
      seed: context.seed,
    });
  } finally {
    full?.free();
    train.free();
    valid.free();
  }
}

/** Load a model saved by `save`: the native JSON is reloaded into libxgboost, the ONNX into ONNX Runtime. */
async function loadXgboostClassifier(dir: string): Promise<XgboostClassifierModel> {
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
  const nativeJson = new Uint8Array(read(FILES.native));
  const booster = Booster.fromBuffer(nativeJson);
  if (booster.numFeatures !== card.featureNames.length) {
    booster.free();
    throw new ModelError(`model.json has ${booster.numFeatures} features but the model card lists ${card.featureNames.length}`);
  }
  return buildModel(booster, nativeJson, card.featureNames, card.classes, card.params, card.info);
}

export const xgboostClassifier = defineModel({
  id: 'core/xgboost',
  version: XGBOOST_CLASSIFIER_VERSION,
  doc: 'XGBoost multi-class classifier trained with libxgboost, served through ONNX Runtime (TreeEnsembleClassifier).',
  task: 'classification',
  params: xgboostClassifierParams,
  fit: (data, params, context) => fitXgboostClassifier(data, params, context),
  load: (dir) => loadXgboostClassifier(dir),
});

export type { XgboostClassifierModel };
