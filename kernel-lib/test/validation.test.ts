import { describe, expect, it } from 'vitest';
import { walkForwardSplit, walkForwardParams } from '../src/validation/walk-forward';
import { purgedKFoldSplit, purgedKFoldParams } from '../src/validation/purged-kfold';
import { binomial, cpcvSplit, cpcvParams } from '../src/validation/cpcv';
import { addLength, embargoRows, purgeAndEmbargo, rowCount, type RowRange, type SplitIndex } from '../src/validation/splitter';
import { deflatedSharpe, expectedMaxSharpe, normalCdf, normalQuantile, pathProbabilityOfBacktestOverfitting, probabilisticSharpe, probabilityOfBacktestOverfitting } from '../src/validation/overfitting';
import { SeededRng } from '../src/util/rng';
import { defineSplitter, definePlugin } from '../src/plugins/define';
import { createRegistry } from '../src/plugins/core-plugin';
import { resolveRunPlan } from '../src/runner/run-plan';
import { parseSpec } from '../src/spec/spec';
import { z } from 'zod';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** An index of `rows` bars `barMs` apart from `startIso`, usable from `start`. */
function barIndex(rows: number, barMs: number, options: { start?: number; horizon?: number; startIso?: string; eventEnd?: Float64Array } = {}): SplitIndex {
  const t0 = Date.parse(options.startIso ?? '2021-01-01T00:00:00Z');
  return {
    time: Float64Array.from({ length: rows }, (_, i) => t0 + i * barMs),
    start: options.start ?? 0,
    end: rows,
    horizon: options.horizon ?? 0,
    eventEnd: options.eventEnd,
    barMs,
  };
}

const iso = (index: SplitIndex, row: number) => new Date(index.time[row]).toISOString();

