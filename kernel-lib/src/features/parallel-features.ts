/**
 * Feature runs on several threads. The built-in features of a run plan are independent column
 * computations, so worker threads compute some while the main thread computes the others: both the
 * arithmetic and the first touch of the new output columns (page faults, most of a first run's time on
 * a virtual machine) are shared between the cores. Values are the same bits as on one thread: the same
 * kernels run on the same candles.
 *
 * - The candles are copied once into a SharedArrayBuffer the workers read.
 * - Jobs (one planned feature each) are claimed from a shared counter, so a worker that starts late or
 *   a feature that costs more balances itself. Workers compute into their own ColumnArena and transfer
 *   the buffers back (no copy).
 * - Only built-in features without input columns run in workers (a worker holds its own copies of these
 *   definitions); features of other plugins and features reading earlier features' columns run on the
 *   main thread.
 * - Nothing about errors changes: any error, or a worker that fails or does not answer, and the caller
 *   computes on one thread, which throws exactly the one-thread error.
 */
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { Frame, type Candles, type FrameMeta } from '../frame/frame';
import type { FeatureContext, FeatureDefinition } from '../plugins/define';
import type { RowRange } from '../validation/splitter';
import { availableCores, threadsFromEnv, workerScript } from '../util/threads';
import { adviseHugePages } from '../util/huge-pages';
import { ColumnArena } from './column-arena';
import type { PlannedFeature } from './compute-features';
import { coreFeatures } from './core-features';
import { modelFeatures } from './model-features';
import { moreFeatures } from './more-features';
import { patternFeatures } from './patterns';

/** Threads a feature run uses by default: the available cores, at most this many. */
const MAX_THREADS = 4;
/** Fewer candle rows than this: one thread (a worker's start, ~50-100 ms, would cost more than it saves). */
export const MIN_ROWS_FOR_THREADS = 200_000;
/** How long past 4× the main thread's own time a worker may take before it counts as failed (it could not start, or crashed). */
const WORKER_PATIENCE_MS = 5000;

/** Marks contexts made by `featureContext`: a worker can make the same one from the plain fields. */
export const STANDARD_CONTEXT = Symbol('candlelab.standardFeatureContext');

/** How a feature run uses threads. */
export type FeatureThreadOptions = {
  /**
   * Threads, the main one included (default: the available cores, at most 4; env
   * CANDLELAB_FEATURE_THREADS). 1: everything on the main thread.
   */
  threads?: number;
  /** Fewer candle rows than this run on one thread (default 200,000). */
  minRows?: number;
  /** How long past 4× the main thread's own time to wait for a worker before computing its jobs here (default 5,000 ms). */
  patienceMs?: number;
  /**
   * The main thread takes jobs from the shared queue only once a worker has taken one (tests: on small
   * candles the main thread would otherwise finish before a worker has started).
   */
  workersFirst?: boolean;
};

let lastRun = { threads: 1, workerJobs: 0 };
/** How the last feature run in this process was computed: threads used (the main one included) and jobs computed by workers. */
export function lastFeatureRunThreads(): { threads: number; workerJobs: number } {
  return { ...lastRun };
}

let threaded: Map<string, FeatureDefinition> | undefined;
/**
 * The built-in features a worker can compute, by id (made on first use: the catalogue's modules may
 * still be loading when this one is).
 */
export function threadedFeatures(): Map<string, FeatureDefinition> {
  threaded ??= new Map([...coreFeatures, ...moreFeatures, ...patternFeatures, ...modelFeatures].map((definition): [string, FeatureDefinition] => [definition.id, definition]));
  return threaded;
}

/** A planned feature as a worker receives it: the definition by id, the params already validated. */
type WorkerJob = { id: string; params: unknown; outputs: string[] };

/** What a feature worker gets. */
export type FeatureWorkerData = {
  /** The candles: time, then each column, `length` rows each. */
  candles: SharedArrayBuffer;
  names: string[];
  length: number;
  meta: FrameMeta;
  context: { timeframe: string; dataDir?: string; baseDir?: string; fitRows?: readonly RowRange[] };
  jobs: WorkerJob[];
  /** [READY]: 1 once the candles are copied in; [NEXT]: the next job to claim; one done flag per worker after them. */
  state: Int32Array;
  /** This worker's done flag in `state`. */
  doneAt: number;
  port: MessagePort;
};

