import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensembleClassifier, ensembleRegressor, type EnsembleModel } from '../src/models/ensemble/ensemble-model';
import { fitLogistic, predictLogistic, type LogisticModel } from '../src/models/ensemble/linear';
import type { Segment, TrainingData } from '../src/models/model';
import { runSpec } from '../src/runner/run-spec';
import { ROOT, tempDir, listDir } from './helpers';
import {
  accuracy,
  columnLogistic,
  logLoss,
  memorizer,
  memorizerFits,
  synthetic,
  testContext,
  trainingData,
} from './ensemble-helpers';

const dir = tempDir('ensemble');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const HORIZON = 5;

async function fitClassifier(data: TrainingData, params: Record<string, unknown>, seed = 1): Promise<EnsembleModel> {
  return (await ensembleClassifier.fit(data, ensembleClassifier.params.parse(params), testContext(seed))) as EnsembleModel;
}

/** Rows of a segment where keep(row) holds. */
function rowsWhere(segment: Segment, keep: (row: number) => boolean): Segment {
  const rows = Array.from({ length: segment.y.length }, (_, r) => r).filter(keep);
  const cols = segment.X.cols;
  const values = new Float32Array(rows.length * cols);
  rows.forEach((row, i) => values.set(segment.X.values.subarray(row * cols, (row + 1) * cols), i * cols));
  return { X: { values, rows: rows.length, cols }, y: Float64Array.from(rows, (row) => segment.y[row]) };
}

/** Sum of |standardized coefficient| of a member's block of meta-features (3 per member). */
function memberTrust(model: LogisticModel, member: number): number {
  let sum = 0;
  for (const row of model.coef) for (let j = 3 * member; j < 3 * member + 3; j++) sum += Math.abs(row[j]);
  return sum;
}

