import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers';
import { executeStageNotebook, plotlyCharts } from './notebook-helpers';

// Notebook 14 (ARIMA baselines and RL agents), executed in real Jupyter in its own workspace folder.

const dir = tempDir('stage-notebook-baselines-rl');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const number = (text: string, pattern: RegExp): number => {
  const match = pattern.exec(text);
  expect(match, `printed output has no match for ${pattern}:\n${text}`).not.toBeNull();
  return Number(match![1]);
};

describe('notebook 14: baselines and reinforcement learning', () => {
  it('fits ARIMA, shows AutoARIMA and the run baselines, and trains PPO and DQN to the oracle on unseen cycles', async () => {
    const { outputs, html, printed } = await executeStageNotebook('14-baselines-and-rl.ipynb', dir, 'nb14');
    // 1: a converged ARMA(1,1) fit and its forecasts
    expect(printed).toMatch(/ARMA\(1,1\)\+c: llf -?\d+\.\d{3}, AIC -?\d+\.\d{3}, converged/);
    expect(html).toContain('Forecast of the next 6 log returns');
    // AutoARIMA over a 3 × 2 grid; the winner is one of them
    expect(printed).toMatch(/AutoARIMA picked \([0-2],0,[01]\) by AIC out of 6/);
    // 2: the baseline line of a run, with finite RMSEs
    const rmse = /model RMSE (\d+\.\d+), naive (\d+\.\d+), ARIMA (\d+\.\d+)/.exec(printed);
    expect(rmse).not.toBeNull();
    for (const value of rmse!.slice(1)) expect(Number(value)).toBeGreaterThan(0);
    expect(html).toContain('Test segment: the model against its baselines');
    // 4: both agents reach 80% of the oracle on cycles they never saw; their learning curves are charted
    expect(number(printed, /PPO: (\d+\.\d)% of the oracle/)).toBeGreaterThanOrEqual(80);
    expect(number(printed, /DQN: (\d+\.\d)% of the oracle/)).toBeGreaterThanOrEqual(80);
    expect(plotlyCharts(outputs)).toBe(2);
    // 5: PPO inside a spec run, traded by core/rl-policy
    expect(number(printed, /rl run: (\d+) trades on the test segment/)).toBeGreaterThan(0);
  }, 400_000);
});
