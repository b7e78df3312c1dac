import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { CandlelabError, ConfigError, ModelError } from '../../errors';
import { defineModel, type ModelDefinition } from '../../plugins/define';
import { writeArtifact } from '../artifact';
import type { Artifact, FittedModel, Matrix, ModelContext, ModelRef, ResolvedModel, Segment, TrainingData } from '../model';
import { purgedFolds, type Fold, type OofScheme, type FoldRange as RowRange } from '../../validation/purged-kfold';
import { fitLogistic, fitRidge, predictLogistic, predictRidge, type LogisticModel, type RidgeModel } from './linear';

/**
 * Ensembles of registered models: `core/ensemble` (classification) and `core/ensemble-regressor`.
 * Members are `{id, params}` references resolved through the plugin registry, so any model plugin —
 * including another ensemble — can be a member. Two methods:
 *
 * - `weighted`: the members are fitted on the train rows; the output is the weighted average of their
 *   probabilities (values), with weights from each member's validation loss (log-loss; RMSE for
 *   regression): `inverse` w ∝ 1/loss, `softmax` w ∝ exp(−(loss/best − 1)/temperature), or `equal`.
 * - `stacking`: a meta-learner (multinomial logistic regression / ridge, or any registered model given
 *   as a reference, e.g. core/xgboost) is trained ONLY on out-of-fold predictions of the members:
 *   time-ordered folds over the train rows, purged around each held-out fold by the labels' event ends
 *   when the runner passes them (the train segment's `eventEnd`), else by the label horizon
 *   (see folds.ts). Then the members are refitted on all train rows for prediction; the meta-learner
 *   sees their predictions. Each member (and fold refit) gets the segment `valid` for early stopping.
 */

export const ENSEMBLE_VERSION = '1.0.0';
/** The ensemble's own file, beside member-0/, member-1/, … (and meta/ for a model meta-learner). */
export const ENSEMBLE_FILE = 'ensemble.json';

const modelRefSchema = z
  .object({ id: z.string().min(1), version: z.string().optional(), params: z.record(z.unknown()).default({}) })
  .strict();

const commonParams = {
  /** The members, as model references: `{ id, params }` (optionally `version`). */
  members: z.array(modelRefSchema).min(2).max(32),
  method: z.enum(['weighted', 'stacking']).default('weighted'),
  /** How validation losses become weights (method `weighted`). */
  weighting: z.enum(['inverse', 'softmax', 'equal']).default('inverse'),
  /** Softmax temperature on relative loss: a member 5% worse than the best gets e^-1 of its weight at 0.05. */
  temperature: z.number().positive().default(0.05),
  /** Out-of-fold folds over the train rows (method `stacking`). */
  folds: z.number().int().min(2).max(50).default(5),
  cv: z.enum(['purged-kfold', 'walk-forward']).default('purged-kfold'),
  /**
   * Rows purged on each side of a held-out fold; default: the label horizon the runner passes. When the
   * train rows carry the labels' event ends, those decide the purge before a fold (this is the fallback
   * for rows without one) and this is the embargo after it.
   */
  purge: z.number().int().min(0).optional(),
};

export const ensembleClassifierParams = z
  .object({
    ...commonParams,
    /** 'logistic' (L2 multinomial logistic regression) or a classification model reference. */
    metaLearner: z.union([z.literal('logistic'), modelRefSchema]).default('logistic'),
    /** Inverse L2 strength of the logistic meta-learner (scikit-learn's C). */
    C: z.number().positive().default(1),
    /** Row weights of the logistic meta-learner: 'balanced' = n / (classes × rows of the class). */
    classWeight: z.enum(['balanced', 'none']).default('balanced'),
    /** What the meta-learner sees of each member: log-probabilities (clipped at 1e-6) or probabilities. */
    metaFeatures: z.enum(['log-probabilities', 'probabilities']).default('log-probabilities'),
  })
  .strict();

export const ensembleRegressorParams = z
  .object({
    ...commonParams,
    /** 'ridge' (ridge regression on standardized member values) or a regression model reference. */
    metaLearner: z.union([z.literal('ridge'), modelRefSchema]).default('ridge'),
    /** L2 strength of the ridge meta-learner (scikit-learn's Ridge alpha, standardized inputs). */
    alpha: z.number().min(0).default(1),
  })
  .strict();