describe('stacking never shows the meta-learner in-fold predictions (leakage)', () => {
  // The label depends on x0 only; x1..x5 are noise, so a 1-NN memorizer is perfect on rows it has seen
  // and close to guessing elsewhere.
  const { data, test } = trainingData(synthetic(1500, 6, [1], 0.5, 21), 'classification', HORIZON);
  const params = {
    method: 'stacking',
    members: [{ id: 'test/column-logistic', params: { columns: [0] } }, { id: 'test/memorizer' }],
    folds: 5,
    classWeight: 'none',
  };
  let model: EnsembleModel;
  let fits: typeof memorizerFits;
  beforeAll(async () => {
    const before = memorizerFits.length;
    model = await fitClassifier(data, params);
    fits = memorizerFits.slice(before);
  });
  afterAll(() => model?.dispose());

  it('the memorizer is perfect in-sample: the trap a meta-learner on in-sample predictions falls into', async () => {
    const inSample = await (await memorizer.fit(data, {}, testContext())).predict(data.train.X);
    expect(accuracy(inSample, data.train.y)).toBe(1);
  });

  it('purging removed `horizon` rows on each side of every held-out fold (and the memorizer was fitted on exactly those rows)', () => {
    const s = model.stacking!;
    const n = data.train.y.length;
    expect(s.purge).toBe(HORIZON);
    expect(s.folds).toHaveLength(5);
    expect(fits).toHaveLength(6); // five folds, then the refit on every train row
    s.folds.forEach((fold, k) => {
      expect(fold.purgedBefore).toBe(k === 0 ? 0 : HORIZON);
      expect(fold.purgedAfter).toBe(k === 4 ? 0 : HORIZON);
      const trainRows = fold.train.reduce((sum, r) => sum + r.end - r.start, 0);
      expect(trainRows).toBe(n - (fold.valid.end - fold.valid.start) - fold.purgedBefore - fold.purgedAfter);
      for (const range of fold.train) {
        expect(range.end <= fold.valid.start - HORIZON || range.start >= fold.valid.end + HORIZON).toBe(true);
      }
      expect(fits[k].rows).toBe(trainRows);
      // The fold's first training row is train row 0, or (first fold) the row after the purge.
      const first = fold.train[0].start;
      expect(fits[k].firstRowValues).toEqual(Array.from(data.train.X.values.subarray(first * 6, first * 6 + 6)));
    });
    expect(fits[5].rows).toBe(n);
    expect(Array.from(s.rows)).toEqual(Array.from({ length: n }, (_, r) => r));
  });

  it('the out-of-fold predictions the meta-learner saw equal those of members fitted without the fold and its purge', async () => {
    const s = model.stacking!;
    for (const fold of s.folds) {
      const without = rowsWhere(data.train, (row) => row < fold.valid.start - HORIZON || row >= fold.valid.end + HORIZON);
      const foldRows = rowsWhere(data.train, (row) => row >= fold.valid.start && row < fold.valid.end);
      const foldData = { ...data, train: without };
      const refits = [
        await columnLogistic.fit(foldData, columnLogistic.params.parse({ columns: [0] }), testContext()),
        await memorizer.fit(foldData, {}, testContext()),
      ];
      for (const [m, ref] of refits.entries()) {
        const expected = await ref.predict(foldRows.X);
        const seen = s.memberPredictions[m].subarray(fold.valid.start * 3, fold.valid.end * 3);
        expect(Array.from(seen)).toEqual(Array.from(expected));
      }
    }
    // And the meta-learner's inputs are exactly their clipped log-probabilities, with the true labels.
    expect(s.metaInputs[0]).toBeCloseTo(Math.log(Math.max(1e-6, s.memberPredictions[0][0])), 12);
    expect(s.metaInputs[3]).toBeCloseTo(Math.log(Math.max(1e-6, s.memberPredictions[1][0])), 12);
    expect(Array.from(s.metaLabels)).toEqual(Array.from(data.train.y));
    // Out of fold, the memorizer is far from perfect.
    expect(accuracy(s.memberPredictions[1], data.train.y)).toBeLessThan(0.7);
  });

  it('so the OOF meta-learner trusts the honest member, while one trained in-sample would trust the memorizer; and it does better on test', async () => {
    const meta = model.metaLearner as LogisticModel;
    expect(memberTrust(meta, 0)).toBeGreaterThan(memberTrust(meta, 1));
    // The leaky alternative: the same meta-learner on in-sample predictions of members fitted on every row.
    const members = [await columnLogistic.fit(data, columnLogistic.params.parse({ columns: [0] }), testContext()), await memorizer.fit(data, {}, testContext())];
    const features = async (X: Segment['X']): Promise<Float64Array> => {
      const outputs = await Promise.all(members.map((m) => m.predict(X)));
      return Float64Array.from({ length: X.rows * 6 }, (_, i) => Math.log(Math.max(1e-6, outputs[Math.floor((i % 6) / 3)][Math.floor(i / 6) * 3 + (i % 3)])));
    };
    const leaky = fitLogistic(await features(data.train.X), data.train.X.rows, 6, data.train.y, 3, { C: 1 });
    expect(memberTrust(leaky, 1)).toBeGreaterThan(memberTrust(leaky, 0));
    const leakyTest = predictLogistic(leaky, await features(test.X), test.X.rows);
    const honestTest = await model.predict(test.X);
    expect(logLoss(honestTest, test.y)).toBeLessThan(logLoss(leakyTest, test.y));
    expect(model.info).toMatchObject({ method: 'stacking', cv: 'purged-kfold', purge: HORIZON, oofRows: data.train.y.length });
  });
});

