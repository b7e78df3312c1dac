import { ConfigError } from '../errors';
import type { FittedModel, ModelStream } from '../models/model';

/** What a ModelFeed saves with a session's state: the trailing rows, or the model stream's own state. */
export type ModelFeedState = { rows: number[][] } | { stream: unknown };

/**
 * Feeds a model one feature row at a time, as a session sees them, so that its output for a row equals
 * what one batch `predict` over every row fed so far gives for that row (the backtest's path):
 * - a model with `stream()` gets each row through its stream (ARIMA's filter, a policy's position);
 * - otherwise the feed keeps the last `inputRows` rows (a sequence model's window; 1 for row-wise
 *   models) and predicts over them, reading the last row's output. While fewer rows have been fed, the
 *   model sees all of them, exactly as the batch prediction's first rows do.
 * The first row fed must be the batch prediction's first row (the first one past the features' warm-up).
 */
export class ModelFeed {
  private readonly window: number;
  private readonly stream: ModelStream | undefined;
  private rows: Float32Array[] = [];

  constructor(private readonly model: FittedModel) {
    const inputRows = model.inputRows ?? 1;
    if (!Number.isInteger(inputRows) || inputRows < 1) throw new ConfigError(`${model.modelId} declares inputRows ${inputRows}; it must be a positive integer`);
    this.window = inputRows;
    this.stream = model.stream?.();
  }

  /** Rows of history the model's prediction depends on (1 for a streamed model: the stream holds the rest). */
  get inputRows(): number {
    return this.stream ? 1 : this.window;
  }

  /** The model's output for this row, given every row fed before it. */
  async next(row: Float32Array): Promise<Float32Array> {
    if (row.length !== this.model.featureNames.length) throw new ConfigError(`a feature row of ${row.length} values for a model of ${this.model.featureNames.length} features`);
    if (this.stream) return this.stream.next(row);
    this.rows.push(Float32Array.from(row));
    if (this.rows.length > this.window) this.rows.shift();
    const cols = row.length;
    const values = new Float32Array(this.rows.length * cols);
    this.rows.forEach((r, i) => values.set(r, i * cols));
    // a model that predicts synchronously (XGBoost's trees compiled to JavaScript, ≤ 1e-6 from its ONNX
    // predict) answers in about a µs instead of an ONNX Runtime call
    const matrix = { values, rows: this.rows.length, cols };
    const output = this.model.predictSync ? this.model.predictSync(matrix) : await this.model.predict(matrix);
    const width = output.length / this.rows.length;
    return output.slice((this.rows.length - 1) * width);
  }

  /** Feed rows whose outputs are already known (a model swap replays the candles so far in one batch). */
  prime(rows: readonly Float32Array[]): void {
    if (this.stream) {
      for (const row of rows) this.stream.next(row);
      return;
    }
    this.rows = rows.slice(Math.max(0, rows.length - this.window)).map((r) => Float32Array.from(r));
  }

  snapshot(): ModelFeedState {
    return this.stream ? { stream: this.stream.snapshot() } : { rows: this.rows.map((r) => Array.from(r)) };
  }

  restore(state: ModelFeedState | undefined): void {
    if (!state) return;
    if ('stream' in state) {
      if (!this.stream) throw new ConfigError(`the saved session fed ${this.model.modelId} through a stream, but this model has none; start a new session`);
      this.stream.restore(state.stream);
      return;
    }
    if (this.stream) throw new ConfigError(`the saved session fed ${this.model.modelId} rows, but this model streams; start a new session`);
    this.rows = state.rows.slice(Math.max(0, state.rows.length - this.window)).map((r) => Float32Array.from(r));
  }
}