export type EnsembleClassifierParams = z.output<typeof ensembleClassifierParams>;
export type EnsembleRegressorParams = z.output<typeof ensembleRegressorParams>;
type EnsembleParams = EnsembleClassifierParams | EnsembleRegressorParams;
type Task = 'classification' | 'regression';
type MetaFeatures = 'log-probabilities' | 'probabilities' | 'values';

/** A member as the ensemble keeps it: its reference, resolved definition version, seed and fitted model. */
type Member = { id: string; version: string; params: unknown; seed: number; model: FittedModel };

/** How member outputs become the ensemble's output. */
type Combiner =
  | { kind: 'weighted'; weights: number[] }
  | { kind: 'logistic'; metaFeatures: MetaFeatures; model: LogisticModel }
  | { kind: 'ridge'; metaFeatures: MetaFeatures; model: RidgeModel }
  | { kind: 'model'; metaFeatures: MetaFeatures; id: string; version: string; params: unknown; seed: number; model: FittedModel };

/** What stacking trained its meta-learner on (kept in memory for inspection and tests; not saved). */
export type StackingDiagnostics = {
  cv: OofScheme;
  purge: number;
  /** How training rows next to a held-out fold were purged: by the labels' event ends, or by `purge` rows. */
  purgeBy: 'event-end' | 'horizon';
  folds: Fold[];
  /** The train-segment row of each meta-learner row (rows without an out-of-fold prediction are absent). */
  rows: Int32Array;
  /** Per member: its out-of-fold outputs (rows × outputs, row-major), aligned with `rows`. */
  memberPredictions: Float32Array[];
  /** The meta-learner's inputs (rows × metaFeatureNames.length, row-major) and labels. */
  metaInputs: Float64Array;
  metaLabels: Float64Array;
  metaFeatureNames: string[];
};

/** ensemble.json. */
type EnsembleFile = {
  modelId: string;
  modelVersion: string;
  task: Task;
  featureNames: string[];
  classes?: string[];
  params: EnsembleParams;
  members: Array<{ id: string; version: string; params: unknown; seed: number; dir: string }>;
  combiner:
    | { kind: 'weighted'; weights: number[] }
    | { kind: 'logistic'; metaFeatures: MetaFeatures; model: LogisticModel }
    | { kind: 'ridge'; metaFeatures: MetaFeatures; model: RidgeModel }
    | { kind: 'model'; metaFeatures: MetaFeatures; id: string; version: string; params: unknown; seed: number; dir: string };
  info: Record<string, unknown>;
};

const ensembleDefinitions = new WeakSet<ModelDefinition>();

/** The model resolver of a context: the runner's registry, or the built-in models when none is given. */
async function resolverOf(context: ModelContext): Promise<(ref: ModelRef) => ResolvedModel> {
  if (context.resolveModel) return context.resolveModel;
  const { createRegistry } = await import('../../plugins/core-plugin');
  const registry = createRegistry();
  return (ref) => registry.resolveWithParams('model', ref);
}

