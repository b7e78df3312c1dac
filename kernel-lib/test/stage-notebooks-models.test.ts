import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers';
import { executeStageNotebook, plotlyCharts } from './notebook-helpers';

// The stage notebooks 06–11, each executed in real Jupyter (its own workspace folder), with their
// printed values and tables checked.

const dir = tempDir('stage-notebooks-models');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Jupyter on a 2-core machine shared with other work: a notebook may take a few times its quiet-machine time. */
const TIMEOUT = 400_000;

type Row = Record<string, string>;

const unescape = (text: string) => text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
const cells = (row: string, tag: 'th' | 'td') => [...row.matchAll(new RegExp(`<${tag}>(.*?)</${tag}>`, 'gs'))].map((m) => unescape(m[1]));

/**
 * The tables the notebook showed (cl.showValues / cl.showRecords), by caption: a key-value table as one
 * row, a records table as its rows; cell texts as displayed.
 */
function tablesOf(outputs: any[]): Map<string, Row[]> {
  const tables = new Map<string, Row[]>();
  for (const output of outputs) {
    const html = [].concat(output.data?.['text/html'] ?? []).join('');
    const match = /^<p><strong>(.*?)<\/strong><\/p>(<table class="(kv|records)">.*?<\/table>|<p><em>none<\/em><\/p>)/s.exec(html);
    if (!match) continue;
    const rows = [...match[2].matchAll(/<tr>(.*?)<\/tr>/gs)].map((m) => m[1]);
    let records: Row[] = [];
    if (match[3] === 'kv') records = [Object.fromEntries(rows.map((r) => [cells(r, 'th')[0], cells(r, 'td')[0]]))];
    else if (match[3] === 'records') {
      const header = cells(rows[0], 'th');
      records = rows.slice(1).map((r) => Object.fromEntries(cells(r, 'td').map((value, i) => [header[i], value])));
    }
    tables.set(unescape(match[1]), records);
  }
  return tables;
}

function table(tables: Map<string, Row[]>, caption: string | RegExp): Row[] {
  const key = [...tables.keys()].find((k) => (typeof caption === 'string' ? k === caption : caption.test(k)));
  expect(key, `no table "${caption}" among: ${[...tables.keys()].join(' | ')}`).toBeDefined();
  return tables.get(key!)!;
}

/** Chart titles (plotly bundles) in output order. */
const chartTitles = (outputs: any[]): string[] =>
  outputs.filter((o) => o.data?.['application/vnd.plotly.v1+json']).map((o) => String(o.data['application/vnd.plotly.v1+json'].layout?.title?.text ?? ''));

const num = (text: string) => {
  const value = Number(text);
  expect(Number.isFinite(value), `not a number: "${text}"`).toBe(true);
  return value;
};

