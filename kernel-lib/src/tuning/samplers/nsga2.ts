import { ConfigError } from '../../errors';
import type { SeededRng } from '../../util/rng';
import { distributionContains, isSingle, toInternal, type Distribution, type ParamValue } from '../distributions';
import type { FrozenTrial, StudyDirection, StudyView } from '../frozen-trial';
import { dominates } from '../pareto-front';
import { nextDown, sampleUniform } from './random';
import type { Sampler } from './sampler';
import { intersectionSearchSpace } from './tpe';
import { trialRng } from './trial-rng';

export type NSGAIISamplerOptions = {
  /** Trials per generation (default 50). */
  populationSize?: number;
  /** Probability of re-drawing each inherited parameter at random (default 1 / number of parameters). */
  mutationProb?: number;
  /** 'uniform' (Optuna's default) or 'sbx' (simulated binary crossover on numeric parameters). */
  crossover?: 'uniform' | 'sbx';
  /** Probability that a child comes from crossover rather than a copy of one parent (default 0.9). */
  crossoverProb?: number;
  /** Uniform crossover: probability of taking each parameter from the second parent (default 0.5). */
  swappingProb?: number;
  /** SBX distribution index (default 20 for several objectives, 2 for one, as Optuna). */
  sbxEta?: number;
  /** Default: the study's seed. */
  seed?: number;
};

const GENERATION_KEY = 'nsga2:generation';

/**
 * NSGA-II (Deb et al. 2002) as Optuna 3.1's NSGAIISampler: trials are grouped into generations of
 * `populationSize`; the parents of a generation are the elite of the previous generation plus its
 * parents, chosen by non-dominated sorting and, within the last front that fits, crowding distance.
 * A child takes its parameters from two parents picked by binary tournament (uniform crossover by
 * default, SBX on numeric parameters optionally), or copies one parent (probability 1 − crossoverProb);
 * each inherited parameter is then re-drawn at random with probability `mutationProb`. The first
 * generation, and parameters outside the shared search space, are random.
 * @see https://doi.org/10.1109/4235.996017
 */
export class NSGAIISampler implements Sampler {
  private readonly populationSize: number;
  private readonly mutationProb: number | undefined;
  private readonly crossover: 'uniform' | 'sbx';
  private readonly crossoverProb: number;
  private readonly swappingProb: number;
  private readonly sbxEta: number | undefined;
  private readonly seed: number | undefined;

  constructor(options: NSGAIISamplerOptions = {}) {
    this.populationSize = options.populationSize ?? 50;
    this.mutationProb = options.mutationProb;
    this.crossover = options.crossover ?? 'uniform';
    this.crossoverProb = options.crossoverProb ?? 0.9;
    this.swappingProb = options.swappingProb ?? 0.5;
    this.sbxEta = options.sbxEta;
    this.seed = options.seed;
    if (!Number.isInteger(this.populationSize) || this.populationSize < 2) throw new ConfigError(`NSGAIISampler: populationSize must be an integer ≥ 2, got ${options.populationSize}`);
    for (const [name, p] of [['mutationProb', this.mutationProb], ['crossoverProb', this.crossoverProb], ['swappingProb', this.swappingProb]] as const) {
      if (p !== undefined && !(p >= 0 && p <= 1)) throw new ConfigError(`NSGAIISampler: ${name} must be within [0, 1], got ${p}`);
    }
    if (this.crossover !== 'uniform' && this.crossover !== 'sbx') throw new ConfigError(`NSGAIISampler: crossover must be 'uniform' or 'sbx', got '${String(this.crossover)}'`);
  }

  inferRelativeSearchSpace(study: StudyView): Record<string, Distribution> {
    const space: Record<string, Distribution> = {};
    for (const [name, distribution] of Object.entries(intersectionSearchSpace(study.getTrials(['COMPLETE'])))) {
      if (!isSingle(distribution)) space[name] = distribution;
    }
    return space;
  }

  sampleRelative(study: StudyView, trial: FrozenTrial, searchSpace: Record<string, Distribution>): Record<string, ParamValue> {
    const { generation: parentGeneration, population: parents } = this.parentPopulation(study);
    study.setTrialSystemAttr(trial.trialId, GENERATION_KEY, parentGeneration + 1);
    if (parentGeneration < 0) return {};
    const rng = trialRng(this.seed ?? study.seed, trial.number, 'nsga2');
    const names = Object.keys(searchSpace);
    let child: Record<string, ParamValue>;
    if (rng.uniform() < this.crossoverProb) child = this.crossoverChild(study, parents, searchSpace, rng);
    else {
      const parent = parents[Math.floor(rng.uniform() * parents.length)];
      child = Object.fromEntries(names.map((name) => [name, parent.params[name]]));
    }
    const mutationProb = this.mutationProb ?? 1 / Math.max(1, Object.keys(child).length);
    const params: Record<string, ParamValue> = {};
    for (const name of Object.keys(child)) if (rng.uniform() >= mutationProb) params[name] = child[name];
    return params;
  }

