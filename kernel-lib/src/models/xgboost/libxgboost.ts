import koffi from 'koffi';
import { ModelError, NativeLibraryError } from '../../errors';
import type { Matrix } from '../model';

/**
 * The XGBoost C API (libxgboost, the same C++ library Python's xgboost wraps), called through koffi.
 * Only the calls candlelab needs are bound. Every call's return code is checked and the library's own
 * error text is raised, so a failure never crashes inside native code.
 */
type Handle = unknown;

type Api = {
  lastError(): string;
  version(major: number[], minor: number[], patch: number[]): void;
  matrixFromDense(arrayInterface: string, config: string, out: Handle[]): number;
  matrixSetFloatInfo(matrix: Handle, field: string, values: Float32Array, length: number): number;
  matrixFree(matrix: Handle): number;
  boosterCreate(matrices: Handle[], count: number, out: Handle[]): number;
  boosterFree(booster: Handle): number;
  boosterSetParam(booster: Handle, name: string, value: string): number;
  boosterUpdateOneIter(booster: Handle, iteration: number, train: Handle): number;
  boosterEvalOneIter(booster: Handle, iteration: number, matrices: Handle[], names: string[], count: number, out: string[]): number;
  boosterPredict(booster: Handle, matrix: Handle, config: string, shape: Handle[], dims: number[], result: Handle[]): number;
  boosterSaveToBuffer(booster: Handle, config: string, length: number[], data: Handle[]): number;
  boosterLoadFromBuffer(booster: Handle, data: Uint8Array, length: number): number;
  boosterSlice(booster: Handle, begin: number, end: number, step: number, out: Handle[]): number;
  boosterNumFeatures(booster: Handle, out: number[]): number;
  boosterBoostedRounds(booster: Handle, out: number[]): number;
  boosterSetAttr(booster: Handle, key: string, value: string): number;
};

const LIBRARY_NAMES = ['libxgboost.so', 'libxgboost.so.0', 'libxgboost.dylib', 'xgboost.dll'];
const INSTALL_HINT = 'install it with: sudo apt-get install libxgboost-dev (or set CANDLELAB_LIBXGBOOST to the library file)';

let cachedApi: Api | undefined;