/** Rethrow an error with `prefix: ` in front of its one-line message, keeping its class. */
function prefixed(error: unknown, prefix: string): Error {
  if (error instanceof CandlelabError) {
    const Kind = error.constructor as new (message: string, options?: { cause?: unknown }) => CandlelabError;
    return new Kind(`${prefix}: ${error.message}`, { cause: error });
  }
  return new ModelError(`${prefix}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

/** Resolve a member (or meta-learner) reference and check its task, with the position in the message. */
function resolveRef(resolve: (ref: ModelRef) => ResolvedModel, ref: ModelRef, where: string, task: Task): ResolvedModel {
  let resolved: ResolvedModel;
  try {
    resolved = resolve(ref);
  } catch (error) {
    throw prefixed(error, where);
  }
  if (resolved.definition.task !== task) {
    throw new ConfigError(
      `${where} '${ref.id}' does ${resolved.definition.task} but the ensemble does ${task}; use a ${task} model (or ${task === 'classification' ? 'core/ensemble-regressor' : 'core/ensemble'} for ${resolved.definition.task})`,
    );
  }
  return resolved;
}

/** Resolve every member and meta-learner reference, recursively through nested ensembles, before any training. */
function checkRefs(modelId: string, task: Task, params: EnsembleParams, resolve: (ref: ModelRef) => ResolvedModel): ResolvedModel[] {
  const resolved = params.members.map((ref, i) => resolveRef(resolve, ref, `${modelId} member ${i}`, task));
  resolved.forEach((member, i) => {
    if (ensembleDefinitions.has(member.definition)) {
      try {
        checkRefs(member.definition.id, task, member.params as EnsembleParams, resolve);
      } catch (error) {
        throw prefixed(error, `${modelId} member ${i}`);
      }
    }
  });
  if (params.method === 'stacking' && typeof params.metaLearner === 'object') resolveRef(resolve, params.metaLearner, `${modelId} meta-learner`, task);
  return resolved;
}

/** Rows of a segment from row ranges, concatenated in order. */
function segmentRows(segment: Segment, ranges: readonly RowRange[]): Segment {
  const cols = segment.X.cols;
  const rows = ranges.reduce((sum, r) => sum + r.end - r.start, 0);
  const values = new Float32Array(rows * cols);
  const y = new Float64Array(rows);
  let at = 0;
  for (const range of ranges) {
    values.set(segment.X.values.subarray(range.start * cols, range.end * cols), at * cols);
    y.set(segment.y.subarray(range.start, range.end), at);
    at += range.end - range.start;
  }
  const X = { values, rows, cols };
  if (!segment.time || !segment.eventEnd) return { X, y };
  const pick = (column: Float64Array) => {
    const out = new Float64Array(rows);
    let k = 0;
    for (const range of ranges) {
      out.set(column.subarray(range.start, range.end), k);
      k += range.end - range.start;
    }
    return out;
  };
  return { X, y, time: pick(segment.time), eventEnd: pick(segment.eventEnd) };
}

/** The first `rows` rows of a matrix (a view). */
function leadingRows(X: Matrix, rows: number): Matrix {
  return { values: X.values.subarray(0, rows * X.cols), rows, cols: X.cols };
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return (a?.length ?? 0) === (b?.length ?? 0) && (a ?? []).every((value, i) => value === b![i]);
}

/** A fitted or loaded member must predict the task's outputs: the labels' classes in their order. */
function checkMember(model: FittedModel, where: string, task: Task, classes: readonly string[] | undefined): void {
  if (model.task !== task) throw new ModelError(`${where} (${model.modelId}) is a ${model.task} model but the ensemble does ${task}; use a ${task} member`);
  if (task === 'regression' && (model.outputNames?.length ?? 1) > 1) {
    throw new ModelError(`${where} (${model.modelId}) gives ${model.outputNames!.length} outputs per row (${model.outputNames!.join(', ')}); an ensemble averages one value per row, so use a point regressor as a member`);
  }
  if (task === 'classification' && !sameList(model.classes, classes)) {
    throw new ModelError(
      `${where} (${model.modelId}) predicts classes [${(model.classes ?? []).join(', ')}] but the ensemble's are [${(classes ?? []).join(', ')}]; members must agree on the classes and their order`,
    );
  }
}

/** Predict and check the output size (rows × outputs). */
async function predictChecked(model: FittedModel, X: Matrix, outputs: number, where: string): Promise<Float32Array> {
  return checkedOutput(model, await model.predict(X), X.rows, outputs, where);
}

function checkedOutput(model: FittedModel, values: Float32Array, rows: number, outputs: number, where: string): Float32Array {
  if (values.length !== rows * outputs) {
    throw new ModelError(`${where} (${model.modelId}) returned ${values.length} values for ${rows} rows × ${outputs} outputs; its predict is broken`);
  }
  return values;
}

/** Mean log-loss (clipped at 1e-15 as scikit-learn does) of probabilities against class ids. */
export function meanLogLoss(probabilities: ArrayLike<number>, y: ArrayLike<number>, classes: number): number {
  let loss = 0;
  for (let i = 0; i < y.length; i++) loss -= Math.log(Math.min(1 - 1e-15, Math.max(1e-15, probabilities[i * classes + y[i]])));
  return loss / Math.max(1, y.length);
}

/** Root mean squared error. */
export function rootMeanSquaredError(values: ArrayLike<number>, y: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < y.length; i++) sum += (values[i] - y[i]) ** 2;
  return Math.sqrt(sum / Math.max(1, y.length));
}

/**
 * Weights from validation losses (lower is better), summing to 1: `inverse` w ∝ 1/loss; `softmax`
 * w ∝ exp(−(loss/best − 1)/temperature), scale-free; `equal` 1/M.
 */
