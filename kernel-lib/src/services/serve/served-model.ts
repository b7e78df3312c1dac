import { RegistryError } from '../../errors';
import { ModelRegistry, type TrafficArm, type VersionSelector } from '../../registry/model-registry';
import { resolveTradingSetup } from '../../trading/session-setup';
import type { WorkspaceOverrides } from '../../workspace';
import { createServedVersion, type ServedVersion } from './predictor';

/**
 * A served model name: which versions answer (production, a pinned version, the latest staging one,
 * or an A/B split of the registry) and the loaded versions themselves.
 *
 * Hot reload: before each request the registry's stages file is stat'ed (a few µs); when it changed
 * (a promotion, a rollback, a new split), the arms are resolved again and a version not loaded yet is
 * loaded once, by the first request that needs it; requests meanwhile wait for that load instead of
 * failing, and a version that cannot be loaded leaves the previous arms serving (the error is logged).
 */
export type ServedArm = { version: number; weight: number; label: string };

export type ServedModelOptions = {
  workspace?: WorkspaceOverrides;
  log?: (line: string) => void;
  /** Called when the versions that answer change (and once at the start). */
  onSwitch?: (change: { name: string; from: ServedArm[]; to: ServedArm[] }) => void;
};

export class ServedModel {
  private arms: ServedArm[] = [];
  private signature = '';
  private readonly loaded = new Map<number, Promise<ServedVersion>>();
  private readonly registry: ModelRegistry;
  private readonly log: (line: string) => void;
  private pendingArms: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly selector: VersionSelector,
    modelsDir: string,
    private readonly options: ServedModelOptions = {},
  ) {
    this.registry = new ModelRegistry(modelsDir);
    this.log = options.log ?? (() => undefined);
  }

  /** What serves now (after checking the registry). */
  async current(): Promise<ServedArm[]> {
    await this.refresh();
    return this.arms;
  }

  /** The version answering a request: sticky by client key (the same key, the same arm), else random. */
  async pick(clientKey?: string): Promise<{ served: ServedVersion; arm: ServedArm }> {
    await this.refresh();
    const arms = this.arms;
    const arm = arms.length === 1 ? arms[0] : chooseArm(arms, clientKey === undefined ? Math.random() : unitHash(`${this.name}\u0000${clientKey}`));
    return { served: await this.load(arm.version), arm };
  }

  /** Every loaded version that serves now. */
  async versions(): Promise<Array<{ arm: ServedArm; served: ServedVersion }>> {
    await this.refresh();
    return Promise.all(this.arms.map(async (arm) => ({ arm, served: await this.load(arm.version) })));
  }

  /** Release every loaded version (the server has stopped answering). */
  async dispose(): Promise<void> {
    const loaded = [...this.loaded.values(), ...this.retired];
    this.loaded.clear();
    this.retired = [];
    for (const version of await Promise.allSettled(loaded)) if (version.status === 'fulfilled') version.value.dispose();
  }

  /** Versions switched away from: requests may still be computing on them, so they are released at dispose. */
  private retired: Array<Promise<ServedVersion>> = [];

  private load(version: number): Promise<ServedVersion> {
    let loading = this.loaded.get(version);
    if (!loading) {
      loading = resolveTradingSetup({ model: `${this.name}@${version}`, workspace: this.options.workspace }).then(createServedVersion);
      this.loaded.set(version, loading);
      // a failed load is retried by a later request, not cached
      loading.catch(() => this.loaded.delete(version));
    }
    return loading;
  }

  /** Re-resolve the arms when the registry's stage file changed; one refresh at a time. */
  private async refresh(): Promise<void> {
    const signature = this.stageSignature();
    if (signature === this.signature) return;
    if (this.pendingArms) return this.pendingArms;
    this.pendingArms = (async () => {
      try {
        const next = this.resolveArms();
        // load the new versions before they answer: requests keep the old arms until they are ready
        await Promise.all(next.map((arm) => this.load(arm.version)));
        const before = this.arms;
        this.arms = next;
        this.signature = signature;
        if (describeArms(before) !== describeArms(next)) {
          this.log(`${this.name}: ${before.length ? `serving ${describeArms(next)} (was ${describeArms(before)})` : `serving ${describeArms(next)}`}`);
          this.options.onSwitch?.({ name: this.name, from: before, to: next });
          const keep = new Set(next.map((arm) => arm.version));
          for (const [version, loading] of [...this.loaded]) {
            if (keep.has(version)) continue;
            this.loaded.delete(version);
            this.retired.push(loading);
          }
        }
      } catch (error) {
        if (this.arms.length === 0) throw error;
        // keep serving what works; try again at the next change of the registry
        this.signature = signature;
        this.log(`${this.name}: the registry changed but the new versions could not be loaded (${(error as Error).message}); still serving ${describeArms(this.arms)}`);
      } finally {
        this.pendingArms = undefined;
      }
    })();
    return this.pendingArms;
  }

  private stageSignature(): string {
    return 'version' in this.selector ? 'pinned' : this.registry.stageStamp(this.name);
  }

  private resolveArms(): ServedArm[] {
    const selector = this.selector;
    if ('version' in selector) return [{ version: this.registry.get(this.name, selector.version).version, weight: 1, label: `v${selector.version}` }];
    if (selector.stage !== 'production') return [{ version: this.registry.resolve(this.name, selector).version, weight: 1, label: selector.stage }];
    const state = this.registry.stageState(this.name);
    const split: TrafficArm[] = state.split?.length ? state.split : [{ version: 'production', weight: 1 }];
    if (state.production === null && split.some((arm) => arm.version === 'production')) {
      // one-line error naming the fix
      this.registry.resolve(this.name, { stage: 'production' });
      throw new RegistryError(`model '${this.name}' has no production version`);
    }
    const total = split.reduce((sum, arm) => sum + arm.weight, 0);
    return split.map((arm) => ({
      version: arm.version === 'production' ? state.production! : arm.version,
      weight: arm.weight / total,
      label: arm.version === 'production' ? 'production' : `v${arm.version}`,
    }));
  }
}

/** "v4 (production 90%) + v7 (v7 10%)". */
export function describeArms(arms: readonly ServedArm[]): string {
  if (arms.length === 0) return 'nothing';
  if (arms.length === 1) return `v${arms[0].version} (${arms[0].label})`;
  return arms.map((arm) => `v${arm.version} (${arm.label} ${Math.round(arm.weight * 1000) / 10}%)`).join(' + ');
}

/** The arm whose cumulative weight covers u ∈ [0, 1). */
export function chooseArm(arms: readonly ServedArm[], u: number): ServedArm {
  let cumulative = 0;
  for (const arm of arms) {
    cumulative += arm.weight;
    if (u < cumulative) return arm;
  }
  return arms[arms.length - 1];
}

/** A client key → a uniform number in [0, 1): FNV-1a (32 bit) with a final avalanche (murmur3 fmix). */
export function unitHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}
