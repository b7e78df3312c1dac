import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Candles } from '../frame/frame';
import { generateSyntheticCandles } from '../data/synthetic';
import { featureContext } from '../features/compute-features';
import { createRegistry } from '../plugins/core-plugin';
import { parseParams, type PluginRegistry } from '../plugins/registry';
import {
  strategyOutput,
  type AnyDefinition,
  type FeatureContext,
  type FeatureDefinition,
  type LabelerDefinition,
  type ModelDefinition,
  type Plugin,
  type SourceContext,
  type SourceDefinition,
  type StrategyDefinition,
} from '../plugins/define';
import type { FittedModel, Matrix, TrainingData } from '../models/model';
import { stepStrategy } from '../strategy/incremental';
import { joinSourceColumns, loadSourceCandles, loadSourceColumns, type PlannedSource } from '../data/sources';

/**
 * The plugin contract, as executable checks: what every feature, labeler, model, strategy and source
 * must do for a run to be trustworthy. The built-ins, the example plugin and every scaffolded plugin
 * run them; `candlelab plugin test <dir>` runs them for an author; a vitest suite calls them directly:
 *
 *   it('zscore keeps the feature contract', () => { checkFeature(zscoreFeature); });
 *
 * Each check throws a ContractError naming the definition and, for data, the row and the column; on
 * success it returns the checks it ran.
 */
export class ContractError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContractError';
  }
}

/** The checks a definition passed (their names, e.g. 'causal on prefixes'). */
export type ContractResult = { id: string; kind: AnyDefinition['kind']; checks: string[] };

const same = (a: number, b: number): boolean => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
const shown = (value: number): string => (Number.isNaN(value) ? 'NaN' : String(value));

function paramsOf(definition: AnyDefinition, params: Record<string, unknown> | undefined): any {
  try {
    return parseParams(definition, (params ?? (definition.exampleParams as Record<string, unknown> | undefined) ?? {}) as Record<string, unknown>);
  } catch (error) {
    throw new ContractError(`${definition.kind} ${definition.id}: its params do not parse (${(error as Error).message}); give exampleParams in the definition, or params to the check`);
  }
}

/** The candles the checks use by default: 2,000 seeded synthetic hourly bars. */
export function contractCandles(bars = 2000, seed = 11): Candles {
  return generateSyntheticCandles({ seed, bars });
}