export function ensembleWeights(losses: readonly number[], weighting: 'inverse' | 'softmax' | 'equal', temperature = 0.05): number[] {
  losses.forEach((loss, i) => {
    if (!Number.isFinite(loss) || loss < 0) throw new ModelError(`member ${i} has validation loss ${loss}; it cannot be weighted (check its predictions)`);
  });
  let raw: number[];
  if (weighting === 'equal') raw = losses.map(() => 1);
  else if (weighting === 'inverse') raw = losses.map((loss) => 1 / Math.max(loss, 1e-12));
  else {
    const best = Math.min(...losses);
    raw = losses.map((loss) => Math.exp(-(best > 1e-12 ? loss / best - 1 : loss - best) / temperature));
  }
  const total = raw.reduce((a, b) => a + b, 0);
  return raw.map((w) => w / total);
}

/** Member outputs → meta-learner inputs (log-probabilities clipped at 1e-6, probabilities or values). */
function metaInputs(outputs: readonly Float32Array[], rows: number, width: number, kind: MetaFeatures): Float64Array {
  const cols = outputs.length * width;
  const X = new Float64Array(rows * cols);
  outputs.forEach((values, m) => {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < width; c++) {
        const v = values[r * width + c];
        X[r * cols + m * width + c] = kind === 'log-probabilities' ? Math.log(Math.max(1e-6, v)) : v;
      }
    }
  });
  return X;
}

function metaFeatureNames(members: number, classes: readonly string[] | undefined, kind: MetaFeatures): string[] {
  const names: string[] = [];
  for (let m = 0; m < members; m++) {
    if (!classes) names.push(`m${m}_value`);
    else for (const name of classes) names.push(`m${m}_${kind === 'log-probabilities' ? 'logp' : 'p'}_${name}`);
  }
  return names;
}

/** Balanced row weights n / (K × count(class)) over class ids. */
function balancedRowWeights(y: ArrayLike<number>, classes: number): Float64Array {
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < y.length; i++) counts[y[i]]++;
  const present = counts.filter((c) => c > 0).length;
  return Float64Array.from({ length: y.length }, (_, i) => y.length / (present * counts[y[i]]));
}

function toMatrix(values: Float64Array, rows: number, cols: number): Matrix {
  return { values: Float32Array.from(values), rows, cols };
}

/** A fitted ensemble: members (and a meta-learner) that predict together. */
export class EnsembleModel implements FittedModel {
  readonly modelVersion = ENSEMBLE_VERSION;

  constructor(
    readonly modelId: string,
    readonly task: Task,
    readonly featureNames: readonly string[],
    readonly classes: readonly string[] | undefined,
    readonly params: EnsembleParams,
    private readonly members: readonly Member[],
    private readonly combiner: Combiner,
    readonly info: Record<string, unknown>,
    /** What the stacking meta-learner was trained on (fitted models only, not loaded ones). */
    readonly stacking?: StackingDiagnostics,
  ) {}

  private get width(): number {
    return this.classes?.length ?? 1;
  }

  /** The members' weights (method `weighted`). */
  get weights(): number[] | undefined {
    return this.combiner.kind === 'weighted' ? [...this.combiner.weights] : undefined;
  }

  /** The fitted members, in order. */
  get memberModels(): FittedModel[] {
    return this.members.map((member) => member.model);
  }

  /** The logistic or ridge meta-learner (method `stacking` with a linear meta-learner). */
  get metaLearner(): LogisticModel | RidgeModel | FittedModel | undefined {
    return this.combiner.kind === 'weighted' ? undefined : this.combiner.model;
  }

  /** Each member's outputs on X (rows × outputs each). */
  async memberPredictions(X: Matrix): Promise<Float32Array[]> {
    if (X.cols !== this.featureNames.length) throw new ModelError(`${this.modelId} expects ${this.featureNames.length} features, got ${X.cols}`);
    const out: Float32Array[] = [];
    for (const [i, member] of this.members.entries()) out.push(await predictChecked(member.model, X, this.width, `${this.modelId} member ${i}`));
    return out;
  }

  /** rows × classes probabilities or rows × 1 values. */
  async predict(X: Matrix): Promise<Float32Array> {
    const outputs = await this.memberPredictions(X);
    return combine(this.combiner, outputs, X.rows, this.width);
  }

