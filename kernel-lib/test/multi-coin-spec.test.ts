import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSpec, parseSpec, specHash, type SpecInput } from '../src/spec/spec';
import { createRunContext } from '../src/runner/stages';
import { runSpec } from '../src/runner/run-spec';
import { runCoinSpec, type CoinSpecRun } from '../src/runner/coin-run';
import { ModelRegistry } from '../src/registry/model-registry';
import { readArrowFile } from '../src/data/arrow-file';
import { resolveTradingSetup } from '../src/trading/session-setup';
import { featureMatrix } from '../src/validation/split';
import { ROOT, cli, tempDir, workspaceEnv } from './helpers';

/**
 * Several coins in a spec (M7): `data` lists sources, `models.mode` trains them per coin, universally
 * or fine-tuned; each coin is backtested and the coins run together as an equal-weight portfolio.
 */

const dir = tempDir('multi-coin-spec');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const workspace = { runsDir: path.join(dir, 'runs'), modelsDir: path.join(dir, 'models'), dataDir: path.join(dir, 'data') };

const coins: SpecInput['data'] = [
  { source: 'sample', symbol: 'BTC/USDT', seed: 11, bars: 1500 },
  { source: 'sample', symbol: 'ETH/USDT', seed: 12, bars: 1500 },
];
const coinSpec = (extra: Partial<SpecInput> = {}): SpecInput => ({
  name: 'duo',
  data: coins,
  features: [{ id: 'core/returns' }, { id: 'core/rsi' }, { id: 'core/coin-identity', params: { coins: ['BTC', 'ETH'], dims: 2 } }],
  label: { id: 'core/direction', params: { bars: 5, threshold: 0.005 } },
  model: { id: 'core/xgboost', params: { rounds: 12, earlyStoppingRounds: 0, learningRate: 0.2 } },
  strategy: { id: 'core/probability-threshold' },
  ...extra,
});