describe('walk-forward windows (worked out by hand)', () => {
  it('rolling in bars: windows move by the step, training labels reaching the test block are purged', () => {
    const index = barIndex(220, HOUR, { start: 20, horizon: 2 });
    const split = walkForwardSplit(index, walkForwardParams.parse({ train: 80, test: 40 }));
    expect(split.folds.map((f) => [f.train, f.test])).toEqual([
      [[{ start: 20, end: 98 }], [{ start: 100, end: 140 }]],
      [[{ start: 60, end: 138 }], [{ start: 140, end: 180 }]],
      [[{ start: 100, end: 178 }], [{ start: 180, end: 220 }]],
    ]);
    expect(split.folds.every((f) => f.purged === 2 && f.embargoed === 0)).toBe(true);
    // one path: the test blocks tile rows 100..220
    expect(split.paths).toEqual([{ pieces: [{ fold: 0, start: 100, end: 140 }, { fold: 1, start: 140, end: 180 }, { fold: 2, start: 180, end: 220 }] }]);
  });

  it('expanding: training always starts at the first usable row', () => {
    const index = barIndex(220, HOUR, { start: 20, horizon: 0 });
    const split = walkForwardSplit(index, walkForwardParams.parse({ train: 80, test: 40, mode: 'expanding' }));
    expect(split.folds.map((f) => f.train)).toEqual([[{ start: 20, end: 100 }], [{ start: 20, end: 140 }], [{ start: 20, end: 180 }]]);
  });

  it('a step shorter than the test block overlaps the blocks; the account trades each bar with the newest model', () => {
    const index = barIndex(120, HOUR);
    const split = walkForwardSplit(index, walkForwardParams.parse({ train: 40, test: 40, step: 30 }));
    // windows test [40,80) and [70,110); the 20-row tail [100,120) is too short for a third, so window 1 trades it
    expect(split.folds.map((f) => f.test[0])).toEqual([{ start: 40, end: 80 }, { start: 70, end: 120 }]);
    expect(split.paths[0].pieces).toEqual([{ fold: 0, start: 40, end: 70 }, { fold: 1, start: 70, end: 120 }]);
  });

  it('a short tail joins the last window, so the account reaches the last bar', () => {
    const index = barIndex(115, HOUR);
    const split = walkForwardSplit(index, walkForwardParams.parse({ train: 40, test: 30 }));
    // windows test [40,70), [70,100); the 15-row tail [100,115) is traded by window 1
    expect(split.folds.map((f) => f.test[0])).toEqual([{ start: 40, end: 70 }, { start: 70, end: 115 }]);
  });

  it('durations across month ends: Jan 31 + 1mo = Feb 28, + 2mo = Mar 31 (counted from the first bar, never accumulated)', () => {
    expect(new Date(addLength(Date.parse('2021-01-31T00:00:00Z'), { kind: 'duration', amount: 1, unit: 'mo' })).toISOString()).toBe('2021-02-28T00:00:00.000Z');
    expect(new Date(addLength(Date.parse('2024-01-31T12:00:00Z'), { kind: 'duration', amount: 1, unit: 'mo' })).toISOString()).toBe('2024-02-29T12:00:00.000Z');
    expect(new Date(addLength(Date.parse('2021-01-31T00:00:00Z'), { kind: 'duration', amount: 2, unit: 'mo' })).toISOString()).toBe('2021-03-31T00:00:00.000Z');
    expect(new Date(addLength(Date.parse('2021-11-30T00:00:00Z'), { kind: 'duration', amount: 3, unit: 'mo' })).toISOString()).toBe('2022-02-28T00:00:00.000Z');
    const index = barIndex(200, DAY, { startIso: '2021-01-31T00:00:00Z' });
    const split = walkForwardSplit(index, walkForwardParams.parse({ train: '2mo', test: '1mo' }));
    const windows = split.folds.map((f) => [iso(index, f.train[0].start), iso(index, f.test[0].start), iso(index, f.test[0].end - 1)]);
    expect(windows.slice(0, 3)).toEqual([
      ['2021-01-31T00:00:00.000Z', '2021-03-31T00:00:00.000Z', '2021-04-29T00:00:00.000Z'],
      ['2021-02-28T00:00:00.000Z', '2021-04-30T00:00:00.000Z', '2021-05-30T00:00:00.000Z'],
      ['2021-03-31T00:00:00.000Z', '2021-05-31T00:00:00.000Z', '2021-06-29T00:00:00.000Z'],
    ]);
  });

  it('day durations on hourly bars, and a gap in the data: boundaries stay on the clock', () => {
    const full = barIndex(24 * 40, HOUR);
    // drop day 12 (a 24-hour gap): a "10d" window still ends at the same clock time
    const time = Float64Array.from([...full.time].filter((t) => t < full.time[0] + 12 * DAY || t >= full.time[0] + 13 * DAY));
    const index: SplitIndex = { ...full, time, end: time.length };
    const split = walkForwardSplit(index, walkForwardParams.parse({ train: '10d', test: '5d' }));
    const starts = split.folds.map((f) => iso(index, f.test[0].start));
    expect(starts.slice(0, 3)).toEqual(['2021-01-11T00:00:00.000Z', '2021-01-16T00:00:00.000Z', '2021-01-21T00:00:00.000Z']);
    // the window over the gap has 24 fewer training rows
    expect(rowCount(split.folds[0].train)).toBe(240);
    expect(rowCount(split.folds[1].train)).toBe(240 - 24);
  });

  it('refuses a step longer than the test block and windows longer than the data, with the fix', () => {
    const index = barIndex(100, HOUR);
    expect(() => walkForwardSplit(index, walkForwardParams.parse({ train: 40, test: 10, step: 20 }))).toThrow(/step ≤ test/);
    expect(() => walkForwardSplit(index, walkForwardParams.parse({ train: 90, test: 30 }))).toThrow(/shorter windows or more data/);
    expect(() => walkForwardSplit(index, walkForwardParams.parse({ train: '10x', test: 30 }))).toThrow(/is not a length/);
  });
});

