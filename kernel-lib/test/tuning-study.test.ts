import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors';
import { floatDistribution, intDistribution } from '../src/tuning/distributions';
import { paramImportances } from '../src/tuning/importance';
import { HyperbandPruner } from '../src/tuning/pruners/hyperband';
import { NopPruner } from '../src/tuning/pruners/nop';
import { RandomSampler } from '../src/tuning/samplers/random';
import { TPESampler } from '../src/tuning/samplers/tpe';
import { createStudy } from '../src/tuning/study';
import { TrialPruned } from '../src/tuning/trial';
import {
  intermediateValuesFigure,
  optimizationHistoryFigure,
  parallelCoordinateFigure,
  paramImportancesFigure,
  paretoFrontFigure,
} from '../src/tuning/views';

describe('study API', () => {
  it('ask and tell: values, states, NaN and wrong counts fail, a trial is told once', () => {
    const study = createStudy({ sampler: new RandomSampler() });
    const a = study.ask();
    const b = study.ask();
    expect([a.number, b.number]).toEqual([0, 1]);
    const x = a.suggestFloat('x', 0, 1);
    expect(a.suggestFloat('x', 0, 1)).toBe(x); // suggested again: the same value
    expect(() => a.suggestInt('x', 0, 1)).toThrow(/one name must keep one kind/);
    a.report(0.5, 0);
    a.report(0.7, 0); // a repeated step keeps the first value
    expect(a.intermediateValues).toEqual({ 0: 0.5 });
    expect(study.tell(a, x).state).toBe('COMPLETE');
    expect(() => study.tell(a, 1)).toThrow(/already COMPLETE/);
    expect(study.tell(b.number, NaN).state).toBe('FAIL');
    const c = study.ask();
    c.report(3, 2);
    expect(study.tell(c, 'PRUNED')).toMatchObject({ state: 'PRUNED', value: 3 });
    expect(study.tell(study.ask(), [1, 2])).toMatchObject({ state: 'FAIL', systemAttrs: { fail_reason: expect.stringMatching(/2 values for 1 objectives/) } });
    expect(study.bestTrial.number).toBe(0);
    expect(study.trials.map((t) => t.state)).toEqual(['COMPLETE', 'FAIL', 'PRUNED', 'FAIL']);
    expect(study.trials[0].datetimeComplete).toBeDefined();
  });

  it('ask with fixed distributions suggests them at once', () => {
    const study = createStudy({ seed: 2 });
    const trial = study.ask({ lr: floatDistribution('lr', 1e-4, 1, { log: true }), layers: intDistribution('layers', 1, 4) });
    expect(Object.keys(trial.params)).toEqual(['lr', 'layers']);
  });

  it('enqueued trials run first with their values; skipIfExists avoids duplicates; a value off the range throws', async () => {
    const study = createStudy({ seed: 1 });
    study.enqueueTrial({ x: 0.25, k: 3 }, { userAttrs: { source: 'baseline' } });
    study.enqueueTrial({ x: 0.25, k: 3 }, { skipIfExists: true });
    study.enqueueTrial({ x: 0.75 });
    await study.optimize((t) => t.suggestFloat('x', 0, 1) + t.suggestInt('k', 0, 5), { nTrials: 3 });
    expect(study.trials.slice(0, 2).map((t) => t.params.x)).toEqual([0.25, 0.75]);
    expect(study.trials[0].params.k).toBe(3);
    expect(study.trials[0].userAttrs).toEqual({ source: 'baseline' });
    study.enqueueTrial({ x: 5 });
    await expect(study.optimize((t) => t.suggestFloat('x', 0, 1), { nTrials: 1 })).rejects.toThrow(/outside float \[0, 1\]/);
  });

  it('optimize: TrialPruned prunes, errors fail the trial and stop unless caught, callbacks see every trial', async () => {
    class Flaky extends Error {}
    const seen: number[] = [];
    const study = createStudy({ pruner: new NopPruner() });
    await study.optimize((trial) => {
      if (trial.number === 1) throw new TrialPruned();
      if (trial.number === 2) throw new Flaky('try again');
      return trial.suggestFloat('x', 0, 1);
    }, { nTrials: 4, catch: [Flaky], callbacks: [(_, t) => seen.push(t.number)] });
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(study.trials.map((t) => t.state)).toEqual(['COMPLETE', 'PRUNED', 'FAIL', 'COMPLETE']);
    expect(study.trials[2].systemAttrs.fail_reason).toBe('Error: try again');
    await expect(study.optimize(() => { throw new RangeError('boom'); }, { nTrials: 3 })).rejects.toThrow('boom');
    expect(study.trials.length).toBe(5); // the error stopped the loop after the failing trial
  });

  it('optimize stops on signal, study.stop() and timeout; nJobs runs async trials concurrently', async () => {
    const controller = new AbortController();
    const study = createStudy();
    await study.optimize((t) => {
      if (t.number === 2) controller.abort();
      return t.suggestFloat('x', 0, 1);
    }, { signal: controller.signal });
    expect(study.trials.length).toBe(3);
    await study.optimize((t) => {
      if (t.number === 4) study.stop();
      return 1;
    });
    expect(study.trials.length).toBe(5);
    let clock = 0;
    const timed = createStudy({ clock: () => clock });
    await timed.optimize(() => (clock += 1000, 1), { timeoutSec: 3 });
    expect(timed.trials.length).toBe(3);
    let inFlight = 0;
    let most = 0;
    const parallel = createStudy();
    await parallel.optimize(async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      return 0;
    }, { nTrials: 12, nJobs: 4 });
    expect(most).toBe(4);
    expect(parallel.trials.length).toBe(12);
  });

  it('validates options with ConfigError', async () => {
    expect(() => createStudy({ direction: 'up' as never })).toThrow(ConfigError);
    expect(() => createStudy({ direction: 'minimize', directions: ['minimize'] })).toThrow(/not both/);
    const study = createStudy();
    expect(() => study.bestTrial).toThrow(/no COMPLETE trial/);
    await expect(study.optimize(() => 0, { nJobs: 0 })).rejects.toThrow(/nJobs/);
    const trial = study.ask();
    expect(() => trial.suggestFloat('x', 1, 0)).toThrow(/swap/);
    expect(() => trial.suggestFloat('x', 0, 1, { log: true })).toThrow(/low > 0/);
    expect(() => trial.suggestInt('n', 0, 10, { step: 0 })).toThrow(/step/);
    expect(() => trial.suggestCategorical('c', [])).toThrow(/non-empty/);
    expect(() => trial.report(1, -1)).toThrow(/step/);
  });

  it('Hyperband narrows what the sampler sees to the trial\'s bracket, as Optuna', async () => {
    const pruner = new HyperbandPruner({ minResource: 1, maxResource: 27, reductionFactor: 3 });
    const study = createStudy({ pruner, studyName: 'hb', sampler: new TPESampler({ nStartupTrials: 3 }) });
    await study.optimize((trial) => {
      const x = trial.suggestFloat('x', -1, 1);
      for (let step = 0; step < 27; step++) {
        trial.report(x * x + 1 / (step + 1), step);
        if (trial.shouldPrune()) throw new TrialPruned();
      }
      return x * x;
    }, { nTrials: 30 });
    const brackets = new Set(study.trials.map((t) => pruner.bracketOf('hb', t.number)));
    expect(brackets.size).toBeGreaterThan(1);
    const last = study.trials[29];
    const view = study.samplerView(last);
    expect(view.getTrials().every((t) => pruner.bracketOf('hb', t.number) === pruner.bracketOf('hb', last.number))).toBe(true);
  });
});

