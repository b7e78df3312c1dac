import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers';
import { executeStageNotebook, plotlyCharts } from './notebook-helpers';

const dir = tempDir('stage-notebooks-data');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('the data, features and labels notebooks run in real Jupyter', () => {
  it('03-data: downloads from the fake exchange into the store, finds the gap and the bad tick, fills, resamples, aligns causally, explores with danfo', async () => {
    const { outputs, html, printed } = await executeStageNotebook('03-data.ipynb', dir, 'data');
    // 60 days of hourly bars: BTC/USDT lost 6 to the outage, ETH/USDT is whole; a second download adds nothing.
    expect(html).toMatch(/binance\/spot\/BTC-USDT\/1h<\/td><td>1434<\/td><td>1434<\/td>/);
    expect(html).toMatch(/binance\/spot\/ETH-USDT\/1h<\/td><td>1440<\/td><td>1440<\/td>/);
    expect(printed).toMatch(/second download: 0 added, 1434 stored/);
    expect(html).toMatch(/<th>identicalToSource<\/th><td>true<\/td>/);
    expect(printed).toMatch(/quality: gap ×1 \(warning\) first at 2024-01-22T02:00:00\.000Z/);
    expect(printed).toMatch(/quality: outlier-return ×\d+ \(warning\) first at 2024-02-07T12:00:00\.000Z/);
    // Every policy but drop fills the six missing bars.
    for (const policy of ['ffill', 'interpolate', 'regression']) expect(html).toContain(`<td>${policy}</td><td>1440</td><td>1</td><td>6</td><td>0</td>`);
    expect(html).toContain('<td>drop</td><td>1434</td><td>1</td><td>0</td><td>0</td>');
    expect(html).toMatch(/<th>4h bars<\/th><td>359<\/td>/);
    expect(printed).toMatch(/alignment on the first 777 rows equals the full alignment's first rows: true/);
    // danfo: describe, groupby, rolling, then back to a Frame for the features stage.
    expect(html).toMatch(/describe\(\): 7 rows × 2 columns/);
    expect(html).toMatch(/groupby\(hour\)\.mean\(\): 6 rows × 4 columns/);
    expect(html).toMatch(/rolling 24-bar mean \|return\|/);
    // the danfo table shows the epoch-ms index and time column as times; NaN stays NaN
    expect(html).toContain('<tr><td>2024-01-01T00:00:00.000Z</td><td>2024-01-01T00:00:00.000Z</td><td>NaN</td><td>842.4</td></tr>');
    const [, rolled, direct] = /rolling check: vol24 at the last row ([\d.]+), direct mean of the last 24 \|returns\| ([\d.]+)/.exec(printed) ?? [];
    expect(rolled).toBeDefined();
    expect(rolled).toBe(direct);
    expect(printed).toMatch(/danfo → pipeline: 1440 rows back as a Frame, times identical: true; features stage made ret_1, volume_vs_hour_x_ret_1/);
    expect(plotlyCharts(outputs)).toBe(3);
  });

  it('04-features: the catalogue lists every built-in, 4h values change only at 4h closes, cross-asset finds the planted correlation, the causality check catches only the planted leak', async () => {
    const { outputs, html, printed } = await executeStageNotebook('04-features.ipynb', dir, 'features');
    const count = Number(/catalogue: (\d+) features/.exec(printed)?.[1]);
    expect(count).toBeGreaterThanOrEqual(30);
    for (const id of ['core/rsi', 'core/higher-timeframe', 'core/cross-asset', 'core/candle-patterns', 'core/chart-patterns', 'core/garch']) expect(html).toContain(`<td>${id}</td>`);
    expect(html).toContain('period: number = 14');
    expect(printed).toMatch(/rsi_14_4h changed \d+ times, 0 of them on a row that does not close a 4h bar/);
    const [, corr, beta] = /cross-asset: mean x_eth_usdt_corr_72 ([\d.-]+), mean x_eth_usdt_beta_72 ([\d.-]+)/.exec(printed) ?? [];
    expect(Number(corr)).toBeGreaterThan(0.6);
    expect(Number(beta)).toBeGreaterThan(0.5);
    expect(html).toMatch(/<td>candle_engulfing<\/td><td>\d+<\/td><td>\d+<\/td>/);
    expect(printed).toMatch(/causality: \d+ features, \d+ columns, prefixes 500\/1001\/1442\/1800 of 2160 rows: \d+ columns identical, not causal: centred_mean_dist\n/);
    expect(plotlyCharts(outputs)).toBe(3);
  });

  it('05-labels: every built-in labeler runs, with its class balance and charts, and none looks past its horizon', async () => {
    const { outputs, html, printed } = await executeStageNotebook('05-labels.ipynb', dir, 'labels');
    const ids = /labelers: (.*)\n/.exec(printed)?.[1].split(', ') ?? [];
    expect(ids).toEqual(expect.arrayContaining(['core/direction', 'core/adaptive-direction', 'core/multi-horizon', 'core/risk-reward', 'core/triple-barrier', 'core/future-return', 'core/trend', 'core/pattern']));
    for (const id of ids) expect(printed).toMatch(new RegExp(`labeled ${id}: \\d+ rows`));
    expect(printed).toMatch(/labeled core\/direction: 2875 rows — SELL [\d.]+%, HOLD [\d.]+%, BUY [\d.]+%/);
    expect(html).toMatch(/rare:BEARISH, dominant:NONE, rare:BULLISH/);
    expect(html).toContain('<td>0.04000</td><td>rare:SELL, dominant:HOLD, rare:BUY</td>');
    expect(printed).toMatch(/triple-barrier: median \d+ bars to decide, longest 24 \(horizon 24\)/);
    expect(printed).toMatch(new RegExp(`horizon check: ${ids.length} of ${ids.length} labelers pass`));
    expect(plotlyCharts(outputs)).toBe(6);
  });
});
