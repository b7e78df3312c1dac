import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CandlelabError, RegistryError, didYouMean } from '../errors';
import type { Artifact, FittedModel, ModelContext } from '../models/model';
import type { PluginRegistry } from '../plugins/registry';
import { createRegistry } from '../plugins/core-plugin';
import { writeFileAtomic } from '../util/atomic';
import { sha256Hex } from '../util/hash';
import { acquireStoreLock } from '../data/store-lock';

/**
 * The model registry: models/<name>/versions/<n>/ holds a version's artifacts and version.json.
 * A version appears whole or not at all: it is written into a temp folder and renamed into place;
 * version numbers are claimed by that rename, so concurrent registrations never overwrite each other.
 *
 * Stages live apart from the (immutable) versions, in models/<name>/stages.json: each version's stage,
 * the production version, the earlier production versions (for rollback) and the stage history. It is
 * changed only under an O_EXCL lock (models/<name>/stages.lock) and replaced by an atomic rename, so
 * concurrent promotions serialize and a crash leaves the old file or the new one, never half of one.
 */
export type ModelStage = 'staging' | 'production' | 'archived';

/** The stages a version can be in. */
export const MODEL_STAGES: readonly ModelStage[] = ['staging', 'production', 'archived'];

/** Wall times of a model version, for information (never part of a run fingerprint). */
export type ModelTimings = {
  trainingMs: number;
  /** Batched inference over every predicted row. */
  batchRowsPerSecond?: number;
  /** One row per call, over `singleRowSamples` rows. */
  singleRowP50Ms?: number;
  singleRowP99Ms?: number;
  singleRowSamples?: number;
};

export type ModelVersion = {
  name: string;
  version: number;
  stage: ModelStage;
  createdAt: string;
  modelId: string;
  modelVersion: string;
  task: 'classification' | 'regression';
  params: unknown;
  featureNames: string[];
  classes?: string[];
  label: unknown;
  metrics: Record<string, unknown>;
  dataFingerprint: string;
  specHash: string;
  runId: string;
  /** The candlelab version that trained it. */
  codeVersion: string;
  /** The git commit of the code that trained it, when it ran in a git checkout. */
  gitCommit?: string;
  /** Whether tracked files differed from `gitCommit`. */
  gitDirty?: boolean;
  timings?: ModelTimings;
  artifacts: Artifact[];
};

export type RegisterRequest = Omit<ModelVersion, 'version' | 'stage' | 'artifacts' | 'featureNames' | 'classes' | 'modelId' | 'modelVersion' | 'task'> & {
  model: FittedModel;
  /** The new version's stage (default staging); production archives the previous production version. */
  stage?: ModelStage;
};

/** One stage change, as recorded in stages.json. */
export type StageEvent = {
  at: string;
  action: 'promote' | 'rollback' | 'remove' | 'split';
  version: number;
  from: ModelStage | null;
  to: ModelStage | null;
  /** The production version this change archived, if any. */
  archived?: number;
  /** For 'split': the new split (empty: cleared). */
  split?: TrafficArm[];
};

/** models/<name>/stages.json. */
export type StageState = {
  format: 1;
  /** Stages that differ from a version's initial stage (version.json). */
  stages: Record<string, ModelStage>;
  production: number | null;
  /** Earlier production versions, most recent last: where rollback returns to. */
  previousProduction: number[];
  history: StageEvent[];
  /** How `candlelab serve` splits traffic between versions (A/B); absent: everything to production. */
  split?: TrafficArm[];
};

/**
 * One arm of an A/B split: a version number, or 'production' (whichever version is production when a
 * request arrives, so a promotion moves that arm's traffic to the new version). Weights are relative.
 */
export type TrafficArm = { version: number | 'production'; weight: number };

/** Which version `loadModel`/`resolve` picks: the one in a stage (the latest if several), or a number. */
export type VersionSelector = { stage: ModelStage } | { version: number };

/** Numeric metric differences of two versions (b − a) and the percent change against a. */
export type MetricChange = { metric: string; a: number; b: number; difference: number; percentChange: number | null };

/** A value that differs between two versions, by dotted path. */
export type ValueChange = { path: string; a: unknown; b: unknown };