describe('importance and figures', () => {
  async function studyWithParams(): Promise<ReturnType<typeof createStudy>> {
    const study = createStudy({ seed: 4, sampler: new RandomSampler() });
    await study.optimize((t) => {
      const big = t.suggestFloat('big', -5, 5);
      const small = t.suggestFloat('small', -5, 5);
      const none = t.suggestFloat('none', 1e-3, 1, { log: true });
      const kind = t.suggestCategorical('kind', ['a', 'b']);
      for (let step = 0; step < 3; step++) t.report(big * big + step, step);
      return 10 * big * big + small * small + (kind === 'a' ? 3 : 0) + 0 * none;
    }, { nTrials: 60 });
    return study;
  }

  it('ranks parameters by explained variance, deterministically per seed', async () => {
    const study = await studyWithParams();
    const importances = paramImportances(study.trials, study.directions, { seed: 1 });
    expect(Object.keys(importances)[0]).toBe('big');
    expect(importances.big).toBeGreaterThan(0.6);
    expect(importances.none).toBeLessThan(0.1);
    expect(Object.values(importances).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(paramImportances(study.trials, study.directions, { seed: 1 })).toEqual(importances);
    expect(() => paramImportances(study.trials, study.directions, { params: ['missing'] })).toThrow(/missing/);
  });

  it('builds plotly figures: history with best so far, intermediate values, parallel coordinates, importances', async () => {
    const study = await studyWithParams();
    const history = optimizationHistoryFigure(study);
    expect(history.data).toHaveLength(2);
    const best = history.data[1].y as number[];
    expect(best[best.length - 1]).toBe(study.bestValue);
    expect(best.every((v, i) => i === 0 || v <= best[i - 1])).toBe(true);
    expect(intermediateValuesFigure(study).data).toHaveLength(60);
    const parcoords = parallelCoordinateFigure(study).data[0];
    expect(parcoords.type).toBe('parcoords');
    const dimensions = parcoords.dimensions as Array<{ label: string; ticktext?: string[] }>;
    expect(dimensions.map((d) => d.label)).toEqual(['objective value', 'big', 'kind', 'none', 'small']);
    expect(dimensions[2].ticktext).toEqual(['a', 'b']);
    const bars = paramImportancesFigure(study, { seed: 1 }).data[0];
    expect((bars.y as string[])[3]).toBe('big'); // most important on top
    expect(JSON.parse(JSON.stringify(history))).toEqual(history); // plain JSON
  });

  it('draws the Pareto front of two objectives', async () => {
    const study = createStudy({ directions: ['minimize', 'minimize'], sampler: new RandomSampler() });
    await study.optimize((t) => {
      const x = t.suggestFloat('x', 0, 1);
      return [x, (1 - x) ** 2 + t.suggestFloat('y', 0, 1)];
    }, { nTrials: 40 });
    const figure = paretoFrontFigure(study, { targetNames: ['cost', 'error'] });
    const [rest, front] = figure.data;
    expect((front.x as number[]).length).toBe(study.bestTrials.length);
    expect((rest.x as number[]).length + (front.x as number[]).length).toBe(40);
    expect(() => optimizationHistoryFigure(study)).toThrow(/target/);
    expect(optimizationHistoryFigure(study, { target: (t) => t.values![0], targetName: 'cost' }).data).toHaveLength(2);
  });
});
