import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors';
import type { ParamValue } from '../src/tuning/distributions';
import type { FrozenTrial } from '../src/tuning/frozen-trial';
import { paretoFront } from '../src/tuning/pareto-front';
import { GridSampler } from '../src/tuning/samplers/grid';
import { NSGAIISampler } from '../src/tuning/samplers/nsga2';
import { RandomSampler } from '../src/tuning/samplers/random';
import type { Sampler } from '../src/tuning/samplers/sampler';
import { TPESampler, defaultGamma, defaultWeights } from '../src/tuning/samplers/tpe';
import { createStudy, type Objective } from '../src/tuning/study';
import { TrialPruned, type Trial } from '../src/tuning/trial';

/** Let other trials run: an async objective's await, without timers. */
const yieldTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A mixed space: float, log float, stepped float, int, log int, categorical. */
function mixed(trial: Trial): number {
  const x = trial.suggestFloat('x', -5, 5);
  const lr = trial.suggestFloat('lr', 1e-4, 1, { log: true });
  const q = trial.suggestFloat('q', 0, 1, { step: 0.25 });
  const n = trial.suggestInt('n', 1, 9, { step: 2 });
  const units = trial.suggestInt('units', 8, 512, { log: true });
  const act = trial.suggestCategorical('act', ['relu', 'tanh', 'gelu']);
  return (x - 1) ** 2 + Math.log10(lr / 0.01) ** 2 + q + Math.abs(n - 5) + Math.abs(Math.log2(units / 64)) + (act === 'gelu' ? 0 : 1);
}

async function paramsOf(sampler: () => Sampler, objective: Objective, nTrials: number, nJobs = 1, seed = 7): Promise<Array<Record<string, ParamValue>>> {
  const study = createStudy({ sampler: sampler(), seed });
  await study.optimize(objective, { nTrials, nJobs });
  return study.trials.map((t) => ({ ...t.params }));
}

function sphere(trial: Trial): number {
  return (trial.suggestFloat('x', -10, 10) - 1) ** 2 + (trial.suggestFloat('y', -10, 10) + 2) ** 2;
}

describe('reproducibility', () => {
  const samplers: Array<[string, () => Sampler]> = [
    ['TPE', () => new TPESampler()],
    ['multivariate TPE', () => new TPESampler({ multivariate: true })],
    ['random', () => new RandomSampler()],
    ['NSGA-II (one objective)', () => new NSGAIISampler({ populationSize: 6 })],
  ];
  for (const [name, make] of samplers) {
    it(`${name}: the same seed gives the same parameters, another seed others`, async () => {
      const a = await paramsOf(make, mixed, 30);
      const b = await paramsOf(make, mixed, 30);
      const c = await paramsOf(make, mixed, 30, 1, 8);
      expect(a).toEqual(b);
      expect(a).not.toEqual(c);
      // Every value lies in its range and on its grid.
      for (const p of a) {
        expect(p.x as number).toBeGreaterThanOrEqual(-5);
        expect([0, 0.25, 0.5, 0.75, 1]).toContain(p.q);
        expect([1, 3, 5, 7, 9]).toContain(p.n);
        expect(Number.isInteger(p.units) && (p.units as number) >= 8 && (p.units as number) <= 512).toBe(true);
        expect(['relu', 'tanh', 'gelu']).toContain(p.act);
      }
    });
  }

  it('random sampling gives each trial number the same parameters with nJobs 1 and 4', async () => {
    const objective: Objective = async (trial) => {
      await yieldTurn();
      const value = mixed(trial);
      for (let i = 0; i < trial.number % 3; i++) await yieldTurn(); // finish out of order
      return value;
    };
    const one = await paramsOf(() => new RandomSampler(), objective, 24, 1);
    const four = await paramsOf(() => new RandomSampler(), objective, 24, 4);
    expect(four).toEqual(one);
  });

  it('TPE startup trials are the random sampler draws, the same for any nJobs', async () => {
    const random = await paramsOf(() => new RandomSampler(), mixed, 10);
    const tpe = await paramsOf(() => new TPESampler(), mixed, 10);
    const tpeParallel = await paramsOf(() => new TPESampler(), async (t) => (await yieldTurn(), mixed(t)), 10, 4);
    expect(tpe).toEqual(random);
    expect(tpeParallel).toEqual(random);
  });

  it('the grid visits its points in order by trial number with nJobs 1 and 4, then stops', async () => {
    const space = { b: ['u', 'v'], a: [1, 2, 3] };
    const objective: Objective = async (trial) => {
      await yieldTurn();
      return (trial.suggestInt('a', 1, 3) as number) + (trial.suggestCategorical('b', ['u', 'v']) === 'u' ? 0 : 10);
    };
    const expected = [[1, 'u'], [1, 'v'], [2, 'u'], [2, 'v'], [3, 'u'], [3, 'v']].map(([a, b]) => ({ a, b }));
    for (const nJobs of [1, 4]) {
      const study = createStudy({ sampler: new GridSampler(space) });
      await study.optimize(objective, { nTrials: 100, nJobs });
      expect(study.trials.map((t) => ({ ...t.params })), `nJobs ${nJobs}`).toEqual(expected);
      expect(study.bestValue).toBe(1);
    }
  });
});

