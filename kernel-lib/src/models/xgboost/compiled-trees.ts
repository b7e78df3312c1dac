import { ModelError } from '../../errors';
import type { Matrix } from '../model';

/**
 * An XGBoost tree ensemble compiled to JavaScript: each tree becomes nested comparisons in generated
 * source, so one row is scored with no call into a native library (ONNX Runtime spends 20–150 µs per
 * call on one row; this takes a few µs). The arithmetic is the ONNX export's: features and thresholds
 * as float32, `x < threshold` goes left, a missing value (NaN) follows the node's default direction,
 * leaf weights (float32) summed per class onto the base score, softmax for classifiers. The sums run in
 * float64 where ONNX Runtime uses float32, so the two agree to ~1e-7, not bit for bit (tested ≤ 1e-6).
 */
export type CompiledTrees = {
  readonly features: number;
  /** Values per row: the classes (classifier) or 1 (regressor). */
  readonly outputs: number;
  /** rows × outputs, row-major, as `predict` of the ONNX model. */
  predict(X: Matrix): Float32Array;
};

type Tree = { left_children: number[]; right_children: number[]; split_indices: number[]; split_conditions: number[]; default_left: number[] };
type ModelJson = {
  learner: {
    learner_model_param: { base_score: string; num_class: string; num_feature: string };
    objective: { name: string };
    gradient_booster: { name: string; model: { trees: Tree[]; tree_info: number[] } };
  };
};

/** Trees per generated function: small functions stay optimizable by V8 (huge ones never are). */
const NODES_PER_FUNCTION = 400;
/** Larger ensembles are not compiled (the source would be too large to be worth it). */
const MAX_NODES = 2_000_000;

/** A float32 value as a JS literal that reads back exactly (the shortest round-trip of the double). */
const f32 = (value: number): string => {
  const v = Math.fround(value);
  return Object.is(v, -0) ? '-0' : String(v);
};

/**
 * Compile a model's JSON (as saved by libxgboost) or return undefined when it cannot be (not gbtree, an
 * objective without an ONNX export here, or too many nodes): callers then keep ONNX Runtime.
 */
export function compileXgboostTrees(modelJson: object): CompiledTrees | undefined {
  const learner = (modelJson as ModelJson).learner;
  if (learner?.gradient_booster?.name !== 'gbtree') return undefined;
  const objective = learner.objective.name;
  const classification = objective === 'multi:softprob' || objective === 'multi:softmax';
  const regression = objective.startsWith('reg:squarederror') || objective === 'reg:pseudohubererror' || objective === 'reg:absoluteerror';
  if (!classification && !regression) return undefined;
  const features = Number(learner.learner_model_param.num_feature);
  const outputs = classification ? Number(learner.learner_model_param.num_class) : 1;
  const base = Math.fround(Number(learner.learner_model_param.base_score));
  const { trees, tree_info: treeInfo } = learner.gradient_booster.model;
  const totalNodes = trees.reduce((sum, tree) => sum + tree.left_children.length, 0);
  if (totalNodes > MAX_NODES) return undefined;

  // one expression per tree: the leaf weight the row reaches
  const expression = (tree: Tree, node: number): string => {
    if (tree.left_children[node] === -1) return f32(tree.split_conditions[node]);
    const feature = tree.split_indices[node];
    if (!(feature >= 0 && feature < features)) throw new ModelError(`tree node splits on feature ${feature} but the model has ${features} features; the model JSON is damaged`);
    const test = tree.default_left[node] ? `(f[${feature}] < ${f32(tree.split_conditions[node])} || f[${feature}] !== f[${feature}])` : `f[${feature}] < ${f32(tree.split_conditions[node])}`;
    return `(${test} ? ${expression(tree, tree.left_children[node])} : ${expression(tree, tree.right_children[node])})`;
  };
  const groups: string[] = [];
  let body: string[] = [];
  let nodes = 0;
  trees.forEach((tree, t) => {
    body.push(`s[${classification ? treeInfo[t] : 0}] += ${expression(tree, 0)};`);
    nodes += tree.left_children.length;
    if (nodes >= NODES_PER_FUNCTION) {
      groups.push(body.join('\n'));
      body = [];
      nodes = 0;
    }
  });
  if (body.length) groups.push(body.join('\n'));
  // eslint-disable-next-line no-new-func -- the point: trees as code V8 can optimize
  const scorers = groups.map((source) => new Function('f', 's', `'use strict';\n${source}`) as (f: Float64Array, s: Float64Array) => void);

  const row = new Float64Array(features);
  const sums = new Float64Array(outputs);
  return {
    features,
    outputs,
    predict(X: Matrix): Float32Array {
      if (X.cols !== features) throw new ModelError(`the model expects ${features} features, got ${X.cols}`);
      const out = new Float32Array(X.rows * outputs);
      const values = X.values;
      for (let r = 0; r < X.rows; r++) {
        // the ONNX input is float32: compare what ONNX Runtime compares
        for (let k = 0; k < features; k++) row[k] = Math.fround(values[r * features + k]);
        sums.fill(base);
        for (let g = 0; g < scorers.length; g++) scorers[g](row, sums);
        if (classification) {
          let max = -Infinity;
          for (let c = 0; c < outputs; c++) max = Math.max(max, sums[c]);
          let total = 0;
          for (let c = 0; c < outputs; c++) total += sums[c] = Math.exp(sums[c] - max);
          for (let c = 0; c < outputs; c++) out[r * outputs + c] = sums[c] / total;
        } else {
          out[r] = sums[0];
        }
      }
      return out;
    },
  };
}
