import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Distribution } from '../src/tuning/distributions';
import { ParzenEstimator, numpyArgsort } from '../src/tuning/samplers/parzen-estimator';
import { defaultWeights } from '../src/tuning/samplers/tpe';
import { erf, erfc, logGaussMass, truncnormPpf } from '../src/tuning/samplers/truncnorm';
import { SeededRng } from '../src/util/rng';

/**
 * Reference-data test: the Parzen estimator's log densities against Optuna 3.1's _ParzenEstimator on
 * the same observations and candidates (fixtures/tuning/make-parzen-fixtures.py wrote them): every
 * distribution kind, with 0, 3 and 40 observations (the weights ramp), univariate and multivariate.
 */
type Case = { multivariate: boolean; space: Record<string, Distribution>; observations: Record<string, number[]>; samples: Record<string, number[]>; logPdf: number[] };
const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'tuning', 'parzen-logpdf.json'), 'utf8')) as {
  optuna: string; numpy: string; cases: Case[]; argsorts: Array<{ values: number[]; order: number[] }>;
};

describe(`Parzen estimator vs Optuna ${fixture.optuna} (reference data)`, () => {
  it(`gives the same log density in all ${fixture.cases.length} cases (to 1e-9)`, () => {
    for (const c of fixture.cases) {
      const names = Object.keys(c.space);
      const estimator = new ParzenEstimator(
        Object.fromEntries(names.map((n) => [n, Float64Array.from(c.observations[n])])),
        c.space,
        { considerPrior: true, priorWeight: 1, considerMagicClip: true, considerEndpoints: false, weights: defaultWeights, multivariate: c.multivariate, unscaledLogPdf: true },
      );
      const ours = estimator.logPdf(Object.fromEntries(names.map((n) => [n, Float64Array.from(c.samples[n])])));
      const label = `${c.multivariate ? 'multivariate' : 'univariate'} ${names.join('+')} n=${c.observations[names[0]].length}`;
      ours.forEach((value, i) => expect(Math.abs(value - c.logPdf[i]), label).toBeLessThan(1e-9));
    }
  });

  it(`orders tied observations as numpy ${fixture.numpy}'s argsort does`, () => {
    for (const { values, order } of fixture.argsorts) expect(Array.from(numpyArgsort(Float64Array.from(values))), `n=${values.length}`).toEqual(order);
  });

  it('draws candidates inside the space, on its grid, from the fitted mixture', () => {
    const space: Record<string, Distribution> = {
      x: { type: 'float', low: 0, high: 1, log: false, step: null },
      n: { type: 'int', low: 1, high: 21, log: false, step: 4 },
      c: { type: 'categorical', choices: ['a', 'b', 'c'] },
    };
    const estimator = new ParzenEstimator(
      { x: Float64Array.of(0.2, 0.21, 0.19), n: Float64Array.of(5, 5, 9), c: Float64Array.of(1, 1, 1) }, space,
      { considerPrior: true, priorWeight: 1, considerMagicClip: true, considerEndpoints: false, weights: defaultWeights, multivariate: false },
    );
    const samples = estimator.sample(new SeededRng(3), 2000);
    expect(samples.x.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(samples.n.every((v) => [1, 5, 9, 13, 17, 21].includes(v))).toBe(true);
    const nearObservations = samples.x.filter((v) => Math.abs(v - 0.2) < 0.1).length / 2000;
    expect(nearObservations).toBeGreaterThan(0.3); // three of the four components sit at 0.2 (uniform: 0.2)
    expect(samples.c.filter((v) => v === 1).length / 2000).toBeGreaterThan(0.6);
  });
});

describe('truncated normal helpers', () => {
  it('erf and erfc match reference values', () => {
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 15);
    expect(erfc(3)).toBeCloseTo(2.209049699858544e-5, 19);
    expect(erfc(-1)).toBeCloseTo(1.8427007929497148, 15);
  });

  it('ppf inverts the truncated CDF, in both tails', () => {
    for (const [a, b] of [[-1, 2], [-30, -20], [3, 9], [-0.5, 40]]) {
      const mass = Math.exp(logGaussMass(a, b));
      for (const q of [0.01, 0.5, 0.99]) {
        const x = truncnormPpf(q, a, b);
        expect(x).toBeGreaterThanOrEqual(a);
        expect(x).toBeLessThanOrEqual(b);
        expect(Math.exp(logGaussMass(a, x)) / mass).toBeCloseTo(q, 6);
      }
    }
  });
});
