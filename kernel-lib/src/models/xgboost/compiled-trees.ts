import { ModelError } from '../../errors';
import type { Matrix } from '../model';

/**
 * An XGBoost tree ensemble scored in JavaScript, so one row is scored with no call into a native
 * library (ONNX Runtime spends 20–150 µs per call on one row; this takes about a µs). Three forms, with
 * the same arithmetic and the same sums, bit for bit:
 * - `complete`: every tree padded to a complete binary tree of the ensemble's depth, walked without
 *   branches (`i = 2i + 1 + (x >= threshold)`), eight trees at a time so their memory loads overlap. A
 *   row's cost no longer depends on mispredicted branches: the default when the padded trees fit
 *   (depth ≤ 10, ≤ 2^20 slots). A row with a missing value takes the flat walker (default directions);
 * - `code`: each tree becomes nested comparisons in generated source (V8 optimizes them to branches);
 * - `flat`: the nodes in flat typed arrays, walked by one small loop (no code generation).
 * The arithmetic is the ONNX export's: features and thresholds as float32, `x < threshold` goes left, a
 * missing value (NaN) follows the node's default direction, leaf weights (float32) summed per class onto
 * the base score, softmax for classifiers. The sums run in float64 where ONNX Runtime uses float32, so
 * the two agree to ~1e-7, not bit for bit (tested ≤ 1e-6).
 */
