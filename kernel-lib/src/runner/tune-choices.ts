import { ConfigError } from '../errors';
import { GridSampler } from '../tuning/samplers/grid';
import { NSGAIISampler } from '../tuning/samplers/nsga2';
import { RandomSampler } from '../tuning/samplers/random';
import { TPESampler } from '../tuning/samplers/tpe';
import type { Sampler } from '../tuning/samplers/sampler';
import type { Pruner } from '../tuning/pruners/pruner';
import { HyperbandPruner } from '../tuning/pruners/hyperband';
import { MedianPruner } from '../tuning/pruners/median';
import { NopPruner } from '../tuning/pruners/nop';
import { SuccessiveHalvingPruner } from '../tuning/pruners/successive-halving';
import type { CategoricalChoice } from '../tuning/distributions';
import type { SearchSpace } from './tune-space';

/** The samplers and pruners `candlelab tune` offers by name, with Optuna's defaults. */
export const SAMPLER_NAMES = ['tpe', 'tpe-multivariate', 'random', 'grid', 'nsga2'] as const;
export type SamplerName = (typeof SAMPLER_NAMES)[number];
export const PRUNER_NAMES = ['median', 'successive-halving', 'hyperband', 'none'] as const;
export type PrunerName = (typeof PRUNER_NAMES)[number];

export function createPruner(name: PrunerName): Pruner {
  switch (name) {
    case 'median':
      return new MedianPruner();
    case 'successive-halving':
      return new SuccessiveHalvingPruner();
    case 'hyperband':
      return new HyperbandPruner();
    case 'none':
      return new NopPruner();
  }
}

/** A sampler by name; grid enumerates the space (ints and stepped floats by their step, categoricals by their choices). */
export function createSampler(name: SamplerName, space: SearchSpace, seed: number): Sampler {
  switch (name) {
    case 'tpe':
      return new TPESampler({ seed });
    case 'tpe-multivariate':
      return new TPESampler({ seed, multivariate: true });
    case 'random':
      return new RandomSampler({ seed });
    case 'nsga2':
      return new NSGAIISampler({ seed });
    case 'grid': {
      const grid: Record<string, CategoricalChoice[]> = {};
      for (const [path, spec] of Object.entries(space)) {
        if (spec.type === 'categorical') grid[path] = spec.choices;
        else {
          const step = spec.step ?? (spec.type === 'int' ? 1 : undefined);
          if (step === undefined) throw new ConfigError(`--sampler grid: '${path}' is a float without a step; give it "step" or use another sampler`);
          const values: number[] = [];
          for (let k = 0; spec.low + k * step <= spec.high + 1e-12; k++) values.push(Number((spec.low + k * step).toPrecision(12)));
          grid[path] = values;
        }
      }
      return new GridSampler(grid);
    }
  }
}