describe('purge and embargo', () => {
  it('purge property: with random label spans, no training label overlaps a test block, and each block has its embargo', () => {
    const rng = new SeededRng(7);
    for (let trial = 0; trial < 40; trial++) {
      const rows = 300 + Math.floor(rng.uniform() * 300);
      const time = Float64Array.from({ length: rows }, (_, i) => i * HOUR);
      // each label ends 0..20 bars later (some unknown at the end)
      const eventEnd = Float64Array.from({ length: rows }, (_, i) => {
        const end = i + Math.floor(rng.uniform() * 21);
        return end < rows ? time[end] : NaN;
      });
      const index: SplitIndex = { time, start: 0, end: rows, horizon: 20, eventEnd, barMs: HOUR };
      const folds = 3 + Math.floor(rng.uniform() * 5);
      const embargo = Math.floor(rng.uniform() * 10);
      const kind = (['cpcv', 'kfold', 'walk-forward'] as const)[trial % 3];
      const split =
        kind === 'kfold' ? purgedKFoldSplit(index, purgedKFoldParams.parse({ folds, embargo }))
        : kind === 'cpcv' ? cpcvSplit(index, cpcvParams.parse({ groups: folds + 1, testGroups: 2, embargo }))
        : walkForwardSplit(index, walkForwardParams.parse({ train: 80 + 20 * folds, test: 30 + 5 * folds, mode: trial % 2 ? 'rolling' : 'expanding', embargo }));
      const violations: string[] = [];
      for (const fold of split.folds) {
        for (const train of fold.train) {
          for (let row = train.start; row < train.end; row++) {
            for (const block of fold.test) {
              // the label's span [row, eventEnd] never touches a test block
              const labelEnd = eventEnd[row];
              if (row < block.end && !(labelEnd < time[block.start])) violations.push(`row ${row} (label to ${labelEnd / HOUR}) overlaps test [${block.start}, ${block.end})`);
              // the embargo after each block is kept out of training
              if (row >= block.end && row < block.end + embargo) violations.push(`row ${row} is in the embargo after [${block.start}, ${block.end})`);
            }
          }
        }
        // and nothing more than needed was dropped: every row outside the test blocks is trained on, purged or embargoed
        // (walk-forward trains on the window before its block only: its training rows and purged rows fill that window)
        if (kind !== 'walk-forward') expect(rowCount(fold.train) + rowCount(fold.test) + fold.purged + fold.embargoed).toBe(rows);
        else expect(rowCount(fold.train) + fold.purged).toBe(fold.test[0].start - fold.train[0].start);
        // rows purged are exactly those whose label reaches a test block (none kept, none dropped needlessly)
        const from = kind === 'walk-forward' ? fold.train[0].start : 0;
        const to = kind === 'walk-forward' ? fold.test[0].start : rows;
        let reaching = 0;
        for (let row = from; row < to; row++) {
          const inTest = fold.test.some((b) => row >= b.start && row < b.end);
          const embargoed = fold.test.some((b) => row >= b.end && row < b.end + embargo);
          if (!inTest && !embargoed && fold.test.some((b) => row < b.start && !(eventEnd[row] < time[b.start]))) reaching++;
        }
        expect(fold.purged, `${kind} fold ${fold.index}: purged rows`).toBe(reaching);
      }
      if (kind === 'walk-forward') expect(split.folds.length).toBeGreaterThanOrEqual(2);
      expect(violations, `trial ${trial} (${kind})`).toEqual([]);
    }
  });

  it('without event ends, the last `horizon` rows before a block are purged (the label looks that far ahead)', () => {
    const index = barIndex(100, HOUR, { horizon: 3 });
    const out = purgeAndEmbargo([{ start: 0, end: 40 }, { start: 60, end: 100 }], [{ start: 40, end: 60 }], index, 5);
    expect(out).toEqual({ train: [{ start: 0, end: 37 }, { start: 65, end: 100 }], purged: 3, embargoed: 5 });
  });

  it('embargo as a share, bars or a duration', () => {
    const index = barIndex(1000, HOUR);
    expect(embargoRows('1%', index, 'e')).toBe(10);
    expect(embargoRows(7, index, 'e')).toBe(7);
    expect(embargoRows('2d', index, 'e')).toBe(48);
    expect(embargoRows(undefined, index, 'e')).toBe(0);
  });
});