describe('stacking purges by each label\'s event end when the runner passes them (item 9)', () => {
  // Hourly train rows; most labels are decided one bar on, but some reach far past `horizon` into the
  // next held-out fold (a triple barrier touched late), some end well inside it, some are unknown.
  const HOUR = 3_600_000;
  const { data } = trainingData(synthetic(1500, 6, [1], 0.5, 23), 'classification', HORIZON);
  const n = data.train.y.length;
  const time = Float64Array.from({ length: n }, (_, r) => 1_700_000_000_000 + r * HOUR);
  const eventEnd = Float64Array.from({ length: n }, (_, r) => time[Math.min(n - 1, r + 1)]);
  const starts = [1, 2, 3, 4].map((k) => Math.floor((k * n) / 5));
  const far = starts.map((b) => b - 40); // decided 3 bars inside the fold: 43 bars on, far beyond the horizon
  const short = starts.map((b) => b - 3); // decided 2 bars before the fold: a horizon purge would drop it
  const unknown = starts.map((b) => b - 60); // no event end: falls back to `horizon` rows (kept: 60 > 5)
  for (const [k, b] of starts.entries()) {
    eventEnd[far[k]] = time[b + 3];
    eventEnd[short[k]] = time[b - 2];
    eventEnd[unknown[k]] = NaN;
  }
  const withEvents: TrainingData = { ...data, train: { ...data.train, time, eventEnd } };
  const params = { method: 'stacking', members: [{ id: 'test/column-logistic', params: { columns: [0] } }, { id: 'test/memorizer' }], folds: 5, classWeight: 'none' };
  let model: EnsembleModel;
  let fits: typeof memorizerFits;
  beforeAll(async () => {
    const before = memorizerFits.length;
    model = await fitClassifier(withEvents, params);
    fits = memorizerFits.slice(before);
  });
  afterAll(() => model?.dispose());

  const trainRowsOf = (fold: { train: Array<{ start: number; end: number }> }): Set<number> => {
    const rows = new Set<number>();
    for (const r of fold.train) for (let row = r.start; row < r.end; row++) rows.add(row);
    return rows;
  };

  it('a label whose event ends inside a held-out fold is purged from its training rows, however far back it starts', () => {
    const s = model.stacking!;
    expect(s.purgeBy).toBe('event-end');
    expect(model.info).toMatchObject({ purgeBy: 'event-end', purge: HORIZON });
    s.folds.forEach((fold, k) => {
      const rows = trainRowsOf(fold);
      if (k > 0) {
        expect(rows.has(far[k - 1])).toBe(false);
        expect(rows.has(short[k - 1])).toBe(true);
        expect(rows.has(unknown[k - 1])).toBe(true);
      }
      // Exactly: before the fold, the rows decided before its first bar (an unknown end: `horizon` rows
      // on); after it, the `horizon`-row embargo.
      const expected = new Set<number>();
      for (let row = 0; row < fold.valid.start; row++) {
        const end = Number.isNaN(eventEnd[row]) ? time[row + HORIZON] : eventEnd[row];
        if (end < time[fold.valid.start]) expected.add(row);
      }
      for (let row = fold.valid.end + HORIZON; row < n; row++) expected.add(row);
      expect([...rows].sort((a, b) => a - b)).toEqual([...expected].sort((a, b) => a - b));
      expect(fold.purgedBefore).toBe(fold.valid.start - [...expected].filter((row) => row < fold.valid.start).length);
      expect(fits[k].rows).toBe(rows.size);
    });
  });

  it('the out-of-fold predictions are those of members fitted without the purged rows', async () => {
    const s = model.stacking!;
    const fold = s.folds[2];
    const rows = trainRowsOf(fold);
    const foldData = { ...data, train: rowsWhere(data.train, (row) => rows.has(row)) };
    const ref = await memorizer.fit(foldData, {}, testContext());
    const expected = await ref.predict(rowsWhere(data.train, (row) => row >= fold.valid.start && row < fold.valid.end).X);
    expect(Array.from(s.memberPredictions[1].subarray(fold.valid.start * 3, fold.valid.end * 3))).toEqual(Array.from(expected));
  });

  it('without event ends the same rows fall back to the horizon purge (the far label stays, the short one goes)', async () => {
    const plain = await fitClassifier(data, params);
    try {
      expect(plain.stacking!.purgeBy).toBe('horizon');
      const rows = trainRowsOf(plain.stacking!.folds[1]);
      expect(rows.has(far[0])).toBe(true);
      expect(rows.has(short[0])).toBe(false);
    } finally {
      plain.dispose();
    }
  });

  it('event ends out of time order or of the wrong length are a one-line error', async () => {
    const shuffled = Float64Array.from(time);
    [shuffled[10], shuffled[11]] = [shuffled[11], shuffled[10]];
    await expect(fitClassifier({ ...data, train: { ...data.train, time: shuffled, eventEnd } }, params)).rejects.toThrow(/^purging by event end needs the training rows in time order; row 11 is not after row 10$/);
    await expect(fitClassifier({ ...data, train: { ...data.train, time, eventEnd: eventEnd.subarray(1) } }, params)).rejects.toThrow(/one time and one event end per training row/);
  });
});

