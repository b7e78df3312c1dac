/**
 * Where a feature run's columns come from. Writing into memory touched for the first time costs page
 * faults, which on virtual machines cost more than the arithmetic (1M floats into a new Float64Array
 * ≈ 11 ms, into a reused one ≈ 0.7 ms). So a run takes each output column once (never shared between
 * outputs), keeps its temporaries in a few scratch slots reused from feature to feature, and a caller
 * that computes again may hand the same arena back to reuse every column (as vectorbt's kernels take
 * preallocated outputs).
 */
export interface ColumnSource {
  /** A new output column of `length` rows: no other `output` of the run returns it. Contents are undefined: the kernel writes every row. */
  output(length: number): Float64Array;
  /**
   * Scratch column `slot` of `length` rows (its contents undefined): valid until the feature that asked
   * returns; never an output. Kernels document the slots they use.
   */
  scratch(slot: number, length: number): Float64Array;
  /** Integer scratch `slot` (row indexes) of `length` rows, valid like `scratch`. */
  indexes(slot: number, length: number): Int32Array;
}

/** Every column freshly allocated: what the kernels use when no source is given. */
export const freshColumns: ColumnSource = {
  output: (length) => new Float64Array(length),
  scratch: (_slot, length) => new Float64Array(length),
  indexes: (_slot, length) => new Int32Array(length),
};

/**
 * The columns of feature runs over `length` rows. Outputs are handed out in order and kept; `reset()`
 * (done by `computePlannedFeatures` when given the arena) hands them out again, so a run that reuses an
 * arena overwrites the previous run's columns: keep the arena only while the earlier result is no longer
 * needed. Requests for another length (resampled candles) get fresh arrays.
 */
export class ColumnArena implements ColumnSource {
  private readonly outputs: Float64Array[] = [];
  private next = 0;
  private readonly scratchSlots: Float64Array[] = [];
  private readonly indexSlots: Int32Array[] = [];

  constructor(readonly length: number) {}

  output(length: number): Float64Array {
    if (length !== this.length) return new Float64Array(length);
    if (this.next === this.outputs.length) this.outputs.push(new Float64Array(length));
    return this.outputs[this.next++];
  }

  scratch(slot: number, length: number): Float64Array {
    if (length > this.length) return new Float64Array(length);
    const column = (this.scratchSlots[slot] ??= new Float64Array(this.length));
    return length === this.length ? column : column.subarray(0, length);
  }

  indexes(slot: number, length: number): Int32Array {
    if (length > this.length) return new Int32Array(length);
    const column = (this.indexSlots[slot] ??= new Int32Array(this.length));
    return length === this.length ? column : column.subarray(0, length);
  }

  /** Hand the output columns out again from the first: the previous run's columns will be overwritten. */
  reset(): void {
    this.next = 0;
  }

  /** Output columns handed out since the last reset, and all held (outputs and scratch). */
  get stats(): { outputs: number; held: number; bytes: number } {
    const held = this.outputs.length + this.scratchSlots.filter(Boolean).length;
    const bytes = (this.outputs.length + this.scratchSlots.filter(Boolean).length) * this.length * 8 + this.indexSlots.filter(Boolean).length * this.length * 4;
    return { outputs: this.next, held, bytes };
  }
}