  /**
   * The same synchronously, present when every member (and a model meta-learner) has `predictSync`
   * (an ensemble of XGBoost models: their trees compiled to JavaScript), for one-row callers (serve,
   * paper and live sessions). Absent otherwise: callers then use `predict`.
   */
  get predictSync(): ((X: Matrix) => Float32Array) | undefined {
    if (this.syncPredict !== undefined) return this.syncPredict ?? undefined;
    this.syncPredict = this.makePredictSync() ?? null;
    return this.syncPredict ?? undefined;
  }

  private syncPredict: ((X: Matrix) => Float32Array) | null | undefined;

  private makePredictSync(): ((X: Matrix) => Float32Array) | undefined {
    const synced = this.members.every((member) => member.model.predictSync) && (this.combiner.kind !== 'model' || this.combiner.model.predictSync);
    if (!synced) return undefined;
    return (X: Matrix): Float32Array => {
      if (X.cols !== this.featureNames.length) throw new ModelError(`${this.modelId} expects ${this.featureNames.length} features, got ${X.cols}`);
      const outputs = this.members.map((member, i) => checkedOutput(member.model, member.model.predictSync!(X), X.rows, this.width, `${this.modelId} member ${i}`));
      return combineSync(this.combiner, outputs, X.rows, this.width);
    };
  }

  /** member-<i>/ by each member's own save, meta/ for a model meta-learner, then ensemble.json. */
  async save(dir: string): Promise<Artifact[]> {
    const artifacts: Artifact[] = [];
    const saveInto = async (model: FittedModel, sub: string): Promise<void> => {
      fs.mkdirSync(path.join(dir, sub), { recursive: true });
      for (const artifact of await model.save(path.join(dir, sub))) artifacts.push({ ...artifact, path: `${sub}/${artifact.path}` });
    };
    const members: EnsembleFile['members'] = [];
    for (const [i, member] of this.members.entries()) {
      await saveInto(member.model, `member-${i}`);
      members.push({ id: member.id, version: member.version, params: member.params, seed: member.seed, dir: `member-${i}` });
    }
    let combiner: EnsembleFile['combiner'];
    if (this.combiner.kind === 'model') {
      const { model, ...rest } = this.combiner;
      await saveInto(model, 'meta');
      combiner = { ...rest, dir: 'meta' };
    } else {
      combiner = this.combiner;
    }
    const file: EnsembleFile = {
      modelId: this.modelId,
      modelVersion: this.modelVersion,
      task: this.task,
      featureNames: [...this.featureNames],
      ...(this.classes ? { classes: [...this.classes] } : {}),
      params: this.params,
      members,
      combiner,
      info: this.info,
    };
    const text = JSON.stringify(file, null, 2) + '\n';
    artifacts.push(writeArtifact(dir, ENSEMBLE_FILE, 'ensemble', text));
    return artifacts;
  }

  dispose(): void {
    for (const member of this.members) member.model.dispose();
    if (this.combiner.kind === 'model') this.combiner.model.dispose();
  }
}

/** Combine member outputs: weighted average, or the meta-learner on their (transformed) outputs. */
async function combine(combiner: Combiner, outputs: readonly Float32Array[], rows: number, width: number): Promise<Float32Array> {
  if (combiner.kind === 'model') {
    const X = metaInputs(outputs, rows, width, combiner.metaFeatures);
    return predictChecked(combiner.model, toMatrix(X, rows, outputs.length * width), width, 'the meta-learner');
  }
  return combineSync(combiner, outputs, rows, width);
}

/** `combine` with a meta-learner that predicts synchronously (linear, or a model with `predictSync`). */
function combineSync(combiner: Combiner, outputs: readonly Float32Array[], rows: number, width: number): Float32Array {
  if (combiner.kind === 'weighted') {
    const out = new Float32Array(rows * width);
    const sum = new Float64Array(rows * width);
    outputs.forEach((values, m) => {
      for (let i = 0; i < sum.length; i++) sum[i] += combiner.weights[m] * values[i];
    });
    out.set(sum);
    return out;
  }
  const X = metaInputs(outputs, rows, width, combiner.metaFeatures);
  const cols = outputs.length * width;
  if (combiner.kind === 'logistic') return Float32Array.from(predictLogistic(combiner.model, X, rows));
  if (combiner.kind === 'ridge') return Float32Array.from(predictRidge(combiner.model, X, rows));
  return checkedOutput(combiner.model, combiner.model.predictSync!(toMatrix(X, rows, cols)), rows, width, 'the meta-learner');
}

