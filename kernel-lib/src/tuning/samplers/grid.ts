import { ConfigError } from '../../errors';
import { distributionContains, toInternal, type CategoricalChoice, type Distribution, type ParamValue } from '../distributions';
import { isFinished, type FrozenTrial, type StudyView } from '../frozen-trial';
import type { Sampler } from './sampler';

const GRID_ID = 'grid:id';
const GRID_KEY = 'grid:space';

/**
 * Every combination of the given values, in a fixed order: parameter names sorted, the last name
 * varying fastest (Optuna's itertools.product over sorted names). Trial k takes the first grid point
 * no earlier trial holds (running or finished), which is point k when nothing was enqueued, whatever
 * nJobs is. The study stops once every point has a finished trial, and no trial starts while every
 * remaining point is held by a running one. (Optuna picks unvisited points at random instead.)
 */
export class GridSampler implements Sampler {
  private readonly names: string[];
  private readonly grid: CategoricalChoice[][];
  private readonly space: Record<string, CategoricalChoice[]>;
  private readonly key: string;

  constructor(searchSpace: Record<string, readonly CategoricalChoice[]>) {
    this.names = Object.keys(searchSpace).sort();
    if (this.names.length === 0) throw new ConfigError('GridSampler: the search space is empty; give at least one parameter with its values');
    this.space = {};
    for (const name of this.names) {
      const values = searchSpace[name];
      if (!Array.isArray(values) || values.length === 0) throw new ConfigError(`GridSampler: parameter '${name}' needs a non-empty array of values`);
      this.space[name] = [...values];
    }
    this.grid = [[]];
    for (const name of this.names) this.grid = this.grid.flatMap((point) => this.space[name].map((value) => [...point, value]));
    this.key = JSON.stringify(this.space);
  }

  /** Number of grid points. */
  get size(): number {
    return this.grid.length;
  }

  inferRelativeSearchSpace(): Record<string, Distribution> {
    return {};
  }

  sampleRelative(): Record<string, ParamValue> {
    return {};
  }

  beforeTrial(study: StudyView, trial: FrozenTrial): void {
    if (GRID_ID in trial.systemAttrs || 'fixed_params' in trial.systemAttrs) return;
    const { held, visited } = this.holders(study, trial);
    let id = this.grid.findIndex((_, i) => !held.has(i));
    // Every point taken: re-run the first one without a finished trial (or the first, as Optuna does).
    if (id < 0) id = Math.max(0, this.grid.findIndex((_, i) => !visited.has(i)));
    study.setTrialSystemAttr(trial.trialId, GRID_KEY, this.key);
    study.setTrialSystemAttr(trial.trialId, GRID_ID, id);
  }

  sampleIndependent(study: StudyView, trial: FrozenTrial, name: string, distribution: Distribution): ParamValue {
    const id = trial.systemAttrs[GRID_ID];
    if (typeof id !== 'number') throw new ConfigError(`GridSampler: trial ${trial.number} has no grid point (enqueued trials must fix every parameter)`);
    const index = this.names.indexOf(name);
    if (index < 0) throw new ConfigError(`GridSampler: parameter '${name}' is not in the grid (${this.names.join(', ')}); add its values to the search space`);
    const value = this.grid[id][index];
    let inside = false;
    try {
      inside = distributionContains(distribution, toInternal(distribution, value));
    } catch {
      inside = false;
    }
    if (!inside) throw new ConfigError(`GridSampler: value ${JSON.stringify(value)} of '${name}' is outside the suggested range; make the grid values fit the suggest call`);
    return value;
  }

  afterTrial(study: StudyView): void {
    if (this.isExhausted(study)) study.stop();
  }

  /** True when every grid point has a finished trial, or the rest are all held by running trials. */
  isExhausted(study: StudyView): boolean {
    const { held } = this.holders(study, undefined);
    return held.size >= this.grid.length;
  }

  private holders(study: StudyView, except: FrozenTrial | undefined): { held: Set<number>; visited: Set<number> } {
    const held = new Set<number>();
    const visited = new Set<number>();
    for (const t of study.getTrials()) {
      if (t.trialId === except?.trialId || t.systemAttrs[GRID_KEY] !== this.key) continue;
      const id = t.systemAttrs[GRID_ID];
      if (typeof id !== 'number') continue;
      if (isFinished(t.state)) {
        held.add(id);
        visited.add(id);
      } else if (t.state === 'RUNNING') held.add(id);
    }
    return { held, visited };
  }
}