describe('a spec run passes the labels\' event ends to a stacking ensemble', () => {
  it('triple-barrier labels: the ensemble purged by event end; a fixed-horizon labeler: by horizon', async () => {
    const xgb = { id: 'core/xgboost', params: { rounds: 5, maxDepth: 2, threads: 1 } };
    const model = `model={"id":"core/ensemble","params":{"method":"stacking","folds":3,"members":[${JSON.stringify(xgb)},${JSON.stringify({ ...xgb, params: { ...xgb.params, maxDepth: 3 } })}]}}`;
    const run = (label: string[]) =>
      runSpec(path.join(ROOT, 'specs', 'quickstart.json'), {
        overrides: ['data.bars=3000', model, 'register=false', ...label],
        progress: 'quiet',
        workspace: { dataDir: path.join(dir, 'data'), modelsDir: path.join(dir, 'models'), runsDir: path.join(dir, 'runs') },
      });
    const barrier = await run(['label.id=core/triple-barrier', 'label.params={"bars":12,"upper":1,"lower":1}']);
    expect(barrier.record.model.info).toMatchObject({ method: 'stacking', purgeBy: 'event-end', purge: 12 });
    const direction = await run([]);
    expect(direction.record.model.info).toMatchObject({ method: 'stacking', purgeBy: 'horizon', purge: 5 });
  });
});

describe('weighted average by validation score', () => {
  const { data, test } = trainingData(synthetic(1200, 4, [1], 0.4, 5));
  let model: EnsembleModel;
  beforeAll(async () => {
    model = await fitClassifier(data, { members: [{ id: 'test/column-logistic', params: { columns: [0] } }, { id: 'test/random' }] });
  });
  afterAll(() => model?.dispose());

  it('the good member gets the larger weight: 1/validation log-loss, normalized', async () => {
    const [good, random] = model.weights!;
    expect(good).toBeGreaterThan(random);
    expect(good + random).toBeCloseTo(1, 12);
    const members = model.info.members as Array<{ validLoss: number; weight: number }>;
    expect(members[0].validLoss).toBeLessThan(members[1].validLoss);
    expect(good / random).toBeCloseTo(members[1].validLoss / members[0].validLoss, 10);
    // The output is the weighted average of the members' probabilities.
    const outputs = await model.memberPredictions(test.X);
    const p = await model.predict(test.X);
    for (let i = 0; i < p.length; i += 37) expect(p[i]).toBeCloseTo(good * outputs[0][i] + random * outputs[1][i], 6);
  });

  it('softmax weighting with a low temperature all but drops the random member', async () => {
    const sharp = await fitClassifier(data, { members: [{ id: 'test/column-logistic', params: { columns: [0] } }, { id: 'test/random' }], weighting: 'softmax', temperature: 0.05 });
    expect(sharp.weights![0]).toBeGreaterThan(0.99);
  });
});

describe('stacking complementary members', () => {
  // The label depends on x0 + x1; one member sees x0, the other x1.
  const { data, test } = trainingData(synthetic(2000, 3, [1, 1], 0.3, 8));
  const members = [{ id: 'test/column-logistic', params: { columns: [0] } }, { id: 'test/column-logistic', params: { columns: [1] } }];

  it('beats the best member on test log-loss and accuracy (and the weighted average)', async () => {
    const stack = await fitClassifier(data, { method: 'stacking', members });
    const weighted = await fitClassifier(data, { members });
    const outputs = await stack.memberPredictions(test.X);
    const stacked = await stack.predict(test.X);
    const best = Math.min(...outputs.map((o) => logLoss(o, test.y)));
    expect(logLoss(stacked, test.y)).toBeLessThan(best);
    expect(accuracy(stacked, test.y)).toBeGreaterThan(Math.max(...outputs.map((o) => accuracy(o, test.y))));
    expect(logLoss(stacked, test.y)).toBeLessThan(logLoss(await weighted.predict(test.X), test.y));
    expect((stack.info.validLoss as number) < Math.min(...(stack.info.members as Array<{ validLoss: number }>).map((m) => m.validLoss))).toBe(true);
  });

  it('walk-forward out-of-fold predictions skip the first fold and still stack', async () => {
    const stack = await fitClassifier(data, { method: 'stacking', members, cv: 'walk-forward', folds: 4 });
    const n = data.train.y.length;
    expect(stack.stacking!.rows[0]).toBe(Math.floor(n / 4));
    expect(stack.stacking!.rows.length).toBe(n - Math.floor(n / 4));
    const best = Math.min(...(await stack.memberPredictions(test.X)).map((o) => logLoss(o, test.y)));
    expect(logLoss(await stack.predict(test.X), test.y)).toBeLessThan(best);
  });

  it('multi-level: a stack whose members are a stack and a weighted ensemble fits, predicts, saves and loads identically', async () => {
    const params = {
      method: 'stacking',
      folds: 3,
      members: [
        { id: 'core/ensemble', params: { method: 'stacking', folds: 3, members } },
        { id: 'core/ensemble', params: { members: [members[0], { id: 'test/memorizer' }] } },
        { id: 'test/column-logistic', params: { columns: [2] } },
      ],
    };
    const model = await fitClassifier(data, params);
    const p = await model.predict(test.X);
    for (let r = 0; r < test.X.rows; r += 50) expect(p[3 * r] + p[3 * r + 1] + p[3 * r + 2]).toBeCloseTo(1, 5);
    const inner = model.memberModels[0] as EnsembleModel;
    expect(inner.modelId).toBe('core/ensemble');
    expect(inner.stacking!.folds).toHaveLength(3);
    expect(logLoss(p, test.y)).toBeLessThan(logLoss((await model.memberPredictions(test.X))[2], test.y));
    const saved = path.join(dir, 'multi-level');
    const artifacts = await model.save(saved);
    expect(artifacts.map((a) => a.path)).toContain('member-0/member-1/test-model.json');
    expect(listDir(saved)).toEqual(['ensemble.json', 'member-0', 'member-1', 'member-2']);
    expect(listDir(path.join(saved, 'member-0'))).toEqual(['ensemble.json', 'member-0', 'member-1']);
    const loaded = await ensembleClassifier.load(saved, testContext());
    expect(Array.from(await loaded.predict(test.X))).toEqual(Array.from(p));
  });
});

