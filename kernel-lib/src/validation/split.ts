import { type Frame, isoTime } from '../frame/frame';
import { ConfigError, DataError, NotEnoughDataError } from '../errors';
import type { Matrix, Segment } from '../models/model';

/** A contiguous block of rows [start, end) of the candles. */
export type SegmentRange = { name: 'train' | 'valid' | 'test'; start: number; end: number; from: string; to: string };

export type ChronologicalSplit = {
  train: SegmentRange;
  valid: SegmentRange;
  test: SegmentRange;
  /** The label horizon in bars (the purge when the labeler gives no event ends). */
  purge: number;
  /** Rows dropped at the end of train and of valid so that no label looks into the next segment. */
  purged: { train: number; valid: number };
  /** 'event-end': by each label's event end (the labeler gave them); 'horizon': the last `purge` rows. */
  purgeBy: 'event-end' | 'horizon';
  /** First row with every feature past its warm-up. */
  firstRow: number;
};

/** Fewer rows than this in any segment make training or evaluation meaningless. */
export const MIN_SEGMENT_ROWS = 30;

export type SplitFractions = { train: number; valid: number; test: number };

/**
 * Chronological train/validation/test split, no shuffle. Rows start after the features' warm-up.
 * Training and validation labels must not look into the next segment: with `eventEnd` (when each
 * row's label was decided, as a bar open time, from labelers like the triple barrier) a segment ends
 * before its first row whose event ends in the next segment (so segments stay contiguous for sequence
 * models; at most the rows whose event could reach across are dropped); without it the last `horizon`
 * rows are purged. The test segment runs to the last candle: labels there may be NaN (metrics skip
 * them) but the strategy still trades those bars.
 */
export function splitChronological(
  rows: number,
  lookback: number,
  horizon: number,
  fractions: SplitFractions,
  time?: Float64Array,
  eventEnd?: Float64Array,
): ChronologicalSplit {
  const total = fractions.train + fractions.valid + fractions.test;
  if (Math.abs(total - 1) > 1e-9 || fractions.train <= 0 || fractions.valid <= 0 || fractions.test <= 0) {
    throw new ConfigError(`split fractions must be positive and sum to 1, got ${fractions.train}/${fractions.valid}/${fractions.test}`);
  }
  if (eventEnd && (!time || eventEnd.length !== rows || time.length !== rows)) {
    throw new ConfigError(`purging by event end needs the bar times and one event end per row (${rows} rows, got ${eventEnd.length})`);
  }
  const usable = rows - lookback - horizon;
  const trainEnd = lookback + Math.floor(usable * fractions.train);
  const validEnd = trainEnd + Math.floor(usable * fractions.valid);
  /** End of a segment [start, next): before the first row whose label reaches the row `next`. */
  const purgedEnd = (start: number, next: number): number => {
    if (!eventEnd || !time) return next - horizon;
    const boundary = time[next];
    for (let r = start; r < next; r++) {
      // an unknown event end (no label) is treated as reaching across
      if (!(eventEnd[r] < boundary)) return r;
    }
    return next;
  };
  const range = (name: SegmentRange['name'], start: number, end: number): SegmentRange => ({
    name,
    start,
    end,
    from: time ? isoTime(time[start]) : String(start),
    to: time ? isoTime(time[end - 1]) : String(end - 1),
  });
  const segments = [
    { name: 'train' as const, start: lookback, end: purgedEnd(lookback, trainEnd) },
    { name: 'valid' as const, start: trainEnd, end: purgedEnd(trainEnd, validEnd) },
    { name: 'test' as const, start: validEnd, end: rows },
  ];
  for (const segment of segments) {
    if (segment.end - segment.start < MIN_SEGMENT_ROWS) {
      throw new NotEnoughDataError(
        `the ${segment.name} segment has ${Math.max(0, segment.end - segment.start)} rows (need ${MIN_SEGMENT_ROWS}) after a ${lookback}-row warm-up and a ${horizon}-bar purge; use more data or shorter windows`,
      );
    }
  }
  const [train, valid, test] = segments.map((s) => range(s.name, s.start, s.end));
  return {
    train,
    valid,
    test,
    purge: horizon,
    purged: { train: trainEnd - train.end, valid: validEnd - valid.end },
    purgeBy: eventEnd ? 'event-end' : 'horizon',
    firstRow: lookback,
  };
}

/**
 * Rows [start, end) of the feature columns as a row-major float32 matrix. Every value must be finite:
 * a NaN past the declared warm-up means a feature's lookback is wrong or the data has holes.
 */
export function featureMatrix(features: Frame, start: number, end: number): Matrix {
  const names = features.names;
  const cols = names.length;
  const rows = end - start;
  const values = new Float32Array(rows * cols);
  for (let c = 0; c < cols; c++) {
    const column = features.column(names[c]);
    for (let r = 0; r < rows; r++) {
      const value = column[start + r];
      if (!Number.isFinite(value)) {
        throw new DataError(
          `feature '${names[c]}' is ${value} at ${isoTime(features.time[start + r])} (row ${start + r}), after its warm-up; check its lookback or clean the data`,
        );
      }
      values[r * cols + c] = value;
    }
  }
  return { values, rows, cols };
}

/**
 * Features and targets of rows [start, end); rows whose target is unknown (NaN) are an error here. With
 * the labels' `eventEnd`, the segment carries each row's time and event end (for purging inside it).
 */
export function trainingSegment(features: Frame, target: Float64Array, range: SegmentRange, eventEnd?: Float64Array): Segment {
  const y = target.slice(range.start, range.end);
  for (let i = 0; i < y.length; i++) {
    if (!Number.isFinite(y[i])) {
      throw new DataError(`label is missing at ${isoTime(features.time[range.start + i])} inside the ${range.name} segment; the labeler's horizon is too short`);
    }
  }
  const X = featureMatrix(features, range.start, range.end);
  if (!eventEnd) return { X, y };
  return { X, y, time: features.time.slice(range.start, range.end), eventEnd: eventEnd.slice(range.start, range.end) };
}
