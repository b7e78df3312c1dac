import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { createRegistry } from '../src/plugins/core-plugin';
import { defineModel, definePlugin } from '../src/plugins/define';
import type { Artifact, FittedModel, Matrix, ModelContext, Segment, TrainingData } from '../src/models/model';
import { fitLogistic, fitRidge, predictLogistic, predictRidge, type LogisticModel, type RidgeModel } from '../src/models/ensemble/linear';

/**
 * Small, fast, deterministic test models registered as a plugin ('test/…'), and synthetic data where
 * the answer is known. Rows are i.i.d. standard normal features; labels depend on chosen columns.
 */

export const CLASSES = ['SELL', 'HOLD', 'BUY'] as const;

/** A seeded uniform generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded standard normal generator (Box–Muller). */
export function normal(seed: number): () => number {
  const u = rng(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

export type Synthetic = { featureNames: string[]; X: Matrix; y: Float64Array; score: Float64Array };

/**
 * `rows` rows of `cols` standard normal features; the score is Σ weights[c]·x[c] + noise·N(0,1);
 * classification labels: SELL below −0.6, BUY above 0.6, HOLD between; regression: the score.
 */
export function synthetic(rows: number, cols: number, weights: number[], noise: number, seed: number): Synthetic {
  const draw = normal(seed);
  const values = new Float32Array(rows * cols);
  const y = new Float64Array(rows);
  const score = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) {
      const v = Math.fround(draw());
      values[r * cols + c] = v;
      s += (weights[c] ?? 0) * v;
    }
    s += noise * draw();
    score[r] = s;
    y[r] = s < -0.6 ? 0 : s > 0.6 ? 2 : 1;
  }
  return { featureNames: Array.from({ length: cols }, (_, c) => `x${c}`), X: { values, rows, cols }, y, score };
}

/** Rows [start, end) of a synthetic set as a segment (classification labels or regression scores). */
export function segment(data: Synthetic, start: number, end: number, task: 'classification' | 'regression' = 'classification'): Segment {
  const cols = data.X.cols;
  return {
    X: { values: data.X.values.slice(start * cols, end * cols), rows: end - start, cols },
    y: (task === 'classification' ? data.y : data.score).slice(start, end),
  };
}

/** Train / valid / test segments of a synthetic set (60/20/20), with the given horizon. */
export function trainingData(data: Synthetic, task: 'classification' | 'regression' = 'classification', horizon = 5): { data: TrainingData; test: Segment } {
  const n = data.y.length;
  const a = Math.floor(n * 0.6);
  const b = Math.floor(n * 0.8);
  return {
    data: {
      featureNames: data.featureNames,
      classes: task === 'classification' ? [...CLASSES] : undefined,
      train: segment(data, 0, a, task),
      valid: segment(data, a, b, task),
      horizon,
    },
    test: segment(data, b, n, task),
  };
}

/** Pick columns of a matrix. */
function columnsOf(X: Matrix, columns: readonly number[]): Float64Array {
  const out = new Float64Array(X.rows * columns.length);
  for (let r = 0; r < X.rows; r++) columns.forEach((c, j) => (out[r * columns.length + j] = X.values[r * X.cols + c]));
  return out;
}

function saveJson(dir: string, value: unknown): Artifact[] {
  const text = JSON.stringify(value);
  fs.writeFileSync(path.join(dir, 'test-model.json'), text);
  return [{ path: 'test-model.json', kind: 'test', sha256: '', bytes: text.length }];
}

function loadJson<T>(dir: string): T {
  return JSON.parse(fs.readFileSync(path.join(dir, 'test-model.json'), 'utf8')) as T;
}

type Common = { modelId: string; modelVersion: string; featureNames: readonly string[]; info: Record<string, unknown>; dispose(): void };
const common = (modelId: string, featureNames: readonly string[], info: Record<string, unknown> = {}): Common => ({
  modelId,
  modelVersion: '1.0.0',
  featureNames,
  info,
  dispose: () => {},
});