const READY = 0;
const NEXT = 1;
const FIRST_DONE = 2;

/** What a feature worker posts: the jobs it computed (buffers transferred) and those it could not. */
export type FeatureWorkerResult = { computed: Array<{ job: number; columns: Record<string, Float64Array> }>; failed: number[] };

/** The worker's side: wait for the candles, claim jobs until none are left, post the columns, signal. */
export function runFeatureWorker(data: FeatureWorkerData): void {
  const result: FeatureWorkerResult = { computed: [], failed: [] };
  const transfer = new Set<ArrayBuffer>();
  try {
    Atomics.wait(data.state, READY, 0);
    const { featureContext } = require('./compute-features') as typeof import('./compute-features');
    const { PluginRegistry } = require('../plugins/registry') as typeof import('../plugins/registry');
    const { definePlugin } = require('../plugins/define') as typeof import('../plugins/define');
    const definitions = threadedFeatures();
    const registry = new PluginRegistry().register(definePlugin({ id: 'core', version: 'worker', features: [...definitions.values()] }));
    const { timeframe, ...options } = data.context;
    const context: FeatureContext = { ...featureContext(registry, timeframe, options), columns: new ColumnArena(data.length) };
    const n = data.length;
    const at = (k: number) => new Float64Array(data.candles, k * n * 8, n);
    const candles = Frame.fromOrderedColumns(at(0), Object.fromEntries(data.names.map((name, k) => [name, at(k + 1)])), data.meta) as Candles;
    for (let job = Atomics.add(data.state, NEXT, 1); job < data.jobs.length; job = Atomics.add(data.state, NEXT, 1)) {
      Atomics.notify(data.state, NEXT); // a main thread waiting for the workers to start (workersFirst) goes on
      const { id, params, outputs } = data.jobs[job];
      try {
        const computed = definitions.get(id)!.compute(candles, params, context);
        const columns: Record<string, Float64Array> = {};
        for (const name of outputs) {
          const values = computed[name];
          if (!(values instanceof Float64Array)) throw new Error(`no column ${name}`);
          columns[name] = values;
          if (values.buffer instanceof ArrayBuffer) transfer.add(values.buffer);
        }
        result.computed.push({ job, columns });
      } catch {
        result.failed.push(job); // the main thread computes it (and reports its error, if it has one)
      }
    }
  } catch {
    // could not set up: the main thread computes every job this worker did not post
  }
  try {
    data.port.postMessage(result, [...transfer]);
  } finally {
    Atomics.store(data.state, data.doneAt, 1);
    Atomics.notify(data.state, data.doneAt);
  }
}

/** The worker threads a run would use (0: one thread), from the options, the env and the cores. */
export function featureWorkerCount(rows: number, options: FeatureThreadOptions = {}): number {
  const threads = options.threads ?? threadsFromEnv(process.env.CANDLELAB_FEATURE_THREADS) ?? Math.min(MAX_THREADS, availableCores());
  return rows >= (options.minRows ?? MIN_ROWS_FOR_THREADS) ? Math.max(0, threads - 1) : 0;
}

/**
 * Compute planned features on the main thread and `workers` worker threads: the columns by output
 * name, in plan order. Undefined when there is nothing to share (no workers, fewer than two built-in
 * features without inputs) or the parallel run did not complete (an error, a worker that could
 * not start or answer): the caller then computes on one thread, with its errors exactly as before.
 */
