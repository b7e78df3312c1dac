/**
 * A worker thread of a parallel feature run (parallel-features.ts): computes the jobs it claims and posts
 * the columns back. Loaded lazily so that even a failure to load the feature modules is posted (as no
 * jobs computed) and the main thread computes them.
 */
import { workerData } from 'node:worker_threads';
import type { FeatureWorkerData } from './parallel-features';

const data = workerData as FeatureWorkerData;
try {
  // a compute worker: the core a prefault helper would use is not spare
  (require('../util/prefault') as typeof import('../util/prefault')).prefaultOff();
  (require('./parallel-features') as typeof import('./parallel-features')).runFeatureWorker(data);
} catch {
  try {
    data.port.postMessage({ computed: [], failed: [] });
  } finally {
    Atomics.store(data.state, data.doneAt, 1);
    Atomics.notify(data.state, data.doneAt);
  }
}
