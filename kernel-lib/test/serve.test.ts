import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import * as readline from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { mergeIntoStore } from '../src/data/store';
import { strategyOutput } from '../src/plugins/define';
import { ModelRegistry } from '../src/registry/model-registry';
import { buildFeatures, loadCandles } from '../src/runner/stages';
import { runSpec } from '../src/runner/run-spec';
import { createPredictionServer, type PredictionServer } from '../src/services/serve/server';
import { chooseArm, unitHash } from '../src/services/serve/served-model';
import { compareServed, readServedLog, ServedLog, servedLogFile, type ServedRecord } from '../src/services/serve/served-log';
import { resolveTradingSetup } from '../src/trading/session-setup';
import type { Candles } from '../src/frame/frame';
import { startFakeChatServer } from '../src/testing';
import { CLI_BIN, cli, ROOT, tempDir, trainFundingModel, workspaceEnv } from './helpers';

/**
 * The prediction endpoint: the S6 answer equals the batch pipeline's decision on the same candles, bad
 * input gets a 400 naming the field (and the server keeps serving), 200 concurrent requests all succeed,
 * a promotion under load switches versions with no failed request, the A/B split holds its weights
 * over 10,000 clients and sticks per client key, and the served log feeds `registry compare --served`.
 */

const dir = tempDir('serve');
const workspace = { root: dir, dataDir: path.join(dir, 'data'), modelsDir: path.join(dir, 'models'), runsDir: path.join(dir, 'runs') };
const NAME = 'quickstart-BTC-USDT-1h';
const market = generateSyntheticCandles({ seed: 7, bars: 1200, timeframe: '1h', start: '2024-01-01T00:00:00Z' });
let server: PredictionServer;
let url: string;
const registry = new ModelRegistry(workspace.modelsDir);

type Row = { time: number; open: number; high: number; low: number; close: number; volume: number };
const rows = (candles: Candles, from: number, to: number): Row[] => {
  const out: Row[] = [];
  for (let i = from; i < to; i++) out.push({ time: candles.time[i], open: candles.column('open')[i], high: candles.column('high')[i], low: candles.column('low')[i], close: candles.column('close')[i], volume: candles.column('volume')[i] });
  return out;
};

async function post(body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const response = await fetch(`${url}/api/predict`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: response.status, json: await response.json() };
}

