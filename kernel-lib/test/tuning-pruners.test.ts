import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors';
import { HyperbandPruner, crc32 } from '../src/tuning/pruners/hyperband';
import { MedianPruner, PercentilePruner, nanPercentile } from '../src/tuning/pruners/median';
import { NopPruner } from '../src/tuning/pruners/nop';
import type { Pruner } from '../src/tuning/pruners/pruner';
import { SuccessiveHalvingPruner } from '../src/tuning/pruners/successive-halving';
import { RandomSampler } from '../src/tuning/samplers/random';
import { createStudy } from '../src/tuning/study';
import type { Trial } from '../src/tuning/trial';

/**
 * Reference-data test: pruning decisions against Optuna 3.1 on the same learning curves, fed in the
 * same order through ask-and-tell (fixtures/tuning/make-pruner-fixtures.py wrote them; no Python at run time).
 */
type PrunerSpec = { type: 'median' | 'percentile' | 'successive-halving' | 'hyperband'; options: Record<string, number | string> };
type Scenario = {
  name: string; pruner: PrunerSpec; direction: 'minimize' | 'maximize'; studyName: string; interleave: number;
  curves: Array<Array<number | null>>; decisions: boolean[][];
};
const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'tuning', 'pruner-decisions.json'), 'utf8')) as { optuna: string; scenarios: Scenario[] };

function makePruner(spec: PrunerSpec): Pruner {
  const o = spec.options as Record<string, never>;
  switch (spec.type) {
    case 'median': return new MedianPruner(o);
    case 'percentile': return new PercentilePruner(o.percentile, o);
    case 'successive-halving': return new SuccessiveHalvingPruner(o);
    case 'hyperband': return new HyperbandPruner(o);
  }
}

/** The generator's protocol: groups of `interleave` trials advance step by step; pruned ones stop. */
function replay(scenario: Scenario): boolean[][] {
  const study = createStudy({ studyName: scenario.studyName, direction: scenario.direction, pruner: makePruner(scenario.pruner), sampler: new RandomSampler({ seed: 0 }) });
  const curves = scenario.curves.map((c) => c.map((v) => (v === null ? NaN : v)));
  const decisions: boolean[][] = curves.map(() => []);
  for (let start = 0; start < curves.length; start += scenario.interleave) {
    const group = Array.from({ length: Math.min(scenario.interleave, curves.length - start) }, (_, i) => start + i);
    const trials = new Map<number, Trial>(group.map((i) => [i, study.ask()]));
    const active = new Set(group);
    const longest = Math.max(...group.map((i) => curves[i].length));
    for (let step = 0; step < longest; step++) {
      for (const i of group) {
        if (!active.has(i)) continue;
        const trial = trials.get(i)!;
        if (step >= curves[i].length) {
          study.tell(trial, curves[i][curves[i].length - 1]);
          active.delete(i);
          continue;
        }
        trial.report(curves[i][step], step);
        const pruned = trial.shouldPrune();
        decisions[i].push(pruned);
        if (pruned) {
          study.tell(trial, 'PRUNED');
          active.delete(i);
        }
      }
    }
    for (const i of [...active].sort((a, b) => a - b)) study.tell(trials.get(i)!, curves[i][curves[i].length - 1]);
  }
  return decisions;
}

describe(`pruners vs Optuna ${fixture.optuna} (reference data)`, () => {
  for (const scenario of fixture.scenarios) {
    it(`${scenario.name}: the same decision at every trial and step`, () => {
      const ours = replay(scenario);
      const pruned = scenario.decisions.filter((d) => d[d.length - 1]).length;
      expect(pruned, 'the fixture exercises pruning').toBeGreaterThan(0);
      for (let i = 0; i < ours.length; i++) expect(ours[i], `trial ${i}`).toEqual(scenario.decisions[i]);
    });
  }
});

describe('pruner building blocks', () => {
  it('crc32 equals zlib (Python binascii.crc32)', () => {
    // Values from Python 3.11: binascii.crc32(b"no-name_0"), (b"fixture-hyperband-default_17"), ("ü_3".encode()).
    expect(crc32('no-name_0')).toBe(3742352166);
    expect(crc32('fixture-hyperband-default_17')).toBe(2248447940);
    expect(crc32('ü_3')).toBe(185317645);
    expect(crc32('')).toBe(0);
    expect(crc32('The quick brown fox jumps over the lazy dog')).toBe(0x414fa339);
  });

  it('nanPercentile interpolates linearly like numpy and skips NaN', () => {
    expect(nanPercentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(nanPercentile([4, NaN, 1, 3, 2], 25)).toBe(1.75);
    expect(nanPercentile([NaN], 50)).toBeNaN();
  });

  it('NopPruner never prunes; bad options throw ConfigError', () => {
    expect(new NopPruner().prune()).toBe(false);
    expect(() => new MedianPruner({ intervalSteps: 0 })).toThrow(ConfigError);
    expect(() => new SuccessiveHalvingPruner({ reductionFactor: 1 })).toThrow(ConfigError);
    expect(() => new SuccessiveHalvingPruner({ bootstrapCount: 2 })).toThrow(/fixed minResource/);
    expect(() => new HyperbandPruner({ bootstrapCount: 1 })).toThrow(ConfigError);
  });
});