export type VersionComparison = {
  name: string;
  a: { version: number; stage: ModelStage; model: string; createdAt: string; runId: string };
  b: { version: number; stage: ModelStage; model: string; createdAt: string; runId: string };
  /** Metrics present in both versions. */
  metrics: MetricChange[];
  /** Training time and inference latency, when both versions recorded them (wall times: noisy). */
  timings: MetricChange[];
  /** Metric paths only one version has. */
  onlyInA: string[];
  onlyInB: string[];
  params: ValueChange[];
  label: ValueChange[];
  features: { added: string[]; removed: string[]; reordered: boolean };
  dataFingerprint: { a: string; b: string; same: boolean };
  codeVersion: { a: string; b: string; same: boolean };
};

export type ModelRegistryOptions = {
  /** The clock stamped on stage changes (default: the wall clock). */
  clock?: () => Date;
  /** How long a stage change waits for another one holding the lock (default 30 s). */
  lockTimeoutMs?: number;
};

export type LoadModelOptions = {
  /** Where model ids resolve (default: the built-ins). */
  plugins?: PluginRegistry;
  /** What the model's `load` receives (default: seed 0). */
  context?: ModelContext;
  /** Check every artifact's sha256 against the record before loading (default true). */
  verify?: boolean;
};

const VERSION_FILE = 'version.json';
const STAGE_FILE = 'stages.json';
const NAME_PATTERN = /^[\w.-]+$/;

const emptyState = (): StageState => ({ format: 1, stages: {}, production: null, previousProduction: [], history: [] });

export function isModelStage(value: string): value is ModelStage {
  return (MODEL_STAGES as readonly string[]).includes(value);
}

/** A stage name from user input, or a one-line error listing the valid ones. */
export function parseModelStage(value: string): ModelStage {
  if (isModelStage(value)) return value;
  throw new RegistryError(`unknown stage '${value}'${didYouMean(value, MODEL_STAGES)}; stages: ${MODEL_STAGES.join(', ')}`);
}

export class ModelRegistry {
  private readonly clock: () => Date;
  private readonly lockTimeoutMs: number;

  constructor(
    readonly dir: string,
    options: ModelRegistryOptions = {},
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.lockTimeoutMs = options.lockTimeoutMs ?? 30_000;
  }

  private versionsDir(name: string): string {
    if (!NAME_PATTERN.test(name)) throw new RegistryError(`model name '${name}' may use letters, digits, _ . - only`);
    return path.join(this.dir, name, 'versions');
  }