/** The member info recorded in the ensemble's info (without long training histories). */
function memberSummary(member: Member): Record<string, unknown> {
  const { history: _history, ...info } = member.model.info;
  return { id: member.id, version: member.version, seed: member.seed, info };
}

/** Fit an ensemble: see the module doc. */
async function fitEnsemble(modelId: string, task: Task, data: TrainingData, params: EnsembleParams, context: ModelContext): Promise<EnsembleModel> {
  const resolve = await resolverOf(context);
  const resolved = checkRefs(modelId, task, params, resolve);
  const classes = task === 'classification' ? data.classes : undefined;
  if (task === 'classification' && (classes?.length ?? 0) < 2) throw new ModelError(`${modelId} needs class names (a classification labeler)`);
  const width = classes?.length ?? 1;
  if (data.train.X.cols !== data.featureNames.length) {
    throw new ModelError(`train has ${data.train.X.cols} feature columns but ${data.featureNames.length} feature names`);
  }
  const memberContext = (seed: number): ModelContext => ({ seed, resolveModel: resolve });
  const seeds = resolved.map((_, i) => context.seed + i);
  const stacking = params.method === 'stacking';
  const purge = params.purge ?? data.horizon;
  if (stacking && purge === undefined) {
    throw new ConfigError(`${modelId} stacking needs the label horizon to purge its folds; run it through the runner or set params.purge`);
  }
  // The labels' event ends (when the runner passes them) purge each held-out fold's training rows
  // whose label is decided inside or after the fold, however far back; rows without one use `purge`.
  const events = data.train.time && data.train.eventEnd ? { time: data.train.time, eventEnd: data.train.eventEnd } : undefined;
  const purgeBy = events ? 'event-end' : 'horizon';
  const folds = stacking ? purgedFolds(data.train.y.length, params.folds, purge!, params.cv, events) : [];
  const totalFits = resolved.length * (folds.length + 1) + (stacking && typeof params.metaLearner === 'object' ? 1 : 0);
  const progress = context.progress?.(`${modelId} (${params.method})`, totalFits);
  const owned: FittedModel[] = [];
  try {
    // 1. Out-of-fold predictions (stacking): members fitted without each fold (and its purge) predict it.
    const oofRows = folds.reduce((sum, fold) => sum + fold.valid.end - fold.valid.start, 0);
    const oofPredictions = resolved.map(() => new Float32Array(oofRows * width));
    const rowIndex = new Int32Array(oofRows);
    let at = 0;
    for (const fold of folds) {
      const foldData: TrainingData = { ...data, train: segmentRows(data.train, fold.train) };
      const n = fold.valid.end - fold.valid.start;
      for (let r = 0; r < n; r++) rowIndex[at + r] = fold.valid.start + r;
      for (const [m, member] of resolved.entries()) {
        const where = `${modelId} member ${m} (fold ${fold.index})`;
        let model: FittedModel;
        try {
          model = await member.definition.fit(foldData, member.params, memberContext(seeds[m]));
        } catch (error) {
          throw prefixed(error, where);
        }
        try {
          checkMember(model, where, task, classes);
          // Predict with every row before the fold as context (sequence models), keep the fold's rows.
          const values = await predictChecked(model, leadingRows(data.train.X, fold.valid.end), width, where);
          oofPredictions[m].set(values.subarray(fold.valid.start * width), at * width);
        } finally {
          model.dispose();
        }
        progress?.tick(1, `member ${m} fold ${fold.index}`);
      }
      at += n;
    }
    // 2. The members on all train rows: what predicts, and what the validation scores are of.
    const members: Member[] = [];
    const validOutputs: Float32Array[] = [];
    for (const [m, member] of resolved.entries()) {
      const where = `${modelId} member ${m}`;
      let model: FittedModel;
      try {
        model = await member.definition.fit(data, member.params, memberContext(seeds[m]));
      } catch (error) {
        throw prefixed(error, where);
      }
      owned.push(model);
      checkMember(model, where, task, classes);
      members.push({ id: member.definition.id, version: member.definition.version, params: member.params, seed: seeds[m], model });
      validOutputs.push(await predictChecked(model, data.valid.X, width, where));
      progress?.tick(1, `member ${m}`);
    }
    const loss = (values: ArrayLike<number>): number =>
      task === 'classification' ? meanLogLoss(values, data.valid.y, width) : rootMeanSquaredError(values, data.valid.y);
    const memberLosses = validOutputs.map((values) => loss(values));
    // 3. The combiner.
    let combiner: Combiner;
    let diagnostics: StackingDiagnostics | undefined;
    const metaInfo: Record<string, unknown> = {};
    if (!stacking) {
      combiner = { kind: 'weighted', weights: ensembleWeights(memberLosses, params.weighting, params.temperature) };
    } else {
      const metaKind: MetaFeatures = task === 'classification' ? (params as EnsembleClassifierParams).metaFeatures : 'values';
      const inputs = metaInputs(oofPredictions, oofRows, width, metaKind);
      const labels = Float64Array.from(rowIndex, (row) => data.train.y[row]);
      const names = metaFeatureNames(resolved.length, classes, metaKind);
      diagnostics = { cv: params.cv, purge: purge!, purgeBy, folds, rows: rowIndex, memberPredictions: oofPredictions, metaInputs: inputs, metaLabels: labels, metaFeatureNames: names };
      const meta = params.metaLearner;
      if (meta === 'logistic') {
        const p = params as EnsembleClassifierParams;
        const model = fitLogistic(inputs, oofRows, names.length, labels, width, {
          C: p.C,
          sampleWeight: p.classWeight === 'balanced' ? balancedRowWeights(labels, width) : undefined,
        });
        combiner = { kind: 'logistic', metaFeatures: metaKind, model };
        Object.assign(metaInfo, { iterations: model.iterations, objective: model.objective });
      } else if (meta === 'ridge') {
        combiner = { kind: 'ridge', metaFeatures: metaKind, model: fitRidge(inputs, oofRows, names.length, labels, (params as EnsembleRegressorParams).alpha) };
      } else {
        const where = `${modelId} meta-learner`;
        const metaResolved = resolveRef(resolve, meta, where, task);
        const metaData: TrainingData = {
          featureNames: names,
          classes,
          horizon: data.horizon,
          train: { X: toMatrix(inputs, oofRows, names.length), y: labels },
          valid: { X: toMatrix(metaInputs(validOutputs, data.valid.y.length, width, metaKind), data.valid.y.length, names.length), y: data.valid.y },
        };
        const seed = context.seed + resolved.length;
        let model: FittedModel;
        try {
          model = await metaResolved.definition.fit(metaData, metaResolved.params, memberContext(seed));
        } catch (error) {
          throw prefixed(error, where);
        }
        owned.push(model);
        checkMember(model, where, task, classes);
        combiner = { kind: 'model', metaFeatures: metaKind, id: metaResolved.definition.id, version: metaResolved.definition.version, params: metaResolved.params, seed, model };
        const { history: _history, ...info } = model.info;
        Object.assign(metaInfo, { id: metaResolved.definition.id, info });
        progress?.tick(1, 'meta-learner');
      }
    }
    const ensembleLoss = loss(await combine(combiner, validOutputs, data.valid.y.length, width));
    progress?.done(`valid ${task === 'classification' ? 'log-loss' : 'RMSE'} ${ensembleLoss.toFixed(5)}`);
    const info: Record<string, unknown> = {
      method: params.method,
      validMetric: task === 'classification' ? 'log-loss' : 'rmse',
      validLoss: ensembleLoss,
      members: members.map((member, i) => ({ ...memberSummary(member), validLoss: memberLosses[i], ...(combiner.kind === 'weighted' ? { weight: combiner.weights[i] } : {}) })),
      ...(stacking
        ? {
            cv: params.cv,
            purge,
            purgeBy,
            oofRows,
            folds: folds.map((f) => ({ valid: [f.valid.start, f.valid.end], train: f.train.map((r) => [r.start, r.end]), purgedBefore: f.purgedBefore, purgedAfter: f.purgedAfter })),
            meta: { kind: combiner.kind, featureNames: diagnostics!.metaFeatureNames, ...metaInfo },
          }
        : {}),
      seed: context.seed,
    };
    return new EnsembleModel(modelId, task, data.featureNames, classes, params, members, combiner, info, diagnostics);
  } catch (error) {
    for (const model of owned) model.dispose();
    throw error;
  }
}

