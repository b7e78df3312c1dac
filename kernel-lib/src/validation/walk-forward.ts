import { z } from 'zod';
import { isoTime } from '../frame/frame';
import { ConfigError, NotEnoughDataError } from '../errors';
import { defineSplitter } from '../plugins/define';
import {
  MIN_FOLD_ROWS,
  addLength,
  embargoRows,
  parseLength,
  purgeAndEmbargo,
  rowAtOrAfter,
  rowCount,
  type Length,
  type Split,
  type SplitIndex,
  type ValidationFold,
} from './splitter';

const length = z.union([z.number(), z.string()]);

export const walkForwardParams = z
  .object({
    /** Training length per window: bars (500) or a duration ("180d", "6mo"). */
    train: length,
    /** Test length per window. */
    test: length,
    /** How far each window moves; default: the test length (test blocks tile the data). */
    step: length.optional(),
    /** 'rolling': a fixed-length training block that moves; 'expanding': training always starts at the first usable row. */
    mode: z.enum(['rolling', 'expanding']).default('rolling'),
    /** Rows after each test block left out of training ("1%" of the rows, bars, or a duration). */
    embargo: length.optional(),
  })
  .strict();

export type WalkForwardParams = z.output<typeof walkForwardParams>;

/**
 * Walk-forward windows (FreqAI's rolling retraining, vectorbt's rolling split): window k trains on
 * [start + k·step, start + k·step + train) (rolling) or [start, start + train + k·step) (expanding) and
 * tests the block right after its training block. Durations are measured on the bar clock from the
 * first usable bar (calendar months in UTC), so "30d" windows stay aligned through gaps in the data.
 * Training labels that reach into the test block are purged. Every training row precedes its test
 * block, so the embargo (rows after a test block) removes nothing here; it matters for k-fold and CPCV.
 * With step < test the test blocks overlap: each window's metrics use its whole block, and the stitched
 * account trades each bar with the newest window's model. step > test is refused (untraded gaps). A
 * last, shorter test block is kept when it has at least 30 rows, else the previous window's block is
 * extended over it, so the account always reaches the last bar.
 */
export function walkForwardSplit(index: SplitIndex, params: WalkForwardParams): Split {
  const train = parseLength(params.train, 'validation.train');
  const test = parseLength(params.test, 'validation.test');
  const step = params.step === undefined ? test : parseLength(params.step, 'validation.step');
  const embargo = embargoRows(params.embargo, index, 'validation.embargo');
  const { time, start, end } = index;
  const lengths = [train, test, step];
  if (lengths.some((l) => l.kind !== train.kind)) throw new ConfigError('validation.train, test and step must all be bars or all be durations');
  if (span(step) > span(test)) {
    throw new ConfigError(`validation.step (${params.step}) is longer than validation.test (${params.test}): bars between test blocks would never be traded; use step ≤ test`);
  }
  // A boundary is the first usable bar moved by whole lengths, summed per unit from that bar (so
  // Jan 31 + 2 × "1mo" is Mar 31, not Mar 28), then turned into the first row at or after it.
  const origin = time[start];
  const boundary = (counts: { train?: number; test?: number; step?: number }): { row: number; ms: number } => {
    const parts: Array<[Length, number]> = [[train, counts.train ?? 0], [test, counts.test ?? 0], [step, counts.step ?? 0]];
    if (train.kind === 'bars') {
      const row = start + parts.reduce((sum, [l, n]) => sum + (l as { bars: number }).bars * n, 0);
      return { row, ms: row < end ? time[row] : time[end - 1] + (row - end + 1) * index.barMs };
    }
    let months = 0;
    let ms = 0;
    for (const [l, n] of parts) {
      const d = l as Exclude<Length, { kind: 'bars' }>;
      if (d.unit === 'mo' || d.unit === 'y') months += n * d.amount * (d.unit === 'y' ? 12 : 1);
      else ms += addLength(0, d, n);
    }
    const at = addLength(origin, { kind: 'duration', amount: months, unit: 'mo' }) + ms;
    return { row: rowAtOrAfter(time, at), ms: at };
  };
  const folds: ValidationFold[] = [];
  for (let k = 0; ; k++) {
    const trainStart = params.mode === 'expanding' ? boundary({}) : boundary({ step: k });
    const trainEnd = boundary({ step: k, train: 1 });
    if (trainEnd.row >= end) break;
    const testEnd = Math.min(end, boundary({ step: k, train: 1, test: 1 }).row);
    if (testEnd - trainEnd.row < MIN_FOLD_ROWS) {
      // a tail too short for a window of its own: the previous window's model trades it too
      const last = folds[folds.length - 1];
      if (last) last.test[0] = { start: last.test[0].start, end };
      break;
    }
    const blocks = [{ start: trainEnd.row, end: testEnd }];
    const cleaned = purgeAndEmbargo([{ start: trainStart.row, end: trainEnd.row }], blocks, index, embargo);
    const trainRows = rowCount(cleaned.train);
    if (trainRows < MIN_FOLD_ROWS) {
      throw new NotEnoughDataError(`walk-forward window ${k} has ${trainRows} training rows after purging (need ${MIN_FOLD_ROWS}); use a longer validation.train`);
    }
    folds.push({ index: k, train: cleaned.train, test: blocks, purged: cleaned.purged, embargoed: cleaned.embargoed });
    if (testEnd >= end) break;
  }
  if (folds.length === 0) {
    const needed = boundary({ train: 1, test: 1 });
    throw new NotEnoughDataError(
      `walk-forward needs ${params.train} of training and ${params.test} of test data after the warm-up, ending ${isoTime(needed.ms)}, but the data ends ${isoTime(time[end - 1])}; use shorter windows or more data`,
    );
  }
  // The stitched account: each bar traded by the newest window whose test block holds it.
  const pieces = folds.map((fold, i) => ({
    fold: fold.index,
    start: fold.test[0].start,
    end: i + 1 < folds.length ? Math.min(fold.test[0].end, folds[i + 1].test[0].start) : fold.test[0].end,
  }));
  return { folds, paths: [{ pieces }] };
}

/** A length's size for comparisons (calendar months as 30.44 days; bars as themselves). */
function span(length: Length): number {
  if (length.kind === 'bars') return length.bars;
  if (length.unit === 'mo' || length.unit === 'y') return length.amount * (length.unit === 'y' ? 12 : 1) * 30.44 * 86_400_000;
  return addLength(0, length);
}

export const walkForwardSplitter = defineSplitter({
  id: 'core/walk-forward',
  version: '1.0.0',
  doc: 'Walk-forward windows (rolling or expanding training, test block after it), purged; one stitched out-of-sample account.',
  params: walkForwardParams,
  foldName: 'window',
  forwardOnly: true,
  split: walkForwardSplit,
});