  /** Save the model's artifacts and record as the next version of `name` (stage: staging unless asked). */
  async register(request: RegisterRequest): Promise<ModelVersion> {
    const versionsDir = this.versionsDir(request.name);
    const stage = request.stage ?? 'staging';
    if (!isModelStage(stage)) parseModelStage(stage);
    fs.mkdirSync(versionsDir, { recursive: true });
    const temp = path.join(versionsDir, `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
    fs.mkdirSync(temp);
    let record: ModelVersion | undefined;
    try {
      const artifacts = await request.model.save(temp);
      const { model, stage: _stage, ...rest } = request;
      for (let attempt = 0; attempt < 1000 && !record; attempt++) {
        const version = this.latestVersionNumber(request.name) + 1 + attempt;
        const candidate: ModelVersion = {
          ...rest,
          version,
          // Production is reached through a promotion (below), which archives the previous one.
          stage: stage === 'production' ? 'staging' : stage,
          modelId: model.modelId,
          modelVersion: model.modelVersion,
          task: model.task,
          featureNames: [...model.featureNames],
          classes: model.classes ? [...model.classes] : undefined,
          artifacts,
        };
        writeFileAtomic(path.join(temp, VERSION_FILE), JSON.stringify(candidate, null, 2) + '\n');
        try {
          fs.renameSync(temp, path.join(versionsDir, String(version)));
          record = candidate;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw error;
          // another process claimed this number first: try the next one
        }
      }
      if (!record) throw new RegistryError(`could not claim a version number for ${request.name}`);
    } catch (error) {
      fs.rmSync(temp, { recursive: true, force: true });
      throw error;
    }
    if (stage === 'production') return this.promote(request.name, record.version, 'production');
    return record;
  }

  /** Remove a version (used to roll back a registration whose run could not be written). */
  remove(name: string, version: number): void {
    const numbers = this.versionNumbers(name);
    if (numbers.includes(version)) {
      this.changeStages(name, (state) => {
        const from = this.stageIn(state, name, version);
        delete state.stages[String(version)];
        state.previousProduction = state.previousProduction.filter((v) => v !== version);
        if (state.split) state.split = state.split.filter((arm) => arm.version !== version);
        if (state.split?.length === 0) delete state.split;
        if (state.production === version) {
          // The removed version was production: the one before it takes over again.
          const restored = state.previousProduction.pop() ?? null;
          state.production = restored;
          if (restored !== null) state.stages[String(restored)] = 'production';
        }
        if (from !== 'staging' || state.history.some((e) => e.version === version)) {
          state.history.push({ at: this.clock().toISOString(), action: 'remove', version, from, to: null });
        }
      });
    }
    fs.rmSync(path.join(this.versionsDir(name), String(version)), { recursive: true, force: true });
  }

  /** Model names with at least one version. */
  names(): string[] {
    if (!fs.existsSync(this.dir)) return [];
    return fs
      .readdirSync(this.dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && NAME_PATTERN.test(entry.name) && this.versionNumbers(entry.name).length > 0)
      .map((entry) => entry.name)
      .sort();
  }

  /** Whole versions only: numbered folders with their version.json (temp folders of crashed writers are ignored). */
  private versionNumbers(name: string): number[] {
    const dir = path.join(this.dir, name, 'versions');
    if (!fs.existsSync(dir)) return [];
    return fs
      .readdirSync(dir)
      .filter((entry) => /^\d+$/.test(entry) && fs.existsSync(path.join(dir, entry, VERSION_FILE)))
      .map(Number)
      .sort((a, b) => a - b);
  }

  private latestVersionNumber(name: string): number {
    const dir = this.versionsDir(name);
    if (!fs.existsSync(dir)) return 0;
    // Count claimed folders too (a version.json may still be moving in): numbers are never reused.
    return fs.readdirSync(dir).filter((entry) => /^\d+$/.test(entry)).map(Number).reduce((a, b) => Math.max(a, b), 0);
  }

  /** Every version of `name`, oldest first, with its current stage. */
  list(name: string): ModelVersion[] {
    const state = this.stageState(name);
    return this.versionNumbers(name).map((version) => this.readVersion(name, version, state));
  }

  /** One version (default: the latest), with its current stage. */
  get(name: string, version?: number): ModelVersion {
    const numbers = this.requireVersions(name);
    const wanted = version ?? numbers[numbers.length - 1];
    if (!numbers.includes(wanted)) throw new RegistryError(`model '${name}' has no version ${wanted}; versions: ${numbers.join(', ')}`);
    return this.readVersion(name, wanted, this.stageState(name));
  }

  /** The version a selector picks: a number, or the latest version in a stage. */
  resolve(name: string, selector: VersionSelector): ModelVersion {
    if ('version' in selector) return this.get(name, selector.version);
    const stage = parseModelStage(selector.stage);
    this.requireVersions(name);
    const versions = this.list(name).filter((v) => v.stage === stage);
    if (versions.length === 0) {
      const fix = stage === 'production' ? `; promote one with: candlelab registry promote ${name} <version> production` : '';
      throw new RegistryError(`model '${name}' has no ${stage} version${fix} (versions: ${this.describeVersions(name)})`);
    }
    return versions[versions.length - 1];
  }

  /** The folder holding a version's artifacts. */
  artifactDir(name: string, version: number): string {
    this.get(name, version);
    return path.join(this.versionsDir(name), String(version));
  }

  /** The stage state of `name`: each version's stage, the production version, the history. */
  stageState(name: string): StageState {
    const file = path.join(this.versionsDir(name), '..', STAGE_FILE);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
      throw error;
    }
    try {
      const state = JSON.parse(text) as StageState;
      if (state.format !== 1 || typeof state.stages !== 'object') throw new Error('unknown format');
      return state;
    } catch (error) {
      throw new RegistryError(`${file} is not a stage file (${(error as Error).message}); restore it from a backup or delete it to reset every version's stage`);
    }
  }

