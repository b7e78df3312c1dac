import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as TfModule from '@tensorflow/tfjs';
import type { z } from 'zod';
import { ModelError } from '../../errors';
import { defineModel, type ModelDefinition } from '../../plugins/define';
import { fitScaler, transform, type FittedScaler } from '../../preprocessing/scalers';
import { SequenceWindows } from '../../preprocessing/sequences';
import type { Artifact, FittedModel, Matrix, ModelContext, Segment, TrainingData } from '../model';
import { balancedWeights } from '../xgboost/xgboost-classifier';
import { buildNetwork } from './architectures';
import { DistributionHead } from './distributions';
import { customLayers } from './layers';
import {
  deeparParamsSchema,
  lstmClassifierParams,
  lstmRegressorParams,
  nbeatsClassifierParams,
  nbeatsRegressorParams,
  tcnClassifierParams,
  tcnRegressorParams,
  type Architecture,
  type DeeparParams,
  type NeuralSpec,
  type TrainingParams,
} from './params';
import { loadTf, type TfRuntime } from './tf';
import { predictWindows, trainNetwork, validationLoss, windowTargets, type Objective } from './training';
import { writeArtifact } from '../artifact';
import { checkCoinColumn, coinColumnIndex, coinIndexLayer, withRawColumn } from './coin-embedding';

export const NEURAL_MODEL_VERSION = '1.0.0';

/** The files a neural model saves: tfjs's standard model.json + weights.bin, and the model card. */
export const NEURAL_FILES = { topology: 'model.json', weights: 'weights.bin', card: 'model-card.json' } as const;

type Task = 'classification' | 'regression';

/** Standardization of a regression target (fitted on the training rows). */
export type TargetScale = { mean: number; std: number };

/** model-card.json: everything besides the network needed to predict as the fitted model did. */
type NeuralCard = {
  modelId: string;
  modelVersion: string;
  task: Task;
  architecture: Architecture;
  featureNames: string[];
  classes?: string[];
  params: TrainingParams;
  scaler: FittedScaler;
  target?: TargetScale;
  info: Record<string, unknown>;
};

/** Which model a definition builds. */
type Kind = { modelId: string; task: Task; architecture: Architecture };

function checkMatrix(name: string, X: Matrix, featureNames: readonly string[]): void {
  if (X.cols !== featureNames.length) throw new ModelError(`${name} has ${X.cols} feature columns but the model uses ${featureNames.length} (${featureNames.join(', ')})`);
  if (X.values.length !== X.rows * X.cols) throw new ModelError(`${name} holds ${X.values.length} values, not rows × cols = ${X.rows * X.cols}`);
  for (let i = 0; i < X.values.length; i++) {
    if (!Number.isFinite(X.values[i])) {
      const column = featureNames[i % X.cols];
      throw new ModelError(`${name} features contain ${X.values[i]} (column ${column}, row ${Math.floor(i / X.cols)}); drop warm-up rows or fix the feature`);
    }
  }
}

function checkTrainingData(kind: Kind, data: TrainingData, seqLen: number): number {
  const outputs = kind.task === 'classification' ? (data.classes?.length ?? 0) : 1;
  if (kind.task === 'classification' && outputs < 2) throw new ModelError(`${kind.modelId} needs class names (a classification labeler)`);
  for (const [name, segment] of [['train', data.train], ['valid', data.valid]] as const) {
    if (segment.y.length !== segment.X.rows) {
      throw new ModelError(`${name} has ${segment.X.rows} feature rows but ${segment.y.length} labels; features and labels must align`);
    }
    if (segment.X.rows < seqLen) {
      throw new ModelError(`${kind.modelId}: seqLen ${seqLen} is longer than the ${segment.X.rows} ${name} rows; lower seqLen or use more data`);
    }
    checkMatrix(name, segment.X, data.featureNames);
    for (const label of segment.y) {
      if (kind.task === 'classification' ? !Number.isInteger(label) || label < 0 || label >= outputs : !Number.isFinite(label)) {
        throw new ModelError(
          kind.task === 'classification' ? `${name} label ${label} is not a class id in 0..${outputs - 1}` : `${name} target contains ${label}; drop rows without a label`,
        );
      }
    }
  }
  if (kind.task === 'classification') {
    const present = new Set(data.train.y.subarray(seqLen - 1));
    if (present.size < 2) throw new ModelError(`the train labels have one class only; lower the labeler's threshold or use more data`);
  }
  return outputs;
}

