/** The prefault helper thread (prefault.ts): populates the pages of the ranges it is sent. */
import { parentPort } from 'node:worker_threads';
import { runPrefaultWorker } from './prefault';

if (parentPort) runPrefaultWorker(parentPort);
