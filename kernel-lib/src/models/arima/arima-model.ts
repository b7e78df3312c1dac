import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { ConfigError, ModelError } from '../../errors';
import { defineModel } from '../../plugins/define';
import { writeArtifact } from '../artifact';
import type { Artifact, FittedModel, Matrix, ModelStream, TrainingData } from '../model';
import { fitSarimax, searchOrders, type OrderCandidate, type SarimaxFit } from './sarimax-fit';
import { KalmanFilter, parameterVector, parametersFromVector, stateSpaceSystem, type SarimaxOrder, type StateSpaceSystem } from './state-space';

export const ARIMA_VERSION = '1.0.0';
const CARD_FILE = 'arima.json';

const order = z.number().int().min(0).max(12);

/** Parameters of core/arima and core/arima-classifier. */
export const arimaParams = z.object({
  /** The modelled series: a feature column, by default the 1-bar return of core/returns. */
  column: z.string().min(1).default('ret_1'),
  /** Other feature columns used as exogenous regressors (held at the current row's values over the forecast). */
  exog: z.array(z.string().min(1)).default([]),
  p: order.default(1),
  d: z.number().int().min(0).max(2).default(0),
  q: order.default(1),
  /** Seasonal orders and season length in bars (0: no seasonal part). */
  P: z.number().int().min(0).max(3).default(0),
  D: z.number().int().min(0).max(1).default(0),
  Q: z.number().int().min(0).max(3).default(0),
  s: z.number().int().min(0).max(400).default(0),
  /** 'c': a constant in the ARMA recursion (statsmodels' trend='c'; with d or D > 0 a drift); 'n': none. */
  trend: z.enum(['n', 'c']).default('c'),
  /**
   * AutoARIMA: fit every p × q (× P × Q) of this grid at the given d, D, s, and keep the lowest
   * criterion; the candidate table goes to `info.candidates`.
   */
  auto: z
    .object({
      p: z.array(order).min(1).default([0, 1, 2]),
      q: z.array(order).min(1).default([0, 1, 2]),
      P: z.array(z.number().int().min(0).max(3)).min(1).optional(),
      Q: z.array(z.number().int().min(0).max(3)).min(1).optional(),
      criterion: z.enum(['aic', 'bic']).default('aic'),
    })
    .optional(),
  /** Fit on at most this many (most recent) training rows: the cost of a fit grows with them. */
  maxRows: z.number().int().min(50).default(5000),
  /** Bars summed by the forecast; by default the labeler's horizon (TrainingData.horizon). */
  horizon: z.number().int().min(1).max(1000).optional(),
  maxIterations: z.number().int().min(1).default(200),
  /**
   * Classifier: a forecast sum above +threshold means the up class, below −threshold the down class,
   * between them the middle one (the direction labeler's default is 0.5%).
   */
  threshold: z.number().min(0).default(0.005),
});
export type ArimaParams = z.output<typeof arimaParams>;

type Task = 'classification' | 'regression';

/** What arima.json records: enough to rebuild the filter without the training data. */
type ArimaCard = {
  modelId: string;
  modelVersion: string;
  task: Task;
  featureNames: string[];
  classes?: string[];
  params: ArimaParams;
  order: SarimaxOrder;
  /** Fitted parameters in statsmodels' order (see info.parameterNames). */
  vector: number[];
  horizon: number;
  info: Record<string, unknown>;
};

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 through erf, |error| < 1.5e-7). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/**
 * A fitted ARIMA/SARIMAX. Predicting a block starts a Kalman filter at the block's first row (from the
 * model's stationary/diffuse initial state) and, after each row, forecasts the next `horizon` values of
 * the series: their sum (the regressor's output, the forward return), or class probabilities from the
 * Gaussian forecast distribution of that sum (the classifier). Row t's output uses rows ≤ t only.
 */
class ArimaModel implements FittedModel {
  readonly modelVersion = ARIMA_VERSION;
  private readonly system: StateSpaceSystem;
  private readonly columnIndex: number;
  private readonly exogIndex: number[];

  constructor(
    readonly modelId: string,
    readonly task: Task,
    readonly featureNames: readonly string[],
    readonly classes: readonly string[] | undefined,
    private readonly params: ArimaParams,
    private readonly order: SarimaxOrder,
    private readonly vector: number[],
    private readonly horizon: number,
    readonly info: Record<string, unknown>,
  ) {
    this.system = stateSpaceSystem(order, parametersFromVector(order, vector));
    this.columnIndex = columnIndexOf(featureNames, params.column, 'column');
    this.exogIndex = params.exog.map((name) => columnIndexOf(featureNames, name, 'exog'));
  }

  private get width(): number {
    return this.task === 'classification' ? this.classes!.length : 1;
  }