function readEnsembleFile(dir: string): EnsembleFile {
  const file = path.join(dir, ENSEMBLE_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new ModelError(`${file} is missing; the ensemble folder is incomplete (train and save it again)`);
  }
  try {
    return JSON.parse(text) as EnsembleFile;
  } catch {
    throw new ModelError(`${file} is not valid JSON; the ensemble folder is damaged (train and save it again)`);
  }
}

/** Load an ensemble saved by `save`: each member (and a model meta-learner) through its own definition's load. */
async function loadEnsemble(modelId: string, task: Task, dir: string, context: ModelContext): Promise<EnsembleModel> {
  const file = readEnsembleFile(dir);
  if (file.modelId !== modelId) throw new ModelError(`${dir} holds a ${file.modelId} model, not ${modelId}; load it with ${file.modelId}`);
  const resolve = await resolverOf(context);
  const loaded: FittedModel[] = [];
  const loadRef = async (ref: { id: string; version: string; params: unknown; seed: number; dir: string }, where: string): Promise<FittedModel> => {
    const { definition } = resolveRef(resolve, { id: ref.id, version: ref.version, params: ref.params as Record<string, unknown> }, where, task);
    if (!fs.existsSync(path.join(dir, ref.dir))) {
      throw new ModelError(`${where}: ${path.join(dir, ref.dir)} is missing; the ensemble folder is incomplete (train and save it again)`);
    }
    let model: FittedModel;
    try {
      model = await definition.load(path.join(dir, ref.dir), { ...context, seed: ref.seed, resolveModel: resolve });
    } catch (error) {
      throw prefixed(error, where);
    }
    loaded.push(model);
    checkMember(model, where, task, file.classes);
    return model;
  };
  try {
    const members: Member[] = [];
    for (const [i, ref] of file.members.entries()) {
      members.push({ id: ref.id, version: ref.version, params: ref.params, seed: ref.seed, model: await loadRef(ref, `${modelId} member ${i}`) });
    }
    let combiner: Combiner;
    if (file.combiner.kind === 'model') {
      const { dir: _dir, ...rest } = file.combiner;
      combiner = { ...rest, model: await loadRef(file.combiner, `${modelId} meta-learner`) };
    } else {
      combiner = file.combiner;
    }
    if (combiner.kind === 'weighted' && combiner.weights.length !== members.length) {
      throw new ModelError(`${path.join(dir, ENSEMBLE_FILE)} has ${combiner.weights.length} weights for ${members.length} members; the ensemble folder is damaged`);
    }
    return new EnsembleModel(file.modelId, file.task, file.featureNames, file.classes, file.params, members, combiner, file.info);
  } catch (error) {
    for (const model of loaded) model.dispose();
    throw error;
  }
}