describe('TPE', () => {
  it('defaults are Optuna 3.1\'s: gamma min(ceil(0.1 n), 25), weights ramp over 25', () => {
    expect([1, 10, 11, 100, 249, 250, 1000].map(defaultGamma)).toEqual([1, 1, 2, 10, 25, 25, 25]);
    expect(Array.from(defaultWeights(3))).toEqual([1, 1, 1]);
    const w = defaultWeights(30);
    expect(w[0]).toBeCloseTo(1 / 30, 12);
    expect(w[4]).toBeCloseTo(1, 12);
    expect(Array.from(w.subarray(5))).toEqual(new Array(25).fill(1));
  });

  it('finds the minimum of a 2-D quadratic far better than random search', async () => {
    for (const multivariate of [false, true]) {
      const regrets: number[] = [];
      const randomRegrets: number[] = [];
      for (let seed = 0; seed < 4; seed++) {
        const tpe = createStudy({ seed, sampler: new TPESampler({ multivariate }) });
        await tpe.optimize(sphere, { nTrials: 100 });
        regrets.push(tpe.bestValue);
        const random = createStudy({ seed, sampler: new RandomSampler() });
        await random.optimize(sphere, { nTrials: 100 });
        randomRegrets.push(random.bestValue);
      }
      const median = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1];
      expect(median(regrets), `multivariate ${multivariate}`).toBeLessThan(0.25);
      expect(median(regrets)).toBeLessThan(median(randomRegrets) / 5);
    }
  });

  it('maximises when asked to', async () => {
    const study = createStudy({ direction: 'maximize', seed: 3 });
    await study.optimize((t) => -sphere(t), { nTrials: 60 });
    expect(study.bestValue).toBeGreaterThan(-1);
    expect(study.bestValue).toBe(Math.max(...study.trials.map((t) => t.value!)));
  });

  it('uses pruned trials: a study with pruning still converges', async () => {
    const study = createStudy({ seed: 1 });
    await study.optimize((trial) => {
      const x = trial.suggestFloat('x', -10, 10);
      for (let step = 0; step < 10; step++) {
        trial.report((x - 3) ** 2 + 10 / (step + 1), step);
        if (trial.shouldPrune()) throw new TrialPruned();
      }
      return (x - 3) ** 2;
    }, { nTrials: 60 });
    const states = study.trials.map((t) => t.state);
    expect(states).toContain('PRUNED');
    expect(study.bestValue).toBeLessThan(0.1);
    // A pruned trial carries its last reported value (Optuna 3.x).
    const pruned = study.trials.find((t) => t.state === 'PRUNED')!;
    expect(pruned.value).toBe(pruned.intermediateValues[Math.max(...Object.keys(pruned.intermediateValues).map(Number))]);
  });

  it('conditional spaces: parameters exist only where suggested, and both branches get tuned', async () => {
    for (const multivariate of [false, true]) {
      const study = createStudy({ seed: 5, sampler: new TPESampler({ multivariate }) });
      await study.optimize((trial) => {
        const kind = trial.suggestCategorical('kind', ['linear', 'tree']);
        if (kind === 'linear') return 1 + Math.log10(trial.suggestFloat('alpha', 1e-5, 10, { log: true }) / 1e-2) ** 2;
        return Math.abs(trial.suggestInt('depth', 1, 12) - 6) + (trial.suggestFloat('eta', 0, 1) - 0.3) ** 2;
      }, { nTrials: 80 });
      for (const t of study.trials) {
        expect(Object.keys(t.params).sort()).toEqual(t.params.kind === 'linear' ? ['alpha', 'kind'] : ['depth', 'eta', 'kind']);
      }
      expect(study.bestParams.kind).toBe('tree');
      expect(study.bestParams.depth).toBe(6);
      expect(study.bestValue).toBeLessThan(0.05);
      const linear = study.trials.filter((t) => t.params.kind === 'linear');
      expect(linear.length).toBeGreaterThanOrEqual(5);
      expect(Math.min(...linear.map((t) => t.value!))).toBeLessThan(1.5);
    }
  });

  it('constant liar: trials asked together spread out instead of repeating each other', async () => {
    const distinct = async (constantLiar: boolean): Promise<number> => {
      const study = createStudy({ seed: 2, sampler: new TPESampler({ constantLiar }) });
      await study.optimize((t) => Math.abs(t.suggestInt('k', 0, 40) - 20), { nTrials: 12 });
      const batch = Array.from({ length: 8 }, () => study.ask());
      const values = batch.map((t) => t.suggestInt('k', 0, 40));
      return new Set(values).size;
    };
    const withLiar = await distinct(true);
    const without = await distinct(false);
    expect(withLiar).toBeGreaterThan(without);
    // no two trials of the batch share a value (41 values, 8 trials: the liar plus skipping a running trial's value)
    expect(withLiar).toBe(8);
  });

  it('parallel TPE (nJobs 4): no trial starts with the params of a trial running alongside', async () => {
    const inFlight = new Map<number, string>();
    const repeats: string[] = [];
    const study = createStudy({ seed: 5, sampler: new TPESampler({ nStartupTrials: 5 }) });
    await study.optimize(async (trial) => {
      const k = trial.suggestInt('k', 0, 40);
      const kind = trial.suggestCategorical('kind', ['a', 'b']);
      const key = JSON.stringify([k, kind]);
      for (const [number, other] of inFlight) if (other === key) repeats.push(`#${trial.number} repeats running #${number}: ${key}`);
      inFlight.set(trial.number, key);
      for (let i = 0; i < 1 + (trial.number % 3); i++) await yieldTurn(); // finish out of order
      inFlight.delete(trial.number);
      return Math.abs(k - 20) + (kind === 'a' ? 0 : 3);
    }, { nTrials: 60, nJobs: 4 });
    expect(study.trials).toHaveLength(60);
    expect(repeats).toEqual([]);
    // the search still converges on the optimum region
    expect(study.bestValue).toBeLessThanOrEqual(1);
  });

  it('one objective only', async () => {
    const study = createStudy({ directions: ['minimize', 'minimize'], sampler: new TPESampler() });
    await expect(study.optimize((t) => [t.suggestFloat('x', 0, 1), 1], { nTrials: 1 })).rejects.toThrow(/NSGAIISampler/);
  });
});