describe('purged k-fold and CPCV', () => {
  it('k-fold: every row is tested once, by contiguous time-ordered folds', () => {
    const index = barIndex(500, HOUR, { start: 20, horizon: 4 });
    const split = purgedKFoldSplit(index, purgedKFoldParams.parse({ folds: 5, embargo: 6 }));
    expect(split.folds.map((f) => f.test[0])).toEqual([
      { start: 20, end: 116 },
      { start: 116, end: 212 },
      { start: 212, end: 308 },
      { start: 308, end: 404 },
      { start: 404, end: 500 },
    ]);
    // fold 2 tests [212, 308): folds 0 and 1 train up to 4 rows before it, the rest from 6 rows after it
    expect(split.folds[2].train).toEqual([{ start: 20, end: 208 }, { start: 308 + 6, end: 500 }]);
    expect(split.folds[2].purged).toBe(4);
    expect(split.folds[2].embargoed).toBe(6);
  });

  it('CPCV N=4 k=2 worked out by hand: the splits in lexicographic order, their purged and embargoed rows, the three paths', () => {
    // 160 rows in 4 groups of 40; labels look 2 bars ahead; embargo 3 rows
    const index = barIndex(160, HOUR, { horizon: 2 });
    const split = cpcvSplit(index, cpcvParams.parse({ groups: 4, testGroups: 2, embargo: 3 }));
    expect(split.folds.map((f) => f.testGroups)).toEqual([[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]);
    // {0,1}: train on groups 2 and 3 after the embargo behind group 1
    expect(split.folds[0]).toMatchObject({ train: [{ start: 83, end: 160 }], purged: 0, embargoed: 3 });
    // {0,2}: group 1 after group 0's embargo, purged 2 rows before group 2; group 3 after group 2's embargo
    expect(split.folds[1]).toMatchObject({ train: [{ start: 43, end: 78 }, { start: 123, end: 160 }], purged: 2, embargoed: 6 });
    // {1,3}: group 0 purged before group 1; group 2 after group 1's embargo, purged before group 3
    expect(split.folds[4]).toMatchObject({ train: [{ start: 0, end: 38 }, { start: 83, end: 118 }], purged: 4, embargoed: 3 });
    // {2,3}: groups 0 and 1, purged before group 2; nothing after group 3 to embargo
    expect(split.folds[5]).toMatchObject({ train: [{ start: 0, end: 78 }], purged: 2, embargoed: 0 });
    // path p takes, for each group, the p-th split (in order) that tested it
    expect(split.paths.map((p) => p.pieces.map((piece) => piece.fold))).toEqual([
      [0, 0, 1, 2],
      [1, 3, 3, 4],
      [2, 4, 5, 5],
    ]);
    expect(split.paths[1].pieces.map((piece) => [piece.start, piece.end])).toEqual([[0, 40], [40, 80], [80, 120], [120, 160]]);
  });

  it.each([
    [6, 2],
    [8, 3],
    [10, 2],
    [5, 1],
  ])('CPCV N=%i k=%i: C(N,k) splits, k/N·C(N,k) paths, every row exactly once per path', (n, k) => {
    const index = barIndex(n * 60, HOUR, { horizon: 2 });
    const split = cpcvSplit(index, cpcvParams.parse({ groups: n, testGroups: k, embargo: 3 }));
    expect(split.folds.length).toBe(binomial(n, k));
    expect(split.paths.length).toBe((k * binomial(n, k)) / n);
    for (const path of split.paths) {
      const seen = new Uint8Array(index.end);
      for (const piece of path.pieces) {
        // the piece's fold tested those rows
        const fold = split.folds[piece.fold];
        expect(fold.test.some((t: RowRange) => t.start <= piece.start && piece.end <= t.end)).toBe(true);
        for (let row = piece.start; row < piece.end; row++) seen[row]++;
      }
      expect([...seen].every((count) => count === 1)).toBe(true);
    }
    // each split is used by exactly k paths (once per tested group), so no prediction is wasted
    const uses = new Map<number, number>();
    for (const path of split.paths) for (const piece of path.pieces) uses.set(piece.fold, (uses.get(piece.fold) ?? 0) + 1);
    expect([...uses.values()].every((u) => u === k)).toBe(true);
    expect(binomial(6, 2)).toBe(15);
  });
});

describe('overfitting statistics', () => {
  it('normal CDF and quantile agree with tabulated values', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 15);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 13);
    expect(normalCdf(-3)).toBeCloseTo(0.0013498980316301, 14);
    for (const p of [1e-10, 0.001, 0.025, 0.3, 0.5, 0.9, 0.999]) expect(normalCdf(normalQuantile(p))).toBeCloseTo(p, 12);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 12);
  });

  it('PSR and DSR follow Bailey & López de Prado (worked example)', () => {
    // PSR: SR = 0.1 per period over 250 periods, normal returns, against 0 → Φ(0.1·√249 / √(1 + 0.5·0.01))
    expect(probabilisticSharpe(0.1, 0, 250)).toBeCloseTo(normalCdf((0.1 * Math.sqrt(249)) / Math.sqrt(1 + 0.5 * 0.01)), 14);
    // expected max of N=100 trials with V[SR] = 1/250 (Bailey & López de Prado 2014, eq. in §2)
    const euler = 0.5772156649015329;
    expect(expectedMaxSharpe(100, 1 / 250)).toBeCloseTo(Math.sqrt(1 / 250) * ((1 - euler) * normalQuantile(0.99) + euler * normalQuantile(1 - 1 / (100 * Math.E))), 14);
    // a strong candidate among few trials survives; the same Sharpe among many noisy trials does not
    const rng = new SeededRng(3);
    const returns = Float64Array.from({ length: 1000 }, () => 0.002 + 0.01 * rng.normal());
    expect(deflatedSharpe(returns, 2, 0.0001).probability).toBeGreaterThan(0.95);
    expect(deflatedSharpe(returns, 1000, 0.01).probability).toBeLessThan(0.5);
  });

  it('PBO: near 1 when the in-sample winner is noise that reverses, near 0 for a true edge', () => {
    const rng = new SeededRng(11);
    const T = 640;
    // 20 candidates with no edge overall: each gains in 4 random blocks of 8 and loses as much in the
    // other 4, so whatever wins in sample tends to lose out of sample
    const noise = Array.from({ length: 20 }, () => {
      const signs = [1, 1, 1, 1, -1, -1, -1, -1].sort(() => rng.uniform() - 0.5);
      return Float64Array.from({ length: T }, (_, t) => 0.003 * signs[Math.floor(t / 80)] + 0.01 * rng.normal());
    });
    const pboNoise = probabilityOfBacktestOverfitting(noise, 8);
    expect(pboNoise.splits).toBe(binomial(8, 4));
    expect(pboNoise.pbo).toBeGreaterThan(0.8);
    // one candidate has a real edge: it wins in sample and stays above the median out of sample
    const edge = [...noise.slice(1), Float64Array.from({ length: T }, () => 0.006 + 0.01 * rng.normal())];
    expect(probabilityOfBacktestOverfitting(edge, 8).pbo).toBeLessThan(0.05);
    expect(() => probabilityOfBacktestOverfitting([noise[0]], 8)).toThrow(/at least 2 candidates/);
  });

  it('PBO across CPCV paths: the in-sample winner (best mean over the other paths) ranked on each path', () => {
    // paths × trials. Trial 2 is best on every path: whichever path is left out, it wins in sample and
    // is the best out of sample (ω = 4/5, logit > 0 on every path) → PBO 0.
    const alwaysWins = [
      [0.1, 0.3, 0.9, 0.2],
      [0.2, 0.1, 0.8, 0.4],
      [0.0, 0.5, 0.7, 0.3],
      [0.3, 0.2, 1.1, 0.1],
    ];
    const wins = pathProbabilityOfBacktestOverfitting(alwaysWins);
    expect(wins.pbo).toBe(0);
    expect(wins.chosen).toEqual([2, 2, 2, 2]);
    expect(wins.paths).toBe(4);
    expect(wins.trials).toBe(4);
    for (const logit of wins.logits) expect(logit).toBeCloseTo(Math.log(0.8 / 0.2), 12);
    // Built so it always loses: on each path p, trial p is great on every other path (so it wins in
    // sample when p is left out) and the worst on path p itself → ω = 1/5 on every path → PBO 1.
    const alwaysLoses = [
      [-5, 2, 2, 2],
      [2, -5, 2, 2],
      [2, 2, -5, 2],
      [2, 2, 2, -5],
    ].map((row, p) => row.map((v, t) => v + (t === p ? 0 : 0.01 * t)));
    const loses = pathProbabilityOfBacktestOverfitting(alwaysLoses);
    expect(loses.chosen).toEqual([0, 1, 2, 3]);
    expect(loses.pbo).toBe(1);
    for (const logit of loses.logits) expect(logit).toBeCloseTo(Math.log(0.2 / 0.8), 12);
    // a median rank counts as overfit (logit 0): 3 trials, in-sample winner in the middle on path 0
    const median = pathProbabilityOfBacktestOverfitting([
      [0.5, 0.9, 0.1],
      [1.0, 0.0, 0.2],
      [1.0, 0.1, 0.0],
    ]);
    expect(median.chosen[0]).toBe(0);
    expect(median.logits[0]).toBe(0);
    expect(median.pbo).toBeCloseTo(1 / 3, 15);
    // trials with a non-finite value on some path are left out; too few paths or trials is an error
    expect(pathProbabilityOfBacktestOverfitting(alwaysWins.map((row) => [...row, NaN])).trials).toBe(4);
    expect(() => pathProbabilityOfBacktestOverfitting([[1, 2]])).toThrow(/at least 2 backtest paths/);
    expect(() => pathProbabilityOfBacktestOverfitting([[1], [2]])).toThrow(/at least 2 trials/);
  });
});

