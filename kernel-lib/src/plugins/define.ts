import type { z } from 'zod';
import type { Candles, Frame } from '../frame/frame';
import type { FittedModel, ModelContext, ModelRef, ResolvedModel, TrainingData } from '../models/model';
import type { RowRange, Split, SplitIndex } from '../validation/splitter';
import type { StreamingFeature } from '../features/streaming/streaming-feature';
import type { ColumnSource } from '../features/column-arena';

/** Fields every plugin-provided definition has. */
interface DefinitionBase<S extends z.ZodTypeAny> {
  /** Namespaced id: `core/rsi`, `@acme/funding-skew`. */
  readonly id: string;
  /** Semver of this definition; bump it when outputs change. */
  readonly version: string;
  /** One line saying what it does. */
  readonly doc: string;
  /** zod schema of the parameters, with defaults: the single source of parameter types. */
  readonly params: S;
  /**
   * Params the contract suites (`candlelab plugin test`, candlelab/testing) check it with, when its
   * defaults are not enough (a required param, e.g. a file to read). Default: `{}`.
   */
  readonly exampleParams?: z.input<S>;
}

/** What a feature may use besides its params: the base timeframe and other features by reference. */
export type FeatureContext = {
  /** The timeframe of the candles the features are computed on (e.g. '1h'). */
  readonly timeframe: string;
  /** The data store of the run, for features that read other series (core/cross-asset); default: the workspace's. */
  readonly dataDir?: string;
  /** Where relative file paths in params start: the spec's folder in a run; default: the working folder. */
  readonly baseDir?: string;
  /** Compute another registered feature (e.g. on resampled candles): its declared outputs and lookback. */
  computeFeature(ref: { id: string; version?: string; params?: Record<string, unknown> }, candles: Candles): { columns: Record<string, Float64Array>; lookback: number };
  /** The declared lookback and output names of another registered feature (at this timeframe). */
  lookbackOf(ref: { id: string; version?: string; params?: Record<string, unknown> }): number;
  outputsOf(ref: { id: string; version?: string; params?: Record<string, unknown> }): string[];
  /**
   * A stream of another registered feature on candles of `timeframe` (e.g. the higher bars of
   * core/higher-timeframe): its twin, or the trailing-buffer fallback. Optional: contexts made by
   * `featureContext` have it.
   */
  streamFeature?(ref: { id: string; version?: string; params?: Record<string, unknown> }, timeframe: string): StreamingFeature;
  /**
   * The rows a fitted feature (`fittedOnLeadingRows`) fits its parameters on: the run's training rows
   * (one walk-forward window's, in validation). Absent when no run gives them (e.g. `candlelab
   * features`): a fitted feature must then stay causal by itself (e.g. refit on an expanding window).
   */
  readonly fitRows?: readonly RowRange[];
  /**
   * Where a run's columns come from (`computePlannedFeatures` gives one): built-in features take their
   * outputs and temporaries from it instead of allocating. Optional: a feature may allocate its own.
   */
  readonly columns?: ColumnSource;
};

/** A feature: causal columns computed from candles (row t uses rows ≤ t only). */
export interface FeatureDefinition<S extends z.ZodTypeAny = z.ZodTypeAny> extends DefinitionBase<S> {
  readonly kind: 'feature';
  /** Rows at the start whose values are warm-up (NaN), not real values. */
  lookback(params: z.output<S>, context?: FeatureContext): number;
  /** The names of the columns `compute` returns. */
  outputs(params: z.output<S>, context?: FeatureContext): string[];
  /**
   * Columns beyond OHLCV that must be computed first by features listed earlier (interactions); they
   * are in the frame `compute` receives. Its warm-up is then at least theirs.
   */
  inputs?(params: z.output<S>): string[];
  /**
   * Parameters are fitted on the run's training rows (`context.fitRows`), then applied forward: values
   * are causal given those parameters (e.g. GARCH). The runner recomputes such features for every
   * walk-forward window with that window's training rows.
   */
  readonly fittedOnLeadingRows?: boolean;
  compute(candles: Candles, params: z.output<S>, context?: FeatureContext): Record<string, Float64Array>;
  /**
   * Optional streaming twin for paper and live trading: a fresh stream that takes one closed candle at a
   * time and returns, for each, the values row t of `compute` has over the same candles (same outputs,
   * same NaN warm-up). Without it, `createFeatureStream` recomputes `compute` over a trailing buffer.
   */
  stream?(params: z.output<S>, context?: FeatureContext): StreamingFeature;
}

/** The labeler's output: one target per row, NaN where it needs bars past the end. */
export type LabelOutput = {
  target: Float64Array;
  /** For classification: the class names, index = class id. */
  classes?: string[];
  /** When each row's label was decided (epoch ms, e.g. the barrier touched), for purged validation. */
  eventEnd?: Float64Array;
};