/**
 * Scaled rows as sequence windows over one buffer; `pad` prepends seqLen − 1 copies of the first row
 * so every row ends a window. `rawColumn` (a coin embedding's index column) keeps its raw values.
 */
function windowsOf(X: Matrix, scaler: FittedScaler, seqLen: number, pad: boolean, y?: Float64Array, rawColumn?: number): SequenceWindows {
  const scaled = rawColumn === undefined ? transform(scaler, X) : withRawColumn(transform(scaler, X), X, rawColumn);
  if (!pad) return new SequenceWindows(scaled, seqLen, y);
  const cols = X.cols;
  const values = new Float32Array((X.rows + seqLen - 1) * cols);
  const first = scaled.values.subarray(0, cols);
  for (let r = 0; r < seqLen - 1; r++) values.set(first, r * cols);
  values.set(scaled.values, (seqLen - 1) * cols);
  return new SequenceWindows({ values, rows: X.rows + seqLen - 1, cols }, seqLen);
}

/**
 * A fitted neural sequence model (LSTM, TCN, N-BEATS or DeepAR-style on tfjs). Rows are time-ordered; the output of row t
 * is computed from the window of rows t − seqLen + 1 … t (scaled with the training scaler). The first
 * seqLen − 1 rows of each `predict` call have fewer rows before them in the call: their windows are
 * padded by repeating the call's first row (edge padding), so every row gets an output and no row
 * sees a later one.
 */
export class NeuralSequenceModel implements FittedModel {
  readonly modelVersion = NEURAL_MODEL_VERSION;
  /** The distribution head of a probabilistic forecaster (core/deepar); absent for point models. */
  readonly head: DistributionHead | undefined;

  constructor(
    private readonly runtime: TfRuntime,
    readonly network: TfModule.LayersModel,
    readonly modelId: string,
    readonly task: Task,
    readonly architecture: Architecture,
    readonly featureNames: readonly string[],
    readonly classes: readonly string[] | undefined,
    readonly params: TrainingParams,
    readonly scaler: FittedScaler,
    readonly target: TargetScale | undefined,
    readonly info: Record<string, unknown>,
  ) {
    this.head = headOf(architecture, params);
  }

  /** Regression output columns: the point forecast, then the quantiles (core/deepar); undefined means ['value']. */
  get outputNames(): readonly string[] | undefined {
    return this.head?.outputNames;
  }

  /** Rows per input window. */
  get seqLen(): number {
    return this.params.seqLen;
  }

  /** A row's output depends on the seqLen rows ending at it: sessions keep that many trailing rows. */
  get inputRows(): number {
    return this.params.seqLen;
  }

  /** Values the network emits per window: class probabilities, one value, or a distribution's parameters. */
  private get outputs(): number {
    return this.classes?.length ?? this.head?.parameters ?? 1;
  }

  /** The coin index column of a learned coin embedding, if the model has one. */
  private get coinColumn(): number | undefined {
    return this.params.coinEmbedding ? coinColumnIndex(this.featureNames, this.params.coinEmbedding) : undefined;
  }

  /** tfjs on this model's backend again, in case another model switched the process-wide engine since. */
  private ready(): Promise<TfRuntime> {
    return this.runtime.tf.getBackend() === (this.runtime.backend === 'tensorflow-gpu' ? 'tensorflow' : this.runtime.backend) ? Promise.resolve(this.runtime) : loadTf(this.params.backend);
  }