/** A seeded walk for a column a definition reads (funding, another feature's output) that the candles lack. */
function syntheticColumn(name: string, rows: number): Float64Array {
  let state = [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  const out = new Float64Array(rows);
  let value = 0;
  for (let i = 0; i < rows; i++) {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    value = 0.98 * value + (state / 2_147_483_648 - 0.5);
    out[i] = value;
  }
  return out;
}

export type FeatureCheckOptions = {
  /** Raw params (default: the definition's exampleParams, else its defaults). */
  params?: Record<string, unknown>;
  /** Default: contractCandles(), plus a seeded column for each declared input it lacks. */
  candles?: Candles;
  /** Default: a registry of the built-ins (for features that compute other features). */
  registry?: PluginRegistry;
};

/**
 * A feature's contract: it returns exactly its declared outputs, one value per row; its warm-up is
 * exactly the declared lookback, then values are finite; it is causal (values on every prefix equal the
 * full run's, so row t uses rows ≤ t only); it is deterministic; and a streaming twin, when it has one,
 * gives the batch values bar by bar (within 1e-9 relative).
 */
export function checkFeature(definition: FeatureDefinition<any>, options: FeatureCheckOptions = {}): ContractResult {
  const id = `feature ${definition.id}`;
  const params = paramsOf(definition, options.params);
  let candles = options.candles ?? contractCandles();
  const missingInputs = (definition.inputs?.(params) ?? []).filter((name) => !(candles.names as readonly string[]).includes(name));
  if (missingInputs.length) {
    if (options.candles) throw new ContractError(`${id} reads columns ${missingInputs.join(', ')} that the given candles lack`);
    candles = candles.withColumns(Object.fromEntries(missingInputs.map((name) => [name, syntheticColumn(name, candles.length)]))) as Candles;
  }
  const n = candles.length;
  const base = featureContext(options.registry ?? createRegistry(), candles.meta.timeframe);
  // A fitted feature is causal given its fit: fix the fitted rows inside every prefix.
  const prefixes = [Math.floor(n * 0.35), Math.floor(n * 0.6), n - 1];
  const context: FeatureContext = definition.fittedOnLeadingRows ? { ...base, fitRows: [{ start: 0, end: Math.floor(n * 0.3) }] } : base;
  const checks: string[] = [];

  const full = definition.compute(candles, params, context);
  const declared = definition.outputs(params, context);
  const names = Object.keys(full);
  if ([...names].sort().join('\n') !== [...declared].sort().join('\n')) {
    throw new ContractError(`${id}: compute returned columns [${names.join(', ')}] but outputs() declares [${declared.join(', ')}]`);
  }
  for (const name of names) {
    if (!(full[name] instanceof Float64Array) || full[name].length !== n) throw new ContractError(`${id}: column ${name} must be a Float64Array of ${n} values (one per candle), got ${full[name]?.length}`);
  }
  checks.push('declared outputs, one value per row');

  const lookback = definition.lookback(params, context);
  let firstValue = -1;
  let firstColumn = '';
  for (const name of names) {
    const values = full[name];
    const first = values.findIndex((v) => Number.isFinite(v));
    const start = first === -1 ? n : first; // a column with no value at all warms up forever
    if (start > firstValue) [firstValue, firstColumn] = [start, name];
    for (let i = Math.max(first, lookback); first !== -1 && i < n; i++) {
      if (!Number.isFinite(values[i])) throw new ContractError(`${id}: column ${name} is ${shown(values[i])} at row ${i}, after the declared warm-up of ${lookback} rows; values after the warm-up must be finite`);
    }
  }
  if (firstValue !== lookback) {
    throw new ContractError(`${id}: declares a warm-up of ${lookback} rows but column ${firstColumn}'s first value is at row ${firstValue}; lookback() must equal the longest warm-up`);
  }
  checks.push(`exact warm-up (${lookback} rows)`);

  for (const length of prefixes) {
    const prefix = definition.compute(candles.slice(0, length), params, context);
    for (const name of names) {
      const a = prefix[name];
      const b = full[name];
      if (!a || a.length !== length) throw new ContractError(`${id}: on the first ${length} rows, column ${name} has ${a?.length} values`);
      for (let i = 0; i < length; i++) {
        if (!same(a[i], b[i])) {
          throw new ContractError(
            `${id} looks ahead: column ${name} at row ${i} is ${shown(b[i])} with all ${n} rows but ${shown(a[i])} with the first ${length}; row t may use rows ≤ t only`,
          );
        }
      }
    }
  }
  checks.push('causal on prefixes');

  const again = definition.compute(candles, params, context);
  for (const name of names) {
    for (let i = 0; i < n; i++) if (!same(again[name][i], full[name][i])) throw new ContractError(`${id} is not deterministic: column ${name} at row ${i} is ${shown(full[name][i])}, then ${shown(again[name][i])}`);
  }
  checks.push('deterministic');

  if (definition.stream) {
    const stream = definition.stream(params, context);
    const columns = candles.names;
    // A fitted feature's twin fits when it reaches the fit's last row: the batch's earlier rows use
    // parameters fitted on later rows, which a stream cannot know yet; it must leave them NaN (its requiredInputs).
    const from = definition.fittedOnLeadingRows ? stream.requiredInputs : 0;
    for (let i = 0; i < n; i++) {
      const candle: Record<string, number> = { time: candles.time[i] };
      for (const column of columns) candle[column] = candles.column(column)[i];
      const row = stream.update(candle as never);
      for (const name of names) {
        const want = i < from ? NaN : full[name][i];
        const got = row[name];
        const ok = Number.isNaN(want) ? Number.isNaN(got) : Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want));
        if (!ok) throw new ContractError(`${id}: its streaming twin gives ${shown(got)} for column ${name} at row ${i}, the batch compute ${shown(want)}`);
      }
    }
    checks.push('streaming twin = batch');
  }
  return { id: definition.id, kind: 'feature', checks };
}

export type LabelerCheckOptions = { params?: Record<string, unknown>; candles?: Candles };

/**
 * A labeler's contract: one target per row (class ids within its classes); the declared warm-up rows
 * are NaN; a row whose future is not in the data is NaN, never filled, unless its event ended inside
 * the data (`eventEnd`, e.g. a barrier touched); labels on a prefix equal the full run's where the
 * prefix holds their horizon; event ends lie between the row and its horizon.
 */
