import type { Candles } from '../frame/frame';
import { timeframeMs } from '../frame/frame';
import { escapeHtml, formatValue, recordsTable, type ReportSection } from './html-report';
import type { RunBaselines } from '../runner/baselines';

/**
 * The model's side of a run report, over the traded segment: predictions over the close, realized
 * against predicted over time, which ensemble member wins in which period, and a signal × horizon ×
 * realization dashboard.
 */

/** One member of an ensemble over the shown rows: its outputs and the run's strategy applied to them. */
export type MemberSeries = { name: string; values: Float32Array; targets: Float64Array };

export type PredictionReportInput = {
  candles: Candles;
  /** Candle rows [start, end) shown: the traded segment. */
  start: number;
  end: number;
  /** Output columns: class names (classification) or ['value'] (regression). */
  columns: string[];
  /** Outputs for rows [start, end), row-major. */
  values: Float32Array;
  /** The labels of every candle row (NaN where unknown). */
  target: Float64Array;
  task: 'classification' | 'regression';
  /** The label horizon in bars. */
  horizon: number;
  /** Regression: the validation RMSE, drawn as a ± band around the prediction. */
  band?: number;
  /** The run's strategy targets for rows [start, end) (the model's own P&L beside the members'). */
  targets?: Float64Array;
  /** Ensembles: each member's outputs and strategy targets on the same rows. */
  members?: MemberSeries[];
  /** Why there are no member series (e.g. a validated run refits per window). */
  membersNote?: string;
};

const COLORS = ['#2b6cb0', '#c53030', '#2f855a', '#805ad5', '#dd6b20', '#319795', '#d53f8c', '#718096'];
const BASE_LAYOUT = { margin: { l: 60, r: 60, t: 40, b: 40 }, height: 380, legend: { orientation: 'h', y: -0.15 } };
const timeAxis = { type: 'date', title: { text: 'time (UTC)' } };

/** A window for rolling statistics: about 1/30 of the rows, at least 24 bars. */
export function rollingWindow(rows: number): number {
  return Math.max(24, Math.round(rows / 30));
}

/** Trailing mean over `window` values, ignoring NaN; NaN until a full window has passed. */
export function rollingMean(values: ArrayLike<number>, window: number): Float64Array {
  const out = new Float64Array(values.length).fill(NaN);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    const added = values[i];
    if (Number.isFinite(added)) (sum += added), count++;
    if (i >= window) {
      const dropped = values[i - window];
      if (Number.isFinite(dropped)) (sum -= dropped), count--;
    }
    if (i >= window - 1 && count > 0) out[i] = sum / count;
  }
  return out;
}

/** The predicted class (argmax) of each row; NaN for a regression model. */
export function argmaxRows(values: Float32Array, width: number): Float64Array {
  const rows = values.length / width;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < width; c++) if (values[r * width + c] > values[r * width + best]) best = c;
    out[r] = best;
  }
  return out;
}

/** "5 bars (5h)": a bar count with its duration on the run's timeframe. */
export function barsLabel(bars: number, timeframe: string): string {
  let ms: number;
  try {
    ms = bars * timeframeMs(timeframe);
  } catch {
    return `${bars} bars`;
  }
  const minutes = Math.round(ms / 60_000);
  const parts: string[] = [];
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const rest = minutes % 60;
  if (days) parts.push(`${days}d`);
  if (hours) parts.push(`${hours}h`);
  if (rest || parts.length === 0) parts.push(`${rest}m`);
  return `${bars} bar${bars === 1 ? '' : 's'} (${parts.join(' ')})`;
}

/**
 * Calendar periods over [from, to] (ms): months when the span passes 90 days, weeks (from Monday) when
 * it passes 14, else days. Each is [start, end) with a label.
 */
