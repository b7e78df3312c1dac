import { ConfigError } from '../errors';
import { SeededRng } from '../util/rng';
import { toInternal, type Distribution } from './distributions';
import type { FrozenTrial, StudyDirection } from './frozen-trial';
import { intersectionSearchSpace } from './samplers/tpe';

export type ParamImportanceOptions = {
  /** Parameters to rate (default: those every COMPLETE trial has with the same distribution). */
  params?: readonly string[];
  /** What to explain (default the trial's value; needed for multi-objective studies, e.g. t => t.values![1]). */
  target?: (trial: FrozenTrial) => number;
  /** Trees in the forest (default 64, as Optuna's MeanDecreaseImpurityImportanceEvaluator). */
  nTrees?: number;
  /** Depth limit of each tree (default 64). */
  maxDepth?: number;
  /** Seed of the bootstrap samples (default 0): same trials and seed, same importances. */
  seed?: number;
};

type Node = { sum: number; count: number; sumSquares: number };

/**
 * Parameter importances by mean decrease in impurity (Optuna's MeanDecreaseImpurityImportanceEvaluator,
 * the same method as scikit-learn's RandomForestRegressor.feature_importances_): a random forest
 * (bootstrap samples, every feature tried at every split, variance as impurity) is fitted from the
 * parameters to the objective; a parameter's importance is the variance reduction of its splits,
 * weighted by the samples they split, normalised per tree and averaged over trees. Categorical
 * parameters are one-hot encoded and their columns summed; log ranges are used as they are (Optuna
 * does not log-transform here either). Importances sum to 1 and are sorted, most important first.
 *
 * Not fANOVA (Optuna's default evaluator): MDI is simpler and deterministic here, and ranks the
 * parameters alike in most studies, but it favours parameters with many distinct values.
 */
export function paramImportances(trials: readonly FrozenTrial[], directions: readonly StudyDirection[], options: ParamImportanceOptions = {}): Record<string, number> {
  if (directions.length > 1 && !options.target) throw new ConfigError('paramImportances: a multi-objective study needs options.target, e.g. (t) => t.values![0]');
  const target = options.target ?? ((t: FrozenTrial) => t.value!);
  const complete = trials.filter((t) => t.state === 'COMPLETE' && t.values !== undefined);
  const space = intersectionSearchSpace(complete);
  const names = options.params ? [...options.params] : Object.keys(space);
  for (const name of names) {
    if (!space[name]) throw new ConfigError(`paramImportances: parameter '${name}' is not in every complete trial with one distribution; rate one of: ${Object.keys(space).join(', ')}`);
  }
  if (names.length === 0) throw new ConfigError('paramImportances: the complete trials share no parameter; run more trials first');
  const rows = complete.filter((t) => Number.isFinite(target(t)));
  if (rows.length < 2) throw new ConfigError(`paramImportances: needs at least 2 complete trials with a finite target, got ${rows.length}`);

  // Encode: one column per numeric parameter, one per choice of a categorical one.
  const columns: Array<{ param: number; values: Float64Array }> = [];
  names.forEach((name, p) => {
    const distribution: Distribution = space[name];
    const internal = rows.map((t) => toInternal(distribution, t.params[name]));
    if (distribution.type === 'categorical') {
      distribution.choices.forEach((_, c) => columns.push({ param: p, values: Float64Array.from(internal, (v) => (v === c ? 1 : 0)) }));
    } else columns.push({ param: p, values: Float64Array.from(internal) });
  });
  const y = Float64Array.from(rows, target);
  const nTrees = options.nTrees ?? 64;
  const maxDepth = options.maxDepth ?? 64;
  const rng = new SeededRng(options.seed ?? 0);
  const total = new Float64Array(names.length);
  for (let tree = 0; tree < nTrees; tree++) {
    const sample = Array.from({ length: rows.length }, () => Math.floor(rng.uniform() * rows.length));
    const decrease = new Float64Array(columns.length);
    growTree(sample, columns, y, maxDepth, decrease);
    const sum = decrease.reduce((a, b) => a + b, 0);
    if (sum <= 0) continue; // a constant target in this bootstrap: the tree rates nothing (as scikit-learn)
    columns.forEach((column, c) => (total[column.param] += decrease[c] / sum));
  }
  const grand = total.reduce((a, b) => a + b, 0);
  const importances = names.map((name, p) => [name, grand > 0 ? total[p] / grand : 0] as const);
  return Object.fromEntries([...importances].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)));
}

/** Grow one CART regression tree on `indices`, adding each split's weighted variance reduction to `decrease`. */
function growTree(indices: number[], columns: Array<{ values: Float64Array }>, y: Float64Array, maxDepth: number, decrease: Float64Array): void {
  const stack: Array<{ indices: number[]; depth: number }> = [{ indices, depth: 0 }];
  while (stack.length > 0) {
    const { indices: node, depth } = stack.pop()!;
    if (node.length < 2 || depth >= maxDepth) continue;
    const parent = stats(node, y);
    const parentImpurity = parent.sumSquares - (parent.sum * parent.sum) / parent.count;
    if (parentImpurity <= 1e-12 * Math.max(1, parent.sumSquares)) continue;
    let best = { gain: 0, column: -1, threshold: 0 };
    columns.forEach((column, c) => {
      const order = [...node].sort((a, b) => column.values[a] - column.values[b]);
      let leftSum = 0;
      let leftSquares = 0;
      for (let i = 0; i < order.length - 1; i++) {
        const v = y[order[i]];
        leftSum += v;
        leftSquares += v * v;
        const here = column.values[order[i]];
        const next = column.values[order[i + 1]];
        if (here === next) continue;
        const nLeft = i + 1;
        const nRight = order.length - nLeft;
        const rightSum = parent.sum - leftSum;
        const rightSquares = parent.sumSquares - leftSquares;
        const impurity = leftSquares - (leftSum * leftSum) / nLeft + (rightSquares - (rightSum * rightSum) / nRight);
        const gain = parentImpurity - impurity;
        if (gain > best.gain + 1e-12) best = { gain, column: c, threshold: (here + next) / 2 };
      }
    });
    if (best.column < 0) continue;
    decrease[best.column] += best.gain;
    const values = columns[best.column].values;
    stack.push({ indices: node.filter((i) => values[i] <= best.threshold), depth: depth + 1 });
    stack.push({ indices: node.filter((i) => values[i] > best.threshold), depth: depth + 1 });
  }
}

function stats(indices: number[], y: Float64Array): Node {
  let sum = 0;
  let sumSquares = 0;
  for (const i of indices) {
    sum += y[i];
    sumSquares += y[i] * y[i];
  }
  return { sum, count: indices.length, sumSquares };
}