export const ensembleClassifier = defineModel({
  id: 'core/ensemble',
  version: ENSEMBLE_VERSION,
  doc: 'Ensemble of registered classifiers: validation-weighted probability average, or stacking with a logistic (or any model) meta-learner on purged out-of-fold predictions.',
  task: 'classification',
  params: ensembleClassifierParams,
  exampleParams: { members: [{ id: 'core/xgboost', params: { rounds: 20, maxDepth: 3 } }, { id: 'core/xgboost', params: { rounds: 20, maxDepth: 2, learningRate: 0.2 } }] },
  fit: (data, params, context) => fitEnsemble('core/ensemble', 'classification', data, params, context),
  load: (dir, context) => loadEnsemble('core/ensemble', 'classification', dir, context),
  checkReferences: (params, resolveModel) => void checkRefs('core/ensemble', 'classification', params, resolveModel),
});

export const ensembleRegressor = defineModel({
  id: 'core/ensemble-regressor',
  version: ENSEMBLE_VERSION,
  doc: 'Ensemble of registered regressors: validation-weighted (1/RMSE) average, or stacking with a ridge (or any model) meta-learner on purged out-of-fold predictions.',
  task: 'regression',
  params: ensembleRegressorParams,
  exampleParams: { members: [{ id: 'core/xgboost-regressor', params: { rounds: 20, maxDepth: 3 } }, { id: 'core/xgboost-regressor', params: { rounds: 20, maxDepth: 2, learningRate: 0.2 } }] },
  fit: (data, params, context) => fitEnsemble('core/ensemble-regressor', 'regression', data, params, context),
  load: (dir, context) => loadEnsemble('core/ensemble-regressor', 'regression', dir, context),
  checkReferences: (params, resolveModel) => void checkRefs('core/ensemble-regressor', 'regression', params, resolveModel),
});

ensembleDefinitions.add(ensembleClassifier).add(ensembleRegressor);

/** The ensemble model definitions (registered by the core plugin). */
export const ensembleModels = [ensembleClassifier, ensembleRegressor];