  /** rows × classes probabilities or rows × 1 values, one per input row (see the class doc for the first rows). */
  async predict(X: Matrix): Promise<Float32Array> {
    checkMatrix('the prediction input', X, this.featureNames);
    if (X.rows === 0) return new Float32Array(0);
    const { tf } = await this.ready();
    const coinColumn = this.coinColumn;
    if (coinColumn !== undefined) checkCoinColumn(X, coinColumn, this.params.coinEmbedding!, 'the prediction input');
    const values = predictWindows(tf, this.network, windowsOf(X, this.scaler, this.seqLen, true, undefined, coinColumn), this.outputs);
    if (this.head) {
      const { mean, std } = this.target!;
      return this.head.decode(values, X.rows, (v) => v * std + mean);
    }
    if (this.target) for (let i = 0; i < values.length; i++) values[i] = values[i] * this.target.std + this.target.mean;
    return values;
  }

  /**
   * The validation loss as training measured it, over the segment's full windows: log-loss
   * (classification) or MSE of the standardized target (regression).
   */
  async validationLoss(segment: Segment): Promise<number> {
    checkMatrix('the segment', segment.X, this.featureNames);
    const y = this.target ? segment.y.map((v) => (v - this.target!.mean) / this.target!.std) : segment.y;
    const { tf } = await this.ready();
    return validationLoss(tf, this.network, windowsOf(segment.X, this.scaler, this.seqLen, false, y, this.coinColumn), this.task, this.outputs, this.head && objectiveOf(this.head));
  }

  /** Write model.json (tfjs layers format: topology + weights manifest), weights.bin and model-card.json. */
  async save(dir: string): Promise<Artifact[]> {
    const { tf } = this.runtime;
    let captured: TfModule.io.ModelArtifacts | undefined;
    await this.network.save(
      tf.io.withSaveHandler(async (artifacts) => {
        captured = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
      }),
    );
    if (!captured?.modelTopology || !captured.weightSpecs || !captured.weightData) throw new ModelError(`tfjs returned no topology or weights to save for ${this.modelId}`);
    const weightData = captured.weightData;
    const weights = new Uint8Array(Array.isArray(weightData) ? tf.io.CompositeArrayBuffer.join(weightData) : weightData);
    const topology = {
      format: 'layers-model',
      generatedBy: captured.generatedBy,
      convertedBy: captured.convertedBy ?? null,
      modelTopology: captured.modelTopology,
      weightsManifest: [{ paths: [NEURAL_FILES.weights], weights: captured.weightSpecs }],
    };
    const card: NeuralCard = {
      modelId: this.modelId,
      modelVersion: this.modelVersion,
      task: this.task,
      architecture: this.architecture,
      featureNames: [...this.featureNames],
      ...(this.classes ? { classes: [...this.classes] } : {}),
      params: this.params,
      scaler: this.scaler,
      ...(this.target ? { target: this.target } : {}),
      info: this.info,
    };
    const files: Array<[string, string, Uint8Array | string]> = [
      [NEURAL_FILES.weights, 'tfjs-weights', weights],
      [NEURAL_FILES.topology, 'tfjs-layers-model', JSON.stringify(topology) + '\n'],
      [NEURAL_FILES.card, 'model-card', JSON.stringify(card, null, 2) + '\n'],
    ];
    return files.map(([name, kind, content]) => writeArtifact(dir, name, kind, content));
  }

  dispose(): void {
    this.network.dispose();
  }
}

/** The distribution head a model's params describe (core/deepar), or none. */
function headOf(architecture: Architecture, params: TrainingParams): DistributionHead | undefined {
  if (architecture !== 'deepar') return undefined;
  const p = params as DeeparParams;
  return new DistributionHead(p.distribution, p.quantiles);
}

/** Training on a distribution head's negative log-likelihood. */
function objectiveOf(head: DistributionHead): Objective {
  return { loss: (tf, output, targets) => head.loss(tf, output, targets), evaluate: (outputs, targets) => head.negativeLogLikelihood(outputs, targets) };
}