/** Every fit of the memorizer, for tests that inspect what it was trained on. */
export const memorizerFits: Array<{ rows: number; firstRowValues: number[] }> = [];

/**
 * A 1-nearest-neighbour "model" that memorizes its training rows: perfect on rows it has seen
 * (probability 0.98 on the remembered class), close to guessing elsewhere when features are noise.
 */
export const memorizer = defineModel({
  id: 'test/memorizer',
  version: '1.0.0',
  doc: '1-nearest-neighbour lookup of the training rows.',
  task: 'classification',
  params: z.object({}),
  fit: async (data) => {
    memorizerFits.push({ rows: data.train.X.rows, firstRowValues: Array.from(data.train.X.values.subarray(0, data.train.X.cols)) });
    return memorizerModel(data.featureNames, data.classes!, Array.from(data.train.X.values), Array.from(data.train.y));
  },
  load: async (dir) => {
    const saved = loadJson<{ featureNames: string[]; classes: string[]; X: number[]; y: number[] }>(dir);
    return memorizerModel(saved.featureNames, saved.classes, saved.X, saved.y);
  },
});

function memorizerModel(featureNames: readonly string[], classes: readonly string[], X: number[], y: number[]): FittedModel {
  const d = featureNames.length;
  const K = classes.length;
  const n = y.length;
  return {
    ...common('test/memorizer', featureNames),
    task: 'classification',
    classes,
    predict: async (Q: Matrix) => {
      const out = new Float32Array(Q.rows * K);
      for (let r = 0; r < Q.rows; r++) {
        let best = 0;
        let bestDistance = Infinity;
        for (let i = 0; i < n; i++) {
          let distance = 0;
          for (let c = 0; c < d; c++) distance += (Q.values[r * d + c] - X[i * d + c]) ** 2;
          if (distance < bestDistance) {
            bestDistance = distance;
            best = i;
          }
        }
        for (let k = 0; k < K; k++) out[r * K + k] = k === y[best] ? 0.98 : 0.02 / (K - 1);
      }
      return out;
    },
    save: async (dir) => saveJson(dir, { featureNames, classes, X, y }),
  };
}

/** A logistic regression on chosen columns (a "good" member that sees part of the signal). */
export const columnLogistic = defineModel({
  id: 'test/column-logistic',
  version: '1.0.0',
  doc: 'Logistic regression on the chosen feature columns.',
  task: 'classification',
  params: z.object({ columns: z.array(z.number().int().min(0)).min(1), C: z.number().positive().default(1) }),
  fit: async (data, params) => {
    const X = columnsOf(data.train.X, params.columns);
    const model = fitLogistic(X, data.train.X.rows, params.columns.length, data.train.y, data.classes!.length, { C: params.C });
    return columnLogisticModel(data.featureNames, data.classes!, params.columns, model);
  },
  load: async (dir) => {
    const saved = loadJson<{ featureNames: string[]; classes: string[]; columns: number[]; model: LogisticModel }>(dir);
    return columnLogisticModel(saved.featureNames, saved.classes, saved.columns, saved.model);
  },
});

function columnLogisticModel(featureNames: readonly string[], classes: readonly string[], columns: number[], model: LogisticModel): FittedModel {
  return {
    ...common('test/column-logistic', featureNames, { columns }),
    task: 'classification',
    classes,
    predict: async (Q: Matrix) => Float32Array.from(predictLogistic(model, columnsOf(Q, columns), Q.rows)),
    save: async (dir) => saveJson(dir, { featureNames, classes, columns, model }),
  };
}

/** Random probabilities, seeded by the context's seed and the row's first feature: a useless member. */
export const randomClassifier = defineModel({
  id: 'test/random',
  version: '1.0.0',
  doc: 'Random class probabilities.',
  task: 'classification',
  params: z.object({}),
  fit: async (data, _params, context: ModelContext) => randomModel(data.featureNames, data.classes!, context.seed),
  load: async (dir) => {
    const saved = loadJson<{ featureNames: string[]; classes: string[]; seed: number }>(dir);
    return randomModel(saved.featureNames, saved.classes, saved.seed);
  },
});