  sampleIndependent(study: StudyView, trial: FrozenTrial, name: string, distribution: Distribution): ParamValue {
    return sampleUniform(distribution, trialRng(this.seed ?? study.seed, trial.number, name));
  }

  /** The latest complete generation's parents: its elite over it and the previous parents. */
  private parentPopulation(study: StudyView): { generation: number; population: FrozenTrial[] } {
    const byGeneration = new Map<number, FrozenTrial[]>();
    for (const trial of study.getTrials(['COMPLETE'])) {
      const generation = trial.systemAttrs[GENERATION_KEY];
      if (typeof generation !== 'number') continue;
      if (!byGeneration.has(generation)) byGeneration.set(generation, []);
      byGeneration.get(generation)!.push(trial);
    }
    let parentGeneration = -1;
    let parents: FrozenTrial[] = [];
    for (;;) {
      const population = byGeneration.get(parentGeneration + 1) ?? [];
      if (population.length < this.populationSize) break;
      parents = this.selectElite([...population, ...parents], study.directions);
      parentGeneration++;
    }
    return { generation: parentGeneration, population: parents };
  }

  private selectElite(population: FrozenTrial[], directions: readonly StudyDirection[]): FrozenTrial[] {
    const elite: FrozenTrial[] = [];
    for (const front of nonDominatedSort(population, directions)) {
      if (elite.length + front.length < this.populationSize) elite.push(...front);
      else {
        elite.push(...crowdingDistanceSort(front).slice(0, this.populationSize - elite.length));
        break;
      }
    }
    return elite;
  }

  private crossoverChild(study: StudyView, population: FrozenTrial[], space: Record<string, Distribution>, rng: SeededRng): Record<string, ParamValue> {
    const numeric = Object.keys(space).filter((name) => space[name].type !== 'categorical');
    const categorical = Object.keys(space).filter((name) => space[name].type === 'categorical');
    // Repeat while a child falls outside the search space (SBX can overshoot the bounds).
    for (let attempt = 0; attempt < 1000; attempt++) {
      const first = tournament(population, rng, study.directions);
      const second = tournament(population.filter((t) => t !== first), rng, study.directions);
      const child: Record<string, ParamValue> = {};
      for (const name of categorical) child[name] = (rng.uniform() >= this.swappingProb ? second : first).params[name];
      if (numeric.length > 0) {
        const bounds = numeric.map((name) => transformedBounds(space[name]));
        const x1 = numeric.map((name) => toTransformed(space[name], first.params[name] as number));
        const x2 = numeric.map((name) => toTransformed(space[name], second.params[name] as number));
        const mixed = this.crossover === 'uniform' ? uniformCrossover(x1, x2, rng, this.swappingProb) : sbxCrossover(x1, x2, bounds, rng, this.sbxEta ?? (study.directions.length > 1 ? 20 : 2));
        numeric.forEach((name, i) => (child[name] = fromTransformed(space[name], mixed[i])));
      }
      if (Object.keys(child).every((name) => distributionContains(space[name], toInternal(space[name], child[name])))) return child;
    }
    throw new ConfigError('NSGAIISampler: crossover kept producing children outside the search space; use crossover "uniform"');
  }
}

/** Binary tournament: the first of two random candidates if it dominates the second, else the second. */
function tournament(population: FrozenTrial[], rng: SeededRng, directions: readonly StudyDirection[]): FrozenTrial {
  const a = population[Math.floor(rng.uniform() * population.length)];
  const b = population[Math.floor(rng.uniform() * population.length)];
  return dominates(a, b, directions) ? a : b;
}

function uniformCrossover(x1: number[], x2: number[], rng: SeededRng, swappingProb: number): number[] {
  return x1.map((value, i) => (rng.uniform() >= swappingProb ? x2[i] : value));
}

/** Simulated binary crossover (Deb & Agrawal 1995), as Optuna's SBXCrossover. */
function sbxCrossover(x1: number[], x2: number[], bounds: Array<[number, number]>, rng: SeededRng, eta: number): number[] {
  const us = x1.map(() => rng.uniform());
  return x1.map((_, i) => {
    const [xl, xu] = bounds[i];
    const min = Math.min(x1[i], x2[i]);
    const max = Math.max(x1[i], x2[i]);
    const diff = Math.max(max - min, 1e-10);
    const beta1 = 1 + (2 * (min - xl)) / diff;
    const beta2 = 1 + (2 * (xu - max)) / diff;
    const alpha1 = 2 - beta1 ** -(eta + 1);
    const alpha2 = 2 - beta2 ** -(eta + 1);
    const u = us[i];
    const betaq1 = u > 1 / alpha1 ? (1 / (2 - u * alpha1)) ** (1 / (eta + 1)) : (u * alpha1) ** (1 / (eta + 1));
    const betaq2 = u > 1 / alpha2 ? (1 / (2 - u * alpha2)) ** (1 / (eta + 1)) : (u * alpha2) ** (1 / (eta + 1));
    const c1 = 0.5 * (min + max - betaq1 * diff);
    const c2 = 0.5 * (min + max + betaq2 * diff);
    if (rng.uniform() < 0.5) return rng.uniform() < 0.5 ? c1 : c2;
    return rng.uniform() < 0.5 ? x1[i] : x2[i];
  });
}