  /** The stage history of `name`, oldest first. */
  history(name: string): StageEvent[] {
    this.requireVersions(name);
    return this.stageState(name).history;
  }

  /**
   * Move a version to a stage. Promoting to production archives the previous production version
   * (rollback returns to it); demoting the production version leaves no production version.
   */
  promote(name: string, version: number, stage: ModelStage): ModelVersion {
    const target = parseModelStage(stage);
    this.get(name, version);
    this.changeStages(name, (state) => {
      const from = this.stageIn(state, name, version);
      if (from === target) return;
      const event: StageEvent = { at: this.clock().toISOString(), action: 'promote', version, from, to: target };
      state.previousProduction = state.previousProduction.filter((v) => v !== version);
      if (target === 'production') {
        const previous = state.production;
        if (previous !== null && previous !== version) {
          state.stages[String(previous)] = 'archived';
          state.previousProduction.push(previous);
          event.archived = previous;
        }
        state.production = version;
      } else if (state.production === version) {
        state.production = null;
      }
      state.stages[String(version)] = target;
      state.history.push(event);
    });
    return this.get(name, version);
  }

  /**
   * Production goes back to the previous production version; the current one is archived. Repeated
   * rollbacks walk further back. Recorded in the stage history.
   */
  rollback(name: string): ModelVersion {
    this.requireVersions(name);
    let restored = 0;
    this.changeStages(name, (state) => {
      const current = state.production;
      if (current === null) {
        throw new RegistryError(`model '${name}' has no production version to roll back; promote one with: candlelab registry promote ${name} <version> production`);
      }
      const existing = new Set(this.versionNumbers(name));
      let previous: number | undefined;
      while (state.previousProduction.length && previous === undefined) {
        const candidate = state.previousProduction.pop()!;
        if (candidate !== current && existing.has(candidate)) previous = candidate;
      }
      if (previous === undefined) {
        throw new RegistryError(`model '${name}' has no earlier production version than v${current} to roll back to; promote another version with: candlelab registry promote ${name} <version> production`);
      }
      const from = this.stageIn(state, name, previous);
      state.stages[String(current)] = 'archived';
      state.stages[String(previous)] = 'production';
      state.production = previous;
      state.history.push({ at: this.clock().toISOString(), action: 'rollback', version: previous, from, to: 'production', archived: current });
      restored = previous;
    });
    return this.get(name, restored);
  }

  /**
   * Split served traffic between versions by weight, e.g. [{version:'production', weight:90},
   * {version:7, weight:10}]; an empty list clears the split (everything to production). Recorded in
   * the stage history; a running `candlelab serve` applies it from its next request.
   */
  setSplit(name: string, arms: readonly TrafficArm[]): TrafficArm[] {
    const numbers = this.requireVersions(name);
    const clean: TrafficArm[] = [];
    for (const arm of arms) {
      if (arm.version !== 'production' && !numbers.includes(arm.version)) throw new RegistryError(`model '${name}' has no version ${arm.version} to split traffic to; versions: ${numbers.join(', ')}`);
      if (!(Number.isFinite(arm.weight) && arm.weight > 0)) throw new RegistryError(`the weight of ${arm.version === 'production' ? 'production' : `v${arm.version}`} must be a positive number, got ${arm.weight}`);
      if (clean.some((c) => c.version === arm.version)) throw new RegistryError(`${arm.version === 'production' ? 'production' : `v${arm.version}`} appears twice in the split; give each version once`);
      clean.push({ version: arm.version, weight: arm.weight });
    }
    this.changeStages(name, (state) => {
      if (clean.some((arm) => arm.version === 'production') && state.production === null) {
        throw new RegistryError(`model '${name}' has no production version for the split's production arm; promote one with: candlelab registry promote ${name} <version> production`);
      }
      if (clean.length) state.split = clean;
      else delete state.split;
      state.history.push({ at: this.clock().toISOString(), action: 'split', version: state.production ?? 0, from: null, to: null, split: clean });
    });
    return clean;
  }