/** Load libxgboost once per process (a native library is process-wide by nature). */
function api(): Api {
  if (cachedApi) return cachedApi;
  const candidates = process.env.CANDLELAB_LIBXGBOOST ? [process.env.CANDLELAB_LIBXGBOOST] : LIBRARY_NAMES;
  let lib: ReturnType<typeof koffi.load> | undefined;
  const failures: string[] = [];
  for (const name of candidates) {
    try {
      lib = koffi.load(name);
      break;
    } catch (error) {
      failures.push(`${name}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  if (!lib) throw new NativeLibraryError(`libxgboost was not found (${failures[0]}); ${INSTALL_HINT}`);
  // Handles are plain `void *`: a named koffi type would clash if this module were loaded twice.
  const bind = lib;
  cachedApi = {
    lastError: bind.func('const char *XGBGetLastError()'),
    version: bind.func('void XGBoostVersion(_Out_ int *major, _Out_ int *minor, _Out_ int *patch)'),
    // the array-interface entry point Python's xgboost uses for numpy: unlike XGDMatrixCreateFromMat
    // (whose matrix keeps one thread), the matrix gets `nthread`, and its quantile sketch and histogram
    // index, built in the first round, run on that many threads
    matrixFromDense: bind.func('int XGDMatrixCreateFromDense(const char *data, const char *config, _Out_ void **out)'),
    matrixSetFloatInfo: bind.func('int XGDMatrixSetFloatInfo(void *handle, const char *field, const float *array, uint64_t len)'),
    matrixFree: bind.func('int XGDMatrixFree(void *handle)'),
    boosterCreate: bind.func('int XGBoosterCreate(void **dmats, uint64_t len, _Out_ void **out)'),
    boosterFree: bind.func('int XGBoosterFree(void *handle)'),
    boosterSetParam: bind.func('int XGBoosterSetParam(void *handle, const char *name, const char *value)'),
    boosterUpdateOneIter: bind.func('int XGBoosterUpdateOneIter(void *handle, int iter, void *dtrain)'),
    boosterEvalOneIter: bind.func(
      'int XGBoosterEvalOneIter(void *handle, int iter, void **dmats, const char **evnames, uint64_t len, _Out_ const char **out)',
    ),
    boosterPredict: bind.func(
      'int XGBoosterPredictFromDMatrix(void *handle, void *dmat, const char *config, _Out_ void **shape, _Out_ uint64_t *dim, _Out_ void **result)',
    ),
    boosterSaveToBuffer: bind.func('int XGBoosterSaveModelToBuffer(void *handle, const char *config, _Out_ uint64_t *len, _Out_ void **out)'),
    boosterLoadFromBuffer: bind.func('int XGBoosterLoadModelFromBuffer(void *handle, const void *buf, uint64_t len)'),
    boosterSlice: bind.func('int XGBoosterSlice(void *handle, int begin, int end, int step, _Out_ void **out)'),
    boosterNumFeatures: bind.func('int XGBoosterGetNumFeature(void *handle, _Out_ uint64_t *out)'),
    boosterBoostedRounds: bind.func('int XGBoosterBoostedRounds(void *handle, _Out_ int *out)'),
    boosterSetAttr: bind.func('int XGBoosterSetAttr(void *handle, const char *key, const char *value)'),
  } as Api;
  return cachedApi;
}

function check(code: number, what: string): void {
  if (code !== 0) throw new ModelError(`libxgboost ${what} failed: ${api().lastError()}`);
}

/** The libxgboost version, e.g. "1.7.4"; throws NativeLibraryError when the library is missing. */
export function libxgboostVersion(): string {
  const major = [0], minor = [0], patch = [0];
  api().version(major, minor, patch);
  return `${major[0]}.${minor[0]}.${patch[0]}`;
}

/** A DMatrix: XGBoost's own copy of a dense float32 matrix, with labels and weights. */
export class DMatrix {
  private handle: Handle;
  readonly rows: number;
  readonly cols: number;

  /**
   * `threads`: libxgboost threads for this matrix (reading it, and in training its quantile sketch and
   * histogram index); 0 means every core, as Python's xgboost.DMatrix (nthread=-1). The values are
   * the same for any count.
   */
  constructor(X: Matrix, labels?: Float64Array, weights?: Float32Array, threads = 0) {
    if (X.values.length !== X.rows * X.cols) throw new ModelError(`matrix has ${X.values.length} values, expected ${X.rows}×${X.cols}`);
    if (!(X.values instanceof Float32Array)) throw new ModelError('matrix values must be a Float32Array');
    const out: Handle[] = [null];
    // libxgboost reads the values in place (it copies them into its own matrix before returning). The
    // buffer is made external first so V8 cannot move it between taking its address and the call.
    void X.values.buffer;
    const arrayInterface = `{"data":[${koffi.address(X.values)},true],"shape":[${X.rows},${X.cols}],"strides":null,"typestr":"<f4","version":3}`;
    const config = `{"missing":NaN,"nthread":${threads > 0 ? Math.floor(threads) : -1}}`;
    check(api().matrixFromDense(arrayInterface, config, out), 'XGDMatrixCreateFromDense');
    this.handle = out[0];
    this.rows = X.rows;
    this.cols = X.cols;
    if (labels) this.setInfo('label', Float32Array.from(labels));
    if (weights) this.setInfo('weight', weights);
  }

  private setInfo(field: string, values: Float32Array): void {
    if (values.length !== this.rows) throw new ModelError(`${field} has ${values.length} values for ${this.rows} rows`);
    check(api().matrixSetFloatInfo(this.handle, field, values, values.length), `XGDMatrixSetFloatInfo(${field})`);
  }

  get native(): Handle {
    if (this.handle === null) throw new ModelError('DMatrix used after free()');
    return this.handle;
  }

  free(): void {
    if (this.handle !== null) api().matrixFree(this.handle);
    this.handle = null;
  }
}

/** A booster (the tree ensemble) owned by libxgboost. */
export class Booster {
  private handle: Handle;

  private constructor(handle: Handle) {
    this.handle = handle;
  }

  /** A new booster that caches the given matrices (train first, then evaluation sets). */
  static create(matrices: DMatrix[], params: Record<string, string | number>): Booster {
    const out: Handle[] = [null];
    check(api().boosterCreate(matrices.map((m) => m.native), matrices.length, out), 'XGBoosterCreate');
    const booster = new Booster(out[0]);
    for (const [name, value] of Object.entries(params)) booster.setParam(name, String(value));
    return booster;
  }

  /** A booster read from XGBoost's own model format (JSON or UBJSON bytes). */
  static fromBuffer(bytes: Uint8Array): Booster {
    const out: Handle[] = [null];
    check(api().boosterCreate([], 0, out), 'XGBoosterCreate');
    const booster = new Booster(out[0]);
    check(api().boosterLoadFromBuffer(booster.native, bytes, bytes.length), 'XGBoosterLoadModelFromBuffer');
    return booster;
  }

  /** Replace this booster's model with a saved one (JSON or UBJSON bytes), keeping its cached matrices: warm start. */
  load(bytes: Uint8Array): void {
    check(api().boosterLoadFromBuffer(this.native, bytes, bytes.length), 'XGBoosterLoadModelFromBuffer');
  }

  private get native(): Handle {
    if (this.handle === null) throw new ModelError('booster used after free()');
    return this.handle;
  }

  setParam(name: string, value: string): void {
    check(api().boosterSetParam(this.native, name, value), `XGBoosterSetParam(${name}=${value})`);
  }

  setAttr(key: string, value: string): void {
    check(api().boosterSetAttr(this.native, key, value), 'XGBoosterSetAttr');
  }

  /** One boosting round on `train`. */
  update(iteration: number, train: DMatrix): void {
    check(api().boosterUpdateOneIter(this.native, iteration, train.native), 'XGBoosterUpdateOneIter');
  }

  /** Evaluation metrics after `iteration`, parsed: { 'valid-mlogloss': 0.93, ... }. */
  evaluate(iteration: number, sets: Array<[string, DMatrix]>): Record<string, number> {
    const out: string[] = [''];
    check(
      api().boosterEvalOneIter(this.native, iteration, sets.map(([, m]) => m.native), sets.map(([name]) => name), sets.length, out),
      'XGBoosterEvalOneIter',
    );
    const metrics: Record<string, number> = {};
    for (const part of out[0].split('\t').slice(1)) {
      const [name, value] = part.split(':');
      metrics[name] = Number(value);
    }
    return metrics;
  }

  /** Probabilities (or values) as XGBoost computes them: rows × outputs, row-major. */
  predict(matrix: DMatrix): Float32Array {
    const shape: Handle[] = [null];
    const dims = [0];
    const result: Handle[] = [null];
    const config = JSON.stringify({ type: 0, training: false, iteration_begin: 0, iteration_end: 0, strict_shape: true });
    check(api().boosterPredict(this.native, matrix.native, config, shape, dims, result), 'XGBoosterPredictFromDMatrix');
    const sizes = koffi.decode(shape[0], 'uint64_t', dims[0]) as ArrayLike<number | bigint>;
    let count = 1;
    for (let i = 0; i < dims[0]; i++) count *= Number(sizes[i]);
    // The result buffer belongs to the booster and is reused by the next call: copy it out.
    return (koffi.decode(result[0], 'float', count) as Float32Array).slice();
  }

  /** The model in XGBoost's JSON format (loadable by Python's xgboost.Booster(model_file=...)). */
  toJson(): Uint8Array {
    const length = [0];
    const data: Handle[] = [null];
    check(api().boosterSaveToBuffer(this.native, JSON.stringify({ format: 'json' }), length, data), 'XGBoosterSaveModelToBuffer');
    return new Uint8Array(koffi.view(data[0], Number(length[0]))).slice();
  }

  /** A new booster with only rounds [0, rounds). */
  slice(rounds: number): Booster {
    const out: Handle[] = [null];
    check(api().boosterSlice(this.native, 0, rounds, 1, out), 'XGBoosterSlice');
    return new Booster(out[0]);
  }

  get numFeatures(): number {
    const out = [0];
    check(api().boosterNumFeatures(this.native, out), 'XGBoosterGetNumFeature');
    return Number(out[0]);
  }

  get boostedRounds(): number {
    const out = [0];
    check(api().boosterBoostedRounds(this.native, out), 'XGBoosterBoostedRounds');
    return out[0];
  }

  free(): void {
    if (this.handle !== null) api().boosterFree(this.handle);
    this.handle = null;
  }
}