function randomModel(featureNames: readonly string[], classes: readonly string[], seed: number): FittedModel {
  const K = classes.length;
  return {
    ...common('test/random', featureNames),
    task: 'classification',
    classes,
    predict: async (Q: Matrix) => {
      const out = new Float32Array(Q.rows * K);
      for (let r = 0; r < Q.rows; r++) {
        const u = rng(seed * 7919 + Math.floor(Math.abs(Q.values[r * Q.cols]) * 1e6));
        const raw = Array.from({ length: K }, () => 0.05 + u());
        const total = raw.reduce((a, b) => a + b, 0);
        raw.forEach((v, k) => (out[r * K + k] = v / total));
      }
      return out;
    },
    save: async (dir) => saveJson(dir, { featureNames, classes, seed }),
  };
}

/** A classifier that predicts two classes of its own (DOWN/UP): it disagrees with the labels' classes. */
export const binaryClassifier = defineModel({
  id: 'test/binary',
  version: '1.0.0',
  doc: 'Two classes of its own.',
  task: 'classification',
  params: z.object({}),
  fit: async (data) => ({
    ...common('test/binary', data.featureNames),
    task: 'classification',
    classes: ['DOWN', 'UP'],
    predict: async (Q: Matrix) => new Float32Array(Q.rows * 2).fill(0.5),
    save: async () => [],
  }),
  load: async () => {
    throw new Error('not saved');
  },
});

/** Ridge regression on chosen columns. */
export const columnRidge = defineModel({
  id: 'test/column-ridge',
  version: '1.0.0',
  doc: 'Ridge regression on the chosen feature columns.',
  task: 'regression',
  params: z.object({ columns: z.array(z.number().int().min(0)).min(1), alpha: z.number().min(0).default(1) }),
  fit: async (data, params) => {
    const X = columnsOf(data.train.X, params.columns);
    return columnRidgeModel(data.featureNames, params.columns, fitRidge(X, data.train.X.rows, params.columns.length, data.train.y, params.alpha));
  },
  load: async (dir) => {
    const saved = loadJson<{ featureNames: string[]; columns: number[]; model: RidgeModel }>(dir);
    return columnRidgeModel(saved.featureNames, saved.columns, saved.model);
  },
});

function columnRidgeModel(featureNames: readonly string[], columns: number[], model: RidgeModel): FittedModel {
  return {
    ...common('test/column-ridge', featureNames, { columns }),
    task: 'regression',
    predict: async (Q: Matrix) => Float32Array.from(predictRidge(model, columnsOf(Q, columns), Q.rows)),
    save: async (dir) => saveJson(dir, { featureNames, columns, model }),
  };
}

export const testPlugin = definePlugin({
  id: 'test-ensemble-models',
  version: '1.0.0',
  models: [memorizer, columnLogistic, randomClassifier, binaryClassifier, columnRidge],
});

/** The built-ins plus the test models. */
export const testRegistry = createRegistry([testPlugin]);

/** A model context whose resolver sees the test models. */
export function testContext(seed = 1): ModelContext {
  return { seed, resolveModel: (ref) => testRegistry.resolveWithParams('model', ref) };
}

/** Mean log-loss of probabilities against class ids. */
export function logLoss(p: Float32Array | Float64Array, y: Float64Array, K = 3): number {
  let loss = 0;
  for (let i = 0; i < y.length; i++) loss -= Math.log(Math.max(1e-15, p[i * K + y[i]]));
  return loss / y.length;
}

/** Accuracy of probabilities' argmax against class ids. */
export function accuracy(p: Float32Array, y: Float64Array, K = 3): number {
  let correct = 0;
  for (let i = 0; i < y.length; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (p[i * K + k] > p[i * K + best]) best = k;
    if (best === y[i]) correct++;
  }
  return correct / y.length;
}