describe('save and load', () => {
  const { data, test } = trainingData(synthetic(900, 3, [1, 1], 0.3, 12));
  const members = [{ id: 'test/column-logistic', params: { columns: [0] } }, { id: 'test/column-logistic', params: { columns: [1] } }];

  for (const [name, params, kind] of [
    ['weighted', { members }, 'weighted'],
    ['stacking (logistic)', { method: 'stacking', members, metaFeatures: 'probabilities' }, 'logistic'],
  ] as const) {
    it(`${name}: members in member-0/, member-1/ by their own save, ensemble.json beside them; load predicts identically`, async () => {
      const model = await fitClassifier(data, params);
      const target = path.join(dir, name.replace(/\W+/g, '-'));
      const artifacts = await model.save(target);
      expect(artifacts.map((a) => a.path)).toEqual(['member-0/test-model.json', 'member-1/test-model.json', 'ensemble.json']);
      const saved = JSON.parse(fs.readFileSync(path.join(target, 'ensemble.json'), 'utf8'));
      expect(saved).toMatchObject({ modelId: 'core/ensemble', task: 'classification', featureNames: ['x0', 'x1', 'x2'], classes: ['SELL', 'HOLD', 'BUY'] });
      expect(saved.members.map((m: { dir: string }) => m.dir)).toEqual(['member-0', 'member-1']);
      expect(saved.combiner.kind).toBe(kind);
      const loaded = await ensembleClassifier.load(target, testContext());
      expect(Array.from(await loaded.predict(test.X))).toEqual(Array.from(await model.predict(test.X)));
      expect(loaded.info).toEqual(model.info);
    });
  }

  it('loading another kind of model folder, or a damaged one, is a one-line error', async () => {
    const model = await fitClassifier(data, { members });
    const target = path.join(dir, 'kind');
    await model.save(target);
    await expect(ensembleRegressor.load(target, testContext())).rejects.toThrow(/holds a core\/ensemble model, not core\/ensemble-regressor; load it with core\/ensemble$/);
    fs.rmSync(path.join(target, 'member-1'), { recursive: true });
    await expect(ensembleClassifier.load(target, testContext())).rejects.toThrow(/^core\/ensemble member 1: .*member-1 is missing; the ensemble folder is incomplete \(train and save it again\)$/);
    await expect(ensembleClassifier.load(path.join(dir, 'nothing'), testContext())).rejects.toThrow(/ensemble\.json is missing; the ensemble folder is incomplete/);
  });
});

