import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers';
import { executeStageNotebook, plotlyCharts } from './notebook-helpers';

// notebooks/13-multi-coin.ipynb executed in real Jupyter (its own workspace folder), its printed lines checked.

const dir = tempDir('notebook-multicoin');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Jupyter on a 2-core machine shared with other work: a notebook may take a few times its quiet-machine time. */
const TIMEOUT = 300_000;

describe('the multi-coin notebook', () => {
  it('13-multi-coin: the three modes per coin, the portfolio equal to the sum of the coins, a learned coin embedding', async () => {
    const { outputs, html, printed } = await executeStageNotebook('13-multi-coin.ipynb', dir, 'multicoin');
    expect(html).toContain('Per coin and mode (test segment)');
    // one row per coin and mode, each naming its registered model
    for (const model of ['coins-per-coin-BTC-USDT v1', 'coins-per-coin-ETH-USDT v1', 'coins-universal-universal v1', 'coins-fine-tune-BTC-USDT-ft v1', 'coins-fine-tune-ETH-USDT-ft v1']) expect(html).toContain(`<td>${model}</td>`);
    for (const mode of ['per-coin', 'universal', 'fine-tune']) expect(printed).toMatch(new RegExp(`${mode}: portfolio return -?\\d+\\.\\d{2}%, sharpe -?\\d+\\.\\d{2}, max drawdown \\d+\\.\\d{2}%; models `));
    expect(printed).toMatch(/universal: .*models coins-universal-universal, coins-universal-universal\n/);
    expect(printed).toMatch(/portfolio = sum of the coins' equity at \d+ times; largest difference 0\n/);
    const distance = /learned embedding: 2 coins × 2 dims; distance between the coins' vectors (\d+\.\d{4})/.exec(printed);
    expect(distance).not.toBeNull();
    expect(Number(distance![1])).toBeGreaterThan(0);
    expect(html).toContain('Learned coin vectors (universal LSTM)');
    expect(plotlyCharts(outputs)).toBe(1);
  }, TIMEOUT);
});