export function calendarPeriods(from: number, to: number): Array<{ start: number; end: number; label: string }> {
  const span = to - from;
  const unit = span > 90 * 86_400_000 ? 'month' : span > 14 * 86_400_000 ? 'week' : 'day';
  const first = new Date(from);
  let start: Date;
  if (unit === 'month') start = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), 1));
  else {
    start = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), first.getUTCDate()));
    if (unit === 'week') start = new Date(start.getTime() - ((start.getUTCDay() + 6) % 7) * 86_400_000);
  }
  const periods: Array<{ start: number; end: number; label: string }> = [];
  while (start.getTime() <= to) {
    const end =
      unit === 'month'
        ? new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1))
        : new Date(start.getTime() + (unit === 'week' ? 7 : 1) * 86_400_000);
    const iso = start.toISOString();
    periods.push({ start: start.getTime(), end: end.getTime(), label: unit === 'month' ? iso.slice(0, 7) : unit === 'week' ? `week of ${iso.slice(0, 10)}` : iso.slice(0, 10) });
    start = end;
  }
  return periods;
}

/**
 * Gross close-to-close return of holding `targets[i]` (a fraction of equity) from row start+i to the
 * next row: which signals pay, without costs or fills (the backtest has those).
 */
export function grossStepReturns(candles: Candles, start: number, targets: Float64Array): Float64Array {
  const close = candles.column('close');
  const out = new Float64Array(targets.length).fill(NaN);
  for (let i = 0; i < targets.length; i++) {
    const row = start + i;
    if (row + 1 < candles.length && Number.isFinite(targets[i])) out[i] = targets[i] * (close[row + 1] / close[row] - 1);
  }
  return out;
}

/** Which direction a class name means: +1 (BUY, UP, LONG), −1 (SELL, DOWN, SHORT), else 0. */
export function classDirection(name: string): number {
  if (/buy|up|long|bull/i.test(name)) return 1;
  if (/sell|down|short|bear/i.test(name)) return -1;
  return 0;
}

function hitSeries(input: PredictionReportInput, values: Float32Array): Float64Array {
  const { start, target, columns } = input;
  const rows = values.length / columns.length;
  const hits = new Float64Array(rows).fill(NaN);
  if (input.task === 'classification') {
    const predicted = argmaxRows(values, columns.length);
    for (let i = 0; i < rows; i++) if (Number.isFinite(target[start + i])) hits[i] = predicted[i] === target[start + i] ? 1 : 0;
  } else {
    // regression: did the sign of the prediction match the sign of the realized value?
    for (let i = 0; i < rows; i++) {
      const realized = target[start + i];
      // (a model with several outputs, e.g. quantiles, has its point forecast in column 0)
      if (Number.isFinite(realized) && realized !== 0) hits[i] = Math.sign(values[i * columns.length]) === Math.sign(realized) ? 1 : 0;
    }
  }
  return hits;
}

function predictionsOverPrice(input: PredictionReportInput): ReportSection {
  const { candles, start, end, columns, values } = input;
  const time = Array.from(candles.time.subarray(start, end));
  const close = { type: 'scattergl', mode: 'lines', name: `${candles.meta.symbol} close`, x: time, y: Array.from(candles.column('close').subarray(start, end)), line: { width: 1, color: '#4a5568' }, yaxis: 'y' };
  const width = columns.length;
  const column = (c: number): number[] => Array.from({ length: end - start }, (_, i) => values[i * width + c]);
  if (input.task === 'classification') {
    return {
      title: 'Predictions over price',
      html: `<p>The close (left axis) and the model's probability of each class (right axis) on every traded bar. A label is decided ${input.horizon} bars after its bar.</p>`,
      figures: [
        {
          data: [close, ...columns.map((name, c) => ({ type: 'scattergl', mode: 'lines', name: `P(${name})`, x: time, y: column(c), line: { width: 1, color: COLORS[c % COLORS.length] }, yaxis: 'y2' }))],
          layout: { ...BASE_LAYOUT, height: 420, title: { text: 'Class probabilities over the close' }, xaxis: timeAxis, yaxis: { title: { text: 'price' } }, yaxis2: { title: { text: 'probability' }, overlaying: 'y', side: 'right', range: [0, 1] } },
        },
      ],
    };
  }
  const predicted = column(0);
  const band = input.band ?? 0;
  const realized = Array.from(input.target.subarray(start, end), (v) => (Number.isFinite(v) ? v : null));
  return {
    title: 'Predictions over price',
    html: `<p>The close (left axis); the model's prediction of the label with a ± validation-RMSE band (${formatValue(band)}), and the realized label (right axis).</p>`,
    figures: [
      {
        data: [
          close,
          { type: 'scatter', mode: 'lines', name: 'prediction + RMSE', x: time, y: predicted.map((v) => v + band), line: { width: 0 }, yaxis: 'y2', showlegend: false },
          { type: 'scatter', mode: 'lines', name: 'band (± validation RMSE)', x: time, y: predicted.map((v) => v - band), line: { width: 0 }, fill: 'tonexty', fillcolor: 'rgba(43,108,176,0.15)', yaxis: 'y2' },
          { type: 'scattergl', mode: 'lines', name: 'prediction', x: time, y: predicted, line: { width: 1, color: '#2b6cb0' }, yaxis: 'y2' },
          { type: 'scattergl', mode: 'lines', name: 'realized', x: time, y: realized, line: { width: 1, color: '#dd6b20' }, yaxis: 'y2' },
        ],
        layout: { ...BASE_LAYOUT, height: 420, title: { text: 'Prediction band over the close' }, xaxis: timeAxis, yaxis: { title: { text: 'price' } }, yaxis2: { title: { text: 'label' }, overlaying: 'y', side: 'right' } },
      },
    ],
  };
}