/** Fit a neural sequence model: validate, scale (train rows only), window, build, train, restore the best epoch. */
async function fitNeural(kind: Kind, spec: NeuralSpec, data: TrainingData, context: ModelContext, schema: z.ZodTypeAny): Promise<NeuralSequenceModel> {
  const { params } = spec;
  const head = headOf(kind.architecture, params);
  const checked = checkTrainingData(kind, data, params.seqLen);
  const outputs = head ? head.parameters : checked;
  const coinColumn = params.coinEmbedding ? coinColumnIndex(data.featureNames, params.coinEmbedding) : undefined;
  if (coinColumn !== undefined) for (const [name, segment] of [['train', data.train], ['valid', data.valid]] as const) checkCoinColumn(segment.X, coinColumn, params.coinEmbedding!, name);
  // warm start: the saved model's scaler and target scale, so its weights see the inputs they were trained on
  const init = params.initModel ? await warmStartModel(kind, data, params.initModel, schema) : undefined;
  const runtime = await loadTf(params.backend);
  const { tf } = runtime;
  const scaler = init?.scaler ?? fitScaler(data.train.X, params.scaler);
  let target: TargetScale | undefined;
  let yTrain = data.train.y;
  let yValid = data.valid.y;
  if (kind.task === 'regression' && init?.target) {
    const { mean, std } = init.target;
    target = init.target;
    yTrain = yTrain.map((v) => (v - mean) / std);
    yValid = yValid.map((v) => (v - mean) / std);
  } else if (kind.task === 'regression') {
    let mean = 0;
    for (const v of yTrain) mean += v;
    mean /= yTrain.length;
    let squares = 0;
    for (const v of yTrain) squares += (v - mean) ** 2;
    const std = Math.sqrt(squares / yTrain.length) || 1;
    target = { mean, std };
    yTrain = yTrain.map((v) => (v - mean) / std);
    yValid = yValid.map((v) => (v - mean) / std);
  }
  const train = windowsOf(data.train.X, scaler, params.seqLen, false, yTrain, coinColumn);
  const valid = windowsOf(data.valid.X, scaler, params.seqLen, false, yValid, coinColumn);
  let weights: Float32Array | undefined;
  let classWeights: Record<string, number> | undefined;
  if (kind.task === 'classification' && params.classWeight === 'balanced') {
    const labels = windowTargets(train);
    weights = balancedWeights(labels, outputs);
    classWeights = {};
    for (let c = 0; c < outputs; c++) {
      const row = labels.indexOf(c);
      classWeights[data.classes![c]] = row >= 0 ? weights[row] : 0;
    }
  }
  const network = buildNetwork(tf, spec, { seqLen: params.seqLen, features: data.featureNames.length, outputs, task: kind.task, coinColumn }, context.seed);
  let warmStart: Record<string, unknown> | undefined;
  try {
    if (init) {
      copyWeights(init.network, network.model, params.initModel!);
      warmStart = { from: params.initModel, initialValidLoss: validationLoss(tf, network.model, valid, kind.task, outputs, head && objectiveOf(head)) };
    }
    const batches = Math.ceil(train.count / params.batchSize);
    const progress = context.progress?.(`${kind.modelId} (${runtime.backend})`, params.epochs * batches);
    const result = trainNetwork(tf, network.model, {
      task: kind.task,
      outputs,
      train,
      valid,
      weights,
      epochs: params.epochs,
      batchSize: params.batchSize,
      learningRate: params.learningRate,
      patience: params.patience,
      lrPatience: params.lrPatience,
      lrFactor: params.lrFactor,
      minLearningRate: params.minLearningRate,
      seed: context.seed,
      progress,
      reportValidation: context.reportValidation,
      augment: params.augment,
      objective: head && objectiveOf(head),
    });
    const info: Record<string, unknown> = {
      backend: runtime.backend,
      tfjs: tf.version.tfjs,
      architecture: kind.architecture,
      parameters: network.parameters,
      receptiveField: network.receptiveField,
      seqLen: params.seqLen,
      trainWindows: train.count,
      validWindows: valid.count,
      ...(classWeights ? { classWeights } : {}),
      ...(warmStart ? { warmStart } : {}),
      epochsTrained: result.history.length,
      bestRound: result.bestEpoch,
      bestValidLoss: result.bestValidLoss,
      stoppedEarly: result.stoppedEarly,
      finalLearningRate: result.finalLearningRate,
      historyMetric: kind.task === 'classification' ? 'log-loss' : head ? `negative log-likelihood (${head.name}, standardized target)` : 'MSE (standardized target)',
      ...(head ? { distribution: head.name, quantiles: [...head.quantiles], outputs: head.outputNames } : {}),
      historyStep: 'epoch',
      history: result.history,
      seed: context.seed,
    };
    return new NeuralSequenceModel(runtime, network.model, kind.modelId, kind.task, kind.architecture, data.featureNames, data.classes, params, scaler, target, info);
  } catch (error) {
    network.model.dispose();
    throw error;
  } finally {
    init?.dispose();
  }
}