describe('splitters are plugins', () => {
  it('a plugin splitter is named by validation.method and gets its params validated', () => {
    const halves = defineSplitter({
      id: '@acme/halves',
      version: '1.0.0',
      doc: 'Train on the first half, test the second.',
      params: z.object({ gap: z.number().int().min(0).default(0) }),
      foldName: 'half',
      split: (index, p) => {
        const middle = Math.floor((index.start + index.end) / 2);
        const cleaned = purgeAndEmbargo([{ start: index.start, end: middle - p.gap }], [{ start: middle, end: index.end }], index, 0);
        return { folds: [{ index: 0, train: cleaned.train, test: [{ start: middle, end: index.end }], purged: cleaned.purged, embargoed: 0 }], paths: [{ pieces: [{ fold: 0, start: middle, end: index.end }] }] };
      },
    });
    const registry = createRegistry([definePlugin({ id: 'acme', version: '1.0.0', splitters: [halves] })]);
    const base = {
      data: { source: 'sample', bars: 500 },
      features: [{ id: 'core/rsi' }],
      label: { id: 'core/direction' },
      model: { id: 'core/xgboost' },
      strategy: { id: 'core/probability-threshold' },
    };
    const plan = resolveRunPlan(parseSpec({ ...base, validation: { method: '@acme/halves', gap: 3 } }), registry, { baseDir: '.', dataDir: 'data' });
    expect(plan.validation!.definition.id).toBe('@acme/halves');
    expect(plan.validation!.params).toEqual({ gap: 3 });
    const builtIn = resolveRunPlan(parseSpec({ ...base, validation: { method: 'purged-kfold', folds: 4 } }), registry, { baseDir: '.', dataDir: 'data' });
    expect(builtIn.validation!.params).toEqual({ folds: 4, embargo: '1%' });
    expect(() => resolveRunPlan(parseSpec({ ...base, validation: { method: '@acme/halves', gapp: 3 } }), registry, { baseDir: '.', dataDir: 'data' })).toThrow(/unknown param 'gapp'.*did you mean 'gap'/);
  });
});
