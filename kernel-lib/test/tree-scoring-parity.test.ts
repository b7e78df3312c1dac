import { describe, expect, it } from 'vitest';
import { createRegistry } from '../src/plugins/core-plugin';
import type { FittedModel, Matrix, ModelContext, TrainingData } from '../src/models/model';
import { compileXgboostTrees } from '../src/models/xgboost/compiled-trees';
import type { XgboostModel } from '../src/models/xgboost/xgboost-model';
import { ModelFeed } from '../src/trading/model-feed';
import { rng as random } from './ensemble-helpers';

/**
 * Every registered model whose predictions are tree ensembles scores one row in JavaScript (serve,
 * paper and live use `predictSync`), within 1e-6 of its ONNX Runtime `predict`: random data and random
 * models, missing values (NaN) in the rows scored, the three scorers of the compiled trees (complete
 * trees, generated code and the flat walker), one row at a time into a reused buffer and as a batch.
 */

const registry = createRegistry();
const context = (seed: number): ModelContext => ({ seed, resolveModel: (ref) => registry.resolveWithParams('model', ref) });

/** Registered models that are not tree ensembles (a new registered model must be put in one list or the other). */
const NOT_TREES = new Set([
  ...['core/lstm', 'core/lstm-regressor', 'core/tcn', 'core/tcn-regressor', 'core/nbeats', 'core/nbeats-regressor', 'core/deepar'], // neural networks (tfjs)
  'core/arima', 'core/arima-classifier', // a Kalman filter
  'core/ppo', 'core/dqn', // RL policies (networks)
]);
const isNotTrees = (id: string): boolean => NOT_TREES.has(id);


/** Random features; classes from a random linear score (cut into `classes` bands), or its value (regression). */
function randomData(seed: number, features: number, classes: number): TrainingData & { test: Matrix } {
  const rnd = random(seed);
  const rows = 900;
  const X = new Float32Array(rows * features);
  const y = new Float64Array(rows);
  const w = Array.from({ length: features }, () => rnd() * 2 - 1);
  for (let i = 0; i < rows; i++) {
    let z = 0;
    for (let k = 0; k < features; k++) {
      const v = (rnd() * 2 - 1) * (k + 1);
      X[i * features + k] = v;
      z += w[k] * v + 0.3 * (rnd() - 0.5);
    }
    // regression targets on the scale of returns (ONNX Runtime sums in float32: ~6e-8 relative)
    y[i] = classes ? Math.min(classes - 1, Math.max(0, Math.floor((Math.tanh(z / features) + 1) / 2 * classes))) : z * 1e-3;
  }
  const segment = (from: number, to: number) => ({ X: { values: X.subarray(from * features, to * features), rows: to - from, cols: features }, y: y.subarray(from, to) });
  // the scored rows: fresh values, a tenth of them missing (default directions), some exactly on a split's scale
  const test = new Float32Array(400 * features);
  for (let i = 0; i < test.length; i++) test[i] = rnd() < 0.1 ? NaN : (rnd() * 2.2 - 1.1) * ((i % features) + 1);
  return {
    featureNames: Array.from({ length: features }, (_, k) => `f${k}`),
    classes: classes ? Array.from({ length: classes }, (_, c) => `c${c}`) : undefined,
    train: segment(0, 700),
    valid: segment(700, rows),
    test: { values: test, rows: 400, cols: features },
  };
}

