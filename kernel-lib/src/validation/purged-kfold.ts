import { z } from 'zod';
import { ConfigError, NotEnoughDataError } from '../errors';
import { defineSplitter } from '../plugins/define';
import { MIN_FOLD_ROWS, embargoRows, purgeAndEmbargo, rowCount, type RowRange, type Split, type SplitIndex, type ValidationFold } from './splitter';

export const purgedKFoldParams = z
  .object({
    /** Number of contiguous, time-ordered folds. */
    folds: z.number().int().min(2).max(100).default(5),
    /** Rows after each test fold left out of training ("1%" of the rows, bars, or a duration). */
    embargo: z.union([z.number(), z.string()]).default('1%'),
  })
  .strict();

export type PurgedKFoldParams = z.output<typeof purgedKFoldParams>;

/** K contiguous blocks of [start, end), as equal as whole rows allow (the first blocks get the spare rows last). */
export function contiguousBlocks(start: number, end: number, count: number): RowRange[] {
  const rows = end - start;
  const out: RowRange[] = [];
  for (let k = 0; k < count; k++) out.push({ start: start + Math.floor((k * rows) / count), end: start + Math.floor(((k + 1) * rows) / count) });
  return out;
}

/**
 * Purged k-fold with embargo (López de Prado, AFML ch. 7): K contiguous folds in time order; fold k is
 * predicted by a model fitted on every other row, minus the training rows whose label reaches into the
 * fold (purge) and the embargo rows right after it. Every row is tested once, so the folds' predictions
 * stitch into one path. For model selection: the model of an early fold has seen later data, so this is
 * not a backtest of a tradable history (walk-forward is).
 */
export function purgedKFoldSplit(index: SplitIndex, params: PurgedKFoldParams): Split {
  const embargo = embargoRows(params.embargo, index, 'validation.embargo');
  const blocks = contiguousBlocks(index.start, index.end, params.folds);
  const folds: ValidationFold[] = blocks.map((block, k) => {
    if (block.end - block.start < MIN_FOLD_ROWS) {
      throw new NotEnoughDataError(`purged k-fold: fold ${k} has ${block.end - block.start} rows (need ${MIN_FOLD_ROWS}); use fewer folds or more data`);
    }
    const others = blocks.filter((_, j) => j !== k);
    const cleaned = purgeAndEmbargo(others, [block], index, embargo);
    if (rowCount(cleaned.train) < MIN_FOLD_ROWS) {
      throw new NotEnoughDataError(`purged k-fold: fold ${k} keeps ${rowCount(cleaned.train)} training rows after purge and embargo (need ${MIN_FOLD_ROWS}); use a shorter embargo or more data`);
    }
    return { index: k, train: cleaned.train, test: [block], purged: cleaned.purged, embargoed: cleaned.embargoed };
  });
  return { folds, paths: [{ pieces: folds.map((f) => ({ fold: f.index, start: f.test[0].start, end: f.test[0].end })) }] };
}

export const purgedKFoldSplitter = defineSplitter({
  id: 'core/purged-kfold',
  version: '1.0.0',
  doc: 'Purged k-fold cross-validation with embargo (López de Prado): every row tested once, for model selection.',
  params: purgedKFoldParams,
  foldName: 'fold',
  split: purgedKFoldSplit,
});

/** Rows [start, end) of a training segment, relative to it (the stacking ensemble's folds). */
export type FoldRange = RowRange;

/**
 * One out-of-fold step of a stacking ensemble: the members are fitted on `train` (one or two ranges)
 * and predict `valid`. `purgedBefore`/`purgedAfter` rows next to the held-out fold are in neither.
 */
export type Fold = { index: number; valid: RowRange; train: RowRange[]; purgedBefore: number; purgedAfter: number };

/**
 * How a stacking ensemble makes out-of-fold predictions inside its training rows:
 * - `purged-kfold`: purged k-fold (above) with the label horizon as both purge and embargo;
 * - `walk-forward`: fold k is predicted by members fitted on the rows before it, minus the `purge`
 *   rows just before it; the first fold has no prediction (the meta-learner skips it).
 */
export type OofScheme = 'purged-kfold' | 'walk-forward';

/** Fewer training rows than this in any fold's fit is an error. */
export const MIN_FOLD_TRAIN_ROWS = 30;

/** Each training row's bar open time and when its label was decided (NaN: unknown). */
export type RowEvents = { readonly time: Float64Array; readonly eventEnd: Float64Array };

/**
 * The stacking ensemble's folds over `rows` training rows (relative row numbers), purged around each
 * held-out fold: the same purge and embargo as the splitters. Without `events`, on a row clock: a row
 * is purged when it lies within `purge` rows before the fold. With `events` (the labels' event ends), a
 * row is purged when its label's event ends at or after the fold's first bar, however far back it is;
 * a row without a known event end falls back to `purge` rows. The embargo is `purge` rows either way.
 */
export function purgedFolds(rows: number, folds: number, purge: number, scheme: OofScheme, events?: RowEvents): Fold[] {
  const index: SplitIndex = events ? eventIndex(rows, purge, events) : { time: Float64Array.from({ length: rows }, (_, i) => i), start: 0, end: rows, horizon: purge, barMs: 1 };
  const out: Fold[] = [];
  contiguousBlocks(0, rows, folds).forEach((block, k) => {
    if (block.end - block.start < 1) throw new NotEnoughDataError(`${rows} training rows cannot make ${folds} folds; use fewer folds or more data`);
    if (scheme === 'walk-forward' && k === 0) return;
    const candidates = scheme === 'walk-forward' ? [{ start: 0, end: block.start }] : [{ start: 0, end: block.start }, { start: block.end, end: rows }];
    const cleaned = purgeAndEmbargo(candidates.filter((r) => r.end > r.start), [block], index, scheme === 'walk-forward' ? 0 : purge);
    const trainRows = rowCount(cleaned.train);
    if (trainRows < MIN_FOLD_TRAIN_ROWS) {
      throw new NotEnoughDataError(
        `fold ${k} of ${folds} leaves ${trainRows} training rows after a ${purge}-row purge (need ${MIN_FOLD_TRAIN_ROWS}); use fewer folds or more data`,
      );
    }
    out.push({ index: k, valid: block, train: cleaned.train, purgedBefore: cleaned.purged, purgedAfter: cleaned.embargoed });
  });
  return out;
}

/** A split index over the rows' own times, each row's event end known (a missing one is `purge` rows on). */
function eventIndex(rows: number, purge: number, events: RowEvents): SplitIndex {
  const { time, eventEnd } = events;
  if (time.length !== rows || eventEnd.length !== rows) {
    throw new ConfigError(`purging by event end needs one time and one event end per training row (${rows} rows, got ${time.length} times and ${eventEnd.length} event ends)`);
  }
  for (let r = 1; r < rows; r++) {
    if (!(time[r] > time[r - 1])) throw new ConfigError(`purging by event end needs the training rows in time order; row ${r} is not after row ${r - 1}`);
  }
  const ends = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    ends[r] = Number.isFinite(eventEnd[r]) ? eventEnd[r] : r + purge < rows ? time[r + purge] : Infinity;
  }
  return { time, start: 0, end: rows, horizon: purge, eventEnd: ends, barMs: rows > 1 ? time[1] - time[0] : 1 };
}
