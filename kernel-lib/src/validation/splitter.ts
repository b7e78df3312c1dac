import { isoTime } from '../frame/frame';
import { ConfigError } from '../errors';

/** Rows [start, end) of the candles. */
export type RowRange = { start: number; end: number };

/**
 * What a splitter sees: the bar times, the rows that can be used (after the features' and the labeler's
 * warm-up, to the last candle) and how far each label looks ahead. A splitter never sees features,
 * labels or prices, so it cannot leak them.
 */
export type SplitIndex = {
  /** Bar open times (epoch ms), strictly increasing, one per candle. */
  readonly time: Float64Array;
  /** First usable row (the end of the warm-up). */
  readonly start: number;
  /** One past the last usable row (usually the number of candles). */
  readonly end: number;
  /** Bars a label looks ahead (the labeler's horizon): the purge when there are no event ends. */
  readonly horizon: number;
  /** When each row's label was decided (bar open time, epoch ms), when the labeler gives it; NaN = unknown. */
  readonly eventEnd?: Float64Array;
  /** The bar length in ms (for durations given in bars and for the last bar's close). */
  readonly barMs: number;
};

/**
 * One fold (a walk-forward window, a k-fold fold, a CPCV split): the model is fitted on `train` and
 * predicts `test`. Both are sorted, disjoint row ranges. `purged` training rows were dropped because
 * their label reaches into a test block; `embargoed` ones because they follow a test block too closely.
 */
export type ValidationFold = {
  index: number;
  train: RowRange[];
  test: RowRange[];
  /** For CPCV: which of the N groups this fold tests (ascending). */
  testGroups?: number[];
  purged: number;
  embargoed: number;
};

/**
 * How a splitter's test predictions become backtests. Each path is a list of (fold, rows) pieces that
 * tile its rows in time order: walk-forward and k-fold give one path (every row tested once); CPCV
 * gives k/N·C(N, k) paths over the same rows, each piece predicted by a different fold's model.
 */
export type BacktestPath = { pieces: Array<{ fold: number; start: number; end: number }> };

export type Split = {
  folds: ValidationFold[];
  paths: BacktestPath[];
  /** For CPCV: the N group boundaries as row ranges. */
  groups?: RowRange[];
};

/** Fewer rows than this in a fold's training or test block make the fold meaningless. */
export const MIN_FOLD_ROWS = 30;

/** Total rows of some ranges. */
export function rowCount(ranges: readonly RowRange[]): number {
  return ranges.reduce((sum, r) => sum + (r.end - r.start), 0);
}

/** The first row whose time is ≥ `ms` (time.length when none). */
export function rowAtOrAfter(time: Float64Array, ms: number): number {
  let lo = 0;
  let hi = time.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (time[mid] < ms) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Remove from `train` what could leak test information into the model:
 * - purge: a training row whose label is decided at or after a test block's first bar (by its event end
 *   when the labeler gives them, else by `horizon` bars) and that starts before the block's end; an
 *   unknown event end counts as reaching across;
 * - embargo: the first `embargoRows` training rows after each test block (serially correlated features
 *   and labels right after the block carry its information; López de Prado, AFML §7.4.2).
 * Returns the surviving training ranges and the counts.
 */
export function purgeAndEmbargo(
  train: readonly RowRange[],
  test: readonly RowRange[],
  index: SplitIndex,
  embargoRows: number,
): { train: RowRange[]; purged: number; embargoed: number } {
  const { time, eventEnd, horizon } = index;
  const keep = new Uint8Array(index.end);
  for (const r of train) keep.fill(1, r.start, r.end);
  let purged = 0;
  let embargoed = 0;
  for (const block of test) {
    const blockStart = time[block.start];
    // Rows before the block whose label reaches into it; with event ends a row can reach across from
    // far back, so every earlier training row is checked (cheap: one pass per block).
    for (const r of train) {
      for (let row = r.start; row < Math.min(r.end, block.start); row++) {
        if (!keep[row]) continue;
        const reaches = eventEnd ? !(eventEnd[row] < blockStart) : row + horizon >= block.start;
        if (reaches) {
          keep[row] = 0;
          purged++;
        }
      }
    }
    const embargoEnd = Math.min(index.end, block.end + embargoRows);
    for (let row = block.end; row < embargoEnd; row++) {
      if (keep[row]) {
        keep[row] = 0;
        embargoed++;
      }
    }
  }
  return { train: rangesOf(keep, index.start, index.end), purged, embargoed };
}