/** A POST over kept-alive sockets (node:http: several times cheaper per request than fetch, for the 10,000-request test). */
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function postFast(body: string, headers: Record<string, string>): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${url}/api/predict`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } }, (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, json: JSON.parse(text) }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

beforeAll(async () => {
  // two versions of one model (different rounds: different predictions), v1 in production
  const base = ['data.bars=3000', 'backtest.commissionBps=2', 'strategy.params.buyThreshold=0.4'];
  await runSpec(path.join(ROOT, 'specs', 'quickstart.json'), { overrides: [...base, 'model.params.rounds=20'], workspace, progress: 'quiet', log: () => {} });
  await runSpec(path.join(ROOT, 'specs', 'quickstart.json'), { overrides: [...base, 'model.params.rounds=35', 'model.params.maxDepth=3'], workspace, progress: 'quiet', log: () => {} });
  registry.promote(NAME, 1, 'production');
  mergeIntoStore({ exchange: 'binance', market: 'spot', symbol: 'BTC/USDT', timeframe: '1h' }, market, workspace.dataDir);
  server = await createPredictionServer({ workspace, models: [NAME], bodyLimit: 64 * 1024, log: () => {} });
  url = await server.listen({ port: 0 });
}, 180_000);
afterAll(async () => {
  agent.destroy();
  await server?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('candlelab serve', () => {
  it("answers the S6 record of the production version, equal to the batch pipeline's decision on the same candles", async () => {
    const { status, json } = await post({ candles: rows(market, 800, 1000), clientKey: 'a' });
    expect(status).toBe(200);
    expect(json).toMatchObject({ model: NAME, version: 1, arm: 'production', asset: 'BTC/USDT' });
    for (const key of ['signal', 'confidence', 'entry', 'stop_loss', 'take_profit', 'risk_reward', 'reasoning', 'prediction']) expect(json).toHaveProperty(key);
    expect(json.time).toBe(new Date(market.time[999] + 3_600_000).toISOString());
    expect(json.entry).toBe(market.column('close')[999]);

    // the batch path: features over the same candles, the model over every row, the strategy's batch form
    const setup = await resolveTradingSetup({ model: `${NAME}@1`, workspace });
    const candles = market.slice(800, 1000);
    const features = buildFeatures(setup.context, candles);
    const names = setup.model.featureNames;
    const first = features.lookback;
    const values = new Float32Array((candles.length - first) * names.length);
    for (let i = first; i < candles.length; i++) names.forEach((name, k) => (values[(i - first) * names.length + k] = features.frame.column(name)[i]));
    const predicted = await setup.model.predict({ values, rows: candles.length - first, cols: names.length });
    const width = predicted.length / (candles.length - first);
    // the endpoint scores with the trees compiled to JavaScript: within 1e-6 of ONNX Runtime
    Array.from(predicted.subarray(predicted.length - width)).forEach((p, k) => expect(Math.abs(json.prediction[k] - p)).toBeLessThanOrEqual(1e-6));
    const { definition, params } = setup.context.plan.strategy;
    const output = strategyOutput(definition.targets({ candles: candles.slice(first), features: features.frame.slice(first), predictions: predicted, classes: setup.model.classes ? [...setup.model.classes] : undefined }, params));
    const target = output.targets[output.targets.length - 1];
    expect(json.target).toBe(target);
    expect(json.signal).toBe(target > 0 ? 'LONG' : target < 0 ? 'SHORT' : 'FLAT');

    // every row, on request; the last row is the answer
    const all = await post({ candles: rows(market, 800, 1000), all: true });
    expect(all.json.rows).toHaveLength(200 - first);
    expect(all.json.rows.at(-1).prediction).toEqual(json.prediction);
    expect(all.json.rows.map((r: { target: number }) => r.target)).toEqual(Array.from(output.targets));

    // a symbol and timeframe read from the store give the answer for the store's last candles
    const stored = await post({ symbol: 'BTC/USDT', timeframe: '1h', limit: 200 });
    const sent = await post({ candles: rows(market, 1000, 1200) });
    expect(stored.status).toBe(200);
    expect(stored.json.prediction).toEqual(sent.json.prediction);
    expect(stored.json.time).toBe(new Date(market.time[1199] + 3_600_000).toISOString());
  });

  it('refuses bad input with a 400 naming the field, and keeps serving', async () => {
    const good = rows(market, 800, 1000);
    const cases: Array<[string, unknown, number, string, RegExp]> = [
      ['malformed JSON', '{"candles": [1, 2', 400, 'body', /malformed JSON/],
      ['a missing column', { candles: good.map(({ volume: _v, ...rest }) => rest) }, 400, 'candles[0].volume', /missing/],
      ['too few rows', { candles: good.slice(-20) }, 400, 'candles', /needs at least \d+/],
      ['a non-finite value', JSON.stringify({ candles: good }).replace(/"close":([\d.]+)/, '"close":1e999'), 400, 'candles[0].close', /not a finite number/],
      ['a string for a number', { candles: good.map((c, i) => (i === 5 ? { ...c, high: '12' } : c)) }, 400, 'candles[5].high', /must be number/],
      ['high below low', { candles: good.map((c, i) => (i === 9 ? { ...c, high: c.low / 2 } : c)) }, 400, 'candles[9].high', /below max/],
      ['a repeated time', { candles: [...good.slice(0, 51), good[50], ...good.slice(51)] }, 400, 'candles[51].time', /not after/],
      ['a gap', { candles: [...good.slice(0, 50), ...good.slice(51)] }, 400, 'candles[50].time', /missing/],
      ['an unknown model', { candles: good, model: 'nope' }, 400, 'model', /not served/],
      ['a timeframe the model was not trained on', { symbol: 'BTC/USDT', timeframe: '4h' }, 400, 'timeframe', /trained on 1h/],
      ['a series not in the store', { symbol: 'ETH/USDT' }, 400, 'symbol', /no ETH\/USDT/],
      ['neither candles nor symbol', {}, 400, 'candles', /send candles/],
      ['a body over the limit', { candles: rows(market, 0, 1200) }, 413, 'body', /over the limit/],
    ];
    for (const [what, body, status, field, message] of cases) {
      const answer = await post(body);
      expect(answer.status, what).toBe(status);
      expect(answer.json.field, what).toBe(field);
      expect(answer.json.error, what).toMatch(message);
    }
    const wrongType = await fetch(`${url}/api/predict`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    expect(wrongType.status).toBe(415);
    expect((await post({ candles: good })).status).toBe(200);
    const health: any = await (await fetch(`${url}/health`)).json();
    expect(health.status).toBe('ok');
    expect(health.refused).toBeGreaterThanOrEqual(cases.length);
  });

  it('answers 200 concurrent requests, none failed', async () => {
    const body = { candles: rows(market, 700, 900) };
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => post({ ...body, clientKey: `c${i}` })));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(new Set(answers.map((a) => JSON.stringify(a.json.prediction))).size).toBe(1);
  });

  it('switches to a newly promoted version under load with no failed request; each answer names the version that computed it', async () => {
    const body = { candles: rows(market, 900, 1100) };
    const v1 = (await post(body)).json.prediction;
    const setup2 = await resolveTradingSetup({ model: `${NAME}@2`, workspace });
    const { createServedVersion } = await import('../src/services/serve/predictor');
    const v2 = (await createServedVersion(setup2).predict(market.slice(900, 1100))).prediction;
    expect(v2).not.toEqual(v1);

    const answers: Array<{ status: number; json: any; sentAfterPromotion: boolean }> = [];
    let promoted = false;
    const client = async (): Promise<void> => {
      for (let k = 0; k < 40; k++) {
        const after = promoted;
        answers.push({ ...(await post(body)), sentAfterPromotion: after });
        // promote once, from inside the load, after the first answers
        if (answers.length === 30 && !promoted) {
          registry.promote(NAME, 2, 'production');
          promoted = true;
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, client));
    expect(answers).toHaveLength(320);
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    for (const a of answers) expect(a.json.prediction).toEqual(a.json.version === 1 ? v1 : v2);
    expect(answers.filter((a) => a.sentAfterPromotion).every((a) => a.json.version === 2)).toBe(true);
    expect(answers.some((a) => a.json.version === 1)).toBe(true);

    // rollback undoes it the same way
    registry.rollback(NAME);
    expect((await post(body)).json.version).toBe(1);
  });

  it('splits traffic by weight over 10,000 client keys, sticky per key, and logs every answer for registry compare --served', async () => {
    registry.setSplit(NAME, [
      { version: 'production', weight: 90 },
      { version: 2, weight: 10 },
    ]);
    const body = JSON.stringify({ candles: rows(market, 1000, 1101) });
    const versions: number[] = [];
    for (let batch = 0; batch < 50; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const response = await postFast(body, { 'x-client-key': `client-${batch * 200 + i}` });
          expect(response.status).toBe(200);
          return response.json as { version: number; arm: string };
        }),
      );
      for (const a of answers) versions.push(a.version);
    }
    const share = versions.filter((v) => v === 2).length / versions.length;
    // binomial sd at p = 0.1, n = 10,000 is 0.003: ±0.015 is five of them
    expect(share).toBeGreaterThan(0.085);
    expect(share).toBeLessThan(0.115);
    // sticky: a key gets its version every time, and the pick is the hash's
    for (const key of ['client-1', 'client-2', 'client-77', 'client-4242']) {
      const expected = chooseArm([{ version: 1, weight: 0.9, label: 'production' }, { version: 2, weight: 0.1, label: 'v2' }], unitHash(`${NAME}\u0000${key}`)).version;
      for (let k = 0; k < 3; k++) expect((await post({ candles: rows(market, 1000, 1101), clientKey: key })).json.version).toBe(expected);
    }
    const models: any = await (await fetch(`${url}/api/models`)).json();
    expect(models.models[0].versions.map((v: { version: number; weight: number }) => [v.version, v.weight])).toEqual([
      [1, 0.9],
      [2, 0.1],
    ]);
    registry.setSplit(NAME, []);

    await server.close();
    const log = readServedLog(workspace.runsDir, NAME);
    const predictions = log.filter((r): r is ServedRecord => r.kind === 'prediction');
    expect(log.filter((r) => r.kind === 'switch').length).toBeGreaterThanOrEqual(4);
    const comparison = compareServed(workspace.runsDir, NAME, { dataDir: workspace.dataDir });
    expect(comparison.requests).toBe(predictions.length);
    expect(comparison.versions.map((v) => v.version)).toEqual([1, 2]);
    expect(comparison.versions.reduce((s, v) => s + v.requests, 0)).toBe(predictions.length);
    // outcomes come from the store: every answered candle but the store's last has its next candle
    expect(comparison.versions.every((v) => v.scored > 0)).toBe(true);
    const printed = await cli(['registry', 'compare', NAME, '--served'], workspaceEnv(dir));
    expect(printed.status, printed.stderr).toBe(0);
    expect(printed.stdout).toMatch(/v1 .*production/);
    expect(printed.stdout).toMatch(/v2 /);
    server = await createPredictionServer({ workspace, models: [NAME], log: () => {} });
    url = await server.listen({ port: 0 });
  });

  it('the served log survives a crash mid-append: a torn last line is ignored, cut before the next append, and registry compare --served counts the whole lines', async () => {
    // a copy of the log the tests above wrote (the running server keeps appending to its own)
    const runsDir = path.join(dir, 'runs-torn');
    const env = { ...workspaceEnv(dir), CANDLELAB_RUNS_DIR: runsDir };
    const logFile = servedLogFile(runsDir, NAME);
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    fs.copyFileSync(servedLogFile(workspace.runsDir, NAME), logFile);
    const text = fs.readFileSync(logFile, 'utf8');
    const whole = readServedLog(runsDir, NAME);
    const lastPrediction = whole.filter((r): r is ServedRecord => r.kind === 'prediction').at(-1)!;
    // a crash in the middle of the last append: the file ends in half a line
    const lastLine = text.slice(text.lastIndexOf('\n', text.length - 2) + 1);
    fs.truncateSync(logFile, Buffer.byteLength(text) - Math.floor(lastLine.length / 2));
    const torn = readServedLog(runsDir, NAME);
    expect(torn).toHaveLength(whole.length - 1);
    const tornPredictions = torn.filter((r) => r.kind === 'prediction').length;
    const printed = await cli(['registry', 'compare', NAME, '--served'], env);
    expect(printed.status, printed.stderr).toBe(0);
    expect(printed.stdout).toContain(`${NAME}: ${tornPredictions} served prediction(s)`);

    // the server restarts and appends: its lines start on a line of their own, the torn half is gone
    const log = new ServedLog(runsDir);
    log.add({ ...lastPrediction, at: new Date().toISOString() });
    log.add({ ...lastPrediction, at: new Date().toISOString() });
    await log.close();
    const after = readServedLog(runsDir, NAME);
    expect(after).toHaveLength(torn.length + 2);
    expect(fs.readFileSync(logFile, 'utf8').endsWith('}\n')).toBe(true);
    const again = await cli(['registry', 'compare', NAME, '--served'], env);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain(`${NAME}: ${tornPredictions + 2} served prediction(s)`);
  });

  it('hot reload: a promoted version that fails to load leaves the old one serving (logged, no failed request), and a later registry change tries again', async () => {
    const lines: string[] = [];
    const watched = await createPredictionServer({ workspace, models: [NAME], logServed: false, log: (line) => lines.push(line) });
    const watchedUrl = await watched.listen({ port: 0 });
    const ask = async (): Promise<{ status: number; json: any }> => {
      const response = await fetch(`${watchedUrl}/api/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ candles: rows(market, 900, 1100) }) });
      return { status: response.status, json: await response.json() };
    };
    const v2 = registry.get(NAME, 2);
    const artifact = path.join(registry.artifactDir(NAME, 2), v2.artifacts[0].path);
    const original = fs.readFileSync(artifact);
    try {
      expect((await ask()).json.version).toBe(1);
      // v2's artifact is corrupted on disk, then v2 is promoted
      fs.writeFileSync(artifact, Buffer.concat([original.subarray(0, original.length >> 1), Buffer.from('corrupt')]));
      registry.promote(NAME, 2, 'production');
      const answers = await Promise.all(Array.from({ length: 20 }, ask));
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
      expect(answers.every((a) => a.json.version === 1)).toBe(true);
      expect(lines.filter((l) => /could not be loaded/.test(l))).toEqual([expect.stringMatching(/v2: .*sha256.*still serving v1 \(production\)/)]);
      // the failure is not retried on every request, only on the next change of the registry
      expect((await ask()).json.version).toBe(1);
      expect(lines.filter((l) => /could not be loaded/.test(l))).toHaveLength(1);

      // missing artifact: the same
      fs.rmSync(artifact);
      registry.setSplit(NAME, []);
      expect((await ask()).json.version).toBe(1);
      expect(lines.filter((l) => /could not be loaded/.test(l))).toHaveLength(2);
      expect(lines.at(-1)).toMatch(/is missing/);

      // repaired, then the next change of the registry: v2 loads and answers
      fs.writeFileSync(artifact, original);
      registry.setSplit(NAME, []);
      const repaired = await ask();
      expect(repaired.status).toBe(200);
      expect(repaired.json.version).toBe(2);
      expect(lines.at(-1)).toMatch(/serving v2 \(production\) \(was v1 \(production\)\)/);
    } finally {
      fs.writeFileSync(artifact, original);
      registry.rollback(NAME);
      await watched.close();
    }
    expect((await post({ candles: rows(market, 900, 1100) })).json.version).toBe(1);
  });

  it('requires the API key when one is set, and refuses a public bind without one', async () => {
    const keyed = await createPredictionServer({ workspace, models: [NAME], apiKey: 'k-123456', logServed: false, log: () => {} });
    const keyedUrl = await keyed.listen({ port: 0 });
    try {
      const body = JSON.stringify({ candles: rows(market, 800, 1000) });
      expect((await fetch(`${keyedUrl}/api/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status).toBe(401);
      expect((await fetch(`${keyedUrl}/api/predict`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'wrong' }, body })).status).toBe(401);
      expect((await fetch(`${keyedUrl}/api/predict`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'k-123456' }, body })).status).toBe(200);
      expect((await fetch(`${keyedUrl}/health`)).status).toBe(200);
      const openapi: any = await (await fetch(`${keyedUrl}/openapi.json`)).json();
      expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(['/api/predict', '/health', '/api/models']));
      expect(openapi.components.securitySchemes.apiKey.name).toBe('x-api-key');
    } finally {
      await keyed.close();
    }
    const open = await createPredictionServer({ workspace, models: [NAME], logServed: false, log: () => {} });
    await expect(open.listen({ host: '0.0.0.0', port: 0 })).rejects.toThrow(/api-key-env/);
    await open.close();
  });

  it('runs as `npx candlelab serve`, with registry split from the CLI, and stops cleanly on SIGTERM', async () => {
    const env = { ...process.env, ...workspaceEnv(dir) };
    const split = await cli(['registry', 'split', NAME, 'production=3', '2=1'], workspaceEnv(dir));
    expect(split.status, split.stderr).toBe(0);
    expect(split.stdout).toMatch(/production \(v1\) 75\.0%, v2 25\.0%/);
    const bad = await cli(['registry', 'split', NAME, '9=1'], workspaceEnv(dir));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/no version 9/);
    const child = spawn(CLI_BIN, ['serve', '--model', NAME, '--port', '0'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    const base = await new Promise<string>((resolve, reject) => {
      readline.createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
    });
    const health: any = await (await fetch(`${base}/health`)).json();
    expect(health.models[NAME]).toMatch(/v1 \(production 75%\) \+ v2 \(v2 25%\)/);
    const answer: any = await (await fetch(`${base}/api/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ symbol: 'BTC/USDT' }) })).json();
    expect([1, 2]).toContain(answer.version);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await cli(['registry', 'split', NAME, '--clear'], workspaceEnv(dir));
    const none = await cli(['serve', '--model', 'missing-model', '--port', '0'], workspaceEnv(dir));
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/^candlelab: error: no model named 'missing-model'/m);

    // a promotion and a rollback from the CLI are alerted
    const chat = await startFakeChatServer();
    try {
      const alertsFile = path.join(dir, 'alerts.json');
      fs.writeFileSync(alertsFile, JSON.stringify({ channels: { team: { type: 'slack', webhookUrl: 'env:SLACK_WEBHOOK_URL' } }, routes: { promotion: ['team'], rollback: ['team'] }, queueDir: path.join(dir, 'alerts-queue') }));
      const alertEnv = { ...workspaceEnv(dir), SLACK_WEBHOOK_URL: chat.slackWebhookUrl };
      expect((await cli(['registry', 'promote', NAME, '2', 'production', '--alerts', alertsFile], alertEnv)).status).toBe(0);
      expect((await cli(['registry', 'rollback', NAME, '--alerts', alertsFile], alertEnv)).status).toBe(0);
      expect(chat.messages.map((m) => m.text)).toEqual([expect.stringContaining(`model ${NAME} v2 → production; v1 archived`), expect.stringContaining(`model ${NAME}: production v2 → v1 (v2 archived)`)]);
    } finally {
      await chat.close();
    }
  });
});

