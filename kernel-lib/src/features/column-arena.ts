import { newLargeFloat64Arrays } from '../util/huge-pages';

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
 * Columns per allocated block: fewer, larger allocations (each asks for huge pages: adviseHugePages covers
 * its whole 2 MB pages), at most 16 columns and under 30 MiB: glibc maps larger blocks fresh on every allocation (its
 * dynamic mmap threshold stops at 32 MiB), so a process computing features again would fault new pages
 * every time instead of reusing the memory it freed.
 */
export function arenaBlockColumns(length: number): number {
  return Math.max(1, Math.min(16, Math.floor((30 * 2 ** 20) / (8 * Math.max(1, length)))));
}

/**
 * The columns of feature runs over `length` rows, carved from blocks of a few columns (`arenaBlockColumns`)
 * (a column is a view into a larger ArrayBuffer: copy it before transferring its buffer; views never
 * overlap). Outputs are handed out in order and kept; `reset()`
 * (done by `computePlannedFeatures` when given the arena) hands them out again, so a run that reuses an
 * arena overwrites the previous run's columns: keep the arena only while the earlier result is no longer
 * needed. Requests for another length (resampled candles) get fresh arrays.
 */
export class ColumnArena implements ColumnSource {
  private readonly outputs: Float64Array[] = [];
  private next = 0;
  private readonly scratchSlots: Float64Array[] = [];
  private readonly indexSlots: Int32Array[] = [];
  private block: Float64Array | undefined;
  private readonly blockColumns: number;
  private blockUsed: number;
  private bytes = 0;

  constructor(readonly length: number) {
    this.blockColumns = arenaBlockColumns(length);
    this.blockUsed = this.blockColumns;
  }

  /** A new column of the arena's length, from the current block (a new block when it is used up). */
  private carve(): Float64Array {
    if (this.blockUsed === this.blockColumns) {
      [this.block] = newLargeFloat64Arrays(1, this.length * this.blockColumns); // faulted in ahead of the features (prefault)
      this.blockUsed = 0;
      this.bytes += this.block.byteLength;
    }
    const start = this.blockUsed++ * this.length;
    return this.block!.subarray(start, start + this.length);
  }

  output(length: number): Float64Array {
    if (length !== this.length) return new Float64Array(length);
    if (this.next === this.outputs.length) this.outputs.push(this.carve());
    return this.outputs[this.next++];
  }

  scratch(slot: number, length: number): Float64Array {
    if (length > this.length) return new Float64Array(length);
    const column = (this.scratchSlots[slot] ??= this.carve());
    return length === this.length ? column : column.subarray(0, length);
  }

  indexes(slot: number, length: number): Int32Array {
    if (length > this.length) return new Int32Array(length);
    if (!this.indexSlots[slot]) {
      const column = this.carve();
      this.indexSlots[slot] = new Int32Array(column.buffer, column.byteOffset, this.length);
    }
    const column = this.indexSlots[slot];
    return length === this.length ? column : column.subarray(0, length);
  }

  /** Hand the output columns out again from the first: the previous run's columns will be overwritten. */
  reset(): void {
    this.next = 0;
  }

  /** Output columns handed out since the last reset; columns held (outputs and scratch); bytes allocated (whole blocks, touched or not). */
  get stats(): { outputs: number; held: number; bytes: number } {
    const held = this.outputs.length + this.scratchSlots.filter(Boolean).length + this.indexSlots.filter(Boolean).length;
    return { outputs: this.next, held, bytes: this.bytes };
  }
}