export function checkLabeler(definition: LabelerDefinition<any>, options: LabelerCheckOptions = {}): ContractResult {
  const id = `labeler ${definition.id}`;
  const params = paramsOf(definition, options.params);
  const candles = options.candles ?? contractCandles(1500, 9);
  const n = candles.length;
  const horizon = definition.horizon(params);
  const lookback = definition.lookback?.(params) ?? 0;
  const checks: string[] = [];
  const full = definition.label(candles, params);
  if (!(full.target instanceof Float64Array) || full.target.length !== n) throw new ContractError(`${id}: target must be a Float64Array of ${n} values, got ${full.target?.length}`);
  if (definition.task === 'classification') {
    if (!full.classes?.length) throw new ContractError(`${id}: a classification labeler must return its class names (classes)`);
    for (let i = 0; i < n; i++) {
      const v = full.target[i];
      if (!Number.isNaN(v) && !(Number.isInteger(v) && v >= 0 && v < full.classes.length)) throw new ContractError(`${id}: row ${i} has target ${v}, not a class id 0…${full.classes.length - 1}`);
    }
  }
  checks.push('one target per row');
  for (let i = 0; i < Math.min(lookback, n); i++) if (!Number.isNaN(full.target[i])) throw new ContractError(`${id}: row ${i} has a label inside the declared warm-up of ${lookback} rows`);
  if (lookback < n && !Number.isFinite(full.target[lookback])) throw new ContractError(`${id}: row ${lookback}, the first after the declared warm-up, has no label; lookback() must equal the warm-up`);
  checks.push(`exact warm-up (${lookback} rows)`);

  const decidedBy = (eventEnd: Float64Array | undefined, i: number, lastTime: number): boolean => eventEnd !== undefined && Number.isFinite(eventEnd[i]) && eventEnd[i] <= lastTime;
  for (const length of [Math.floor(n * 0.3), Math.floor(n * 0.65)]) {
    const prefix = definition.label(candles.slice(0, length), params);
    const lastTime = candles.time[length - 1];
    for (let i = 0; i < length; i++) {
      const a = prefix.target[i];
      if (i + horizon < length) {
        if (!same(a, full.target[i])) throw new ContractError(`${id} changes a label when later data arrives: row ${i} is ${shown(full.target[i])} with all ${n} rows but ${shown(a)} with the first ${length} (its horizon of ${horizon} bars fits in both)`);
      } else if (!Number.isNaN(a) && !decidedBy(prefix.eventEnd, i, lastTime)) {
        throw new ContractError(`${id} fills a label without its future: row ${i} of the first ${length} rows is ${a}, but ${horizon} bars after it are not in the data (and no eventEnd inside the data says it was decided); it must be NaN`);
      } else if (!Number.isNaN(a) && !same(a, full.target[i])) {
        throw new ContractError(`${id}: row ${i} was decided at ${new Date(prefix.eventEnd![i]).toISOString()} inside the first ${length} rows as ${a}, but is ${shown(full.target[i])} with all rows`);
      }
    }
  }
  checks.push('no label without its future (prefixes)');
  if (full.eventEnd) {
    if (full.eventEnd.length !== n) throw new ContractError(`${id}: eventEnd must have ${n} values`);
    for (let i = 0; i < n; i++) {
      const end = full.eventEnd[i];
      if (Number.isNaN(full.target[i]) || Number.isNaN(end)) continue;
      const limit = candles.time[Math.min(n - 1, i + horizon)];
      if (end < candles.time[i] || end > limit) throw new ContractError(`${id}: row ${i}'s eventEnd ${new Date(end).toISOString()} is outside its row and horizon (${new Date(candles.time[i]).toISOString()} … ${new Date(limit).toISOString()})`);
    }
    checks.push('event ends within the horizon');
  }
  return { id: definition.id, kind: 'labeler', checks };
}

export type ModelCheckOptions = {
  params?: Record<string, unknown>;
  /** Training data (default: seeded synthetic rows with a learnable target, 600 train, 200 valid, 8 features). */
  data?: TrainingData;
  /** For ensembles: how members resolve (default: the built-ins' registry). */
  registry?: PluginRegistry;
  seed?: number;
  /** Largest allowed difference between the fitted and the loaded model's predictions (default 0: identical). */
  tolerance?: number;
};

