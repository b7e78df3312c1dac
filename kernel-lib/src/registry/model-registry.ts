import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RegistryError } from '../errors';
import type { Artifact, FittedModel } from '../models/model';
import { writeFileAtomic } from '../util/atomic';

/**
 * The model registry: models/<name>/versions/<n>/ holds a version's artifacts and version.json.
 * A version appears whole or not at all: it is written into a temp folder and renamed into place;
 * version numbers are claimed by that rename, so concurrent registrations never overwrite each other.
 */
export type ModelStage = 'staging' | 'production' | 'archived';

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
  codeVersion: string;
  artifacts: Artifact[];
};

export type RegisterRequest = Omit<ModelVersion, 'version' | 'stage' | 'artifacts' | 'featureNames' | 'classes' | 'modelId' | 'modelVersion' | 'task'> & {
  model: FittedModel;
};

const VERSION_FILE = 'version.json';
const NAME_PATTERN = /^[\w.-]+$/;

export class ModelRegistry {
  constructor(readonly dir: string) {}

  private versionsDir(name: string): string {
    if (!NAME_PATTERN.test(name)) throw new RegistryError(`model name '${name}' may use letters, digits, _ . - only`);
    return path.join(this.dir, name, 'versions');
  }

  /** Save the model's artifacts and record as the next version of `name` (stage: staging). */
  async register(request: RegisterRequest): Promise<ModelVersion> {
    const versionsDir = this.versionsDir(request.name);
    fs.mkdirSync(versionsDir, { recursive: true });
    const temp = path.join(versionsDir, `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
    fs.mkdirSync(temp);
    try {
      const artifacts = await request.model.save(temp);
      const { model, ...rest } = request;
      for (let attempt = 0; attempt < 1000; attempt++) {
        const version = this.latestVersionNumber(request.name) + 1 + attempt;
        const record: ModelVersion = {
          ...rest,
          version,
          stage: 'staging',
          modelId: model.modelId,
          modelVersion: model.modelVersion,
          task: model.task,
          featureNames: [...model.featureNames],
          classes: model.classes ? [...model.classes] : undefined,
          artifacts,
        };
        writeFileAtomic(path.join(temp, VERSION_FILE), JSON.stringify(record, null, 2) + '\n');
        try {
          fs.renameSync(temp, path.join(versionsDir, String(version)));
          return record;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw error;
          // another process claimed this number first: try the next one
        }
      }
      throw new RegistryError(`could not claim a version number for ${request.name}`);
    } catch (error) {
      fs.rmSync(temp, { recursive: true, force: true });
      throw error;
    }
  }

  /** Remove a version (used to roll back a registration whose run could not be written). */
  remove(name: string, version: number): void {
    fs.rmSync(path.join(this.versionsDir(name), String(version)), { recursive: true, force: true });
  }

  /** Model names with at least one version. */
  names(): string[] {
    if (!fs.existsSync(this.dir)) return [];
    return fs
      .readdirSync(this.dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && this.versionNumbers(entry.name).length > 0)
      .map((entry) => entry.name)
      .sort();
  }

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

  /** Every version of `name`, oldest first. */
  list(name: string): ModelVersion[] {
    return this.versionNumbers(name).map((version) => this.get(name, version));
  }

  /** One version (default: the latest). */
  get(name: string, version?: number): ModelVersion {
    const numbers = this.versionNumbers(name);
    if (numbers.length === 0) {
      throw new RegistryError(`no model named '${name}' in ${this.dir}; registered: ${this.names().join(', ') || 'none'}`);
    }
    const wanted = version ?? numbers[numbers.length - 1];
    if (!numbers.includes(wanted)) throw new RegistryError(`model '${name}' has no version ${wanted}; versions: ${numbers.join(', ')}`);
    return JSON.parse(fs.readFileSync(path.join(this.versionsDir(name), String(wanted), VERSION_FILE), 'utf8'));
  }

  /** The folder holding a version's artifacts. */
  artifactDir(name: string, version: number): string {
    this.get(name, version);
    return path.join(this.versionsDir(name), String(version));
  }
}