export type CompiledTrees = {
  readonly features: number;
  /** Values per row: the classes (classifier) or 1 (regressor). */
  readonly outputs: number;
  /** How the trees are scored. */
  readonly form: 'complete' | 'code' | 'flat';
  /** rows × outputs, row-major, as `predict` of the ONNX model. */
  predict(X: Matrix): Float32Array;
  /**
   * One row (its `features` values from `offset`) into `out` from `outOffset`: no allocation, so a
   * caller that reuses `out` scores rows with no garbage collection at all.
   */
  predictRow(row: ArrayLike<number>, out: Float32Array, offset?: number, outOffset?: number): void;
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
/**
 * Larger ensembles are walked (`flat`) rather than compiled to source: measured on one row (bench/serve.mjs
 * forms, 12 features), generated code wins at p50 up to ~30k nodes (0.7 vs 1.8 µs at 2k nodes; 22 vs 32 µs
 * at 26k), the walker wins at p99 from ~25k nodes and at both from ~77k (50 vs 59 µs p50, 98 vs 143 µs p99).
 */
const MAX_COMPILED_NODES = 50_000;
/** The complete form pads each tree to 2^depth leaves: used up to this depth and this many slots. */
const MAX_COMPLETE_DEPTH = 10;
const MAX_COMPLETE_SLOTS = 1 << 20;

/** A float32 value as a JS literal that reads back exactly (the shortest round-trip of the double). */
const f32 = (value: number): string => {
  const v = Math.fround(value);
  return Object.is(v, -0) ? '-0' : String(v);
};

/** Scores one float32-rounded row into per-output sums (which start at the base score). */
type Scorer = (f: Float64Array, s: Float64Array) => void;

/** Generated source, one function per ~NODES_PER_FUNCTION nodes. */
function codeScorer(trees: Tree[], treeInfo: number[], classification: boolean): Scorer {
  // one expression per tree: the leaf weight the row reaches
  const expression = (tree: Tree, node: number): string => {
    if (tree.left_children[node] === -1) return f32(tree.split_conditions[node]);
    const feature = tree.split_indices[node];
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
  const scorers = groups.map((source) => new Function('f', 's', `'use strict';\n${source}`) as Scorer);
  if (scorers.length === 1) return scorers[0];
  return (f, s) => {
    for (let g = 0; g < scorers.length; g++) scorers[g](f, s);
  };
}

/**
 * Flat arrays: per node its feature (-1 for a leaf), float32 threshold (the leaf weight for a leaf), and
 * three children: x < threshold, x >= threshold, and missing (NaN fails both comparisons).
 */
function flatScorer(trees: Tree[], treeInfo: number[], classification: boolean): Scorer {
  const total = trees.reduce((sum, tree) => sum + tree.left_children.length, 0);
  const feature = new Int32Array(total);
  const value = new Float64Array(total);
  const less = new Int32Array(total);
  const greater = new Int32Array(total);
  const missing = new Int32Array(total);
  const roots = new Int32Array(trees.length);
  const targets = new Int32Array(trees.length);
  let at = 0;
  trees.forEach((tree, t) => {
    roots[t] = at;
    targets[t] = classification ? treeInfo[t] : 0;
    for (let node = 0; node < tree.left_children.length; node++) {
      const i = at + node;
      value[i] = Math.fround(tree.split_conditions[node]);
      if (tree.left_children[node] === -1) {
        feature[i] = -1;
        continue;
      }
      feature[i] = tree.split_indices[node];
      less[i] = at + tree.left_children[node];
      greater[i] = at + tree.right_children[node];
      missing[i] = tree.default_left[node] ? less[i] : greater[i];
    }
    at += tree.left_children.length;
  });
  const count = trees.length;
  return (f, s) => {
    for (let t = 0; t < count; t++) {
      let n = roots[t];
      let k = feature[n];
      while (k >= 0) {
        const x = f[k];
        const threshold = value[n];
        n = x < threshold ? less[n] : x >= threshold ? greater[n] : missing[n];
        k = feature[n];
      }
      s[targets[t]] += value[n];
    }
  };
}

const depthOf = (tree: Tree, node = 0): number =>
  tree.left_children[node] === -1 ? 0 : 1 + Math.max(depthOf(tree, tree.left_children[node]), depthOf(tree, tree.right_children[node]));

/**
 * Complete trees of depth D: per tree 2^D − 1 inner slots (feature, threshold) in heap order and 2^D leaf
 * weights. A leaf above depth D is copied into every leaf slot below it, so the padding's own splits (feature
 * 0, threshold 0) never matter. Only for rows without missing values: NaN compares false both ways, and
 * each node has its own default direction, so such rows go to `missing` (the flat walker).
 */
function completeScorer(trees: Tree[], treeInfo: number[], classification: boolean, depth: number, missing: Scorer): Scorer {
  const count = trees.length;
  const inner = (1 << depth) - 1;
  const leaves = 1 << depth;
  const feature = new Int32Array(count * inner);
  const threshold = new Float64Array(count * inner);
  const weight = new Float64Array(count * leaves);
  const targets = new Int32Array(count);
  trees.forEach((tree, t) => {
    targets[t] = classification ? treeInfo[t] : 0;
    const fill = (node: number, slot: number, level: number): void => {
      if (level === depth) {
        weight[t * leaves + slot - inner] = Math.fround(tree.split_conditions[node]);
        return;
      }
      const leaf = tree.left_children[node] === -1;
      if (!leaf) {
        feature[t * inner + slot] = tree.split_indices[node];
        threshold[t * inner + slot] = Math.fround(tree.split_conditions[node]);
      }
      fill(leaf ? node : tree.left_children[node], 2 * slot + 1, level + 1);
      fill(leaf ? node : tree.right_children[node], 2 * slot + 2, level + 1);
    };
    fill(0, 0, 0);
  });
  const one = (f: Float64Array, s: Float64Array, t: number): void => {
    const o = t * inner;
    let i = 0;
    for (let level = 0; level < depth; level++) i = 2 * i + 1 + (((f[feature[o + i]] >= threshold[o + i]) as unknown as number) | 0);
    s[targets[t]] += weight[t * leaves + i - inner];
  };
  return (f, s) => {
    for (let k = 0; k < f.length; k++) {
      if (f[k] !== f[k]) return missing(f, s);
    }
    let t = 0;
    // eight walks interleaved: independent load chains the CPU overlaps; sums added in tree order
    for (; t + 8 <= count; t += 8) {
      const o0 = t * inner, o1 = o0 + inner, o2 = o1 + inner, o3 = o2 + inner, o4 = o3 + inner, o5 = o4 + inner, o6 = o5 + inner, o7 = o6 + inner;
      let i0 = 0, i1 = 0, i2 = 0, i3 = 0, i4 = 0, i5 = 0, i6 = 0, i7 = 0;
      for (let level = 0; level < depth; level++) {
        i0 = 2 * i0 + 1 + (((f[feature[o0 + i0]] >= threshold[o0 + i0]) as unknown as number) | 0);
        i1 = 2 * i1 + 1 + (((f[feature[o1 + i1]] >= threshold[o1 + i1]) as unknown as number) | 0);
        i2 = 2 * i2 + 1 + (((f[feature[o2 + i2]] >= threshold[o2 + i2]) as unknown as number) | 0);
        i3 = 2 * i3 + 1 + (((f[feature[o3 + i3]] >= threshold[o3 + i3]) as unknown as number) | 0);
        i4 = 2 * i4 + 1 + (((f[feature[o4 + i4]] >= threshold[o4 + i4]) as unknown as number) | 0);
        i5 = 2 * i5 + 1 + (((f[feature[o5 + i5]] >= threshold[o5 + i5]) as unknown as number) | 0);
        i6 = 2 * i6 + 1 + (((f[feature[o6 + i6]] >= threshold[o6 + i6]) as unknown as number) | 0);
        i7 = 2 * i7 + 1 + (((f[feature[o7 + i7]] >= threshold[o7 + i7]) as unknown as number) | 0);
      }
      const l = t * leaves - inner;
      s[targets[t]] += weight[l + i0];
      s[targets[t + 1]] += weight[l + leaves + i1];
      s[targets[t + 2]] += weight[l + 2 * leaves + i2];
      s[targets[t + 3]] += weight[l + 3 * leaves + i3];
      s[targets[t + 4]] += weight[l + 4 * leaves + i4];
      s[targets[t + 5]] += weight[l + 5 * leaves + i5];
      s[targets[t + 6]] += weight[l + 6 * leaves + i6];
      s[targets[t + 7]] += weight[l + 7 * leaves + i7];
    }
    for (; t < count; t++) one(f, s, t);
  };
}

/**
 * Compile a model's JSON (as saved by libxgboost) or return undefined when it cannot be (not gbtree, or
 * an objective without an ONNX export here): callers then keep ONNX Runtime. `form` picks the scorer
 * (default: `complete` when the padded trees fit, else generated code up to MAX_COMPILED_NODES nodes, else
 * the flat walker).
 */
export function compileXgboostTrees(modelJson: object, options: { form?: 'complete' | 'code' | 'flat' } = {}): CompiledTrees | undefined {
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
  let totalNodes = 0;
  for (const tree of trees) {
    totalNodes += tree.left_children.length;
    for (let node = 0; node < tree.left_children.length; node++) {
      if (tree.left_children[node] === -1) continue;
      const feature = tree.split_indices[node];
      if (!(Number.isInteger(feature) && feature >= 0 && feature < features)) {
        throw new ModelError(`tree node splits on feature ${feature} but the model has ${features} features; the model JSON is damaged`);
      }
    }
  }
  const depth = trees.reduce((deepest, tree) => Math.max(deepest, depthOf(tree)), 0);
  const completeFits = depth <= MAX_COMPLETE_DEPTH && trees.length * 2 ** depth <= MAX_COMPLETE_SLOTS;
  const form = options.form ?? (completeFits ? 'complete' : totalNodes > MAX_COMPILED_NODES ? 'flat' : 'code');
  if (form === 'complete' && !completeFits) {
    throw new ModelError(`the complete-tree form needs depth ≤ ${MAX_COMPLETE_DEPTH} and ≤ ${MAX_COMPLETE_SLOTS} slots (this model: depth ${depth}, ${trees.length} trees); use form 'code' or 'flat'`);
  }
  const score =
    form === 'code' ? codeScorer(trees, treeInfo, classification)
    : form === 'flat' ? flatScorer(trees, treeInfo, classification)
    : completeScorer(trees, treeInfo, classification, depth, flatScorer(trees, treeInfo, classification));

  const row = new Float64Array(features);
  const sums = new Float64Array(outputs);
  const predictRow = (values: ArrayLike<number>, out: Float32Array, offset = 0, outOffset = 0): void => {
    // the ONNX input is float32: compare what ONNX Runtime compares
    for (let k = 0; k < features; k++) row[k] = Math.fround(values[offset + k]);
    sums.fill(base);
    score(row, sums);
    if (classification) {
      let max = -Infinity;
      for (let c = 0; c < outputs; c++) max = Math.max(max, sums[c]);
      let total = 0;
      for (let c = 0; c < outputs; c++) total += sums[c] = Math.exp(sums[c] - max);
      for (let c = 0; c < outputs; c++) out[outOffset + c] = sums[c] / total;
    } else {
      out[outOffset] = sums[0];
    }
  };
  return {
    features,
    outputs,
    form,
    predictRow,
    predict(X: Matrix): Float32Array {
      if (X.cols !== features) throw new ModelError(`the model expects ${features} features, got ${X.cols}`);
      const out = new Float32Array(X.rows * outputs);
      for (let r = 0; r < X.rows; r++) predictRow(X.values, out, r * features, r * outputs);
      return out;
    },
  };
}
