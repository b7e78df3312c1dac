import * as fs from 'node:fs';
import { canonicalJson, sha256Hex } from '../util/hash';
import { CANDLELAB_VERSION } from '../version';
import type { TrialRequest } from '../runner/trial-run';
import type { Workspace } from '../workspace';

/**
 * One job model for everything candlelab runs in parallel: a spec (already with its overrides applied)
 * and what to compute on it. A job is plain JSON, so the same job runs in this process, in a local
 * worker process (`--jobs N`) or on a BullMQ worker on another machine (`--queue redis://…`).
 *
 * Data reaches a worker by path: the job names the workspace root (shared by every worker: one
 * machine, or a network mount at the same path) and the fingerprint of the candles it was planned on;
 * a worker whose copy of the data differs refuses the job instead of computing on other data.
 */
export type JobSpec = {
  /** The spec as JSON with every override applied (relative data paths resolved from `baseDir`). */
  spec: unknown;
  /** The spec file's folder: relative data paths and plugins resolve from here. */
  baseDir: string;
  /** The workspace's folders (data store, registry, runs, caches), absolute. */
  workspace: Workspace;
  /** sha256 of the candles the job was planned on (see dataFingerprint); a worker checks it. */
  dataFingerprint: string;
};

export type Job =
  /** A sweep point: every stage of the spec, nothing written; its metrics row. */
  | (JobSpec & { kind: 'sweep-point'; point: number; params: Record<string, unknown> })
  /** A tuning trial (the study journal path is shared like the data). */
  | { kind: 'trial'; request: TrialRequest; workspace: JobSpec['workspace'] }
  /** One window (fold) of a validated run: fit on its training rows, predict its test rows. */
  | (JobSpec & { kind: 'window'; fold: number })
  /** A whole run written to the workspace and registered (one coin's training in `coin add`). */
  | (JobSpec & { kind: 'run' });

/** A sweep point's row: its params and the metrics of its run (numbers, or null when undefined). */
export type SweepPointResult = { point: number; metrics: Record<string, number | null> };
/** A window's result: the FoldResult as computed, encoded (see encodeValue). */
export type WindowJobResult = { fold: unknown };
export type RunJobResult = { runId: string; runDir: string; fingerprint: string; metrics: Record<string, number | null>; testAccuracy: number | null };

/** What a runner answers for a job: its result, or the one-line error after its last attempt. */
export type JobOutcome<R = unknown> = { ok: true; result: R; reused?: boolean } | { ok: false; error: string; attempts?: number };

/**
 * The job's content hash: what it computes and on what. Two jobs with the same hash compute the same
 * result, so results are stored under it (idempotent: a redelivered or resubmitted job leaves one result).
 */
export function jobHash(job: Job): string {
  return sha256Hex(`candlelab-job-v1\n${CANDLELAB_VERSION}\n${canonicalJson(job)}`);
}

/**
 * Whether a stored result can stand for its job: a run job's result names its run folder, which a
 * user may have deleted since; then the run is made again. Other results are self-contained.
 */
export function storedResultUsable(job: Job, result: unknown): boolean {
  return job.kind !== 'run' || fs.existsSync((result as RunJobResult).runDir);
}

/** A short label for progress lines and errors. */
export function describeJob(job: Job): string {
  switch (job.kind) {
    case 'sweep-point':
      return `point ${job.point} ${Object.entries(job.params).map(([k, v]) => `${k.split('.').pop()}=${JSON.stringify(v)}`).join(' ')}`;
    case 'trial':
      return `trial ${job.request.study?.trialNumber ?? ''}`.trim();
    case 'window':
      return `window ${job.fold}`;
    case 'run':
      return `run ${(job.spec as { name?: string }).name ?? ''}`.trim();
  }
}

/**
 * Typed arrays inside results travel as base64 (JSON has no binary): `{"$f32": "…"}`, `{"$f64": "…"}`.
 * Exact, deterministic bytes; the same encoding on disk, over IPC and through Redis.
 */
export function encodeValue(value: unknown): unknown {
  if (value instanceof Float32Array) return { $f32: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (value instanceof Float64Array) return { $f64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (Array.isArray(value)) return value.map(encodeValue);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) if (item !== undefined) out[key] = encodeValue(item);
    return out;
  }
  return value;
}

export function decodeValue<T = unknown>(value: unknown): T {
  if (Array.isArray(value)) return value.map((item) => decodeValue(item)) as T;
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (typeof record.$f32 === 'string' && Object.keys(record).length === 1) return toTyped(record.$f32, Float32Array) as T;
    if (typeof record.$f64 === 'string' && Object.keys(record).length === 1) return toTyped(record.$f64, Float64Array) as T;
    return Object.fromEntries(Object.entries(record).map(([key, item]) => [key, decodeValue(item)])) as T;
  }
  return value as T;
}

function toTyped<T extends Float32Array | Float64Array>(base64: string, Kind: { new (buffer: ArrayBuffer): T; BYTES_PER_ELEMENT: number }): T {
  const bytes = Buffer.from(base64, 'base64');
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return new Kind(copy);
}