function realizedAgainstPredicted(input: PredictionReportInput): ReportSection {
  const { candles, start, end, columns, values } = input;
  const rows = end - start;
  const window = rollingWindow(rows);
  const time = Array.from(candles.time.subarray(start, end));
  const nulls = (a: Float64Array): Array<number | null> => Array.from(a, (v) => (Number.isFinite(v) ? v : null));
  const hits = hitSeries(input, values);
  if (input.task === 'classification') {
    // the model's own expectation of being right (its top probability) against how often it was
    const confidence = new Float64Array(rows);
    for (let i = 0; i < rows; i++) confidence[i] = Math.max(...values.subarray(i * columns.length, (i + 1) * columns.length));
    return {
      title: 'Realized against predicted',
      html: `<p>Over a trailing window of ${window} bars: how often the predicted class (argmax) was the realized label (hit rate), against the model's mean top probability (what it expected). A hit rate below the confidence line is an over-confident stretch.</p>`,
      figures: [
        {
          data: [
            { type: 'scattergl', mode: 'lines', name: `hit rate (rolling ${window})`, x: time, y: nulls(rollingMean(hits, window)), line: { color: '#2b6cb0' } },
            { type: 'scattergl', mode: 'lines', name: `mean top probability (rolling ${window})`, x: time, y: nulls(rollingMean(confidence, window)), line: { color: '#a0aec0', dash: 'dot' } },
          ],
          layout: { ...BASE_LAYOUT, title: { text: 'Hit rate against confidence' }, xaxis: timeAxis, yaxis: { title: { text: 'fraction' }, range: [0, 1] } },
        },
      ],
    };
  }
  const predicted = Float64Array.from({ length: rows }, (_, i) => values[i * columns.length]);
  const realized = input.target.slice(start, end);
  return {
    title: 'Realized against predicted',
    html: `<p>Over a trailing window of ${window} bars: the mean prediction against the mean realized label, and how often their signs agreed (direction hit rate, right axis).</p>`,
    figures: [
      {
        data: [
          { type: 'scattergl', mode: 'lines', name: `predicted (rolling mean ${window})`, x: time, y: nulls(rollingMean(predicted, window)), line: { color: '#2b6cb0' } },
          { type: 'scattergl', mode: 'lines', name: `realized (rolling mean ${window})`, x: time, y: nulls(rollingMean(realized, window)), line: { color: '#dd6b20' } },
          { type: 'scattergl', mode: 'lines', name: `direction hit rate (rolling ${window})`, x: time, y: nulls(rollingMean(hits, window)), line: { color: '#2f855a', dash: 'dot' }, yaxis: 'y2' },
        ],
        layout: { ...BASE_LAYOUT, title: { text: 'Predicted against realized' }, xaxis: timeAxis, yaxis: { title: { text: 'label' } }, yaxis2: { title: { text: 'hit rate' }, overlaying: 'y', side: 'right', range: [0, 1] } },
      },
    ],
  };
}