  /** The traffic split of `name` (empty: everything goes to production). */
  split(name: string): TrafficArm[] {
    this.requireVersions(name);
    return this.stageState(name).split ?? [];
  }

  /**
   * A stamp of `name`'s stage file (inode, mtime, size; 'none' before the first stage change): it
   * changes with every promotion, rollback or split, because the file is replaced by a rename. Servers
   * and sessions that follow a stage compare it before each request or candle (a stat, a few µs).
   */
  stageStamp(name: string): string {
    try {
      const stat = fs.statSync(path.join(this.versionsDir(name), '..', STAGE_FILE), { bigint: true });
      return `${stat.ino}:${stat.mtimeNs}:${stat.size}`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
      throw error;
    }
  }

  /** Compare two versions: metric differences and percent change, params, features, label, data. */
  compare(name: string, a: number, b: number): VersionComparison {
    const va = this.get(name, a);
    const vb = this.get(name, b);
    const ma = flattenNumbers(va.metrics);
    const mb = flattenNumbers(vb.metrics);
    const metrics = numericChanges(ma, mb);
    const summary = (v: ModelVersion) => ({ version: v.version, stage: v.stage, model: `${v.modelId}@${v.modelVersion}`, createdAt: v.createdAt, runId: v.runId });
    const setA = new Set(va.featureNames);
    const setB = new Set(vb.featureNames);
    const added = vb.featureNames.filter((f) => !setA.has(f));
    const removed = va.featureNames.filter((f) => !setB.has(f));
    const common = (names: string[], other: Set<string>) => names.filter((f) => other.has(f)).join('\n');
    return {
      name,
      a: summary(va),
      b: summary(vb),
      metrics,
      timings: numericChanges(flattenNumbers(va.timings ?? {}), flattenNumbers(vb.timings ?? {})),
      onlyInA: [...ma.keys()].filter((k) => !mb.has(k)),
      onlyInB: [...mb.keys()].filter((k) => !ma.has(k)),
      params: valueChanges(va.params, vb.params),
      label: valueChanges(va.label, vb.label),
      features: { added, removed, reordered: common(va.featureNames, setB) !== common(vb.featureNames, setA) },
      dataFingerprint: { a: va.dataFingerprint, b: vb.dataFingerprint, same: va.dataFingerprint === vb.dataFingerprint },
      codeVersion: {
        a: codeVersionOf(va),
        b: codeVersionOf(vb),
        same: codeVersionOf(va) === codeVersionOf(vb),
      },
    };
  }

  /**
   * Load a registered model ready to predict (in a notebook, the runner or a live bot): by stage
   * (default: production) or by version. Artifacts are checked against their recorded sha256 first.
   */
  async loadModel(name: string, selector: VersionSelector = { stage: 'production' }, options: LoadModelOptions = {}): Promise<FittedModel> {
    const record = this.resolve(name, selector);
    const dir = path.join(this.versionsDir(name), String(record.version));
    if (options.verify !== false) {
      for (const artifact of record.artifacts) {
        const file = path.join(dir, artifact.path);
        if (!fs.existsSync(file)) throw new RegistryError(`${name} v${record.version}: artifact ${artifact.path} is missing from ${dir}; re-register the model`);
        if (artifact.sha256 && sha256Hex(fs.readFileSync(file)) !== artifact.sha256) {
          throw new RegistryError(`${name} v${record.version}: artifact ${artifact.path} does not match its recorded sha256; the file changed after registration, re-register the model`);
        }
      }
    }
    const plugins = options.plugins ?? createRegistry();
    const definition = plugins.resolve('model', record.modelId, record.modelVersion);
    try {
      // Ensembles resolve their members through the same plugin registry.
      return await definition.load(dir, options.context ?? { seed: 0, resolveModel: (ref) => plugins.resolveWithParams('model', ref) });
    } catch (error) {
      if (error instanceof CandlelabError) throw error;
      throw new RegistryError(`could not load ${name} v${record.version} (${record.modelId}@${record.modelVersion}) from ${dir}: ${(error as Error).message}`, { cause: error });
    }
  }

  private requireVersions(name: string): number[] {
    const numbers = this.versionNumbers(name);
    if (numbers.length === 0) {
      const names = this.names();
      throw new RegistryError(`no model named '${name}' in ${this.dir}${didYouMean(name, names)}; registered: ${names.join(', ') || 'none'}`);
    }
    return numbers;
  }

