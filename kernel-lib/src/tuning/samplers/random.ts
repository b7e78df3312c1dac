import type { SeededRng } from '../../util/rng';
import type { Distribution, ParamValue } from '../distributions';
import type { FrozenTrial, StudyView } from '../frozen-trial';
import type { Sampler } from './sampler';
import { trialRng } from './trial-rng';

export type RandomSamplerOptions = {
  /** Default: the study's seed. */
  seed?: number;
};

const bits = new Float64Array(1);
const words = new BigInt64Array(bits.buffer);

/** The largest double below x (numpy.nextafter(x, x - 1)). */
export function nextDown(x: number): number {
  if (x === 0) return -Number.MIN_VALUE;
  bits[0] = x;
  words[0] += x > 0 ? -1n : 1n;
  return bits[0];
}

/**
 * One uniform draw in Optuna's transformed space (RandomSampler / _SearchSpaceTransform): log ranges
 * uniform in log space, int and stepped ranges widened by half a step on each side and rounded back,
 * categorical choices equally likely.
 */
export function sampleUniform(distribution: Distribution, rng: SeededRng): ParamValue {
  const r = rng.uniform();
  if (distribution.type === 'categorical') return distribution.choices[Math.floor(r * distribution.choices.length)];
  const { low, high } = distribution;
  if (distribution.type === 'float') {
    if (distribution.log) {
      const value = Math.exp(Math.log(low) + r * (Math.log(high) - Math.log(low)));
      return low === high ? value : Math.min(value, nextDown(high));
    }
    if (distribution.step !== null) {
      const step = distribution.step;
      const x = low - 0.5 * step + r * (high - low + step);
      return Math.min(Math.max(Math.round((x - low) / step) * step + low, low), high);
    }
    return low === high ? low : Math.min(low + r * (high - low), nextDown(high));
  }
  if (distribution.log) {
    const x = Math.log(low - 0.5) + r * (Math.log(high + 0.5) - Math.log(low - 0.5));
    return Math.min(Math.max(Math.round(Math.exp(x)), low), high);
  }
  const step = distribution.step;
  const x = low - 0.5 * step + r * (high - low + step);
  return Math.min(Math.max(Math.round((x - low) / step) * step + low, low), high);
}

/** Independent uniform sampling; each (trial number, parameter name) has its own random stream. */
export class RandomSampler implements Sampler {
  readonly seed: number | undefined;

  constructor(options: RandomSamplerOptions = {}) {
    this.seed = options.seed;
  }

  inferRelativeSearchSpace(): Record<string, Distribution> {
    return {};
  }

  sampleRelative(): Record<string, ParamValue> {
    return {};
  }

  sampleIndependent(study: StudyView, trial: FrozenTrial, name: string, distribution: Distribution): ParamValue {
    return sampleUniform(distribution, trialRng(this.seed ?? study.seed, trial.number, name));
  }
}