/** Per calendar period and series: the hit rate and the summed gross return, with the winner by return. */
export function periodWinners(
  time: ArrayLike<number>,
  series: Array<{ name: string; hits?: Float64Array; returns: Float64Array }>,
): Array<{ period: string; bars: number; values: Array<{ name: string; hitRate: number | null; return: number }>; winner: string }> {
  if (time.length === 0) return [];
  const periods = calendarPeriods(time[0], time[time.length - 1]);
  const out = [];
  let i = 0;
  for (const period of periods) {
    const from = i;
    while (i < time.length && time[i] < period.end) i++;
    if (i === from) continue;
    const values = series.map((s) => {
      let hits = 0;
      let counted = 0;
      let compounded = 1;
      for (let r = from; r < i; r++) {
        if (s.hits && Number.isFinite(s.hits[r])) (hits += s.hits[r]), counted++;
        if (Number.isFinite(s.returns[r])) compounded *= 1 + s.returns[r];
      }
      return { name: s.name, hitRate: counted ? hits / counted : null, return: compounded - 1 };
    });
    const best = Math.max(...values.map((v) => v.return));
    const leaders = values.filter((v) => v.return === best);
    const winner = leaders.length === 1 ? leaders[0].name : 'tie';
    out.push({ period: period.label, bars: i - from, values, winner });
  }
  return out;
}

const pct = (x: number | null): string => (x === null || !Number.isFinite(x) ? '—' : `${(100 * x).toFixed(2)}%`);

function membersSection(input: PredictionReportInput): ReportSection {
  const title = 'Which model wins when (ensemble members)';
  if (!input.members?.length) return { title, html: `<p><em>${escapeHtml(input.membersNote ?? 'not an ensemble: one model, nothing to compare')}</em></p>` };
  const { candles, start, end } = input;
  const rows = end - start;
  const window = rollingWindow(rows);
  const time = Array.from(candles.time.subarray(start, end));
  const series = [
    ...input.members.map((m) => ({ name: m.name, hits: hitSeries(input, m.values), returns: grossStepReturns(candles, start, m.targets) })),
    ...(input.targets ? [{ name: 'ensemble', hits: hitSeries(input, input.values), returns: grossStepReturns(candles, start, input.targets) }] : []),
  ];
  const nulls = (a: Float64Array): Array<number | null> => Array.from(a, (v) => (Number.isFinite(v) ? v : null));
  const cumulative = (returns: Float64Array): number[] => {
    let equity = 1;
    return Array.from(returns, (r) => (equity *= 1 + (Number.isFinite(r) ? r : 0)) - 1);
  };
  const winners = periodWinners(time, series);
  const table = winners.map((w) => {
    const row: Record<string, unknown> = { period: w.period, bars: w.bars };
    for (const v of w.values) {
      row[`${v.name} hit rate`] = pct(v.hitRate);
      row[`${v.name} return`] = pct(v.return);
    }
    row['winner (return)'] = w.winner;
    return row;
  });
  const wins = series.map((s) => `${escapeHtml(s.name)} ${winners.filter((w) => w.winner === s.name).length}`).join(', ');
  return {
    title,
    html:
      `<p>Each member's outputs run through the run's strategy, scored on the traded bars: rolling ${input.task === 'classification' ? 'accuracy (argmax = label)' : 'direction hit rate'} over ${window} bars and gross close-to-close P&amp;L (no costs or fills: which member's signals pay, not an account). Periods won by return: ${wins}.</p>` +
      `<div data-section="member-winners">${recordsTable(table, 100)}</div>`,
    figures: [
      {
        data: series.map((s, k) => ({ type: 'scattergl', mode: 'lines', name: s.name, x: time, y: nulls(rollingMean(s.hits, window)), line: { color: COLORS[k % COLORS.length], ...(s.name === 'ensemble' ? { dash: 'dot' } : {}) } })),
        layout: { ...BASE_LAYOUT, title: { text: `Rolling accuracy per member (${window} bars)` }, xaxis: timeAxis, yaxis: { title: { text: 'hit rate' }, range: [0, 1] } },
      },
      {
        data: series.map((s, k) => ({ type: 'scattergl', mode: 'lines', name: s.name, x: time, y: cumulative(s.returns), line: { color: COLORS[k % COLORS.length], ...(s.name === 'ensemble' ? { dash: 'dot' } : {}) } })),
        layout: { ...BASE_LAYOUT, title: { text: 'Cumulative gross P&L per member' }, xaxis: timeAxis, yaxis: { title: { text: 'return' }, tickformat: '.1%' } },
      },
    ],
  };
}