  private describeVersions(name: string): string {
    return this.list(name)
      .map((v) => `v${v.version} ${v.stage}`)
      .join(', ');
  }

  private readVersion(name: string, version: number, state: StageState): ModelVersion {
    const record = JSON.parse(fs.readFileSync(path.join(this.versionsDir(name), String(version), VERSION_FILE), 'utf8')) as ModelVersion;
    return { ...record, stage: state.stages[String(version)] ?? record.stage };
  }

  private stageIn(state: StageState, name: string, version: number): ModelStage {
    const stored = state.stages[String(version)];
    if (stored) return stored;
    try {
      return (JSON.parse(fs.readFileSync(path.join(this.versionsDir(name), String(version), VERSION_FILE), 'utf8')) as ModelVersion).stage;
    } catch {
      return 'staging';
    }
  }

  /** Read-modify-write stages.json under the model's lock; the new file replaces the old by rename. */
  private changeStages(name: string, change: (state: StageState) => void): void {
    const modelDir = path.join(this.versionsDir(name), '..');
    fs.mkdirSync(modelDir, { recursive: true });
    let lock: ReturnType<typeof acquireStoreLock>;
    try {
      lock = acquireStoreLock(path.join(modelDir, 'stages'), { timeoutMs: this.lockTimeoutMs, staleMs: 120_000 });
    } catch (error) {
      if (error instanceof CandlelabError) {
        throw new RegistryError(`the stages of '${name}' are locked by another process for over ${Math.round(this.lockTimeoutMs / 1000)} s; retry, or delete ${path.join(modelDir, 'stages.lock')} if no candlelab process is running`, { cause: error });
      }
      throw error;
    }
    try {
      const state = this.stageState(name);
      const before = JSON.stringify(state);
      change(state);
      const after = JSON.stringify(state, null, 2) + '\n';
      if (JSON.stringify(state) === before) return;
      lock.assertHeld();
      writeFileAtomic(path.join(modelDir, STAGE_FILE), after);
    } finally {
      lock.release();
    }
  }
}

/** "0.1.0+abc1234" (with "-dirty" when tracked files differed), or the bare version. */
export function codeVersionOf(v: Pick<ModelVersion, 'codeVersion' | 'gitCommit' | 'gitDirty'>): string {
  return v.gitCommit ? `${v.codeVersion}+${v.gitCommit.slice(0, 12)}${v.gitDirty ? '-dirty' : ''}` : v.codeVersion;
}

/** Numeric leaves of a metrics object by dotted path; arrays of named records are keyed by name. */
function flattenNumbers(value: unknown, prefix = '', out = new Map<string, number>()): Map<string, number> {
  if (typeof value === 'number') {
    if (prefix) out.set(prefix, value);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => {
      const key = item && typeof item === 'object' && typeof (item as { name?: unknown }).name === 'string' ? (item as { name: string }).name : String(i);
      flattenNumbers(item, prefix ? `${prefix}.${key}` : key, out);
    });
  } else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) flattenNumbers(item, prefix ? `${prefix}.${key}` : key, out);
  }
  return out;
}

/** b − a and the percent change against |a| for every path both maps hold. */
function numericChanges(a: Map<string, number>, b: Map<string, number>): MetricChange[] {
  const changes: MetricChange[] = [];
  for (const [metric, x] of a) {
    const y = b.get(metric);
    if (y === undefined) continue;
    changes.push({ metric, a: x, b: y, difference: y - x, percentChange: x !== 0 && Number.isFinite(x) ? ((y - x) / Math.abs(x)) * 100 : null });
  }
  return changes;
}

/** Leaves that differ between two JSON values, by dotted path. */
export function valueChanges(a: unknown, b: unknown, prefix = ''): ValueChange[] {
  const isObject = (x: unknown): x is Record<string, unknown> => !!x && typeof x === 'object' && !Array.isArray(x);
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((key) => valueChanges(a[key], b[key], prefix ? `${prefix}.${key}` : key));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [{ path: prefix || '(value)', a, b }];
}