/** The saved model a fit warm-starts from: the same model id, features and classes. */
async function warmStartModel(kind: Kind, data: TrainingData, folder: string, schema: z.ZodTypeAny): Promise<NeuralSequenceModel> {
  const init = await loadNeural(path.resolve(folder), kind, schema);
  const problem =
    init.featureNames.join() !== data.featureNames.join()
      ? `was trained on other features (${init.featureNames.join(', ')}); use the same feature list`
      : (init.classes ?? []).join() !== (data.classes ?? []).join()
        ? `has classes ${init.classes?.join('/')}, the labels have ${data.classes?.join('/')}; use the same labeler`
        : undefined;
  if (problem) {
    init.dispose();
    throw new ModelError(`initModel ${folder} ${problem}`);
  }
  return init;
}

/** Start a network from another's weights; the layers must match one for one. */
function copyWeights(from: TfModule.LayersModel, to: TfModule.LayersModel, folder: string): void {
  const source = from.weights.map((w) => `${w.shape.join('×')}`);
  const target = to.weights.map((w) => `${w.shape.join('×')}`);
  if (source.join() !== target.join()) {
    throw new ModelError(
      `initModel ${folder} has ${source.length} weight tensors (${source.join(', ')}) but the network to fine-tune has ${target.length} (${target.join(', ')}); fine-tune with the saved model's architecture params (units, layers, filters, denseUnits, batchNorm, coinEmbedding, seqLen)`,
    );
  }
  to.setWeights(from.getWeights());
}

function readFile(dir: string, name: string): Buffer {
  try {
    return fs.readFileSync(path.join(dir, name));
  } catch {
    throw new ModelError(`${path.join(dir, name)} is missing; the model folder is incomplete (train and save it again)`);
  }
}

function readJson<T>(dir: string, name: string): T {
  const text = readFile(dir, name).toString('utf8');
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ModelError(`${path.join(dir, name)} is not valid JSON; the model folder is damaged (train and save it again)`);
  }
}

/** Load a model saved by `save`: the card, then the network through tfjs's in-memory IO handler. */
async function loadNeural(dir: string, kind: Kind, schema: z.ZodTypeAny): Promise<NeuralSequenceModel> {
  const card = readJson<NeuralCard>(dir, NEURAL_FILES.card);
  if (card.modelId !== kind.modelId) throw new ModelError(`${dir} holds a ${card.modelId} model, not ${kind.modelId}; load it with ${card.modelId}`);
  const topology = readJson<{ modelTopology: object; weightsManifest: Array<{ weights: TfModule.io.WeightsManifestEntry[] }> }>(dir, NEURAL_FILES.topology);
  const weights = readFile(dir, NEURAL_FILES.weights);
  const params = schema.parse(card.params) as TrainingParams;
  const runtime = await loadTf(params.backend);
  const { tf } = runtime;
  customLayers(tf);
  coinIndexLayer(tf);
  const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;
  const network = await tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: topology.modelTopology, weightSpecs: topology.weightsManifest.flatMap((group) => group.weights), weightData }),
  );
  const inputShape = network.inputs[0].shape;
  if (inputShape[1] !== params.seqLen || inputShape[2] !== card.featureNames.length) {
    network.dispose();
    throw new ModelError(`${NEURAL_FILES.topology} takes windows of ${inputShape[1]} × ${inputShape[2]} but the model card says ${params.seqLen} × ${card.featureNames.length}`);
  }
  return new NeuralSequenceModel(runtime, network, card.modelId, card.task, card.architecture, card.featureNames, card.classes, params, card.scaler, card.target, card.info);
}