  /** Filter one feature row and write its output into `out` at `offset`. */
  private advance(filter: KalmanFilter, values: ArrayLike<number>, at: number, out: Float32Array, offset: number, exog: Float64Array): void {
    for (let j = 0; j < exog.length; j++) exog[j] = values[at + this.exogIndex[j]];
    filter.step(values[at + this.columnIndex], exog);
    // future exogenous values are unknown: held at this row's (a missing one at 0)
    for (let j = 0; j < exog.length; j++) if (!Number.isFinite(exog[j])) exog[j] = 0;
    const { means, sumVariance } = filter.forecast(this.horizon, exog, this.task === 'classification');
    let sum = 0;
    for (const m of means) sum += m;
    if (this.task === 'regression') {
      out[offset] = sum;
      return;
    }
    const sd = Math.sqrt(Math.max(sumVariance, 1e-300));
    const up = 1 - normalCdf((this.params.threshold - sum) / sd);
    const down = normalCdf((-this.params.threshold - sum) / sd);
    const k = this.classes!.length;
    // classes run from down to up, as the direction labelers order them (SELL, HOLD, BUY)
    if (k === 2) {
      const pUp = 1 - normalCdf(-sum / sd);
      out[offset] = 1 - pUp;
      out[offset + 1] = pUp;
    } else {
      out[offset] = down;
      out[offset + 1] = Math.max(0, 1 - up - down);
      out[offset + 2] = up;
    }
  }

  async predict(X: Matrix): Promise<Float32Array> {
    return this.predictSync(X);
  }

  predictSync(X: Matrix): Float32Array {
    if (X.cols !== this.featureNames.length) throw new ModelError(`${this.modelId} expects ${this.featureNames.length} feature columns, got ${X.cols}`);
    const width = this.width;
    const out = new Float32Array(X.rows * width);
    const filter = new KalmanFilter(this.system);
    const exog = new Float64Array(this.exogIndex.length);
    for (let r = 0; r < X.rows; r++) this.advance(filter, X.values, r * X.cols, out, r * width, exog);
    return out;
  }

  /** The filter's state carried row by row: `next(row)` equals `predict` over every row fed so far. */
  stream(): ModelStream {
    let filter = new KalmanFilter(this.system);
    const exog = new Float64Array(this.exogIndex.length);
    const cols = this.featureNames.length;
    return {
      next: (row: Float32Array) => {
        if (row.length !== cols) throw new ModelError(`${this.modelId} stream expects rows of ${cols} features, got ${row.length}`);
        const out = new Float32Array(this.width);
        this.advance(filter, row, 0, out, 0, exog);
        return out;
      },
      snapshot: () => ({
        a: Array.from(filter.a),
        P: Array.from(filter.P),
        t: filter.t,
        ...(filter.converged ? { converged: { F: filter.converged.F, PZ: Array.from(filter.converged.PZ) } } : {}),
      }),
      restore: (state: unknown) => {
        const s = state as { a?: number[]; P?: number[]; t?: number; converged?: { F: number; PZ: number[] } };
        const k = this.system.k;
        if (!Array.isArray(s?.a) || s.a.length !== k || !Array.isArray(s.P) || s.P.length !== k * k) {
          throw new ModelError(`${this.modelId}: the stream snapshot does not fit this model (a state of ${k} values and a ${k}×${k} covariance expected)`);
        }
        filter = new KalmanFilter(this.system, { a: s.a, P: s.P, t: s.t ?? 0, converged: s.converged });
      },
    };
  }

  async save(dir: string): Promise<Artifact[]> {
    fs.mkdirSync(dir, { recursive: true });
    const card: ArimaCard = {
      modelId: this.modelId,
      modelVersion: this.modelVersion,
      task: this.task,
      featureNames: [...this.featureNames],
      ...(this.classes ? { classes: [...this.classes] } : {}),
      params: this.params,
      order: this.order,
      vector: this.vector,
      horizon: this.horizon,
      info: this.info,
    };
    return [writeArtifact(dir, CARD_FILE, 'arima-card', JSON.stringify(card, null, 2) + '\n')];
  }

  dispose(): void {}
}

function columnIndexOf(featureNames: readonly string[], name: string, param: string): number {
  const index = featureNames.indexOf(name);
  if (index === -1) {
    const shown = featureNames.length > 12 ? `${featureNames.slice(0, 12).join(', ')}, …` : featureNames.join(', ');
    throw new ConfigError(`ARIMA ${param} "${name}" is not a feature column (columns: ${shown}); add the feature (e.g. core/returns for ret_1) or set the model's \`${param}\` param`);
  }
  return index;
}

/** The order an ArimaParams names. */
export function arimaOrder(params: ArimaParams): SarimaxOrder {
  if ((params.P > 0 || params.D > 0 || params.Q > 0 || params.auto?.P || params.auto?.Q) && params.s < 2) {
    throw new ConfigError(`ARIMA seasonal orders need a season length s ≥ 2 bars, got s = ${params.s}; set s (e.g. 24 for a day of 1h bars)`);
  }
  return { p: params.p, d: params.d, q: params.q, P: params.P, D: params.D, Q: params.Q, s: params.s, trend: params.trend, exog: params.exog.length };
}

/**
 * Fit on the training rows (the last `maxRows` of them): the modelled column and the exogenous
 * columns of TrainingData.train.X, in row order, as one series.
 */