/** Seeded rows with a learnable target (a class or a value from two of the features), row-major float32. */
export function contractTrainingData(task: 'classification' | 'regression', seed = 3): TrainingData {
  let state = seed;
  const random = (): number => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648 - 0.5;
  };
  const cols = 8;
  const segment = (rows: number) => {
    const values = new Float32Array(rows * cols);
    const y = new Float64Array(rows);
    // an autocorrelated series per column, so sequence models see structure in time too
    const last = new Array(cols).fill(0);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) values[r * cols + c] = last[c] = 0.7 * last[c] + random();
      const signal = values[r * cols] - 0.5 * values[r * cols + 1] + 0.2 * random();
      y[r] = task === 'regression' ? signal : signal > 0.25 ? 0 : signal < -0.25 ? 2 : 1;
    }
    return { X: { values, rows, cols }, y };
  };
  return {
    featureNames: Array.from({ length: cols }, (_, c) => `f${c}`),
    ...(task === 'classification' ? { classes: ['BUY', 'HOLD', 'SELL'] } : {}),
    train: segment(600),
    valid: segment(200),
    horizon: 1,
  };
}

function firstDifference(a: Float32Array, b: Float32Array, tolerance: number): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!(Math.abs(a[i] - b[i]) <= tolerance) && !same(a[i], b[i])) return i;
  return -1;
}

/**
 * A model's contract: fit gives rows × classes probabilities summing to 1 (or rows × 1 values); fit →
 * save → load gives identical predictions; the same seed reproduces the same predictions; and no
 * look-ahead: the predictions for the first rows are the same whether or not later rows are given
 * (sequence models must not see rows after t).
 */
export async function checkModel(definition: ModelDefinition<any>, options: ModelCheckOptions = {}): Promise<ContractResult> {
  const id = `model ${definition.id}`;
  const params = paramsOf(definition, options.params);
  const registry = options.registry ?? createRegistry();
  const data = options.data ?? contractTrainingData(definition.task);
  const seed = options.seed ?? 7;
  const tolerance = options.tolerance ?? 0;
  const context = { seed, resolveModel: (ref: { id: string; version?: string; params?: Record<string, unknown> }) => registry.resolveWithParams('model', ref) };
  const checks: string[] = [];
  const X: Matrix = data.valid.X;
  let width = definition.task === 'classification' ? (data.classes?.length ?? 0) : 1;
  const models: FittedModel[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'candlelab-contract-'));
  try {
    const model = await definition.fit(data, params, context);
    models.push(model);
    if (definition.task === 'regression') width = model.outputNames?.length ?? 1;
    const predictions = await model.predict(X);
    if (!(predictions instanceof Float32Array) || predictions.length !== X.rows * width) {
      throw new ContractError(`${id}: predict must return a Float32Array of rows × ${width} values (${X.rows * width}), got ${predictions?.length}`);
    }
    for (let r = 0; r < X.rows; r++) {
      let sum = 0;
      for (let k = 0; k < width; k++) {
        const v = predictions[r * width + k];
        if (!Number.isFinite(v)) throw new ContractError(`${id}: prediction at row ${r}, output ${k} is ${shown(v)}`);
        sum += v;
      }
      if (definition.task === 'classification' && Math.abs(sum - 1) > 1e-4) throw new ContractError(`${id}: class probabilities at row ${r} sum to ${sum}, not 1`);
    }
    checks.push('predictions shaped rows × outputs');

    await model.save(dir);
    const loaded = await definition.load(dir, context);
    models.push(loaded);
    const reloaded = await loaded.predict(X);
    const diff = firstDifference(predictions, reloaded, tolerance);
    if (diff !== -1) throw new ContractError(`${id}: fit → save → load changes predictions: row ${Math.floor(diff / width)}, output ${diff % width} is ${predictions[diff]} before saving, ${reloaded[diff]} after loading`);
    checks.push('save → load = same predictions');

    const twin = await definition.fit(data, params, context);
    models.push(twin);
    const again = await twin.predict(X);
    const seeded = firstDifference(predictions, again, 0);
    if (seeded !== -1) throw new ContractError(`${id}: the same seed (${seed}) gives different predictions: row ${Math.floor(seeded / width)}, output ${seeded % width} is ${predictions[seeded]}, then ${again[seeded]}`);
    checks.push('seeded: same seed, same predictions');

    const rows = Math.floor(X.rows / 2);
    const prefix = await model.predict({ values: X.values.subarray(0, rows * X.cols), rows, cols: X.cols });
    const ahead = firstDifference(prefix, predictions.subarray(0, rows * width), 1e-6);
    if (ahead !== -1) {
      throw new ContractError(`${id} looks ahead: its prediction for row ${Math.floor(ahead / width)} is ${predictions[ahead]} when later rows are given, ${prefix[ahead]} when they are not; row t may use rows ≤ t only`);
    }
    checks.push('no look-ahead (prefix predictions)');
  } finally {
    for (const model of models) model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { id: definition.id, kind: 'model', checks };
}

