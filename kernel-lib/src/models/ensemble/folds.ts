import { NotEnoughDataError } from '../../errors';

/** Rows [start, end) of the training segment. */
export type RowRange = { start: number; end: number };

/**
 * One out-of-fold step: the members are fitted on `train` (one or two ranges) and predict `valid`.
 * `purgedBefore`/`purgedAfter` rows next to the held-out fold are in neither.
 */
export type Fold = { index: number; valid: RowRange; train: RowRange[]; purgedBefore: number; purgedAfter: number };

/**
 * How out-of-fold predictions are made:
 * - `purged-kfold`: K contiguous, time-ordered folds; each is predicted by members fitted on every other
 *   row except `purge` rows on each side of it (a label looks `purge` bars ahead, so a row just before
 *   the fold has a label made of the fold's prices, and the fold's last labels use the prices of the
 *   rows just after it). Every training row gets an out-of-fold prediction.
 * - `walk-forward`: fold k is predicted by members fitted on the rows before it, minus the `purge`
 *   rows just before it; the first fold has no prediction (the meta-learner skips it).
 */
export type OofScheme = 'purged-kfold' | 'walk-forward';

/** Fewer training rows than this in any fold's fit is an error. */
export const MIN_FOLD_TRAIN_ROWS = 30;

/** The time-ordered folds over `rows` training rows, purged by `purge` rows around each held-out fold. */
export function purgedFolds(rows: number, folds: number, purge: number, scheme: OofScheme): Fold[] {
  const out: Fold[] = [];
  for (let k = 0; k < folds; k++) {
    const start = Math.floor((k * rows) / folds);
    const end = Math.floor(((k + 1) * rows) / folds);
    if (end - start < 1) throw new NotEnoughDataError(`${rows} training rows cannot make ${folds} folds; use fewer folds or more data`);
    if (scheme === 'walk-forward' && k === 0) continue;
    const before = Math.max(0, start - purge);
    const after = Math.min(rows, end + purge);
    const train: RowRange[] = [];
    if (before > 0) train.push({ start: 0, end: before });
    if (scheme === 'purged-kfold' && after < rows) train.push({ start: after, end: rows });
    const trainRows = train.reduce((sum, range) => sum + range.end - range.start, 0);
    if (trainRows < MIN_FOLD_TRAIN_ROWS) {
      throw new NotEnoughDataError(
        `fold ${k} of ${folds} leaves ${trainRows} training rows after a ${purge}-row purge (need ${MIN_FOLD_TRAIN_ROWS}); use fewer folds or more data`,
      );
    }
    out.push({
      index: k,
      valid: { start, end },
      train,
      purgedBefore: start - before,
      purgedAfter: scheme === 'purged-kfold' ? after - end : 0,
    });
  }
  return out;
}