async function fitArima(modelId: string, task: Task, data: TrainingData, params: ArimaParams): Promise<ArimaModel> {
  if (task === 'classification' && (!data.classes || data.classes.length < 2 || data.classes.length > 3)) {
    throw new ConfigError(`${modelId} predicts direction classes ordered down → up (2 or 3 of them, e.g. SELL/HOLD/BUY); the labeler gives ${data.classes?.length ?? 0} classes`);
  }
  const names = data.featureNames;
  const column = columnIndexOf(names, params.column, 'column');
  const exogIndex = params.exog.map((name) => columnIndexOf(names, name, 'exog'));
  const { X } = data.train;
  const from = Math.max(0, X.rows - params.maxRows);
  const rows = X.rows - from;
  const y = new Float64Array(rows);
  const exog = new Float64Array(rows * exogIndex.length);
  for (let r = 0; r < rows; r++) {
    y[r] = X.values[(from + r) * X.cols + column];
    exogIndex.forEach((c, j) => (exog[r * exogIndex.length + j] = X.values[(from + r) * X.cols + c]));
  }
  const base = arimaOrder(params);
  const series = { y, exog: exogIndex.length ? exog : undefined };
  const options = { maxIterations: params.maxIterations };
  let fit: SarimaxFit;
  let candidates: OrderCandidate[] | undefined;
  if (params.auto) {
    ({ best: fit, candidates } = searchOrders(base, params.auto, params.auto.criterion, series, options, params.exog));
  } else {
    fit = fitSarimax(base, series, options, params.exog);
  }
  const horizon = params.horizon ?? data.horizon ?? 1;
  const vector = parameterVector(fit.params);
  const info: Record<string, unknown> = {
    order: [fit.order.p, fit.order.d, fit.order.q],
    seasonalOrder: [fit.order.P, fit.order.D, fit.order.Q, fit.order.s],
    trend: fit.order.trend,
    column: params.column,
    exog: params.exog,
    horizon,
    parameters: Object.fromEntries(fit.names.map((name, i) => [name, vector[i]])),
    logLikelihood: fit.llf,
    aic: fit.aic,
    bic: fit.bic,
    fitRows: rows,
    iterations: fit.iterations,
    converged: fit.converged,
    optimizer: 'BFGS, central-difference gradients, statsmodels parameter transformation',
    ...(candidates ? { criterion: params.auto!.criterion, candidates } : {}),
  };
  return new ArimaModel(modelId, task, names, data.classes, params, fit.order, vector, horizon, info);
}

async function loadArima(modelId: string, task: Task, dir: string): Promise<ArimaModel> {
  const file = path.join(dir, CARD_FILE);
  if (!fs.existsSync(file)) throw new ModelError(`${file} is missing; the ARIMA model folder is incomplete (train and save it again)`);
  let card: ArimaCard;
  try {
    card = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    throw new ModelError(`${file} is not valid JSON; the ARIMA model folder is damaged (train and save it again)`);
  }
  if (card.modelId !== modelId) throw new ModelError(`${dir} holds a ${card.modelId} model, not ${modelId}; load it with ${card.modelId}`);
  return new ArimaModel(card.modelId, task, card.featureNames, card.classes, arimaParams.parse(card.params), card.order, card.vector, card.horizon, card.info);
}

const doc = (what: string) =>
  `ARIMA/SARIMAX(p,d,q)(P,D,Q,s) on one feature column (default ret_1) with optional exogenous columns: exact Gaussian likelihood by a Kalman filter as statsmodels' SARIMAX computes it, maximized by BFGS; ${what}`;

/**
 * ARIMA as a regressor: the forecast of the modelled column summed over the next `horizon` bars (the
 * forward return when the column is the 1-bar return).
 * @see statsmodels.tsa.statespace.sarimax.SARIMAX, whose likelihood this reproduces to 1e-8.
 */
export const arimaRegressor = defineModel({
  id: 'core/arima',
  version: ARIMA_VERSION,
  doc: doc('predicts the forecast summed over the horizon. `auto` picks p, q by AIC/BIC.'),
  task: 'regression',
  params: arimaParams,
  exampleParams: { column: 'f0', p: 1, q: 1 },
  fit: (data, params) => fitArima('core/arima', 'regression', data, params),
  load: (dir) => loadArima('core/arima', 'regression', dir),
});

/** ARIMA as a direction classifier: Gaussian probabilities that the summed forecast is below −threshold, between, above. */
export const arimaClassifier = defineModel({
  id: 'core/arima-classifier',
  version: ARIMA_VERSION,
  doc: doc('gives down/flat/up probabilities from the forecast sum\'s Gaussian distribution against ±threshold.'),
  task: 'classification',
  params: arimaParams,
  exampleParams: { column: 'f0', p: 1, q: 0, threshold: 0.3 },
  fit: (data, params) => fitArima('core/arima-classifier', 'classification', data, params),
  load: (dir) => loadArima('core/arima-classifier', 'classification', dir),
});

/** The ARIMA model definitions (registered by the core plugin). */
export const arimaModels = [arimaRegressor, arimaClassifier];