/** Area dominated by the front (both objectives minimised) inside the reference box. */
function hypervolume(front: FrozenTrial[], reference: [number, number]): number {
  const points = front.map((t) => t.values!).filter(([a, b]) => a < reference[0] && b < reference[1]).sort((p, q) => p[0] - q[0]);
  let area = 0;
  let lastY = reference[1];
  for (const [x, y] of points) {
    if (y < lastY) {
      area += (reference[0] - x) * (lastY - y);
      lastY = y;
    }
  }
  return area;
}

describe('NSGA-II', () => {
  const objective: Objective = (t) => {
    const x = t.suggestFloat('x', -5, 5);
    const y = t.suggestFloat('y', -5, 5);
    return [x * x + y * y, (x - 2) ** 2 + y * y];
  };

  it('approaches the Pareto front of a 2-objective toy (x ∈ [0, 2], y = 0) better than random search', async () => {
    for (const crossover of ['uniform', 'sbx'] as const) {
      const study = createStudy({ directions: ['minimize', 'minimize'], sampler: new NSGAIISampler({ populationSize: 20, crossover }), seed: 4 });
      await study.optimize(objective, { nTrials: 300 });
      const random = createStudy({ directions: ['minimize', 'minimize'], sampler: new RandomSampler(), seed: 4 });
      await random.optimize(objective, { nTrials: 300 });
      const front = study.bestTrials;
      expect(front.length).toBeGreaterThanOrEqual(8);
      for (const t of front) {
        expect(t.params.x as number).toBeGreaterThan(-0.3);
        expect(t.params.x as number).toBeLessThan(2.3);
      }
      expect(hypervolume(front, [10, 10]), crossover).toBeGreaterThan(hypervolume(random.bestTrials, [10, 10]));
      // The front is what it claims: nothing complete dominates a member, every non-member is dominated.
      expect(paretoFront(study.trials, study.directions).map((t) => t.number)).toEqual(front.map((t) => t.number));
      // Generations are recorded.
      expect(study.trials[299].systemAttrs['nsga2:generation']).toBeGreaterThan(5);
    }
  });

  it('is the default sampler of multi-objective studies; bestTrial needs one objective', async () => {
    const study = createStudy({ directions: ['minimize', 'maximize'] });
    expect(study.sampler).toBeInstanceOf(NSGAIISampler);
    await study.optimize((t) => [t.suggestFloat('x', 0, 1), t.suggestFloat('y', 0, 1)], { nTrials: 5 });
    expect(() => study.bestTrial).toThrow(ConfigError);
    expect(study.bestTrials.length).toBeGreaterThan(0);
  });
});

describe('grid sampler', () => {
  it('rejects values outside the suggest call and names missing parameters', async () => {
    const study = createStudy({ sampler: new GridSampler({ x: [5] }) });
    await expect(study.optimize((t) => t.suggestFloat('x', 0, 1), { nTrials: 1 })).rejects.toThrow(/outside the suggested range/);
    const other = createStudy({ sampler: new GridSampler({ x: [0] }) });
    await expect(other.optimize((t) => t.suggestFloat('y', 0, 1), { nTrials: 1 })).rejects.toThrow(/not in the grid/);
  });
});