/** A labeler: the only stage allowed to look ahead. Its output never joins the feature columns. */
export interface LabelerDefinition<S extends z.ZodTypeAny = z.ZodTypeAny> extends DefinitionBase<S> {
  readonly kind: 'labeler';
  readonly task: 'classification' | 'regression';
  /** How many bars ahead the label looks: purge gaps between segments are derived from it. */
  horizon(params: z.output<S>): number;
  /** Rows at the start without a label because of a trailing window (e.g. volatility); default 0. */
  lookback?(params: z.output<S>): number;
  label(candles: Candles, params: z.output<S>): LabelOutput;
}

/** A model: `fit` returns a fitted model that predicts, saves artifacts and can be loaded again. */
export interface ModelDefinition<S extends z.ZodTypeAny = z.ZodTypeAny> extends DefinitionBase<S> {
  readonly kind: 'model';
  readonly task: 'classification' | 'regression';
  fit(data: TrainingData, params: z.output<S>, context: ModelContext): Promise<FittedModel>;
  /** Load a fitted model from the folder its `save` wrote. */
  load(dir: string, context: ModelContext): Promise<FittedModel>;
  /**
   * Optional: check the model references inside the params (an ensemble's members) when the spec is
   * validated, before anything runs; throws a one-line error.
   */
  checkReferences?(params: z.output<S>, resolveModel: (ref: ModelRef) => ResolvedModel): void;
}

/** What a strategy sees: the candles of the traded segment and, aligned row by row, the predictions. */
export type StrategyInput = {
  candles: Candles;
  /** Feature columns over the same rows (causal). */
  features: Frame;
  /** rows × classes probabilities (classification) or rows × 1 values (regression), row-major. */
  predictions?: Float32Array;
  /** Class names, index = class id (classification only). */
  classes?: string[];
};

/** A strategy's answer with what drove it: confidence per bar (for Kelly sizing) and a reason per bar. */
export type StrategyOutput = {
  targets: Float64Array;
  /** E.g. the probability of the predicted class, per bar. */
  confidence?: Float64Array;
  /** Which inputs drove the decision at a row (used in signal records). */
  reasoning?: (row: number) => string;
};

/**
 * A strategy: turns what it sees at each bar's close into a target exposure for the next bar, from −1
 * (fully short) to 1 (fully long); the backtest engine turns target changes into orders. Row t of the
 * output may use rows ≤ t of the input only.
 */
export interface StrategyDefinition<S extends z.ZodTypeAny = z.ZodTypeAny> extends DefinitionBase<S> {
  readonly kind: 'strategy';
  /** Whether the strategy needs model predictions (and of which task). */
  readonly needs:
    | { predictions: false }
    | {
        predictions: true;
        task: 'classification' | 'regression';
        /** Regression: output columns per bar the strategy reads (a quantile forecaster's), when more than 1. */
        outputs?: (params: z.output<S>) => number;
      };
  targets(input: StrategyInput, params: z.output<S>): Float64Array | StrategyOutput;
  /**
   * The incremental form, for paper and live trading: decides at bar t from data up to t, one bar at a
   * time, with the same answers as `targets` (a parity test checks the built-ins). Without it, a session
   * recomputes `targets` over a trailing buffer of `lookback` bars (see strategy/incremental.ts).
   */
  incremental?(params: z.output<S>, context: { classes?: string[] }): IncrementalStrategy;
  /** Bars of history a decision depends on (for the trailing-buffer fallback; default 500). */
  readonly lookback?: number | ((params: z.output<S>) => number);
}

/** What an incremental strategy sees at one bar's close. */
export type StrategyStep = {
  /** The closed bar. */
  bar: { time: number; open: number; high: number; low: number; close: number; volume: number };
  /** The model's output for this bar: class probabilities in the model's class order, or [value]. */
  prediction?: ArrayLike<number>;
  /** This bar's feature values by column name. */
  features?: Readonly<Record<string, number>>;
};

/** A decision at one bar's close. */
export type StrategyDecision = { target: number; confidence?: number; reasoning: string };

/** A strategy stepped bar by bar; its state is plain JSON (a session persists it). */
export interface IncrementalStrategy {
  next(step: StrategyStep): StrategyDecision;
  snapshot(): unknown;
  restore(state: unknown): void;
}

/** A strategy's return value in its full form. */
export function strategyOutput(value: Float64Array | StrategyOutput): StrategyOutput {
  return value instanceof Float64Array ? { targets: value } : value;
}

/**
 * A splitter: cuts the usable rows into folds (training rows, test rows) and says how the folds' test
 * predictions form backtest paths. It sees only times, the warm-up and the label spans (see SplitIndex),
 * and must purge training labels that reach into a test block. The spec's `validation.method` names one.
 */
export interface SplitterDefinition<S extends z.ZodTypeAny = z.ZodTypeAny> extends DefinitionBase<S> {
  readonly kind: 'splitter';
  /** What one fold is called in logs and summaries ('window', 'fold', 'split'). */
  readonly foldName: string;
  /**
   * Every fold trains only on rows before its test block, and the folds come in time order: the
   * stitched account of the first folds is a prefix of the whole one (a tuner reports it after each fold).
   */
  readonly forwardOnly?: boolean;
  /** The folds' predictions form several backtest paths (CPCV), not one. */
  readonly severalPaths?: boolean;
  split(index: SplitIndex, params: z.output<S>): Split;
}