export type SignalCell = { signal: string; horizon: number; count: number; mean: number | null; median: number | null; shareUp: number | null; hitRate: number | null };

/** Horizons in bars for the dashboard: 1, half the label horizon, the label horizon, 2× and 4× (distinct, sorted). */
export function dashboardHorizons(labelHorizon: number): number[] {
  const h = Math.max(1, labelHorizon);
  return [...new Set([1, Math.max(1, Math.round(h / 2)), h, 2 * h, 4 * h])].sort((a, b) => a - b);
}

/**
 * For each signal (the predicted class; for regression the sign of the prediction) and horizon h in
 * bars: the forward close-to-close return from the signal's bar to h bars later — count, mean, median,
 * share up, and the hit rate (share in the signal's direction; none for a directionless class).
 */
export function signalRealization(input: PredictionReportInput, horizons = dashboardHorizons(input.horizon)): SignalCell[] {
  const { candles, start, end, columns, values } = input;
  const close = candles.column('close');
  const rows = end - start;
  let signalNames: string[];
  let signalOf: (i: number) => number;
  if (input.task === 'classification') {
    const predicted = argmaxRows(values, columns.length);
    signalNames = columns;
    signalOf = (i) => predicted[i];
  } else {
    signalNames = ['down (prediction < 0)', 'up (prediction ≥ 0)'];
    signalOf = (i) => (values[i] < 0 ? 0 : 1);
  }
  const directions = input.task === 'classification' ? columns.map(classDirection) : [-1, 1];
  const cells: SignalCell[] = [];
  for (const [s, signal] of signalNames.entries()) {
    for (const horizon of horizons) {
      const forward: number[] = [];
      for (let i = 0; i < rows; i++) {
        const row = start + i;
        if (signalOf(i) === s && row + horizon < candles.length) forward.push(close[row + horizon] / close[row] - 1);
      }
      forward.sort((a, b) => a - b);
      const n = forward.length;
      const direction = directions[s];
      cells.push({
        signal,
        horizon,
        count: n,
        mean: n ? forward.reduce((a, b) => a + b, 0) / n : null,
        median: n ? (n % 2 ? forward[(n - 1) / 2] : (forward[n / 2 - 1] + forward[n / 2]) / 2) : null,
        shareUp: n ? forward.filter((r) => r > 0).length / n : null,
        hitRate: n && direction !== 0 ? forward.filter((r) => Math.sign(r) === direction).length / n : null,
      });
    }
  }
  return cells;
}