describe('candlelab serve with a model on the store\'s side tables (issue 10 item 6)', () => {
  const side = path.join(dir, 'funding');
  const perp = generateSyntheticCandles({ seed: 11, bars: 1500, timeframe: '1h', start: '2024-01-01T00:00:00Z', symbol: 'BTC/USDT:USDT' });
  let fundingServer: PredictionServer | undefined;
  afterAll(async () => {
    await fundingServer?.close();
  });

  it('a model using core/funding predicts from the store by symbol, the funding read from the store like a spec run reads it', async () => {
    const { workspace: sideWorkspace, key, modelName: name } = await trainFundingModel(side, perp, { name: 'funding', storedBars: perp.length });
    new ModelRegistry(sideWorkspace.modelsDir).promote(name, 1, 'production');
    fundingServer = await createPredictionServer({ workspace: sideWorkspace, models: [name], logServed: false, log: () => {} });
    const base = await fundingServer.listen({ port: 0 });
    const response = await fetch(`${base}/api/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ symbol: key.symbol, market: 'futures', timeframe: '1h', limit: 300, all: true }) });
    const json: any = await response.json();
    expect(response.status, JSON.stringify(json)).toBe(200);
    expect(json.time).toBe(new Date(perp.time[1499] + 3_600_000).toISOString());

    // the batch path over the same last 300 candles with the store's funding column: the same predictions
    const setup = await resolveTradingSetup({ model: `${name}@1`, workspace: sideWorkspace });
    const candles = loadCandles(setup.context);
    expect(candles.names).toContain('funding_rate');
    const last = candles.slice(candles.length - 300);
    const features = buildFeatures(setup.context, last);
    const names = setup.model.featureNames;
    expect(names).toEqual(expect.arrayContaining(['funding_level', 'funding_ma_8', 'funding_change']));
    const first = features.lookback;
    const values = new Float32Array((last.length - first) * names.length);
    for (let i = first; i < last.length; i++) names.forEach((column, k) => (values[(i - first) * names.length + k] = features.frame.column(column)[i]));
    const predicted = await setup.model.predict({ values, rows: last.length - first, cols: names.length });
    const width = predicted.length / (last.length - first);
    expect(json.rows).toHaveLength(last.length - first);
    json.rows.forEach((row: { prediction: number[] }, r: number) => row.prediction.forEach((p, k) => expect(Math.abs(p - predicted[r * width + k])).toBeLessThanOrEqual(1e-6)));
    // funding moves the model: a funding column of zeros would not give these predictions
    expect(new Set(json.rows.map((row: { prediction: number[] }) => row.prediction.join())).size).toBeGreaterThan(1);
  }, 120_000);
});