type Case = { name: string; id: string; classes: number; params: Record<string, unknown> };
const xgb = (extra: Record<string, unknown> = {}) => ({ rounds: 25, maxDepth: 4, earlyStoppingRounds: 0, ...extra });
const CASES: Case[] = [
  { name: 'xgboost binary', id: 'core/xgboost', classes: 2, params: xgb({ maxDepth: 6 }) },
  { name: 'xgboost 3 classes', id: 'core/xgboost', classes: 3, params: xgb({ rounds: 40 }) },
  { name: 'xgboost 5 classes, unbalanced weights', id: 'core/xgboost', classes: 5, params: xgb({ classWeight: 'none' }) },
  ...(['squarederror', 'pseudohubererror', 'absoluteerror'] as const).map((objective) => ({ name: `xgboost regressor ${objective}`, id: 'core/xgboost-regressor', classes: 0, params: xgb({ objective }) })),
  { name: 'ensemble weighted', id: 'core/ensemble', classes: 3, params: { members: [{ id: 'core/xgboost', params: xgb() }, { id: 'core/xgboost', params: xgb({ maxDepth: 2 }) }] } },
  { name: 'ensemble stacking, logistic', id: 'core/ensemble', classes: 3, params: { method: 'stacking', folds: 2, purge: 0, members: [{ id: 'core/xgboost', params: xgb() }, { id: 'core/xgboost', params: xgb({ maxDepth: 2 }) }] } },
  { name: 'ensemble stacking, xgboost meta-learner', id: 'core/ensemble', classes: 2, params: { method: 'stacking', folds: 2, purge: 0, metaLearner: { id: 'core/xgboost', params: xgb({ rounds: 10 }) }, members: [{ id: 'core/xgboost', params: xgb() }, { id: 'core/xgboost', params: xgb({ maxDepth: 3 }) }] } },
  { name: 'ensemble regressor weighted', id: 'core/ensemble-regressor', classes: 0, params: { members: [{ id: 'core/xgboost-regressor', params: xgb() }, { id: 'core/xgboost-regressor', params: xgb({ objective: 'absoluteerror' }) }] } },
  { name: 'ensemble regressor stacking, ridge', id: 'core/ensemble-regressor', classes: 0, params: { method: 'stacking', folds: 2, purge: 0, members: [{ id: 'core/xgboost-regressor', params: xgb() }, { id: 'core/xgboost-regressor', params: xgb({ maxDepth: 2 }) }] } },
];

const maxAbsDiff = (a: Float32Array, b: Float32Array): number => {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};
const row = (X: Matrix, r: number): Matrix => ({ values: X.values.slice(r * X.cols, (r + 1) * X.cols), rows: 1, cols: X.cols });

describe('one-row scoring of every registered tree model (compiled trees vs ONNX Runtime)', () => {
  it('every registered model is either a tree model covered here or named as not one', () => {
    const ids = registry.list('model').map((definition) => definition.id);
    const covered = new Set(CASES.map((c) => c.id));
    for (const id of ids) expect(covered.has(id) || isNotTrees(id), `${id}: add it to CASES (tree model) or NOT_TREES`).toBe(true);
    for (const id of covered) expect(ids).toContain(id);
  });

  for (const [n, c] of CASES.entries()) {
    it(`${c.name}: predictSync within 1e-6 of predict, with NaN inputs; one row equals the batch; the paper/live feed uses it`, async () => {
      const data = randomData(100 + n, 6 + (n % 4) * 5, c.classes);
      const definition = registry.resolveWithParams('model', { id: c.id, params: c.params });
      const model: FittedModel = await definition.definition.fit(data, definition.params, context(n + 1));
      try {
        expect(model.predictSync, `${c.name} has no synchronous path`).toBeDefined();
        const onnx = await model.predict(data.test);
        const compiled = model.predictSync!(data.test);
        expect(maxAbsDiff(compiled, onnx), c.name).toBeLessThanOrEqual(1e-6);
        const width = compiled.length / data.test.rows;
        // one row at a time, and through the paper/live sessions' feed
        const feed = new ModelFeed(model);
        for (let r = 0; r < data.test.rows; r += 7) {
          const expected = Array.from(compiled.subarray(r * width, (r + 1) * width));
          expect(Array.from(model.predictSync!(row(data.test, r)))).toEqual(expected);
          expect(Array.from(await feed.next(row(data.test, r).values))).toEqual(expected);
        }
        // an XGBoost model: the allocation-free row path and both scorers of its trees
        if (c.id.startsWith('core/xgboost')) {
          const xgbModel = model as XgboostModel;
          const out = new Float32Array(width + 1);
          for (let r = 0; r < data.test.rows; r += 5) {
            xgbModel.predictRow(row(data.test, r).values, out, 1);
            expect(Array.from(out.subarray(1))).toEqual(Array.from(compiled.subarray(r * width, (r + 1) * width)));
          }
          const json = JSON.parse(new TextDecoder().decode(xgbModel.nativeJson));
          const flat = compileXgboostTrees(json, { form: 'flat' })!;
          const code = compileXgboostTrees(json, { form: 'code' })!;
          const complete = compileXgboostTrees(json, { form: 'complete' })!;
          expect([flat.form, code.form, complete.form]).toEqual(['flat', 'code', 'complete']);
          expect(compileXgboostTrees(json)!.form).toBe('complete');
          // the same sums bit for bit, rows with and without missing values (the complete form's two paths)
          expect(Array.from(flat.predict(data.test))).toEqual(Array.from(code.predict(data.test)));
          expect(Array.from(complete.predict(data.test))).toEqual(Array.from(code.predict(data.test)));
          const finite = { ...data.test, values: data.test.values.map((v, i) => (Number.isNaN(v) ? (i % 7) - 3 : v)) };
          expect(Array.from(complete.predict(finite))).toEqual(Array.from(flat.predict(finite)));
          expect(maxAbsDiff(complete.predict(finite), await model.predict(finite))).toBeLessThanOrEqual(1e-6);
          expect(maxAbsDiff(flat.predict(data.test), onnx)).toBeLessThanOrEqual(1e-6);
        }
      } finally {
        model.dispose();
      }
    }, 120_000);
  }
});