function signalDashboard(input: PredictionReportInput): ReportSection {
  const timeframe = input.candles.meta.timeframe;
  const horizons = dashboardHorizons(input.horizon);
  const cells = signalRealization(input, horizons);
  const signals = [...new Set(cells.map((c) => c.signal))];
  const xs = horizons.map((h) => barsLabel(h, timeframe));
  const z = signals.map((s) => horizons.map((h) => {
    const cell = cells.find((c) => c.signal === s && c.horizon === h)!;
    return cell.mean === null ? null : 10_000 * cell.mean;
  }));
  const annotations = signals.flatMap((s) =>
    horizons.map((h, j) => {
      const cell = cells.find((c) => c.signal === s && c.horizon === h)!;
      const mean = cell.mean === null ? '—' : `${(10_000 * cell.mean).toFixed(1)} bps`;
      const hit = cell.hitRate === null ? '' : `<br>hit ${(100 * cell.hitRate).toFixed(0)}%`;
      return { x: xs[j], y: s, text: `${mean}${hit}<br>n=${cell.count}`, showarrow: false, font: { size: 11 } };
    }),
  );
  const table = cells.map((c) => ({
    signal: c.signal,
    horizon: barsLabel(c.horizon, timeframe),
    bars: c.count,
    'mean return': pct(c.mean),
    'median return': pct(c.median),
    'share up': pct(c.shareUp),
    'hit rate': c.hitRate === null ? '—' : pct(c.hitRate),
  }));
  return {
    title: 'Signal × horizon × realization',
    html:
      `<p>For each signal the model gave on the traded bars (${input.task === 'classification' ? 'its predicted class, the argmax' : 'the sign of its prediction'}), what the market did next: the forward close-to-close return from that bar's close to the close ${horizons.join(', ')} bars later (this run has one timeframe, ${escapeHtml(timeframe)}, so horizons are in its bars; the label's own horizon is ${input.horizon}). ` +
      `Hit rate is the share of those returns in the signal's direction (BUY/UP/LONG up, SELL/DOWN/SHORT down; none for a directionless class such as HOLD). A useful signal shows a mean and hit rate that separate the classes at the label horizon and fade with longer ones.</p>` +
      `<div data-section="signal-dashboard">${recordsTable(table, 200)}</div>`,
    figures: [
      {
        data: [{ type: 'heatmap', x: xs, y: signals, z, colorscale: 'RdBu', zmid: 0, colorbar: { title: { text: 'bps' } } }],
        layout: { ...BASE_LAYOUT, height: 120 + 70 * signals.length, title: { text: 'Mean forward return (bps) by signal and horizon' }, xaxis: { title: { text: 'horizon' }, type: 'category' }, yaxis: { type: 'category' }, annotations },
      },
    ],
  };
}

/** The four model sections of a run report. */
export function predictionSections(input: PredictionReportInput): ReportSection[] {
  if (input.end <= input.start) return [];
  return [predictionsOverPrice(input), realizedAgainstPredicted(input), membersSection(input), signalDashboard(input)];
}

/** The baseline table: the model beside a naive last-label model and a small ARIMA, on the same test rows. */
export function baselineSection(baselines: RunBaselines | undefined): ReportSection[] {
  if (!baselines) return [];
  const row = (name: string, m: RunBaselines['model']): Record<string, unknown> =>
    baselines.task === 'regression'
      ? { predictor: name, rows: m.rows, MAE: m.mae, RMSE: m.rmse, 'R²': m.r2, 'direction accuracy': m.directionAccuracy }
      : { predictor: name, rows: m.rows, accuracy: m.accuracy, 'balanced accuracy': m.balancedAccuracy, 'macro F1': m.macroF1, 'direction accuracy': m.directionAccuracy };
  const arima = baselines.arima;
  return [
    {
      title: arima.windows ? 'Baselines (out-of-sample rows)' : 'Baselines (test segment)',
      html:
        `<p>Does the model beat a naive predictor (the last label known at the row, i.e. the label of the row a horizon earlier) and ` +
        `ARIMA(${arima.order.join(',')}) with a constant on ${escapeHtml(arima.series)}, ${arima.windows ? `refitted in each of the ${arima.windows} windows on up to ${arima.fitRows} of its training rows (the out-of-sample rows stitched)` : `fitted on the last ${arima.fitRows} training rows`}? ` +
        `Direction accuracy: ${baselines.task === 'regression' ? 'share of rows whose prediction has the sign of the target' : 'share of the down/up rows (first and last class) predicted as that class'}.</p>` +
        recordsTable([row('model', baselines.model), row('naive (last known label)', baselines.naive), row(`ARIMA(${arima.order.join(',')})`, arima)]),
    },
  ];
}
