import { describe, expect, it } from 'vitest';
import { fitScaler, transform } from '../src/preprocessing/scalers';
import { SequenceWindows, augmentWindow } from '../src/preprocessing/sequences';
import { SeededRng } from '../src/util/rng';
import type { Matrix } from '../src/models/model';

const matrix = (rows: number[][]): Matrix => ({ values: Float32Array.from(rows.flat()), rows: rows.length, cols: rows[0].length });

describe('scalers: fit on training rows, apply anywhere', () => {
  const train = matrix([[1, 10], [2, 10], [3, 10], [4, 10], [100, 10]]);
  const later = matrix([[5, 20]]);

  it('standard: mean and population deviation of the training rows only', () => {
    const scaler = fitScaler(train, 'standard');
    const mean = (1 + 2 + 3 + 4 + 100) / 5;
    const sd = Math.sqrt([1, 2, 3, 4, 100].reduce((a, v) => a + (v - mean) ** 2, 0) / 5);
    expect(scaler.center[0]).toBeCloseTo(mean, 6);
    expect(scaler.scale[0]).toBeCloseTo(sd, 6);
    expect(scaler.scale[1]).toBe(1); // constant column
    const out = transform(scaler, later);
    expect(out.values[0]).toBeCloseTo((5 - mean) / sd, 5);
    expect(out.values[1]).toBe(10); // (20 − 10) / 1: later rows never refit the scaler
  });

  it('minmax and robust (median, interquartile range as scikit-learn)', () => {
    const minmax = fitScaler(train, 'minmax');
    expect(minmax.center[0]).toBe(1);
    expect(minmax.scale[0]).toBe(99);
    const robust = fitScaler(train, 'robust');
    expect(robust.center[0]).toBe(3);
    expect(robust.scale[0]).toBe(4 - 2); // q75 = 4, q25 = 2: the outlier 100 does not move it
  });

  it('refuses non-finite training values and a column-count mismatch', () => {
    expect(() => fitScaler(matrix([[1, NaN]]))).toThrow(/column 1 has NaN/);
    expect(() => transform(fitScaler(train), matrix([[1, 2, 3]]))).toThrow(/fitted on 2 columns, got 3/);
  });
});

describe('sequence windows', () => {
  const X = matrix(Array.from({ length: 10 }, (_, r) => [r, 10 * r]));
  const y = Float64Array.from({ length: 10 }, (_, r) => r % 3);

  it('are views over one buffer (no copy), labelled by their last row', () => {
    const windows = new SequenceWindows(X, 4, y);
    expect(windows.count).toBe(7);
    const w = windows.window(2);
    expect(Array.from(w)).toEqual([2, 20, 3, 30, 4, 40, 5, 50]);
    expect(w.buffer).toBe(X.values.buffer); // a view
    expect(windows.target(2)).toBe(y[5]);
    expect(Array.from(windows.batch([0, 6]))).toEqual([0, 0, 1, 10, 2, 20, 3, 30, 6, 60, 7, 70, 8, 80, 9, 90]);
    expect(() => new SequenceWindows(X, 11)).toThrow(/longer than the 10 rows/);
  });

  it('augmentation is seeded, leaves the source alone, and does what it says', () => {
    const windows = new SequenceWindows(X, 4);
    const source = windows.window(0);
    const before = Array.from(source);
    const a = augmentWindow(source, 4, 2, { jitter: 0.1, amplitude: 0.1, slice: 0.75 }, new SeededRng(5));
    const b = augmentWindow(source, 4, 2, { jitter: 0.1, amplitude: 0.1, slice: 0.75 }, new SeededRng(5));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(source)).toEqual(before);
    const scaled = augmentWindow(source, 4, 2, { amplitude: 0.5 }, new SeededRng(1));
    const factor = scaled[2] / source[2];
    for (let i = 1; i < source.length; i++) expect(scaled[i]).toBeCloseTo(source[i] * factor, 4);
    // slicing keeps the ends of the kept span and interpolates between them
    const sliced = augmentWindow(source, 4, 2, { slice: 0.5 }, new SeededRng(3));
    expect(sliced.length).toBe(8);
    expect(sliced[2] - sliced[0]).toBeCloseTo(sliced[4] - sliced[2], 5);
  });
});