describe('stacked regressor', () => {
  const { data, test } = trainingData(synthetic(1500, 3, [1, 0.8], 0.3, 14), 'regression');
  const members = [{ id: 'test/column-ridge', params: { columns: [0] } }, { id: 'test/column-ridge', params: { columns: [1] } }];
  const rmse = (p: Float32Array): number => Math.sqrt(p.reduce((sum, v, i) => sum + (v - test.y[i]) ** 2, 0) / p.length);

  it('ridge on out-of-fold member values beats each member; weights of the weighted regressor follow 1/RMSE', async () => {
    const stack = (await ensembleRegressor.fit(data, ensembleRegressor.params.parse({ method: 'stacking', members, alpha: 0.1 }), testContext())) as EnsembleModel;
    const outputs = await stack.memberPredictions(test.X);
    const stacked = await stack.predict(test.X);
    expect(rmse(stacked)).toBeLessThan(Math.min(...outputs.map(rmse)) * 0.9);
    expect(stack.info).toMatchObject({ method: 'stacking', validMetric: 'rmse', meta: { kind: 'ridge', featureNames: ['m0_value', 'm1_value'] } });
    const weighted = (await ensembleRegressor.fit(data, ensembleRegressor.params.parse({ members }), testContext())) as EnsembleModel;
    const [w0, w1] = weighted.weights!;
    const losses = (weighted.info.members as Array<{ validLoss: number }>).map((m) => m.validLoss);
    expect(w0).toBeGreaterThan(w1); // x0 carries more of the target than x1
    expect(w0 / w1).toBeCloseTo(losses[1] / losses[0], 10);
    const target = path.join(dir, 'regressor');
    await stack.save(target);
    const loaded = await ensembleRegressor.load(target, testContext());
    expect(Array.from(await loaded.predict(test.X))).toEqual(Array.from(stacked));
  });
});

describe('bad input: one-line errors naming the problem and the fix', () => {
  const { data } = trainingData(synthetic(600, 3, [1], 0.3, 3));
  const good = { id: 'test/column-logistic', params: { columns: [0] } };
  const cases: Array<[string, Record<string, unknown>, RegExp, TrainingData?]> = [
    ['an unknown member id', { members: [good, { id: 'test/memoriser' }] }, /^core\/ensemble member 1: unknown model 'test\/memoriser' \(did you mean 'test\/memorizer'\?\)/],
    ['a member of the wrong task', { members: [good, { id: 'test/column-ridge', params: { columns: [0] } }] }, /^core\/ensemble member 1 'test\/column-ridge' does regression but the ensemble does classification; use a classification model \(or core\/ensemble-regressor for regression\)$/],
    ['members disagreeing on classes', { members: [good, { id: 'test/binary' }] }, /^core\/ensemble member 1 \(test\/binary\) predicts classes \[DOWN, UP\] but the ensemble's are \[SELL, HOLD, BUY\]; members must agree on the classes and their order$/],
    ['an unknown id inside a nested ensemble', { members: [good, { id: 'core/ensemble', params: { members: [good, { id: 'core/xgbost' }] } }] }, /^core\/ensemble member 1: core\/ensemble member 1: unknown model 'core\/xgbost' \(did you mean 'core\/xgboost'\?\)/],
    ['a bad member param', { members: [good, { id: 'test/column-logistic', params: { column: [0] } }] }, /^core\/ensemble member 1: model test\/column-logistic: unknown param 'column' \(did you mean 'columns'\?\)/],
    ['a meta-learner of the wrong task', { method: 'stacking', members: [good, good], metaLearner: { id: 'test/column-ridge', params: { columns: [0] } } }, /^core\/ensemble meta-learner 'test\/column-ridge' does regression/],
    ['stacking without a horizon', { method: 'stacking', members: [good, good] }, /^core\/ensemble stacking needs the label horizon to purge its folds; run it through the runner or set params\.purge$/, { ...data, horizon: undefined }],
  ];
  for (const [name, params, message, input] of cases) {
    it(name, async () => {
      const error = await fitClassifier(input ?? data, params).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error?.message).toMatch(message);
      expect(error?.message).not.toContain('\n');
    });
  }

  it('a misspelt key in a member reference fails at param validation', () => {
    const parsed = ensembleClassifier.params.safeParse({ members: [good, { id: 'test/random', parmas: {} }] });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0].message).toMatch(/Unrecognized key\(s\) in object: 'parmas'/);
  });
});