describe('spec form: data lists several sources', () => {
  it('a single data object parses and hashes exactly as before (the shipped specs keep their hashes)', () => {
    // hashes computed on main before `data` could be a list
    expect(specHash(loadSpec(path.join(ROOT, 'specs/quickstart.json')).spec)).toBe('deda0301815f11d9013d6695d28786086fdfd6f8f569f83865500501bcf58048');
    expect(specHash(loadSpec(path.join(ROOT, 'specs/lstm.json')).spec)).toBe('6ebccffd4b73eec02d1f0d60b83e7f94179b426e93ac770937efe9c64447f7c9');
    const single = parseSpec(coinSpec({ data: coins[0] as never }));
    expect(Array.isArray(single.data)).toBe(false);
    expect('models' in single && single.models !== undefined).toBe(false);
  });

  it('a list is accepted, with models.mode (default per-coin) and fine-tune params', () => {
    const spec = parseSpec(coinSpec({ models: { mode: 'fine-tune', fineTune: { params: { rounds: 4 } } } }));
    expect(Array.isArray(spec.data) && spec.data.map((d) => d.symbol)).toEqual(['BTC/USDT', 'ETH/USDT']);
    expect(spec.models).toEqual({ mode: 'fine-tune', fineTune: { params: { rounds: 4 } } });
    const plan = createRunContext(coinSpec(), { workspace }).plan;
    expect(plan.coins!.mode).toBe('per-coin');
    expect(plan.coins!.list.map((c) => c.symbol)).toEqual(['BTC/USDT', 'ETH/USDT']);
    expect(plan.timeframe).toBe('1h');
  });

  it('the boundary refuses what cannot run, in one line naming the fix', () => {
    const plan = (extra: Partial<SpecInput>) => () => createRunContext(coinSpec(extra), { workspace });
    expect(plan({ data: [coins[0], { ...(coins[1] as object), symbol: 'BTC/USDT' }] as never })).toThrow(/data\.1: symbol BTC\/USDT is listed twice; give each coin once/);
    expect(plan({ data: [coins[0], { ...(coins[1] as object), timeframe: '4h' }] as never })).toThrow(/data\.1: timeframe 4h differs from data\.0's 1h; every coin needs the same timeframe/);
    const ensemble = { id: 'core/ensemble', params: { members: [{ id: 'core/xgboost' }, { id: 'core/xgboost', params: { maxDepth: 3 } }] } };
    expect(plan({ model: ensemble, models: { mode: 'fine-tune' } })).toThrow(/models\.mode 'fine-tune': model core\/ensemble has no warm start \(an initModel param\).*or mode 'universal'/);
    expect(plan({ models: { mode: 'fine-tune', fineTune: { params: { rounds: -1 } } } })).toThrow(/models\.fineTune\.params\.rounds: .*; fix it/);
    expect(plan({ data: coins[0] as never, models: { mode: 'universal' } })).toThrow(/models\.mode 'universal' trains several coins, but data is one source/);
    expect(plan({ models: { mode: 'universal', fineTune: { params: {} } } })).toThrow(/models\.fineTune is set but models\.mode is 'universal'/);
    expect(plan({ validation: { method: 'walk-forward', train: '30d', test: '10d' } })).toThrow(/not supported for several coins yet/);
    expect(() => parseSpec(coinSpec({ data: [coins[0]] as never }))).toThrow(/at least two sources, or one source as an object/);
    // the single-coin run says where several coins go
    return expect(runSpec(coinSpec({ register: false }), { workspace, log: () => {} })).rejects.toThrow(/lists 2 coins in data; run it with runCoinSpec/);
  });
});

/** The portfolio recomputed from the coins' own backtests: each coin's last equity at or before each union time, summed. */
function recomputePortfolio(run: CoinSpecRun): { time: number[]; equity: number[] } {
  const curves = run.results.coins.map((c) => ({ time: Array.from(c.backtest.result.time), equity: Array.from(c.backtest.result.equity), cash: c.backtest.result.settings.initialCash }));
  const time = [...new Set(curves.flatMap((c) => c.time))].sort((a, b) => a - b);
  const equity = time.map((t) =>
    curves.reduce((sum, c) => {
      let k = -1;
      for (let i = 0; i < c.time.length && c.time[i] <= t; i++) k = i;
      return sum + (k < 0 ? c.cash : c.equity[k]);
    }, 0),
  );
  return { time, equity };
}

describe('candlelab run on a multi-coin spec', () => {
  const modes = ['per-coin', 'universal', 'fine-tune'] as const;
  const runs: Partial<Record<(typeof modes)[number], CoinSpecRun>> = {};

  it.each(modes)('%s: trains, backtests each coin, runs the equal-weight portfolio, registers every model', async (mode) => {
    const run = await runCoinSpec(coinSpec({ name: `duo-${mode}`, models: { mode, ...(mode === 'fine-tune' ? { fineTune: { params: { rounds: 4, learningRate: 0.05 } } } : {}) } }), { workspace, progress: 'quiet', log: () => {} });
    runs[mode] = run;
    const { record, results } = run;
    const json = JSON.parse(fs.readFileSync(path.join(run.runDir, 'run.json'), 'utf8'));
    expect(json.mode).toBe(mode);
    expect(json.coins.map((c: { coin: string }) => c.coin)).toEqual(['BTC/USDT', 'ETH/USDT']);
    for (const [i, c] of json.coins.entries()) {
      const coin = results.coins[i];
      expect(c.data.rows).toBe(1500);
      expect(c.test.accuracy).toBeCloseTo(coin.trained.testMetrics!.accuracy, 12);
      expect(c.backtest.totalReturn).toBe(coin.backtest.report.metrics.totalReturn);
      // each coin trades 1/N of the spec's cash
      expect(coin.backtest.result.settings.initialCash).toBe(5000);
      expect(c.trainingRows).toBe(mode === 'universal' ? results.coins.reduce((s, r) => s + r.trained.split.train.end - r.trained.split.train.start, 0) : coin.trained.split.train.end - coin.trained.split.train.start);
    }
    // the portfolio is the equal-weight combination of the coins' equity
    const expected = recomputePortfolio(run);
    expect(Array.from(results.portfolio.time)).toEqual(expected.time);
    expect(Array.from(results.portfolio.equity)).toEqual(expected.equity);
    const last = expected.equity[expected.equity.length - 1];
    expect(json.portfolio.metrics.totalReturn).toBeCloseTo(last / 10_000 - 1, 12);
    expect(json.portfolio.metrics.finalEquity).toBeCloseTo(last, 9);
    const arrow = readArrowFile(path.join(run.runDir, 'portfolio.arrow'));
    expect(Array.from(arrow.column('equity'))).toEqual(expected.equity);
    // every model is in the registry, under the documented names
    const registry = new ModelRegistry(workspace.modelsDir);
    const names = { 'per-coin': ['duo-per-coin-BTC-USDT', 'duo-per-coin-ETH-USDT'], universal: ['duo-universal-universal'], 'fine-tune': ['duo-fine-tune-universal', 'duo-fine-tune-BTC-USDT-ft', 'duo-fine-tune-ETH-USDT-ft'] }[mode];
    for (const name of names) expect(registry.list(name).map((v) => v.runId)).toEqual([record.runId]);
    // a fine-tuned version records the params it was fitted with: the model's, overridden by models.fineTune.params
    for (const name of names) expect((registry.list(name)[0].params as { rounds: number }).rounds).toBe(name.endsWith('-ft') ? 4 : 12);
    expect(json.coins.map((c: { model: { name: string } }) => c.model.name)).toEqual(mode === 'universal' ? [names[0], names[0]] : names.filter((n) => !n.endsWith('-universal')));
    // the report has the per-coin table and the portfolio's equity curve
    const html = fs.readFileSync(path.join(run.runDir, 'report.html'), 'utf8');
    expect(html).toContain('<h2>Coins</h2>');
    expect(html).toContain('Portfolio equity (equal weight)');
    expect(html).toContain('ETH/USDT equity');
    // a section per coin with its own table
    for (const coin of ['BTC/USDT', 'ETH/USDT']) expect(html).toMatch(new RegExp(`<h2>${coin}</h2><table class="kv">.*?<th>training rows</th>`, 's'));
  });

  it('the modes differ as they should, and the fingerprint covers every coin', () => {
    const perCoin = runs['per-coin']!;
    const universal = runs.universal!;
    const fineTune = runs['fine-tune']!;
    expect(new Set([perCoin.record.fingerprint, universal.record.fingerprint, fineTune.record.fingerprint]).size).toBe(3);
    // fine-tuned models continue the universal one's trees: 12 universal rounds + 4 own rounds
    for (const coin of fineTune.results.coins) expect(coin.trained.model.info.initialRounds).toBe(12);
    // universal: both coins are predicted by one model
    expect(universal.results.coins[0].trained.model).toBe(universal.results.coins[1].trained.model);
  });

  it("a coin's registered model trades alone: sessions get that coin's spec; the universal model needs --symbol", async () => {
    const perCoin = runs['per-coin']!;
    const setup = await resolveTradingSetup({ model: 'duo-per-coin-ETH-USDT@1', workspace });
    expect(Array.isArray(setup.context.spec.data)).toBe(false);
    expect((setup.context.spec.data as { symbol: string }).symbol).toBe('ETH/USDT');
    expect((setup.context.spec as { models?: unknown }).models).toBeUndefined();
    // the session's model predicts what the run's ETH model predicted
    const eth = perCoin.results.coins[1];
    const { start, rows, values } = eth.predictions;
    const X = featureMatrix(eth.trained.features.frame.select([...setup.model.featureNames]), start, start + rows);
    expect(Array.from(await setup.model.predict(X))).toEqual(Array.from(values));
    setup.model.dispose();
    await expect(resolveTradingSetup({ model: 'duo-universal-universal@1', workspace })).rejects.toThrow(/universal model of a multi-coin run .*pass --symbol/);
    const universal = await resolveTradingSetup({ model: 'duo-universal-universal@1', workspace, symbol: 'BTC/USDT' });
    expect((universal.context.spec.data as { symbol: string }).symbol).toBe('BTC/USDT');
    universal.model.dispose();
    await expect(resolveTradingSetup({ model: 'duo-per-coin-ETH-USDT@1', workspace, symbol: 'BTC/USDT' })).rejects.toThrow(/trained for ETH\/USDT, not BTC\/USDT/);
  });

  it('the CLI runs it and prints the coins and the portfolio (same fingerprint as the library run)', async () => {
    const specFile = path.join(dir, 'duo.json');
    fs.writeFileSync(specFile, JSON.stringify(coinSpec({ name: 'duo-per-coin', models: { mode: 'per-coin' } })));
    const result = await cli(['run', specFile, '--json', '--progress', 'quiet'], workspaceEnv(dir));
    expect(result.stderr).not.toMatch(/Error/);
    const summary = JSON.parse(result.stdout);
    expect(summary.mode).toBe('per-coin');
    expect(summary.coins).toHaveLength(2);
    expect(summary.fingerprint).toBe(runs['per-coin']!.record.fingerprint);
    expect(summary.portfolio.metrics.totalReturn).toBe(runs['per-coin']!.record.portfolio.metrics.totalReturn);
  });
});