describe('stage notebooks 06–11 run in real Jupyter and show what they describe', () => {
  it('06-xgboost: importance table (gain, weight, cover), ONNX parity within 1e-6, warm start adds rounds to the saved trees', async () => {
    const { outputs, printed } = await executeStageNotebook('06-xgboost.ipynb', dir, 'xgboost');
    const tables = tablesOf(outputs);
    const training = table(tables, 'Training')[0];
    expect(training.libxgboost).toMatch(/^\d+\.\d+\.\d+$/);
    const bestRound = num(training.bestRound);
    expect(num(training.roundsTrained)).toBeGreaterThan(bestRound);

    const importance = table(tables, 'Feature importance (by gain)');
    expect(Object.keys(importance[0])).toEqual(['feature', 'gain', 'totalGain', 'weight', 'cover']);
    expect(importance.length).toBeGreaterThanOrEqual(5);
    const gains = importance.map((r) => num(r.gain));
    expect(gains).toEqual([...gains].sort((a, b) => b - a));
    for (const r of importance) {
      expect(num(r.weight)).toBeGreaterThan(0);
      expect(num(r.cover)).toBeGreaterThan(0);
    }
    expect(printed).toMatch(new RegExp(`importance: ${importance.length} of \\d+ features used; top ${importance[0].feature}`));

    const parity = table(tables, 'Same probabilities three ways (test segment)')[0];
    expect(num(parity['max |ONNX − libxgboost|'])).toBeLessThanOrEqual(1e-6);
    expect(num(parity['max |compiled JS − ONNX|'])).toBeLessThanOrEqual(1e-6);
    const printedParity = /ONNX parity: max abs difference (\S+) <= 1e-6/.exec(printed);
    expect(printedParity, printed).not.toBeNull();
    expect(Number(printedParity![1])).toBeLessThanOrEqual(1e-6);

    const warm = /warm start: (\d+) saved rounds \+ (\d+) new rounds/.exec(printed);
    expect(warm, printed).not.toBeNull();
    expect(Number(warm![1])).toBe(bestRound + 1); // the saved model kept the trees up to its best round
    expect(Number(warm![2])).toBeGreaterThan(0);
    expect(num(table(tables, 'Warm start')[0].initialTrees)).toBe(bestRound + 1);

    const compared = table(tables, 'Test segment of the newer data');
    expect(compared.map((r) => r.model)).toEqual(['original (older data)', 'warm-started', 'from scratch (newer data)']);
    for (const r of compared) {
      expect(num(r.logLoss)).toBeGreaterThan(0.5);
      expect(num(r.rocAucMacro)).toBeGreaterThan(0.4);
    }
    expect(chartTitles(outputs)).toEqual(expect.arrayContaining(['Gain per feature', expect.stringMatching(/^Continued training/), expect.stringMatching(/Confusion matrix/)]));
    expect(plotlyCharts(outputs)).toBe(4);
  }, TIMEOUT);

  it('07-neural-models: the chosen tfjs backend and why, one loss-per-epoch chart per network, reload predicts identically', async () => {
    const { outputs, printed } = await executeStageNotebook('07-neural-models.ipynb', dir, 'neural');
    const tables = tablesOf(outputs);
    const chosen = /chosen backend: (tensorflow-gpu|tensorflow|wasm|cpu) \((@tensorflow\/[\w-]+)\)/.exec(printed);
    expect(chosen, printed).not.toBeNull();
    const backend = table(tables, 'tfjs backend')[0];
    expect(backend).toMatchObject({ requested: 'auto', chosen: chosen![1], package: chosen![2] });
    if (chosen![1] !== 'tensorflow-gpu') {
      // every faster backend that was passed over is listed with its reason
      const skipped = table(tables, 'Faster backends passed over');
      const order = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];
      expect(skipped.map((r) => r.backend)).toEqual(order.slice(0, order.indexOf(chosen![1])));
      for (const r of skipped) expect(r['why it was passed over']).toMatch(/not installed|failed to load|reports|is an alias of @tensorflow\/tfjs \(no native addon\)/);
    }

    const lstm = table(tables, 'LSTM(16)')[0];
    expect(lstm.backend).toBe(chosen![1]);
    const epochs = table(tables, 'Per epoch');
    expect(epochs).toHaveLength(num(lstm.epochsTrained));
    expect(epochs.map((r) => num(r.epoch))).toEqual(epochs.map((_, i) => i + 1));
    for (const r of epochs) expect(num(r.valid)).toBeGreaterThan(0);

    const curves = chartTitles(outputs).filter((t) => /: loss per epoch$/.test(t));
    expect(curves).toEqual(['LSTM(16): loss per epoch', 'bi-LSTM + attention: loss per epoch', 'TCN: loss per epoch']);
    const family = table(tables, 'Test segment');
    expect(family.map((r) => r.model)).toEqual(['LSTM(16)', 'bi-LSTM + attention', 'TCN']);
    for (const r of family) expect(num(r.parameters)).toBeGreaterThan(100);
    expect(printed).toMatch(new RegExp(`trained 3 networks on ${chosen![1]}`));
    expect(table(tables, 'Saved files').map((r) => r.file).sort()).toEqual(['model-card.json', 'model.json', 'weights.bin']);
    expect(printed).toMatch(/reloaded: max abs difference 0 over \d+ test rows/);
  }, TIMEOUT);

  it('08-ensembles: member weights, the stacking folds, and a members-vs-ensembles table whose verdicts match its numbers', async () => {
    const { outputs, printed } = await executeStageNotebook('08-ensembles.ipynb', dir, 'ensembles');
    const tables = tablesOf(outputs);
    const members = table(tables, 'Members and their weights');
    expect(members).toHaveLength(3);
    expect(members.reduce((s, r) => s + num(r.weight), 0)).toBeCloseTo(1, 3);
    expect(members.map((r) => r.seed)).toEqual(['7', '8', '9']);

    const folds = table(tables, /^Out-of-fold scheme \(purge 5 rows, \d+ meta rows\)$/);
    expect(folds).toHaveLength(3);
    // the middle fold is purged on both sides by the label horizon, the outer ones on their inner side
    expect([folds[0].purgedAfter, folds[1].purgedBefore, folds[1].purgedAfter, folds[2].purgedBefore]).toEqual(['5', '5', '5', '5']);
    expect(chartTitles(outputs)).toContain('Meta-learner coefficients (standardized member log-probabilities)');

    const compared = table(tables, 'Members vs ensembles (test segment)');
    expect(compared.map((r) => r.model)).toEqual(['member 0 (depth 2)', 'member 1 (depth 5, half the columns)', 'member 2 (depth 3, 60% of rows)', 'weighted ensemble', 'stacking ensemble']);
    const best = Math.min(...compared.slice(0, 3).map((r) => num(r.testLogLoss)));
    for (const r of compared.slice(3)) {
      const verdict = /^(beats|loses to) \((-?[\d.]+)\)$/.exec(r['vs best member']);
      expect(verdict, r['vs best member']).not.toBeNull();
      // displayed values are rounded to 4 significant digits: compare the verdict with the printed difference
      expect(verdict![1]).toBe(Number(verdict![2]) < 0 ? 'beats' : 'loses to');
      expect(num(r.testLogLoss) - best).toBeCloseTo(Number(verdict![2]), 2);
      expect(printed).toMatch(new RegExp(`${r.model}: test log-loss \\d\\.\\d{4} ${verdict![1]} the best member`));
    }
    expect(table(tables, 'Stacking ensemble, test segment backtest')[0].trades).toMatch(/^\d+$/);
    expect(plotlyCharts(outputs)).toBe(3);
  }, TIMEOUT);

  it('09-several-coins: per-coin, universal and fine-tune tables with one row per coin', async () => {
    const { outputs, printed } = await executeStageNotebook('09-several-coins.ipynb', dir, 'coins');
    const tables = tablesOf(outputs);
    const coins = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT'];
    expect(table(tables, 'Coins').map((r) => r.symbol)).toEqual(coins);
    const perCoin = table(tables, 'Per-coin models (test segment of each coin)');
    const universal = table(tables, 'Universal model (test segment of each coin)');
    const fineTune = table(tables, 'Fine-tuned models (test segment of each coin)');
    for (const [rows, mode] of [[perCoin, 'per-coin'], [universal, 'universal'], [fineTune, 'fine-tune']] as const) {
      expect(rows.map((r) => r.coin)).toEqual(coins);
      expect(rows.every((r) => r.mode === mode)).toBe(true);
      for (const r of rows) expect(num(r.rocAucMacro)).toBeGreaterThan(0.4);
    }
    // the universal model trains on every coin's training rows
    expect(universal.every((r) => num(r.trainingRows) === perCoin.reduce((s, p) => s + num(p.trainingRows), 0))).toBe(true);
    // one universal model: the same trees (best round) for every coin
    expect(new Set(universal.map((r) => r.bestRound)).size).toBe(1);
    for (const [i, r] of fineTune.entries()) {
      expect(num(r.roundsAdded)).toBeGreaterThanOrEqual(0);
      expect(num(r.bestRound)).toBe(num(universal[i].bestRound) + num(r.roundsAdded));
      // no round added: the fine-tuned model is the universal one
      if (num(r.roundsAdded) === 0) expect(r.logLoss).toBe(universal[i].logLoss);
    }
    expect(table(tables, 'Test log-loss and ROC-AUC by coin and mode').map((r) => r.coin)).toEqual(coins);
    for (const mode of ['per-coin', 'universal', 'fine-tune']) expect(printed).toMatch(new RegExp(`${mode}: mean test log-loss \\d\\.\\d{4} over 3 coins`));
    expect(chartTitles(outputs)).toEqual(['Close, relative to the first bar', 'Test ROC-AUC (macro) by coin and mode']);
  }, TIMEOUT);

  it('10-backtest-risk-portfolios: trades table, costs and sizing comparisons, every rail firing, a two-sleeve portfolio', async () => {
    const { outputs, printed } = await executeStageNotebook('10-backtest-risk-portfolios.ipynb', dir, 'backtest');
    const tables = tablesOf(outputs);
    const metrics = table(tables, 'Metrics (default settings)')[0];
    expect(num(metrics.initialCash)).toBe(10000);
    const trades = table(tables, /^Trades \(first 10 of \d+\)$/);
    expect(trades).toHaveLength(10);
    expect(Object.keys(trades[0])).toEqual(['side', 'entry', 'exit', 'entryPrice', 'exitPrice', 'units', 'pnl', 'returnPct', 'bars', 'fees', 'exitReason']);
    expect(printed).toMatch(new RegExp(`trades table: ${metrics.numTrades} trades, \\d+ fills`));
    expect(table(tables, 'Latest signal records').every((r) => ['LONG', 'SHORT', 'FLAT'].includes(r.signal))).toBe(true);

    const costs = table(tables, 'The same trades under different costs');
    expect(costs).toHaveLength(5);
    expect(costs[0]).toMatchObject({ settings: 'no costs', fees: '0', slippage: '0' });
    // more costs, less return: the same trades
    expect(num(costs[0].totalReturn)).toBeGreaterThan(num(costs[1].totalReturn));
    expect(num(costs[1].totalReturn)).toBeGreaterThan(num(costs[2].totalReturn));
    expect(new Set(costs.map((r) => r.trades)).size).toBe(1);

    const sizing = table(tables, 'Sizing rules and exits');
    expect(sizing.find((r) => r.settings === 'stop-loss 2%, take-profit 4%')!['exit reasons']).toMatch(/stop-loss×\d+, take-profit×\d+/);
    expect(sizing.find((r) => r.settings === 'trailing stop 3%')!['exit reasons']).toMatch(/trailing-stop×\d+/);

    const rails = table(tables, 'One rail at a time');
    expect(rails.map((r) => r['risk events'])).toEqual(['none', expect.stringMatching(/^var \d+$/), expect.stringMatching(/^volatility-breaker \d+$/), 'drawdown-kill 1']);
    expect(num(rails[3].maxDrawdown)).toBeLessThan(num(rails[0].maxDrawdown));
    expect(table(tables, 'Risk events (the first of each rail)').map((r) => r.monitor)).toEqual(expect.arrayContaining(['var', 'volatility-breaker', 'drawdown-kill']));

    const bySleeve = table(tables, 'Trades by sleeve and asset');
    expect(bySleeve.map((r) => `${r.sleeve} ${r.asset}`)).toEqual(['scalp BTC/USDT', 'scalp ETH/USDT', 'swing BTC/USDT daily']);
    const portfolio = table(tables, 'Portfolio metrics')[0];
    expect(num(portfolio.initialCash)).toBe(100000);
    expect(printed).toMatch(new RegExp(`portfolio: ${portfolio.numTrades} trades over 3 assets and 2 sleeves`));
    expect(bySleeve.reduce((s, r) => s + num(r.trades), 0)).toBe(num(portfolio.numTrades));
    expect(chartTitles(outputs)).toEqual(expect.arrayContaining(['Equity', 'Drawdown', 'Equity under different costs', 'Drawdown with the kill switch at 25%', 'Portfolio equity']));
    expect(plotlyCharts(outputs)).toBe(8);
  }, TIMEOUT);

  it('11-registry: three versions, stages after promote and rollback, compare, the production model reloaded predicts what its run did', async () => {
    const { outputs, printed } = await executeStageNotebook('11-registry.ipynb', dir, 'registry');
    const tables = tablesOf(outputs);
    const name = 'nb-registry-BTC-USDT-1h';
    const versions = table(tables, `${name}: versions`);
    expect(versions.map((r) => [r.version, r.stage, r.maxDepth])).toEqual([['1', 'staging', '2'], ['2', 'staging', '3'], ['3', 'staging', '4']]);
    expect(new Set(versions.map((r) => r.data)).size).toBe(1);
    expect(versions.every((r) => r.files === 'model.json, model.onnx, model-card.json')).toBe(true);
    expect(printed).toMatch(`registered ${name} versions 1, 2, 3`);

    const stages = (caption: string) => table(tables, caption).map((r) => `v${r.version} ${r.stage}`);
    expect(stages('After promoting v1, then v2')).toEqual(['v1 archived', 'v2 production', 'v3 staging']);
    expect(stages('After rollback')).toEqual(['v1 production', 'v2 archived', 'v3 staging']);
    expect(table(tables, 'Stage history').map((r) => `${r.action} v${r.version} ${r.from}→${r.to}`)).toEqual([
      'promote v1 staging→production',
      'promote v2 staging→production',
      'rollback v1 archived→production',
    ]);
    expect(printed).toMatch('production after rollback: v1');

    expect(table(tables, 'v1 against v3')[0]).toMatchObject({ a: 'v1 (production)', b: 'v3 (staging)', sameData: 'true' });
    expect(table(tables, 'Params that differ')).toEqual([{ param: 'maxDepth', v1: '2', v3: '4' }]);
    expect(table(tables, 'Metrics (b − a)').map((r) => r.metric)).toEqual(expect.arrayContaining(['test.logLoss', 'backtest.sharpe']));

    const reloaded = table(tables, 'Production model, reloaded')[0];
    expect(reloaded.loaded).toBe(`${name} v1 (production)`);
    expect(reloaded['max |loaded − run|']).toBe('0');
    expect(reloaded.testLogLoss).toBe(reloaded.registeredTestLogLoss);
    expect(printed).toMatch("loaded v1: max abs difference to the run's predictions 0");
    expect(table(tables, 'Traffic split')).toEqual([{ version: 'production', weight: '0.9000' }, { version: '3', weight: '0.1000' }]);
    expect(stages('After removing v2 and clearing the split')).toEqual(['v1 production', 'v3 staging']);
  }, TIMEOUT);
});