function neuralModel<S extends z.ZodTypeAny>(kind: Kind, doc: string, schema: S): ModelDefinition<S> {
  return defineModel({
    id: kind.modelId,
    version: NEURAL_MODEL_VERSION,
    doc,
    task: kind.task,
    params: schema,
    // Small enough for the contract suite to train in seconds.
    exampleParams: {
      seqLen: 8,
      epochs: 2,
      batchSize: 128,
      patience: 0,
      lrPatience: 0,
      denseUnits: 8,
      ...(kind.architecture === 'lstm' || kind.architecture === 'deepar' ? { units: 8 } : kind.architecture === 'tcn' ? { filters: 8, dilations: [1, 2] } : { units: 16, hiddenLayers: 2, blocks: 2, stacks: 1 }),
    } as z.input<S>,
    fit: (data, params, context) => fitNeural(kind, { architecture: kind.architecture, params } as NeuralSpec, data, context, schema),
    load: (dir) => loadNeural(dir, kind, schema),
  });
}

export const lstmClassifier = neuralModel(
  { modelId: 'core/lstm', task: 'classification', architecture: 'lstm' },
  'LSTM sequence classifier on tfjs (stacked, bidirectional, attention pooling; batch norm, dropout, class weights, early stopping), seeded.',
  lstmClassifierParams,
);
export const lstmRegressor = neuralModel(
  { modelId: 'core/lstm-regressor', task: 'regression', architecture: 'lstm' },
  'LSTM sequence regressor on tfjs (stacked, bidirectional, attention pooling; MSE on the standardized target), seeded.',
  lstmRegressorParams,
);
export const tcnClassifier = neuralModel(
  { modelId: 'core/tcn', task: 'classification', architecture: 'tcn' },
  'Temporal convolutional network classifier on tfjs (residual dilated causal conv1d blocks), seeded.',
  tcnClassifierParams,
);
export const tcnRegressor = neuralModel(
  { modelId: 'core/tcn-regressor', task: 'regression', architecture: 'tcn' },
  'Temporal convolutional network regressor on tfjs (residual dilated causal conv1d blocks), seeded.',
  tcnRegressorParams,
);

export const nbeatsClassifier = neuralModel(
  { modelId: 'core/nbeats', task: 'classification', architecture: 'nbeats' },
  'N-BEATS classifier on tfjs: doubly residual stacks of fully connected blocks (generic, or interpretable trend + seasonality bases) over the feature window, seeded.',
  nbeatsClassifierParams,
);
export const nbeatsRegressor = neuralModel(
  { modelId: 'core/nbeats-regressor', task: 'regression', architecture: 'nbeats' },
  'N-BEATS regressor on tfjs: doubly residual stacks of fully connected blocks (generic, or interpretable trend + seasonality bases) over the feature window, seeded.',
  nbeatsRegressorParams,
);

/**
 * A probabilistic forecaster in DeepAR's manner: predict gives rows × (1 + quantiles) values — the point
 * forecast μ (the distribution's median and mean) in column 0, then one column per quantile level.
 * @see https://arxiv.org/abs/1704.04110
 */
export const deepar = neuralModel(
  { modelId: 'core/deepar', task: 'regression', architecture: 'deepar' },
  'Probabilistic LSTM forecaster (DeepAR-style) on tfjs: emits a Gaussian or Student-t per bar, trained by negative log-likelihood; outputs the point forecast then the requested quantiles.',
  deeparParamsSchema,
);

/** The neural models the core plugin registers. */
export const neuralModels = [lstmClassifier, lstmRegressor, tcnClassifier, tcnRegressor, nbeatsClassifier, nbeatsRegressor, deepar];