/** What a data source is given besides its params. */
export type SourceContext = {
  /** The workspace's data folder (the store, caches). */
  readonly dataDir: string;
  /** Where relative file paths in params start: the spec's folder in a run. */
  readonly baseDir: string;
  /** The run's symbol and timeframe (the spec's `data.symbol` and `data.timeframe`). */
  readonly symbol: string;
  readonly timeframe: string;
  /**
   * Column sources only: the candles' bars (open times, epoch ms), so a source loads just their span.
   * A source must return the same rows for a time whatever span it is asked for (point in time: no
   * value may be revised by data that arrived later); `checkSource` tests it on prefixes.
   */
  readonly barTimes?: Float64Array;
  readonly log: (line: string) => void;
};

/** A column source's rows: when each row became known, and its values. */
export type SourceColumns = {
  /** When each row was known (epoch ms, non-decreasing): published, not measured. Bars see a row only after this. */
  readonly knownAt: Float64Array;
  readonly columns: Readonly<Record<string, Float64Array>>;
};

interface SourceDefinitionBase<S extends z.ZodTypeAny> extends DefinitionBase<S> {
  readonly kind: 'source';
  /**
   * Optional asynchronous preparation (a download, a refresh): `candlelab run` and `prepareData` call
   * it before `load`. `load` stays synchronous so a notebook reads data in one call.
   */
  prepare?(params: z.output<S>, context: SourceContext): Promise<void>;
}

/** A source of the run's candles (the spec's `data.source`): the built-ins sample, file, store and exchange. */
export interface CandleSourceDefinition<S extends z.ZodTypeAny = z.ZodTypeAny> extends SourceDefinitionBase<S> {
  readonly provides: 'candles';
  /** OHLCV candles in time order; the loader refuses impossible candles and a timeframe that does not match. */
  load(params: z.output<S>, context: SourceContext): Candles;
}

/**
 * A source of extra columns joined to the candles (the spec's `data.side`): on-chain, sentiment,
 * order-book, liquidations. Each bar sees the latest row known strictly before its close.
 */
export interface ColumnSourceDefinition<S extends z.ZodTypeAny = z.ZodTypeAny> extends SourceDefinitionBase<S> {
  readonly provides: 'columns';
  /** The names of the columns `load` returns. */
  outputs(params: z.output<S>): string[];
  load(params: z.output<S>, context: SourceContext): SourceColumns;
}

export type SourceDefinition<S extends z.ZodTypeAny = z.ZodTypeAny> = CandleSourceDefinition<S> | ColumnSourceDefinition<S>;

export type AnyDefinition = FeatureDefinition | LabelerDefinition | ModelDefinition | StrategyDefinition | SplitterDefinition | SourceDefinition;
export type DefinitionKind = AnyDefinition['kind'];

/** A plugin: a named, versioned bundle of definitions. Built-ins are one plugin like any other. */
export type Plugin = {
  readonly id: string;
  readonly version: string;
  readonly features?: readonly FeatureDefinition<any>[];
  readonly labelers?: readonly LabelerDefinition<any>[];
  readonly models?: readonly ModelDefinition<any>[];
  readonly strategies?: readonly StrategyDefinition<any>[];
  readonly splitters?: readonly SplitterDefinition<any>[];
  readonly sources?: readonly SourceDefinition<any>[];
};

// Identity helpers: they only give plain objects their types (as zod's and Vite's defineX do).
export function defineFeature<S extends z.ZodTypeAny>(definition: Omit<FeatureDefinition<S>, 'kind'>): FeatureDefinition<S> {
  return { kind: 'feature', ...definition };
}
export function defineLabeler<S extends z.ZodTypeAny>(definition: Omit<LabelerDefinition<S>, 'kind'>): LabelerDefinition<S> {
  return { kind: 'labeler', ...definition };
}
export function defineModel<S extends z.ZodTypeAny>(definition: Omit<ModelDefinition<S>, 'kind'>): ModelDefinition<S> {
  return { kind: 'model', ...definition };
}
export function defineStrategy<S extends z.ZodTypeAny>(definition: Omit<StrategyDefinition<S>, 'kind'>): StrategyDefinition<S> {
  return { kind: 'strategy', ...definition };
}
export function defineSplitter<S extends z.ZodTypeAny>(definition: Omit<SplitterDefinition<S>, 'kind'>): SplitterDefinition<S> {
  return { kind: 'splitter', ...definition };
}
export function defineSource<S extends z.ZodTypeAny>(definition: Omit<CandleSourceDefinition<S>, 'kind'>): CandleSourceDefinition<S>;
export function defineSource<S extends z.ZodTypeAny>(definition: Omit<ColumnSourceDefinition<S>, 'kind'>): ColumnSourceDefinition<S>;
export function defineSource<S extends z.ZodTypeAny>(definition: Omit<CandleSourceDefinition<S>, 'kind'> | Omit<ColumnSourceDefinition<S>, 'kind'>): SourceDefinition<S> {
  return { kind: 'source', ...definition } as SourceDefinition<S>;
}
export function definePlugin(plugin: Plugin): Plugin {
  return plugin;
}