type NumericDistribution = Exclude<Distribution, { type: 'categorical' }>;

/** Optuna's _SearchSpaceTransform bounds: log space for log ranges, ± half a step for discrete ones. */
function transformedBounds(distribution: Distribution): [number, number] {
  const d = distribution as NumericDistribution;
  const half = d.type === 'int' ? 0.5 * d.step : d.step !== null ? 0.5 * d.step : 0;
  if (d.log) return d.type === 'int' ? [Math.log(d.low - half), Math.log(d.high + half)] : [Math.log(d.low), Math.log(d.high)];
  return [d.low - half, d.high + half];
}

function toTransformed(distribution: Distribution, value: number): number {
  return (distribution as NumericDistribution).log ? Math.log(value) : value;
}

function fromTransformed(distribution: Distribution, x: number): number {
  const d = distribution as NumericDistribution;
  const clip = (v: number): number => Math.min(Math.max(v, d.low), d.high);
  if (d.type === 'float') {
    if (d.log) return d.low === d.high ? Math.exp(x) : Math.min(Math.exp(x), nextDown(d.high));
    if (d.step !== null) return clip(Math.round((x - d.low) / d.step) * d.step + d.low);
    return d.low === d.high ? x : Math.min(x, nextDown(d.high));
  }
  if (d.log) return clip(Math.round(Math.exp(x)));
  return clip(Math.round((x - d.low) / d.step) * d.step + d.low);
}

/** Fronts of non-dominated trials, best first (Deb's fast non-dominated sort, Optuna's ordering). */
export function nonDominatedSort(population: FrozenTrial[], directions: readonly StudyDirection[]): FrozenTrial[][] {
  const remaining = [...population];
  const dominatedCount = new Map<number, number>();
  const dominatesList = new Map<number, number[]>();
  for (const t of remaining) {
    dominatedCount.set(t.number, 0);
    dominatesList.set(t.number, []);
  }
  for (let i = 0; i < remaining.length; i++) {
    for (let j = i + 1; j < remaining.length; j++) {
      const p = remaining[i];
      const q = remaining[j];
      if (dominates(p, q, directions)) {
        dominatesList.get(p.number)!.push(q.number);
        dominatedCount.set(q.number, dominatedCount.get(q.number)! + 1);
      } else if (dominates(q, p, directions)) {
        dominatesList.get(q.number)!.push(p.number);
        dominatedCount.set(p.number, dominatedCount.get(p.number)! + 1);
      }
    }
  }
  const fronts: FrozenTrial[][] = [];
  while (remaining.length > 0) {
    const front: FrozenTrial[] = [];
    let i = 0;
    while (i < remaining.length) {
      if (dominatedCount.get(remaining[i].number) === 0) {
        front.push(remaining[i]);
        // Optuna fills the hole with the last element: keeps its order of ties.
        const last = remaining.pop()!;
        if (i < remaining.length) remaining[i] = last;
      } else i++;
    }
    for (const t of front) for (const n of dominatesList.get(t.number)!) dominatedCount.set(n, dominatedCount.get(n)! - 1);
    fronts.push(front);
  }
  return fronts;
}

/** The front ordered by crowding distance, most isolated first (Optuna's _crowding_distance_sort). */
export function crowdingDistanceSort(front: FrozenTrial[]): FrozenTrial[] {
  const population = [...front];
  const distance = new Map<number, number>(population.map((t) => [t.number, 0]));
  const nObjectives = population[0]?.values?.length ?? 0;
  for (let m = 0; m < nObjectives; m++) {
    population.sort((a, b) => ascending(a.values![m], b.values![m]));
    if (population[0].values![m] === population[population.length - 1].values![m]) continue;
    const vs = [-Infinity, ...population.map((t) => t.values![m]), Infinity];
    const vMin = vs.find((v) => v !== -Infinity)!;
    const vMax = [...vs].reverse().find((v) => v !== Infinity)!;
    let width = vMax - vMin;
    if (width <= 0) width = 1;
    for (let j = 0; j < population.length; j++) {
      const gap = vs[j] === vs[j + 2] ? 0 : vs[j + 2] - vs[j];
      distance.set(population[j].number, distance.get(population[j].number)! + gap / width);
    }
  }
  // Python sorts ascending (stable) then reverses the list.
  return population.sort((a, b) => ascending(distance.get(a.number)!, distance.get(b.number)!)).reverse();
}

/** Ascending order that treats equal infinities as ties. */
function ascending(a: number, b: number): number {
  return a === b ? 0 : a < b ? -1 : 1;
}