export function computeFeaturesOnThreads(
  candles: Candles,
  planned: readonly PlannedFeature[],
  context: FeatureContext,
  workers: number,
  validate: (feature: PlannedFeature, computed: Record<string, Float64Array>) => void,
  { patienceMs = WORKER_PATIENCE_MS, workersFirst = false }: FeatureThreadOptions = {},
): Record<string, Float64Array> | undefined {
  lastRun = { threads: 1, workerJobs: 0 };
  if (workers < 1) return undefined;
  if (!(context as { [STANDARD_CONTEXT]?: boolean })[STANDARD_CONTEXT]) return undefined;
  const table = threadedFeatures();
  // jobs a worker may take: built-in definitions (the same objects the worker holds) reading no earlier feature's columns
  const shared: number[] = [];
  planned.forEach((feature, k) => {
    if (!feature.inputs.length && table.get(feature.definition.id) === feature.definition) shared.push(k);
  });
  if (shared.length < 2) return undefined;

  const n = candles.length;
  const names = candles.names;
  const state = new Int32Array(new SharedArrayBuffer(4 * (FIRST_DONE + workers)));
  const buffer = new SharedArrayBuffer(8 * n * (names.length + 1));
  adviseHugePages(new Uint8Array(buffer));
  const started: { worker: Worker; port: MessagePort; doneAt: number }[] = [];
  const done = new Map<number, Record<string, Float64Array>>();
  const arena = new ColumnArena(n);
  const runContext: FeatureContext = { ...context, columns: arena };
  let workerJobs = 0;
  // a feature reading earlier features' columns sees the candles plus the columns of the features before it, as on one thread
  const compute = (k: number) => {
    const feature = planned[k];
    let input: Candles = candles;
    if (feature.inputs.length) {
      const earlier: Record<string, Float64Array> = {};
      for (let e = 0; e < k; e++) for (const name of planned[e].outputs) earlier[name] = done.get(e)![name];
      if (feature.inputs.some((name) => !(name in earlier) && !candles.has(name))) throw new Error('an input column is missing'); // one thread reports it
      input = candles.withColumns(earlier) as Candles;
    }
    const computed = feature.definition.compute(input, feature.params, runContext);
    validate(feature, computed);
    done.set(k, computed);
  };
  try {
    const script = workerScript(__dirname, 'features/feature-worker.js', process.env.CANDLELAB_FEATURE_WORKER);
    const { timeframe, dataDir, baseDir, fitRows } = context;
    const jobs: WorkerJob[] = shared.map((k) => ({ id: planned[k].definition.id, params: planned[k].params, outputs: planned[k].outputs }));
    for (let w = 0; w < workers; w++) {
      const { port1, port2 } = new MessageChannel();
      const data: FeatureWorkerData = { candles: buffer, names, length: n, meta: candles.meta, context: { timeframe, dataDir, baseDir, fitRows }, jobs, state, doneAt: FIRST_DONE + w, port: port2 };
      let worker: Worker;
      try {
        worker = new Worker(script, { workerData: data, transferList: [port2] });
      } catch {
        port1.close();
        break; // the main thread takes the jobs
      }
      worker.unref();
      worker.on('error', () => {}); // failures show as jobs not posted; never an unhandled 'error' event
      started.push({ worker, port: port1, doneAt: FIRST_DONE + w });
    }
    // the candles into shared memory while the workers load their modules
    new Float64Array(buffer, 0, n).set(candles.time);
    names.forEach((name, c) => new Float64Array(buffer, (c + 1) * n * 8, n).set(candles.column(name)));
    Atomics.store(state, READY, 1);
    Atomics.notify(state, READY);

    const began = performance.now();
    // first what only this thread can compute (while the workers start), then jobs from the shared queue
    planned.forEach((feature, k) => {
      if (!feature.inputs.length && !shared.includes(k)) compute(k);
    });
    if (workersFirst && started.length) Atomics.wait(state, NEXT, 0, patienceMs);
    for (let j = Atomics.add(state, NEXT, 1); j < shared.length; j = Atomics.add(state, NEXT, 1)) compute(shared[j]);
    const deadline = performance.now() + patienceMs + 4 * (performance.now() - began);
    for (const { port, doneAt } of started) {
      // past the deadline a worker that has not answered is left to the main thread; the others are still read
      if (Atomics.wait(state, doneAt, 0, Math.max(0, deadline - performance.now())) === 'timed-out') continue;
      const message = receiveMessageOnPort(port)?.message as FeatureWorkerResult | undefined;
      for (const { job, columns } of message?.computed ?? []) {
        validate(planned[shared[job]], columns);
        done.set(shared[job], columns);
        workerJobs++;
      }
    }
    Atomics.store(state, NEXT, shared.length); // a worker still running claims nothing more
    // what a worker failed, did not post or did not finish, then the features reading earlier columns, in plan order
    for (let k = 0; k < planned.length; k++) if (!done.has(k)) compute(k);
  } catch {
    return undefined;
  } finally {
    for (const { worker, port } of started) {
      port.close();
      void worker.terminate().catch(() => {});
    }
  }
  lastRun = { threads: 1 + started.length, workerJobs };
  const columns: Record<string, Float64Array> = {};
  for (let k = 0; k < planned.length; k++) {
    const computed = done.get(k)!;
    for (const name of planned[k].outputs) columns[name] = computed[name];
  }
  return columns;
}