export type StrategyCheckOptions = {
  params?: Record<string, unknown>;
  candles?: Candles;
  classes?: string[];
  seed?: number;
  /** Regression strategies: output columns per row the model gives (a quantile forecaster's 1 + quantiles); default 1. */
  outputs?: number;
};

/** Seeded model outputs for strategies: class probabilities (BUY/HOLD/SELL) or small return forecasts. */
export function contractPredictions(rows: number, task: 'classification' | 'regression', seed = 7): Float32Array {
  let state = seed;
  const random = (): number => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
  if (task === 'regression') return Float32Array.from({ length: rows }, () => 0.004 * (random() - 0.5));
  const out = new Float32Array(rows * 3);
  for (let i = 0; i < rows; i++) {
    const raw = [random() + 0.2 * Math.sin(i / 30), random(), random() - 0.2 * Math.sin(i / 30)].map((x) => Math.max(1e-3, x));
    const sum = raw[0] + raw[1] + raw[2];
    raw.forEach((x, k) => (out[3 * i + k] = x / sum));
  }
  return out;
}

/**
 * A strategy's contract: one finite target in [−1, 1] per bar; the targets on every prefix equal the
 * full run's targets up to that bar (a decision at t uses data up to t); deterministic; and its
 * incremental form, when it has one, decides as the batch form at every bar, also across a JSON
 * snapshot/restore.
 */
export function checkStrategy(definition: StrategyDefinition<any>, options: StrategyCheckOptions = {}): ContractResult {
  const id = `strategy ${definition.id}`;
  const params = paramsOf(definition, options.params);
  const candles = options.candles ?? contractCandles(1500, 5);
  const n = candles.length;
  const classes = options.classes ?? ['BUY', 'HOLD', 'SELL'];
  const task = definition.needs.predictions ? definition.needs.task : undefined;
  const declared = definition.needs.predictions ? definition.needs.outputs?.(params) : undefined;
  const width = task === 'classification' ? classes.length : (options.outputs ?? declared ?? 1);
  const predictions = task ? (task === 'regression' ? contractPredictions(n * width, task, options.seed) : contractPredictions(n, task, options.seed)) : undefined;
  const input = (rows: number) => ({ candles: candles.slice(0, rows), features: candles.slice(0, rows), ...(predictions ? { predictions: predictions.subarray(0, rows * width), classes } : {}) });
  const checks: string[] = [];
  const full = strategyOutput(definition.targets(input(n), params));
  if (!(full.targets instanceof Float64Array) || full.targets.length !== n) throw new ContractError(`${id}: targets must be a Float64Array of ${n} values, got ${full.targets?.length}`);
  for (let i = 0; i < n; i++) {
    const t = full.targets[i];
    if (!Number.isFinite(t) || t < -1 || t > 1) throw new ContractError(`${id}: target at bar ${i} is ${shown(t)}; targets are exposures from −1 to 1`);
  }
  checks.push('one target in [−1, 1] per bar');
  for (const length of [Math.floor(n * 0.4), Math.floor(n * 0.75)]) {
    const prefix = strategyOutput(definition.targets(input(length), params)).targets;
    for (let i = 0; i < length; i++) {
      if (!same(prefix[i], full.targets[i])) throw new ContractError(`${id} looks ahead: its target at bar ${i} is ${full.targets[i]} with all ${n} bars but ${prefix[i]} with the first ${length}; a decision at t may use data up to t only`);
    }
  }
  checks.push('targets on a prefix = the full run’s');
  const again = strategyOutput(definition.targets(input(n), params)).targets;
  for (let i = 0; i < n; i++) if (!same(again[i], full.targets[i])) throw new ContractError(`${id} is not deterministic: bar ${i} is ${full.targets[i]}, then ${again[i]}`);
  checks.push('deterministic');
  if (definition.incremental) {
    let stepper = stepStrategy(definition, params, { classes });
    for (let i = 0; i < n; i++) {
      if (i === Math.floor(n / 2)) {
        const state = JSON.parse(JSON.stringify(stepper.snapshot()));
        stepper = stepStrategy(definition, params, { classes });
        stepper.restore(state);
      }
      const bar = { time: candles.time[i], open: candles.column('open')[i], high: candles.column('high')[i], low: candles.column('low')[i], close: candles.column('close')[i], volume: candles.column('volume')[i] };
      const decision = stepper.next({ bar, ...(predictions ? { prediction: predictions.subarray(i * width, (i + 1) * width) } : {}) });
      if (decision.target !== full.targets[i]) throw new ContractError(`${id}: its incremental form decides ${decision.target} at bar ${i}, the batch form ${full.targets[i]}`);
    }
    checks.push('incremental = batch, across a snapshot');
  }
  return { id: definition.id, kind: 'strategy', checks };
}