describe('compiled trees on hand-built models (the complete form and its limits)', () => {
  type HandTree = { left_children: number[]; right_children: number[]; split_indices: number[]; split_conditions: number[]; default_left: number[] };
  const modelJson = (trees: HandTree[], features: number) => ({
    learner: {
      learner_model_param: { base_score: '0.5', num_class: '0', num_feature: String(features) },
      objective: { name: 'reg:squarederror' },
      gradient_booster: { name: 'gbtree', model: { trees, tree_info: trees.map(() => 0) } },
    },
  });
  // a single leaf (depth 0), and x0 < 1 ? 10 : (x1 < 2 ? 20 : 30) with missing going right, then left
  const leafOnly: HandTree = { left_children: [-1], right_children: [-1], split_indices: [0], split_conditions: [0.25], default_left: [0] };
  const small: HandTree = {
    left_children: [1, -1, 3, -1, -1], right_children: [2, -1, 4, -1, -1], split_indices: [0, 0, 1, 0, 0],
    split_conditions: [1, 10, 2, 20, 30], default_left: [0, 0, 1, 0, 0],
  };
  // a chain of `depth` splits on x0 < k (k = 0..depth-1), leaf k on the left at each level, leaf 100 at the end
  const chain = (depth: number): HandTree => {
    const t: HandTree = { left_children: [], right_children: [], split_indices: [], split_conditions: [], default_left: [] };
    for (let k = 0; k < depth; k++) {
      const node = t.left_children.length;
      t.left_children.push(node + 1, -1);
      t.right_children.push(node + 2, -1);
      t.split_indices.push(0, 0);
      t.split_conditions.push(k, k);
      t.default_left.push(1, 0);
    }
    t.left_children.push(-1); t.right_children.push(-1); t.split_indices.push(0); t.split_conditions.push(100); t.default_left.push(0);
    return t;
  };
  const score = (json: object, form: 'complete' | 'code' | 'flat', rows: number[][]) =>
    Array.from(compileXgboostTrees(json, { form })!.predict({ values: Float32Array.from(rows.flat()), rows: rows.length, cols: rows[0].length }));

  it('pads short branches: every form gives the hand-worked sums, missing values take the default directions', () => {
    const json = modelJson([leafOnly, small], 2);
    const rows = [[0, 0], [1, 1.5], [1, 2], [NaN, 1], [5, NaN], [NaN, NaN]];
    // base 0.5 + 0.25 + the small tree's leaf
    const expected = [10, 20, 30, 20, 20, 20].map((v) => 0.5 + 0.25 + v);
    expect(compileXgboostTrees(json)!.form).toBe('complete');
    for (const form of ['complete', 'code', 'flat'] as const) expect(score(json, form, rows), form).toEqual(expected);
  });

  it('a tree deeper than 10 levels is not padded: the default form is generated code, and asking for complete says why', () => {
    const deep = modelJson([chain(12)], 1);
    expect(compileXgboostTrees(deep)!.form).toBe('code');
    expect(() => compileXgboostTrees(deep, { form: 'complete' })).toThrow(/depth ≤ 10 .*depth 12.*use form 'code' or 'flat'/);
    const rows = [[-1], [0], [5.5], [11], [12], [NaN]];
    expect(score(deep, 'code', rows)).toEqual([0.5, 1.5, 6.5, 100.5, 100.5, 0.5]);
    expect(score(deep, 'flat', rows)).toEqual(score(deep, 'code', rows));
    // depth 10 still fits
    expect(compileXgboostTrees(modelJson([chain(10)], 1))!.form).toBe('complete');
    expect(score(modelJson([chain(10)], 1), 'complete', rows)).toEqual(score(modelJson([chain(10)], 1), 'code', rows));
  });
});
