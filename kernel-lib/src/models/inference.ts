import { ModelError } from '../errors';
import type { FittedModel, Matrix } from './model';

/** Inference wall times of a model (for the record; never part of a run fingerprint). */
export type InferenceTimings = {
  /** Rows per second of one batched call over `batchRows` rows. */
  batchRowsPerSecond: number;
  batchRows: number;
  /** Latency of one call with one row: median and 99th percentile (nearest rank) over `singleRowSamples` calls. */
  singleRowP50Ms: number;
  singleRowP99Ms: number;
  singleRowSamples: number;
};

/** The q-quantile (0…1) of sorted values by nearest rank. */
function nearestRank(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/**
 * Time single-row inference: one call per row over the last `samples` rows of X (after one untimed
 * warm-up call). `batch` is a batched call's measured wall time over all of X, when the caller has it
 * (so the batch is not run twice); otherwise X is predicted once here.
 */
export async function measureInference(model: FittedModel, X: Matrix, options: { samples?: number; batch?: { ms: number } } = {}): Promise<InferenceTimings> {
  let batchMs = options.batch?.ms;
  if (batchMs === undefined) {
    const started = performance.now();
    await model.predict(X);
    batchMs = performance.now() - started;
  }
  const samples = Math.min(options.samples ?? 256, X.rows);
  const times: number[] = [];
  const first = X.rows - samples;
  const row = (r: number): Matrix => ({ values: X.values.slice(r * X.cols, (r + 1) * X.cols), rows: 1, cols: X.cols });
  if (samples > 0) await model.predict(row(first)); // warm-up: lazy initialisation is not latency
  for (let r = first; r < X.rows; r++) {
    const started = performance.now();
    await model.predict(row(r));
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return {
    batchRowsPerSecond: batchMs > 0 ? (X.rows * 1000) / batchMs : 0,
    batchRows: X.rows,
    singleRowP50Ms: nearestRank(times, 0.5),
    singleRowP99Ms: nearestRank(times, 0.99),
    singleRowSamples: samples,
  };
}

/**
 * Check that a frame offers exactly the columns a model was trained on, before predicting. Returns the
 * model's names (the order to build its matrix in); throws naming the missing and extra columns.
 */
export function assertFeatureNames(model: Pick<FittedModel, 'modelId' | 'featureNames'>, available: readonly string[]): readonly string[] {
  const expected = model.featureNames;
  const have = new Set(available);
  const want = new Set(expected);
  const missing = expected.filter((name) => !have.has(name));
  const extra = available.filter((name) => !want.has(name));
  if (missing.length || extra.length) {
    const parts = [missing.length ? `missing ${missing.join(', ')}` : '', extra.length ? `extra ${extra.join(', ')}` : ''].filter(Boolean).join('; ');
    throw new ModelError(
      `model ${model.modelId} was trained on features [${expected.join(', ')}] but the frame has [${available.join(', ')}] (${parts}); compute the model's feature set (its spec's features) or retrain on these features`,
    );
  }
  return expected;
}