export type SourceCheckOptions = {
  params?: Record<string, unknown>;
  /** What the source is given (default: a temporary data folder, BTC/USDT 1h). */
  context?: Partial<SourceContext>;
  /** Column sources: the bars to join to (default: contractCandles()). */
  candles?: Candles;
};

/**
 * A source's contract. Candle sources: prepare (if any) then load give candles the loader accepts
 * (time order, the declared timeframe, no impossible candles), the same twice. Column sources: the
 * declared columns, one value per row, knownAt in order, the same twice, and point in time: loading
 * for the first bars gives the same rows as the full load, up to those bars (no value is revised by
 * later data), so the causal join gives every bar the same values either way.
 */
export async function checkSource(definition: SourceDefinition<any>, options: SourceCheckOptions = {}): Promise<ContractResult> {
  const id = `source ${definition.id}`;
  const params = paramsOf(definition, options.params);
  const dataDir = options.context?.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'candlelab-contract-source-'));
  const loader = { dataDir, baseDir: options.context?.baseDir ?? process.cwd(), symbol: options.context?.symbol ?? 'BTC/USDT', timeframe: options.context?.timeframe ?? '1h', log: options.context?.log ?? (() => {}) };
  const planned = { definition, params } as PlannedSource<never>;
  const checks: string[] = [];
  const wrap = <T>(what: string, f: () => T): T => {
    try {
      return f();
    } catch (error) {
      if (error instanceof ContractError) throw error;
      throw new ContractError(`${id}: ${what} failed: ${(error as Error).message}`);
    }
  };
  try {
    if (definition.prepare) {
      try {
        await definition.prepare(params, { ...loader, ...(options.context ?? {}) } as SourceContext);
      } catch (error) {
        throw new ContractError(`${id}: prepare failed: ${(error as Error).message}`);
      }
      checks.push('prepares');
    }
    if (definition.provides === 'candles') {
      const a = wrap('load', () => loadSourceCandles(planned, loader));
      const b = wrap('a second load', () => loadSourceCandles(planned, loader));
      if (a.length === 0) throw new ContractError(`${id}: load returned no candles`);
      checks.push('candles the loader accepts');
      for (const column of ['time', 'open', 'high', 'low', 'close', 'volume'] as const) {
        const x = column === 'time' ? a.time : a.column(column);
        const y = column === 'time' ? b.time : b.column(column);
        if (x.length !== y.length) throw new ContractError(`${id} is not repeatable: ${x.length} candles, then ${y.length}`);
        for (let i = 0; i < x.length; i++) if (!same(x[i], y[i])) throw new ContractError(`${id} is not repeatable: ${column} at row ${i} is ${x[i]}, then ${y[i]}`);
      }
      checks.push('repeatable');
      return { id: definition.id, kind: 'source', checks };
    }
    const candles = options.candles ?? contractCandles();
    const full = wrap('load', () => loadSourceColumns(planned, candles.time, loader));
    checks.push('declared columns, knownAt in order');
    const again = wrap('a second load', () => loadSourceColumns(planned, candles.time, loader));
    const names = Object.keys(full.columns);
    const equalRows = (x: typeof full, y: typeof full, what: string, upTo = Infinity): void => {
      const rowsX = x.knownAt.filter((t) => t <= upTo).length;
      const rowsY = y.knownAt.filter((t) => t <= upTo).length;
      if (rowsX !== rowsY) throw new ContractError(`${id} ${what}: ${rowsY} rows known by ${new Date(Math.min(upTo, 8.64e15)).toISOString()}, ${rowsX} in the full load`);
      for (let i = 0; i < rowsX; i++) {
        if (x.knownAt[i] !== y.knownAt[i]) throw new ContractError(`${id} ${what}: row ${i} is known at ${x.knownAt[i]} in the full load, ${y.knownAt[i]} here`);
        for (const name of names) if (!same(x.columns[name][i], y.columns[name][i])) throw new ContractError(`${id} ${what}: column ${name} at row ${i} (known ${new Date(x.knownAt[i]).toISOString()}) is ${shown(x.columns[name][i])} in the full load, ${shown(y.columns[name][i])} here`);
      }
    };
    equalRows(full, again, 'is not repeatable');
    checks.push('repeatable');
    const step = candles.length > 1 ? candles.time[1] - candles.time[0] : 3_600_000;
    for (const length of [Math.floor(candles.length * 0.3), Math.floor(candles.length * 0.7)]) {
      const prefix = wrap('a load for fewer bars', () => loadSourceColumns(planned, candles.time.subarray(0, length), loader));
      // The bars of the prefix may see rows known before the last one's close: those must not change.
      equalRows(full, prefix, `revises history (loaded for the first ${length} bars)`, candles.time[length - 1] + step - 1);
      const joinedFull = joinSourceColumns(candles, planned, full);
      const joinedPrefix = joinSourceColumns(candles.slice(0, length), planned, prefix);
      for (const name of names) {
        const x = joinedFull.column(name as 'close');
        const y = joinedPrefix.column(name as 'close');
        for (let i = 0; i < length; i++) if (!same(x[i], y[i])) throw new ContractError(`${id}: bar ${i} sees ${shown(x[i])} in column ${name} with all bars but ${shown(y[i])} with the first ${length}`);
      }
    }
    checks.push('point in time: no revised rows, causal join');
    return { id: definition.id, kind: 'source', checks };
  } finally {
    if (!options.context?.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** One definition's outcome in a plugin check. */
export type PluginCheckEntry = { kind: AnyDefinition['kind']; id: string; ok: boolean; checks: string[]; error?: string; seconds: number };

/**
 * Every definition of a plugin through its contract check (splitters have their own tests in the
 * library); failures are collected, not thrown, so an author sees them all. `only` limits it to ids.
 */
export async function checkPlugin(
  plugin: Plugin,
  options: { registry?: PluginRegistry; only?: readonly string[]; params?: Readonly<Record<string, Record<string, unknown>>>; onEntry?: (entry: PluginCheckEntry) => void } = {},
): Promise<PluginCheckEntry[]> {
  const registry = options.registry ?? createRegistry([plugin]);
  const entries: PluginCheckEntry[] = [];
  const run = async (kind: AnyDefinition['kind'], definitionId: string, check: () => ContractResult | Promise<ContractResult>): Promise<void> => {
    if (options.only && !options.only.includes(definitionId)) return;
    const started = performance.now();
    let entry: PluginCheckEntry;
    try {
      const result = await check();
      entry = { kind, id: definitionId, ok: true, checks: result.checks, seconds: (performance.now() - started) / 1000 };
    } catch (error) {
      entry = { kind, id: definitionId, ok: false, checks: [], error: (error as Error).message, seconds: (performance.now() - started) / 1000 };
    }
    entries.push(entry);
    options.onEntry?.(entry);
  };
  const params = (id: string) => options.params?.[id];
  for (const d of plugin.sources ?? []) await run('source', d.id, () => checkSource(d, { params: params(d.id) }));
  for (const d of plugin.features ?? []) await run('feature', d.id, () => checkFeature(d, { registry, params: params(d.id) }));
  for (const d of plugin.labelers ?? []) await run('labeler', d.id, () => checkLabeler(d, { params: params(d.id) }));
  for (const d of plugin.models ?? []) await run('model', d.id, () => checkModel(d, { registry, params: params(d.id) }));
  for (const d of plugin.strategies ?? []) await run('strategy', d.id, () => checkStrategy(d, { params: params(d.id) }));
  return entries;
}
