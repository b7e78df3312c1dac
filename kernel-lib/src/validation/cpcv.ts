import { z } from 'zod';
import { ConfigError, NotEnoughDataError } from '../errors';
import { defineSplitter } from '../plugins/define';
import { contiguousBlocks } from './purged-kfold';
import { MIN_FOLD_ROWS, embargoRows, purgeAndEmbargo, rowCount, type BacktestPath, type Split, type SplitIndex, type ValidationFold } from './splitter';

export const cpcvParams = z
  .object({
    /** N: contiguous groups the usable rows are cut into. */
    groups: z.number().int().min(3).max(30).default(6),
    /** k: groups tested by each split (1 ≤ k < N). */
    testGroups: z.number().int().min(1).default(2),
    /** Rows after each test group left out of training ("1%" of the rows, bars, or a duration). */
    embargo: z.union([z.number(), z.string()]).default('1%'),
  })
  .strict();

export type CpcvParams = z.output<typeof cpcvParams>;

/** n choose k, exactly for the sizes used here. */
export function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let out = 1;
  for (let i = 1; i <= k; i++) out = (out * (n - k + i)) / i;
  return Math.round(out);
}

/** Every k-subset of 0..n−1 in lexicographic order. */
export function combinations(n: number, k: number): number[][] {
  const out: number[][] = [];
  const pick: number[] = [];
  const walk = (from: number): void => {
    if (pick.length === k) {
      out.push([...pick]);
      return;
    }
    for (let i = from; i <= n - (k - pick.length); i++) {
      pick.push(i);
      walk(i + 1);
      pick.pop();
    }
  };
  walk(0);
  return out;
}

/**
 * Combinatorial purged cross-validation (López de Prado, AFML ch. 12): the usable rows are cut into N
 * contiguous groups; each of the C(N, k) splits tests k groups with a model fitted on the others
 * (purged and embargoed around every test group). Each group is tested by C(N−1, k−1) splits, so the
 * predictions assemble into φ = k/N·C(N, k) complete backtest paths: path p takes, for every group,
 * the p-th split (in lexicographic order) that tested it. Every row appears exactly once per path.
 */
export function cpcvSplit(index: SplitIndex, params: CpcvParams): Split {
  const { groups: n, testGroups: k } = params;
  if (k >= n) throw new ConfigError(`validation.testGroups (${k}) must be below validation.groups (${n})`);
  const embargo = embargoRows(params.embargo, index, 'validation.embargo');
  const groups = contiguousBlocks(index.start, index.end, n);
  groups.forEach((g, i) => {
    if (g.end - g.start < MIN_FOLD_ROWS) throw new NotEnoughDataError(`CPCV group ${i} has ${g.end - g.start} rows (need ${MIN_FOLD_ROWS}); use fewer groups or more data`);
  });
  const folds: ValidationFold[] = combinations(n, k).map((testGroups, s) => {
    const test = testGroups.map((g) => groups[g]);
    const others = groups.filter((_, g) => !testGroups.includes(g));
    const cleaned = purgeAndEmbargo(others, test, index, embargo);
    if (rowCount(cleaned.train) < MIN_FOLD_ROWS) {
      throw new NotEnoughDataError(`CPCV split ${s} keeps ${rowCount(cleaned.train)} training rows after purge and embargo (need ${MIN_FOLD_ROWS}); use fewer test groups or more data`);
    }
    return { index: s, train: cleaned.train, test, testGroups, purged: cleaned.purged, embargoed: cleaned.embargoed };
  });
  const pathCount = (k * binomial(n, k)) / n;
  const testedBy = groups.map((_, g) => folds.filter((f) => f.testGroups!.includes(g)).map((f) => f.index));
  const paths: BacktestPath[] = [];
  for (let p = 0; p < pathCount; p++) {
    paths.push({ pieces: groups.map((g, i) => ({ fold: testedBy[i][p], start: g.start, end: g.end })) });
  }
  return { folds, paths, groups };
}

export const cpcvSplitter = defineSplitter({
  id: 'core/cpcv',
  version: '1.0.0',
  doc: 'Combinatorial purged cross-validation: C(N, k) purged splits assembled into k/N·C(N, k) backtest paths.',
  params: cpcvParams,
  foldName: 'split',
  severalPaths: true,
  split: cpcvSplit,
});
