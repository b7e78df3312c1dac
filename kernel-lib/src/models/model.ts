import type { Progress } from '../util/progress';
import type { ModelDefinition } from '../plugins/define';
import type { BacktestSettings } from '../backtest/settings';

/** A dense row-major float32 matrix: what tree libraries and ONNX Runtime consume without copying. */
export type Matrix = {
  readonly values: Float32Array;
  readonly rows: number;
  readonly cols: number;
};

/** One segment of training data: features (rows × features) and targets aligned row by row. */
export type Segment = {
  readonly X: Matrix;
  readonly y: Float64Array;
  /**
   * When known (the runner fills them for the train segment): each row's bar open time and when its
   * label was decided (the labeler's `eventEnd`, NaN where it gives none). Models that cross-validate
   * inside the rows (stacking) purge a held-out fold's training rows by them.
   */
  readonly time?: Float64Array;
  readonly eventEnd?: Float64Array;
};

/** What a model's `fit` receives. Validation data is for early stopping and model selection only. */
export type TrainingData = {
  readonly featureNames: readonly string[];
  /** Class names, index = class id (classification only). */
  readonly classes?: readonly string[];
  readonly train: Segment;
  readonly valid: Segment;
  /**
   * How many bars ahead a label looks (the labeler's horizon), when known; the runner fills it. Models
   * that cross-validate inside the train rows (stacking) purge this many rows around each held-out fold.
   */
  readonly horizon?: number;
};

/** Ambient services for models: a seed and progress reporting (no hidden globals, no wall clock). */
export type ModelContext = {
  readonly seed: number;
  readonly progress?: (label: string, total: number) => Progress;
  /**
   * Resolve another registered model and validate its params (ensembles resolve their members with it);
   * the runner provides it from its plugin registry.
   */
  readonly resolveModel?: (ref: ModelRef) => ResolvedModel;
  /**
   * Called after every boosting round or epoch with the validation loss (step = the round or epoch).
   * A tuner uses it to prune weak trials: it may throw (e.g. its TrialPruned), and `fit` then rejects
   * with that error after freeing what it allocated.
   */
  readonly reportValidation?: (step: number, loss: number) => void;
  /**
   * The run's backtest settings (fees, slippage, sizing), for models that trade while they learn (the RL
   * agents' environment); the runner fills it from the spec. Absent: the defaults.
   */
  readonly backtest?: BacktestSettings;
};

/** A reference to a registered model: id, optionally a pinned version, raw params. */
export type ModelRef = { readonly id: string; readonly version?: string; readonly params?: Record<string, unknown> };

/** A resolved model reference: the definition and its validated params. */
export type ResolvedModel = { readonly definition: ModelDefinition; readonly params: unknown };

/** A file a model wrote, relative to the folder it saved into. */
export type Artifact = { path: string; kind: string; sha256: string; bytes: number };

/** One-row-at-a-time prediction with state (see FittedModel.stream); `snapshot`/`restore` let a session resume after a restart. */
export interface ModelStream {
  next(row: Float32Array): Float32Array;
  snapshot(): unknown;
  restore(state: unknown): void;
}

/** A trained model: immutable, predicts, saves its artifacts and describes itself. */
export interface FittedModel {
  readonly modelId: string;
  readonly modelVersion: string;
  readonly task: 'classification' | 'regression';
  readonly featureNames: readonly string[];
  readonly classes?: readonly string[];
  /** Fitted hyperparameters and what training decided (e.g. the best iteration). */
  readonly info: Record<string, unknown>;
  /**
   * Regression only: the names of the output columns when there are several, the point forecast first
   * (core/deepar: ['value', 'q0.1', 'q0.5', 'q0.9']). Absent: one column, 'value'. Consumers that need one
   * value per row (metrics, the regression strategies) read column 0.
   */
  readonly outputNames?: readonly string[];
  /** rows × classes probabilities (classification) or rows × outputs values (regression: 1, or outputNames' length), row-major. */
  predict(X: Matrix): Promise<Float32Array>;
  /**
   * The same, synchronously in JavaScript, where a model has such a path (XGBoost: trees compiled to
   * JS, equal to `predict` within 1e-6). For latency-bound callers (the prediction endpoint); optional.
   */
  predictSync?(X: Matrix): Float32Array;
  /**
   * Rows of history one row's prediction depends on (sequence models: seqLen; row-wise models: 1, the
   * default). Paper and live sessions and the prediction endpoint keep this many trailing feature rows
   * and predict over them, reading the last row's output.
   */
  readonly inputRows?: number;
  /**
   * A stateful form for models whose output at row t depends on every row before it (ARIMA's Kalman
   * filter, an RL policy's own position): `next(row)` takes one feature row and returns that row's
   * output, equal to `predict` over all rows fed so far. Sessions prefer it over `inputRows`.
   */
  stream?(): ModelStream;
  /** Write the model's artifacts into `dir`; returns what was written. */
  save(dir: string): Promise<Artifact[]>;
  /** Release native resources (sessions, boosters). */
  dispose(): void;
}

/** A fitted model's output columns: its class names, its regression output names, or ['value']. */
export function outputColumns(model: Pick<FittedModel, 'classes' | 'outputNames'>): string[] {
  return model.classes ? [...model.classes] : model.outputNames ? [...model.outputNames] : ['value'];
}

/** Column 0 of rows × width values: a regression's point forecast when it has several outputs. */
export function pointColumn(values: Float32Array, width: number): Float32Array {
  if (width === 1) return values;
  const rows = values.length / width;
  const out = new Float32Array(rows);
  for (let i = 0; i < rows; i++) out[i] = values[i * width];
  return out;
}
