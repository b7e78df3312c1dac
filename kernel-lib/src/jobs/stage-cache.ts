import * as fs from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import { acquireStoreLock } from '../data/store-lock';
import { writeFileAtomic } from '../util/atomic';
import { canonicalJson, sha256Hex } from '../util/hash';
import { CANDLELAB_VERSION } from '../version';

/**
 * The stage cache: a stage's output (features, labels, a model's predictions) stored under a key made
 * of what determines it — the data fingerprint and the resolved definitions (id, version, validated
 * params) of that stage and the stages before it. A sweep over strategy params computes the features
 * and trains the model once; every other point reads them.
 *
 * Two levels: this process's memory (a worker process keeps its last few entries between jobs) and
 * <workspace>/cache/stages/<stage>/<key>.v8 on disk (shared by the worker processes and, on a shared
 * path, by the machines). Computing an entry holds a lock file, so two workers that miss the same key
 * at once compute it once: the second waits and reads.
 */
export type StageCacheStats = Record<string, { memory: number; disk: number; computed: number }>;

export type StageCache = {
  readonly dir: string | undefined;
  /** The stage's value for `key`, computed (and stored) on a miss. `codec` turns it into structured-clonable data and back. */
  memo<T>(stage: string, key: string, compute: () => Promise<T> | T, codec?: StageCodec<T>, options?: { memoryOnly?: boolean }): Promise<T>;
  readonly stats: StageCacheStats;
};

export type StageCodec<T> = { encode(value: T): unknown; decode(data: unknown): T };

/** A cache key over the parts that determine a stage (canonical JSON, so key order never matters). */
export function stageKey(parts: unknown): string {
  return sha256Hex(`candlelab-stage-v1\n${CANDLELAB_VERSION}\n${canonicalJson(parts)}`);
}

const MEMORY_ENTRIES = 6;

/** <cacheDir>/stages (cacheDir defaults to <root>/cache). */
export function stageCacheDir(cacheDir: string): string {
  return path.join(cacheDir, 'stages');
}

/** A stage cache on `dir` (undefined: memory only). */
export function createStageCache(dir: string | undefined): StageCache {
  const memory = new Map<string, unknown>();
  const stats: StageCacheStats = {};
  const count = (stage: string, what: 'memory' | 'disk' | 'computed') => {
    stats[stage] ??= { memory: 0, disk: 0, computed: 0 };
    stats[stage][what]++;
  };
  const remember = (id: string, value: unknown) => {
    memory.delete(id);
    memory.set(id, value);
    while (memory.size > MEMORY_ENTRIES) memory.delete(memory.keys().next().value as string);
  };
  const readDisk = (file: string): { data: unknown } | undefined => {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch {
      return undefined;
    }
    return { data: v8.deserialize(bytes) };
  };
  return {
    dir,
    stats,
    async memo<T>(stage: string, key: string, compute: () => Promise<T> | T, codec?: StageCodec<T>, options: { memoryOnly?: boolean } = {}): Promise<T> {
      const id = `${stage}/${key}`;
      if (memory.has(id)) {
        count(stage, 'memory');
        const value = memory.get(id) as T;
        remember(id, value);
        return value;
      }
      const decode = (data: unknown) => (codec ? codec.decode(data) : (data as T));
      if (!dir || options.memoryOnly) {
        const value = await compute();
        count(stage, 'computed');
        remember(id, value);
        return value;
      }
      const file = path.join(dir, stage, `${key}.v8`);
      const fromDisk = (): T | undefined => {
        const found = readDisk(file);
        if (!found) return undefined;
        count(stage, 'disk');
        const value = decode(found.data);
        remember(id, value);
        return value;
      };
      const found = fromDisk();
      if (found !== undefined) return found;
      fs.mkdirSync(path.dirname(file), { recursive: true });
      // A day: training can be long; a lock whose process died (same host) is taken over at once.
      const lock = acquireStoreLock(file, { timeoutMs: 86_400_000, staleMs: 86_400_000 });
      try {
        const raced = fromDisk(); // another process computed it while this one waited for the lock
        if (raced !== undefined) return raced;
        const value = await compute();
        count(stage, 'computed');
        writeFileAtomic(file, v8.serialize(codec ? codec.encode(value) : value));
        remember(id, value);
        return value;
      } finally {
        lock.release();
      }
    },
  };
}
