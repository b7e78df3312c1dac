/**
 * A worker thread of the parallel CSV parse (csv-file.ts): parses the rows of its byte range of the file
 * and posts them back. Loaded lazily so that even a failure to load csv-file is posted as a failure.
 */
import { workerData } from 'node:worker_threads';
import type { CsvWorkerData } from './csv-file';

const data = workerData as CsvWorkerData;
try {
  // a compute worker: the core a prefault helper would use is not spare
  (require('../util/prefault') as typeof import('../util/prefault')).prefaultOff();
  const csv = require('./csv-file') as typeof import('./csv-file');
  csv.runCsvWorker(data);
} catch (error) {
  try {
    data.port.postMessage({ ok: false, error: String((error as Error)?.message ?? error) });
  } finally {
    Atomics.store(data.done, 0, 1);
    Atomics.notify(data.done, 0);
  }
}