/** The runs of set flags in [from, to) as row ranges. */
export function rangesOf(flags: Uint8Array, from: number, to: number): RowRange[] {
  const out: RowRange[] = [];
  let start = -1;
  for (let row = from; row <= to; row++) {
    const on = row < to && flags[row] === 1;
    if (on && start < 0) start = row;
    if (!on && start >= 0) {
      out.push({ start, end: row });
      start = -1;
    }
  }
  return out;
}

/** A length: bars (a number, or "500 bars"), or a duration ("180d", "12h", "4w", "6mo", "1y"). */
export type Length = { kind: 'bars'; bars: number } | { kind: 'duration'; amount: number; unit: 'm' | 'h' | 'd' | 'w' | 'mo' | 'y' };

/** Parse a window length; the error names the field and the accepted forms. */
export function parseLength(value: number | string, field: string): Length {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value <= 0) throw new ConfigError(`${field} must be a positive whole number of bars or a duration like "30d", got ${value}`);
    return { kind: 'bars', bars: value };
  }
  const text = value.trim();
  const bars = /^(\d+)\s*(bars?|b)$/.exec(text);
  if (bars) return parseLength(Number(bars[1]), field);
  const duration = /^(\d+(?:\.\d+)?)\s*(m|h|d|w|mo|y)$/.exec(text);
  if (!duration || !(Number(duration[1]) > 0)) {
    throw new ConfigError(`${field} '${value}' is not a length: use bars (500 or "500 bars") or a duration ("90m", "12h", "30d", "4w", "6mo", "1y")`);
  }
  const unit = duration[2] as Exclude<Length, { kind: 'bars' }>['unit'];
  if ((unit === 'mo' || unit === 'y') && !Number.isInteger(Number(duration[1]))) throw new ConfigError(`${field} '${value}': months and years must be whole numbers`);
  return { kind: 'duration', amount: Number(duration[1]), unit };
}

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;

/**
 * `ms` moved forward by `times` lengths. Calendar units step in UTC calendar months, keeping the day of
 * month where it exists and clamping to the month's last day otherwise (Jan 31 + 1mo = Feb 28/29), as
 * pandas' DateOffset(months=…) does; each step is taken from `ms`, so clamping never accumulates.
 */
export function addLength(ms: number, length: Exclude<Length, { kind: 'bars' }>, times = 1): number {
  if (length.unit === 'mo' || length.unit === 'y') {
    const months = length.amount * times * (length.unit === 'y' ? 12 : 1);
    const date = new Date(ms);
    const year = date.getUTCFullYear();
    const month = date.getUTCMonth() + months;
    const targetYear = year + Math.floor(month / 12);
    const targetMonth = ((month % 12) + 12) % 12;
    const lastDay = new Date(Date.UTC(targetYear, targetMonth + 1, 0)).getUTCDate();
    const day = Math.min(date.getUTCDate(), lastDay);
    return Date.UTC(targetYear, targetMonth, day, date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds(), date.getUTCMilliseconds());
  }
  return ms + length.amount * times * UNIT_MS[length.unit];
}

/** An embargo: a share of the usable rows ("1%"), bars (a number), or a duration ("2d"). */
export function embargoRows(value: number | string | undefined, index: SplitIndex, field: string): number {
  if (value === undefined) return 0;
  if (typeof value === 'string') {
    const percent = /^(\d+(?:\.\d+)?)\s*%$/.exec(value.trim());
    if (percent) {
      const share = Number(percent[1]) / 100;
      if (share >= 1) throw new ConfigError(`${field} '${value}' must be below 100%`);
      return Math.ceil(share * (index.end - index.start));
    }
  }
  if (value === 0) return 0;
  const length = parseLength(value, field);
  return length.kind === 'bars' ? length.bars : Math.ceil((addLength(0, length) - 0) / index.barMs);
}

/** One line per fold for logs and errors: "window 3: train 2021-01-01…2021-06-29, test 2021-06-30…2021-07-29". */
export function describeFold(fold: ValidationFold, time: Float64Array, barMs: number): string {
  const span = (ranges: readonly RowRange[]) =>
    ranges.length ? `${isoTime(time[ranges[0].start]).slice(0, 16)}…${isoTime(time[ranges[ranges.length - 1].end - 1] + barMs).slice(0, 16)}` : 'none';
  return `fold ${fold.index}: train ${span(fold.train)} (${rowCount(fold.train)} rows), test ${span(fold.test)} (${rowCount(fold.test)} rows)`;
}
