import { ConfigError } from '../errors';
import type { Matrix } from '../models/model';
import { SeededRng } from '../util/rng';

/**
 * Sequence windows for sequence models, without copying the dataset per window: window i is rows
 * [i, i + length) of one row-major buffer, handed out as a subarray view; `batch` materializes a batch
 * into one preallocated tensor buffer.
 */
export class SequenceWindows {
  readonly count: number;

  constructor(
    readonly X: Matrix,
    readonly length: number,
    /** Target per row of X; window i is labelled with the target of its last row. */
    readonly y?: Float64Array,
  ) {
    if (!Number.isInteger(length) || length < 1) throw new ConfigError(`sequence length must be a positive integer, got ${length}`);
    if (length > X.rows) throw new ConfigError(`sequence length ${length} is longer than the ${X.rows} rows`);
    if (y && y.length !== X.rows) throw new ConfigError(`${y.length} targets for ${X.rows} rows`);
    this.count = X.rows - length + 1;
  }

  /** Window i as a view (length × cols values, row-major) — no copy. */
  window(i: number): Float32Array {
    if (!(i >= 0 && i < this.count)) throw new RangeError(`window ${i} is outside 0..${this.count - 1}`);
    return this.X.values.subarray(i * this.X.cols, (i + this.length) * this.X.cols);
  }

  target(i: number): number {
    if (!this.y) throw new ConfigError('these windows have no targets');
    return this.y[i + this.length - 1];
  }

  /** Copy the windows `indices` into `out` (batch × length × cols), allocating it when not given. */
  batch(indices: ArrayLike<number>, out?: Float32Array): Float32Array {
    const size = this.length * this.X.cols;
    const buffer = out ?? new Float32Array(indices.length * size);
    if (buffer.length < indices.length * size) throw new ConfigError(`batch buffer holds ${buffer.length} values, needs ${indices.length * size}`);
    for (let b = 0; b < indices.length; b++) buffer.set(this.window(indices[b]), b * size);
    return buffer;
  }
}

export type AugmentOptions = {
  /** Gaussian noise with this standard deviation (in scaled units) added to every value. */
  jitter?: number;
  /** Each window multiplied by a factor drawn from N(1, amplitude). */
  amplitude?: number;
  /** Window slicing: a random sub-window of this fraction of the length, stretched back to full length. */
  slice?: number;
};

/**
 * Training-only augmentation of one window (a new array; the source is not changed), seeded.
 * Jitter and amplitude scaling follow Um et al. (2017); window slicing follows Le Guennec et al. (2016).
 */
export function augmentWindow(window: Float32Array, length: number, cols: number, options: AugmentOptions, rng: SeededRng): Float32Array {
  let out = Float32Array.from(window);
  if (options.slice !== undefined) {
    if (!(options.slice > 0 && options.slice <= 1)) throw new ConfigError(`slice must be in (0, 1], got ${options.slice}`);
    const keep = Math.max(2, Math.round(length * options.slice));
    const start = Math.floor(rng.uniform() * (length - keep + 1));
    const sliced = new Float32Array(length * cols);
    for (let t = 0; t < length; t++) {
      // linear interpolation of the kept span back onto `length` steps
      const position = start + (t * (keep - 1)) / Math.max(1, length - 1);
      const lower = Math.floor(position);
      const upper = Math.min(start + keep - 1, lower + 1);
      const weight = position - lower;
      for (let c = 0; c < cols; c++) sliced[t * cols + c] = out[lower * cols + c] * (1 - weight) + out[upper * cols + c] * weight;
    }
    out = sliced;
  }
  if (options.amplitude !== undefined) {
    const factor = 1 + options.amplitude * rng.normal();
    for (let i = 0; i < out.length; i++) out[i] *= factor;
  }
  if (options.jitter !== undefined) for (let i = 0; i < out.length; i++) out[i] += options.jitter * rng.normal();
  return out;
}
