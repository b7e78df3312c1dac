import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import * as readline from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { runSpec } from '../src/runner/run-spec';
import { buildFeatures, loadCandles } from '../src/runner/stages';
import { startFakeChatServer, startFakeExchange, type FakeExchange } from '../src/testing';
import { openAlerts } from '../src/services/alerts/open-alerts';
import { runPaperSession, type SessionEvent } from '../src/trading/paper-session';
import { paperParity } from '../src/trading/parity';
import { readSession } from '../src/trading/session-outputs';
import { SessionLog } from '../src/trading/session-log';
import { ModelRegistry } from '../src/registry/model-registry';
import { resolveTradingSetup } from '../src/trading/session-setup';
import { CLI_BIN, cli, ROOT, tempDir, trainFundingModel, workspaceEnv } from './helpers';

/**
 * Paper trading end to end against the fake exchange: a registered model trades streamed candles on the
 * simulated venue, the session folder is written as it goes, a SIGKILL and a restart lose nothing and
 * duplicate nothing, and `parity` finds the session identical to a backtest of the same candles.
 * The exchange clock moves only when the session has handled a candle (event-driven, no timing).
 */

const HOUR = 3_600_000;
const dir = tempDir('paper');
const workspace = { root: dir, dataDir: path.join(dir, 'data'), modelsDir: path.join(dir, 'models'), runsDir: path.join(dir, 'runs') };
const candles = generateSyntheticCandles({ seed: 42, bars: 4000, timeframe: '1h', start: '2021-01-01T00:00:00Z' });
const MODEL = 'quickstart-BTC-USDT-1h@1';
const FAST = { reconnect: { baseDelayMs: 5, maxDelayMs: 20 }, retry: { baseDelayMs: 5 }, rateLimitMs: 1, timeoutMs: 5000 };
let fake: FakeExchange;
// keys of the fake exchange's account: they must never appear in any output or file
const KEY = 'k3yAAAAbbbbCCCCddddEEEEffff0001';
const SECRET = 's3cretZZZZyyyyXXXXwwwwVVVVuuuu0002';

beforeAll(async () => {
  // a small quickstart model, registered as version 1 (its run.json supplies the spec)
  await runSpec(path.join(ROOT, 'specs', 'quickstart.json'), { overrides: ['data.bars=3000', 'model.params.rounds=25', 'backtest.commissionBps=2', 'strategy.params.buyThreshold=0.4'], workspace, progress: 'quiet', log: () => {} });
  fake = await startFakeExchange({ datasets: [{ market: 'spot', symbol: 'BTC/USDT', timeframe: '1h', candles }], now: candles.time[3200], accounts: [{ apiKey: KEY, secret: SECRET, balances: { USDT: 10_000, BTC: 0 } }] });
}, 120_000);
afterAll(async () => {
  await fake?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Move the exchange clock one candle each time the session has handled a candle closing after the start. */
function driveClock(event: SessionEvent): void {
  if ((event.kind === 'stream' && event.event.kind === 'subscribed') || (event.kind === 'candle' && event.mode === 'live')) setImmediate(() => fake.setNow(fake.now + HOUR));
}

describe('candlelab paper', () => {
  it('trades streamed candles with the registry model, logs every decision and fill, and matches a backtest of the same candles exactly', async () => {
    const sessionDir = path.join(dir, 'runs', 'paper-one');
    fake.setNow(candles.time[3200]);
    const events: SessionEvent[] = [];
    const result = await runPaperSession({ model: MODEL, apiUrl: fake.url, workspace, dir: sessionDir, maxCandles: 120, warmup: 300, ...FAST, log: () => {}, onEvent: (e) => (events.push(e), driveClock(e)) });
    expect(result.liveCandles).toBe(120);
    const session = readSession(sessionDir);
    expect(session.modes.filter((m) => m === 'history').length).toBe(301);
    expect(session.modes.filter((m) => m === 'live').length).toBe(120);
    // consecutive candles, exactly the exchange's
    const served = fake.candles('spot', 'BTC/USDT', '1h');
    const first = (session.candles.time[0] - served.time[0]) / HOUR;
    session.candles.time.forEach((t, i) => expect(t).toBe(served.time[first + i]));
    expect(Array.from(session.candles.column('close'))).toEqual(Array.from(served.column('close').subarray(first, first + session.candles.length)));
    // every candle has a decision; live ones carry the model's prediction and an S6 record
    const decisions = fs.readFileSync(path.join(sessionDir, 'decisions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(decisions.length).toBe(session.candles.length);
    for (const d of decisions.filter((x) => x.mode === 'live')) {
      expect(d.prediction).toHaveLength(3);
      expect(['LONG', 'FLAT']).toContain(d.signal);
      expect(d).toHaveProperty('stop_loss');
      expect(typeof d.reasoning).toBe('string');
    }
    expect(session.result.fills.length).toBeGreaterThanOrEqual(2);
    // quantities on the exchange's lot step (0.00001 on the fake exchange's BTC/USDT)
    for (const fill of session.result.fills) expect(Math.abs(fill.quantity * 1e5 - Math.round(fill.quantity * 1e5))).toBeLessThan(1e-6);
    for (const file of ['backtest.arrow', 'report.html', 'signals.json', 'summary.json', 'trades.csv', 'fills.jsonl', 'session.json']) expect(fs.existsSync(path.join(sessionDir, file)), file).toBe(true);

    const parity = await paperParity(sessionDir, { workspace });
    expect(parity.unexplained, JSON.stringify(parity.differences, null, 1)).toBe(0);
    expect(parity.fills.matched).toBe(session.result.fills.length);
    expect(parity.trades.matched).toBe(session.result.trades.length);
    expect(parity.predictionDifference).toBeLessThan(1e-6);
    // the CLI says the same, and exits 0
    const shown = await cli(['parity', sessionDir], workspaceEnv(dir));
    expect(shown.stderr).toBe('');
    expect(shown.status).toBe(0);
    expect(shown.stdout).toMatch(/every difference is explained/);
    // positions per candle: every one identical (the last may be the backtest's close at its end)
    expect(parity.positions.bars).toBe(session.candles.length);
    expect(parity.positions.matched).toBeGreaterThanOrEqual(parity.positions.bars - 1);

    // a doctored copy: one candle's recorded position changed (same byte length: the state's log offsets hold)
    const doctored = path.join(dir, 'runs', 'paper-one-doctored');
    fs.cpSync(sessionDir, doctored, { recursive: true });
    const equityFile = path.join(doctored, 'equity.csv');
    const rows = fs.readFileSync(equityFile, 'utf8').split('\n');
    const firstLive = session.modes.indexOf('live');
    const row = rows.findIndex((line, i) => i > firstLive + 10 && line.endsWith(',0'));
    expect(row).toBeGreaterThan(0);
    rows[row] = rows[row].slice(0, -1) + '7';
    fs.writeFileSync(equityFile, rows.join('\n'));
    const report = await paperParity(doctored, { workspace });
    const moved = report.differences.filter((d) => d.kind === 'position');
    expect(moved).toEqual([expect.objectContaining({ time: new Date(Number(rows[row].split(',')[0])).toISOString(), detail: expect.stringMatching(/^position 7 in the session, 0 in the backtest, after the candle closing/) })]);
    expect(moved[0].explained).toBeUndefined();
    expect(report.unexplained).toBe(1);
    expect(report.positions.matched).toBe(parity.positions.matched - 1);
    const shownDoctored = await cli(['parity', doctored], workspaceEnv(dir));
    expect(shownDoctored.status).toBe(1);
    expect(shownDoctored.stdout).toMatch(/DIFFERENCE  position/);
  }, 120_000);

  it('survives SIGKILL: the restarted session resumes from its own state, catches up the candles it missed, and still matches the backtest', async () => {
    const sessionDir = path.join(dir, 'runs', 'paper-killed');
    fake.setNow(candles.time[3300]);
    // the first life: a child process, killed after 25 live candles whatever it is doing then
    const child = spawn(CLI_BIN, ['paper', '--model', MODEL, '--api-url', fake.url, '--dir', sessionDir, '--warmup', '200', '--max-candles', '1000'], { cwd: ROOT, env: { ...process.env, ...workspaceEnv(dir) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let live = 0;
    let stderr = '';
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    // the clock moves when the child says it has subscribed, and after each live candle it handled
    readline.createInterface({ input: child.stderr }).on('line', (line) => {
      stderr += line + '\n';
      if (!/^streaming /.test(line) && !/ live /.test(line)) return;
      if (/ live /.test(line) && ++live >= 25) child.kill('SIGKILL');
      else fake.setNow(fake.now + HOUR);
    });
    expect(await exited, stderr).toBe('SIGKILL');
    const before = readSession(sessionDir);
    // time passes while the bot is down
    fake.setNow(fake.now + 7 * HOUR);

    // the second life: resume from the folder alone
    const result = await runPaperSession({ dir: sessionDir, apiUrl: fake.url, workspace, maxCandles: 30, ...FAST, log: () => {}, onEvent: driveClock });
    const after = readSession(sessionDir);
    expect(result.liveCandles).toBe(30);
    expect(after.modes.filter((m) => m === 'missed').length).toBeGreaterThanOrEqual(7);
    // nothing lost, nothing twice: consecutive candles, the first life's records kept as they were
    for (let i = 1; i < after.candles.length; i++) expect(after.candles.time[i] - after.candles.time[i - 1]).toBe(HOUR);
    expect(after.result.fills.slice(0, before.result.fills.length)).toEqual(before.result.fills);
    expect(Array.from(after.candles.time.subarray(0, before.candles.length))).toEqual(Array.from(before.candles.time));
    const parity = await paperParity(sessionDir, { workspace });
    expect(parity.unexplained, JSON.stringify(parity.differences, null, 1)).toBe(0);
    expect(parity.missedCandles).toBeGreaterThanOrEqual(7);
  }, 120_000);

  it('resumes a stopped session for one more candle; refuses contradictory options and unknown models in one line', async () => {
    const sessionDir = path.join(dir, 'runs', 'paper-one');
    const resumed = await runPaperSession({ model: MODEL, apiUrl: fake.url, workspace, dir: sessionDir, maxCandles: 1, ...FAST, log: () => {}, onEvent: driveClock });
    expect(resumed.liveCandles).toBe(1);
    // --until: stops before the first candle closing after it
    const until = fake.now + 3 * HOUR;
    const untilRun = await runPaperSession({ dir: sessionDir, apiUrl: fake.url, workspace, until, ...FAST, log: () => {}, onEvent: driveClock });
    expect(untilRun.stopReason).toMatch(/^reached --until/);
    const session = readSession(sessionDir);
    expect(session.candles.time[session.candles.length - 1] + HOUR).toBeLessThanOrEqual(until);
    expect(session.candles.time[session.candles.length - 1] + 2 * HOUR).toBeGreaterThan(until);
    const bad = await cli(['paper', '--model', MODEL, '--api-url', fake.url, '--max-candles', '1', '--until', '2030-01-01'], workspaceEnv(dir));
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim()).toBe('candlelab: error: give --max-candles or --until, not both');
    const noSession = await cli(['parity', path.join(dir, 'no-such-session')], workspaceEnv(dir));
    expect(noSession.status).toBe(1);
    expect(noSession.stderr.trim()).toMatch(/^candlelab: error: \S+ holds no paper or live session \(no session\.json\)/);
    const missing = await cli(['paper', '--model', 'nope@1', '--api-url', fake.url, '--max-candles', '1'], workspaceEnv(dir));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^candlelab: error: .*nope/);
  }, 60_000);

  it('follows production: a promotion swaps the model at the next candle, a rollback swaps it back, both logged, and a restart keeps the swapped model', async () => {
    // a second version (other rounds: other predictions), v1 in production
    await runSpec(path.join(ROOT, 'specs', 'quickstart.json'), { overrides: ['data.bars=3000', 'model.params.rounds=40', 'model.params.maxDepth=3', 'backtest.commissionBps=2', 'strategy.params.buyThreshold=0.4'], workspace, progress: 'quiet', log: () => {} });
    const registry = new ModelRegistry(workspace.modelsDir);
    const name = MODEL.split('@')[0];
    const v2 = registry.list(name).at(-1)!.version;
    registry.promote(name, 1, 'production');
    const sessionDir = path.join(dir, 'runs', 'paper-follow');
    fake.setNow(candles.time[3400]);
    let live = 0;
    const switches: SessionEvent[] = [];
    const onEvent = (e: SessionEvent): void => {
      if (e.kind === 'model-switch') switches.push(e);
      if (e.kind === 'candle' && e.mode === 'live') {
        live++;
        // between candles, as an operator or the scheduler would
        if (live === 10) registry.promote(name, v2, 'production');
        if (live === 20) registry.rollback(name);
      }
      driveClock(e);
    };
    const chat = await startFakeChatServer();
    const alerts = openAlerts({ channels: { phone: { type: 'telegram', botToken: 'env:TOKEN', chatId: '1', apiUrl: chat.url } }, routes: { '*': ['phone'] }, queueDir: path.join(dir, 'alerts-follow') }, { env: { TOKEN: '1:t' }, log: () => {} });
    await runPaperSession({ model: name, apiUrl: fake.url, workspace, dir: sessionDir, maxCandles: 25, warmup: 200, ...FAST, log: () => {}, onEvent, alerts });
    await alerts.close();
    await chat.close();
    // each swap alerted, and every simulated fill
    const texts = chat.messages.map((m) => m.text ?? '');
    expect(texts.filter((t) => /^paper BTC\/USDT: model quickstart-BTC-USDT-1h v\d+ → v\d+/.test(t))).toHaveLength(2);
    const sessionFills = fs.readFileSync(path.join(sessionDir, 'fills.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    // the first line of a message is the alert's title: every fill of the candle
    const fillAlerts = texts.filter((t) => /^paper BTC\/USDT: (buy|sell) /.test(t)).map((t) => t.split('\n')[0]);
    expect(fillAlerts.join('\n').match(/(buy|sell) [\d.]+ @/g)?.length ?? 0).toBe(sessionFills.length);
    expect(switches.map((e) => e.kind === 'model-switch' && [e.from, e.to])).toEqual([
      [1, v2],
      [v2, 1],
    ]);
    const swaps = fs.readFileSync(path.join(sessionDir, 'models.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(swaps.map((s) => s.reason.split(' ')[0])).toEqual(['promote', 'rollback']);

    // the decision after the promotion is v2's, computed as a session started with v2 would: its
    // features and strategy over the same candles
    const session = readSession(sessionDir);
    const decisions = fs.readFileSync(path.join(sessionDir, 'decisions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const liveRows = decisions.map((d, i) => (d.mode === 'live' ? i : -1)).filter((i) => i >= 0);
    const { createServedVersion } = await import('../src/services/serve/predictor');
    const served = createServedVersion(await resolveTradingSetup({ model: `${name}@${v2}`, workspace }));
    const afterPromotion = liveRows[10];
    const expected = await served.predict(session.candles.slice(0, afterPromotion + 1));
    const close = (a: number[], b: number[]) => a.forEach((x, k) => expect(Math.abs(x - b[k])).toBeLessThanOrEqual(1e-6)); // compiled trees vs ONNX
    close(decisions[afterPromotion].prediction, expected.prediction);
    expect(decisions[afterPromotion].target).toBe(expected.target);
    const v1 = createServedVersion(await resolveTradingSetup({ model: `${name}@1`, workspace }));
    close(decisions[liveRows[9]].prediction, (await v1.predict(session.candles.slice(0, liveRows[9] + 1))).prediction);
    close(decisions[liveRows[20]].prediction, (await v1.predict(session.candles.slice(0, liveRows[20] + 1))).prediction);

    // a restart while v2 decides keeps v2, and parity says why it cannot replay a swapped session
    registry.promote(name, v2, 'production');
    await runPaperSession({ dir: sessionDir, apiUrl: fake.url, workspace, maxCandles: 1, ...FAST, log: () => {}, onEvent: driveClock });
    const state = JSON.parse(fs.readFileSync(path.join(sessionDir, 'state.json'), 'utf8'));
    expect(state.modelVersion).toBe(v2);
    await runPaperSession({ dir: sessionDir, apiUrl: fake.url, workspace, maxCandles: 1, ...FAST, log: () => {}, onEvent: driveClock });
    expect(JSON.parse(fs.readFileSync(path.join(sessionDir, 'state.json'), 'utf8')).modelVersion).toBe(v2);
    await expect(paperParity(sessionDir, { workspace })).rejects.toThrow(/swapped models \(v1 → v\d+/);
    registry.promote(name, 1, 'production');
  }, 120_000);
});

describe('paper sessions: latency and partial fills, and features the stream cannot feed', () => {
  it('with latency and a volume participation cap (partial fills), parity lists only explained differences; with zero latency, none', async () => {
    // a cap below a typical order's share of a bar's volume, so entries fill partly
    const volume = Array.from(candles.column('volume').subarray(3000, 3300)).sort((a, b) => a - b);
    const price = candles.column('close')[3250];
    const cap = Math.min(1, (0.3 * (10_000 / price)) / volume[Math.floor(volume.length / 2)]);
    const run = async (name: string, latencyMs: number, maxCandles = 80) => {
      const sessionDir = path.join(dir, 'runs', name);
      fake.setNow(candles.time[3250]);
      await runPaperSession({ model: MODEL, apiUrl: fake.url, workspace, dir: sessionDir, maxCandles, warmup: 300, latencyMs, maxParticipation: cap, ...FAST, log: () => {}, onEvent: driveClock });
      return { session: readSession(sessionDir), parity: await paperParity(sessionDir, { workspace }) };
    };
    const delayed = await run('paper-latency', 1.5 * HOUR);
    const info = delayed.session.info;
    expect(info.settings.latencyMs).toBe(1.5 * HOUR);
    expect(info.settings.maxParticipation).toBe(cap);
    // partial fills happened: orders cut at the cap of the previous bar's volume (logged), filled at most that
    const fills = delayed.session.result.fills.filter((f) => f.type !== 'end');
    expect(fills.length).toBeGreaterThanOrEqual(2);
    const cuts = delayed.session.result.riskEvents.filter((e) => e.monitor === 'participation');
    expect(cuts.length).toBeGreaterThan(0);
    for (const cut of cuts) {
      const limit = Number(/filled ([\d.e+-]+)$/.exec(cut.detail)![1]);
      const filled = fills.find((f) => new Date(f.time).toISOString() === cut.time);
      expect(filled, cut.time).toBeDefined();
      expect(filled!.quantity).toBeLessThanOrEqual(limit * (1 + 1e-5));
    }
    // both paths simulate the same latency and cap: nothing differs that parity cannot explain
    for (const d of delayed.parity.differences) expect(d.explained, JSON.stringify(d)).toEqual(expect.any(String));
    expect(delayed.parity.unexplained).toBe(0);
    expect(delayed.parity.fills.matched).toBe(fills.length);
    expect(delayed.parity.predictionDifference).toBeLessThan(1e-6);
    // a session stopped while it holds a position: the backtest closes it at its last candle; parity lists
    // exactly those differences, each with its explanation
    const live = delayed.session.modes.map((m, i) => (m === 'live' ? i : -1)).filter((i) => i >= 0);
    const holding = live.filter((i) => delayed.session.positions[i] > 0);
    expect(holding.length).toBeGreaterThan(0);
    const stopAt = live.indexOf(holding[holding.length - 1]) + 1;
    const open = stopAt === live.length ? delayed : await run('paper-latency-open', 1.5 * HOUR, stopAt);
    expect(open.session.positions[open.session.positions.length - 1]).toBeGreaterThan(0);
    expect(open.parity.differences.length).toBeGreaterThan(0);
    for (const d of open.parity.differences) {
      expect(d.explained, JSON.stringify(d)).toEqual(expect.any(String));
      expect(['fill', 'trade', 'signal', 'position']).toContain(d.kind);
    }
    expect(open.parity.differences.filter((d) => d.kind === 'fill').map((d) => d.explained)).toEqual(['the backtest closes the open position at its last candle; the session still holds it']);
    expect(open.parity.unexplained).toBe(0);

    const direct = await run('paper-no-latency', 0);
    expect(direct.session.info.settings.latencyMs).toBe(0);
    expect(direct.parity.differences.filter((d) => !d.explained)).toEqual([]);
    expect(direct.parity.differences, JSON.stringify(direct.parity.differences)).toEqual([]);
  }, 180_000);

  it('refuses core/cross-asset (another symbol\'s candles, stale in a one-symbol stream) in one line, before connecting or writing anything', async () => {
    const spec = JSON.parse(fs.readFileSync(path.join(ROOT, 'specs', 'quickstart.json'), 'utf8'));
    spec.features.push({ id: 'core/cross-asset', params: { reference: { exchange: 'binance', market: 'spot', symbol: 'ETH/USDT' } } });
    const specFile = path.join(dir, 'cross-asset.json');
    fs.writeFileSync(specFile, JSON.stringify(spec));
    const sessionDir = path.join(dir, 'runs', 'paper-cross-asset');
    const requests = fake.requests.length;
    const error = await runPaperSession({ spec: specFile, model: MODEL, apiUrl: fake.url, workspace, dir: sessionDir, maxCandles: 1, ...FAST, log: () => {} }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.name).toBe('ConfigError');
    expect(error?.message).toMatch(/^core\/cross-asset reads another symbol's candles \(ETH\/USDT from the data store\), which a paper session does not stream .*; trade a model trained without core\/cross-asset$/);
    expect(error?.message).not.toContain('\n');
    expect(fs.existsSync(sessionDir)).toBe(false);
    expect(fake.requests.length).toBe(requests);
    // the CLI: one line, exit 1
    const shown = await cli(['paper', specFile, '--model', MODEL, '--api-url', fake.url, '--max-candles', '1'], workspaceEnv(dir));
    expect(shown.status).toBe(1);
    expect(shown.stderr.trim().split('\n'), shown.stderr).toHaveLength(1);
    expect(shown.stderr).toMatch(/core\/cross-asset reads another symbol's candles/);
  }, 120_000);

  it('refuses core/funding in one line when the store holds no funding table for the symbol (with one, the next test streams it)', async () => {
    const spec = JSON.parse(fs.readFileSync(path.join(ROOT, 'specs', 'quickstart.json'), 'utf8'));
    spec.features.push({ id: 'core/funding', params: { window: 8 } });
    const specFile = path.join(dir, 'funding-missing.json');
    fs.writeFileSync(specFile, JSON.stringify(spec));
    const sessionDir = path.join(dir, 'runs', 'paper-funding-missing');
    const requests = fake.requests.length;
    const error = await runPaperSession({ spec: specFile, model: MODEL, apiUrl: fake.url, workspace, dir: sessionDir, maxCandles: 1, ...FAST, log: () => {} }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.name).toBe('ConfigError');
    expect(error?.message).toMatch(/^feature core\/funding reads the data column 'funding_rate', which a paper session's candle stream does not carry \(.*none hold it\); fetch it into the store .* or trade a model trained without it$/);
    expect(fs.existsSync(sessionDir)).toBe(false);
    expect(fake.requests.length).toBe(requests);
  }, 120_000);
});

describe('candlelab fake-exchange', () => {
  it('serves the sample market for a paper session from the command line, and stops cleanly on SIGTERM', async () => {
    const server = spawn(CLI_BIN, ['fake-exchange', '--port', '0', '--bars', '4000', '--start-bar', '3300', '--advance-every', '50'], { cwd: ROOT, env: { ...process.env, ...workspaceEnv(dir) }, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => server.on('close', (code) => resolve(code)));
    const url = await new Promise<string>((resolve) => readline.createInterface({ input: server.stdout }).once('line', resolve));
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const sessionDir = path.join(dir, 'runs', 'paper-cli');
    const paper = await cli(['paper', '--model', MODEL, '--api-url', url, '--max-candles', '5', '--warmup', '100', '--dir', sessionDir], workspaceEnv(dir));
    expect(paper.status, paper.stderr).toBe(0);
    expect(paper.stdout).toMatch(/processed 5 candle\(s\)/);
    const parity = await cli(['parity', sessionDir], workspaceEnv(dir));
    expect(parity.status, parity.stdout).toBe(0);
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    const bad = await cli(['fake-exchange', '--bars', '100', '--start-bar', '500'], workspaceEnv(dir));
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim()).toBe("candlelab: error: --start-bar 500 is past the market's 100 candles");
  }, 120_000);
});

describe('session logs', () => {
  it('a crash between appending the logs and saving the state is cut back to the state on resume', () => {
    const folder = tempDir('session-log');
    const log = new SessionLog(folder, { 'a.csv': 'x\n', 'b.jsonl': '' });
    log.open();
    log.add('a.csv', '1');
    log.add('b.jsonl', '{"k":1}');
    log.commit({ rows: 1 });
    log.close();
    // a crash after the next candle's lines reached the files, before the state was replaced
    fs.appendFileSync(path.join(folder, 'a.csv'), '2\n3');
    fs.appendFileSync(path.join(folder, 'b.jsonl'), '{"k":2}\n');
    const state = SessionLog.readState<{ rows: number }>(folder)!;
    expect(state.rows).toBe(1);
    const again = new SessionLog(folder, { 'a.csv': 'x\n', 'b.jsonl': '' });
    again.open(state.logOffsets);
    again.add('a.csv', '2');
    again.commit({ rows: 2 });
    again.close();
    expect(fs.readFileSync(path.join(folder, 'a.csv'), 'utf8')).toBe('x\n1\n2\n');
    expect(fs.readFileSync(path.join(folder, 'b.jsonl'), 'utf8')).toBe('{"k":1}\n');
    fs.rmSync(folder, { recursive: true, force: true });
  });
});

/**
 * A CLI session in a child process, its clock driven by what it prints: one candle forward when it has
 * subscribed and after each live candle it handled, until it exits.
 */
function cliSession(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(CLI_BIN, args, { cwd: ROOT, env: { ...process.env, ...workspaceEnv(dir), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  readline.createInterface({ input: child.stderr }).on('line', (line) => {
    stderr += line + '\n';
    if (/^streaming /.test(line) || / live /.test(line)) fake.setNow(fake.now + HOUR);
  });
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
}

/** Every file under a folder, as text. */
function filesUnder(folder: string): Array<[string, string]> {
  return fs.readdirSync(folder, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => {
    const file = path.join(e.parentPath, e.name);
    return [file, fs.readFileSync(file, 'latin1')] as [string, string];
  });
}

describe('candlelab live', () => {
  const keysEnv = { CANDLELAB_API_KEY: KEY, CANDLELAB_API_SECRET: SECRET };

  it('is a dry-run by default: decisions are logged and simulated, no signed request reaches the exchange, no keys needed', async () => {
    const sessionDir = path.join(dir, 'runs', 'dry-run');
    fake.setNow(candles.time[3400]);
    const signedBefore = fake.requests.filter((r) => r.signed).length;
    const ordersBefore = fake.orders().length;
    const run = await cliSession(['live', '--model', MODEL, '--api-url', fake.url, '--dir', sessionDir, '--warmup', '200', '--max-candles', '15']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^dry-run session/);
    const orders = fs.readFileSync(path.join(sessionDir, 'orders.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(orders).toHaveLength(15);
    for (const o of orders) expect(['dry-run', 'skipped', 'blocked']).toContain(o.action);
    expect(fake.requests.filter((r) => r.signed).length).toBe(signedBefore);
    expect(fake.orders().length).toBe(ordersBefore);
  }, 120_000);

  it('a KILL file acts at once, between candles, not at the next decision; Ctrl-C then stops the session cleanly', async () => {
    const sessionDir = path.join(dir, 'runs', 'dry-kill');
    const liveDir = path.join(sessionDir, 'live');
    fake.setNow(candles.time[3500]);
    // the kill switch is alerted (Telegram stand-in)
    const chat = await startFakeChatServer();
    const alertsFile = path.join(dir, 'alerts-kill.json');
    fs.writeFileSync(alertsFile, JSON.stringify({ channels: { phone: { type: 'telegram', botToken: 'env:TELEGRAM_BOT_TOKEN', chatId: '1', apiUrl: chat.url } }, routes: { 'kill-switch': ['phone'] }, queueDir: path.join(dir, 'alerts-kill-queue') }));
    const child = spawn(CLI_BIN, ['live', '--model', MODEL, '--api-url', fake.url, '--dir', sessionDir, '--warmup', '200', '--max-candles', '1000', '--alerts', alertsFile], { cwd: ROOT, env: { ...process.env, ...workspaceEnv(dir), TELEGRAM_BOT_TOKEN: '123:kill-test-token' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let live = 0;
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const killed = new Promise<void>((resolve) => {
      readline.createInterface({ input: child.stderr }).on('line', (line) => {
        stderr += line + '\n';
        if (/^streaming /.test(line)) fake.setNow(fake.now + HOUR);
        else if (/ live /.test(line) && ++live < 3) fake.setNow(fake.now + HOUR);
        else if (/ live /.test(line)) {
          // the clock stands still now: no candle will come; the file alone must stop entries
          const log = path.join(liveDir, 'trader.log');
          const watcher = fs.watch(liveDir, () => {
            if (fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('KILL:')) {
              watcher.close();
              resolve();
            }
          });
          fs.writeFileSync(path.join(liveDir, 'KILL'), '');
        }
      });
    });
    await killed;
    child.kill('SIGINT');
    expect(await exited, stderr).toBe(0);
    expect(live).toBe(3);
    const state = JSON.parse(fs.readFileSync(path.join(liveDir, 'state.json'), 'utf8'));
    expect(state.kill.reason).toMatch(/kill file/);
    expect(fs.readFileSync(path.join(sessionDir, 'summary.json'), 'utf8')).toMatch(/stopped by signal/);
    // delivered before the process exited (close waits for deliveries in flight)
    expect(chat.messages.map((m) => m.text)).toEqual([expect.stringMatching(/^dry-run BTC\/USDT: KILL SWITCH \(kill file .*KILL\)/)]);
    await chat.close();
  }, 120_000);

  it('refuses real orders without the confirmation, in one line, writing nothing', async () => {
    const sessionDir = path.join(dir, 'runs', 'unconfirmed');
    const run = await cli(['live', '--live', '--model', MODEL, '--api-url', fake.url, '--dir', sessionDir, '--max-candles', '3'], { ...workspaceEnv(dir), ...keysEnv });
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^candlelab: error: live trading sends real orders and needs confirmation: set CANDLELAB_LIVE_CONFIRM=yes/);
    expect(fs.existsSync(sessionDir)).toBe(false);
  }, 60_000);

  it('with --live and a confirmation: orders carry client ids, the position equals the exchange\'s, the kill switch blocks entries, and the keys appear nowhere', async () => {
    const sessionDir = path.join(dir, 'runs', 'live');
    fake.setNow(candles.time[3450]);
    const env = { ...keysEnv, CANDLELAB_LIVE_CONFIRM: 'yes' };
    const run = await cliSession(['live', '--live', '--model', MODEL, '--api-url', fake.url, '--dir', sessionDir, '--warmup', '200', '--max-candles', '40', '--max-order-value', '4000', '--set', 'strategy.params.buyThreshold=0.3'], env);
    expect(run.status, run.stderr).toBe(0);
    const placed = fake.orders().filter((o) => o.clientOrderId?.startsWith('cl'));
    expect(placed.length, run.stderr).toBeGreaterThanOrEqual(2);
    expect(new Set(placed.map((o) => o.clientOrderId)).size).toBe(placed.length);
    const traderState = JSON.parse(fs.readFileSync(path.join(sessionDir, 'live', 'state.json'), 'utf8'));
    const btc = fake.balances(KEY).BTC;
    expect(traderState.balances.base).toBeCloseTo((btc?.free ?? 0) + (btc?.locked ?? 0), 12);
    for (const o of placed) expect(o.price * o.origQty <= 4000 * 1.01 || o.side === 'SELL').toBe(true);

    // the exchange's fills beside the simulated venue's, decision by decision
    const parity = await paperParity(sessionDir, { workspace });
    expect(parity.unexplained, JSON.stringify(parity.differences, null, 1)).toBe(0);
    expect(parity.execution!.kind).toBe('live');
    expect(parity.execution!.executed).toBeGreaterThanOrEqual(2);
    expect(parity.execution!.paired).toBeGreaterThanOrEqual(1);
    // the fake exchange fills market orders at the decision close; the simulation at the next open plus 5 bps slippage
    expect(Math.abs(parity.execution!.priceBps!.mean)).toBeLessThan(50);

    // the kill switch: set from another process, it blocks entries in the next run
    const stop = await cli(['live', 'stop', '--dir', sessionDir, '--api-url', fake.url, '--flatten'], { ...workspaceEnv(dir), ...keysEnv });
    expect(stop.status, stop.stderr).toBe(0);
    expect(stop.stdout).toMatch(/kill switch set/);
    expect(stop.stdout, stop.stdout).toMatch(/flatten: sent/);
    // flattened: what is left is below the lot step
    expect(fake.balances(KEY).BTC.free).toBeLessThan(1e-5);
    const again = await cliSession(['live', '--live', '--dir', sessionDir, '--api-url', fake.url, '--max-candles', '10'], env);
    expect(again.status, again.stderr).toBe(0);
    const orders = fs.readFileSync(path.join(sessionDir, 'orders.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const after = orders.slice(-10);
    expect(after.some((o) => o.action === 'sent' && o.order?.side === 'buy')).toBe(false);
    expect(after.filter((o) => o.action === 'blocked').length, JSON.stringify(after.map((o) => `${o.action}: ${o.reason}`))).toBeGreaterThan(0);
    const reset = await cli(['live', 'reset', '--dir', sessionDir, '--api-url', fake.url], { ...workspaceEnv(dir), ...keysEnv });
    expect(reset.status, reset.stderr).toBe(0);

    // redaction: not one file of the session, not one line printed, holds the key or the secret
    for (const [file, text] of filesUnder(sessionDir)) {
      expect(text.includes(KEY), file).toBe(false);
      expect(text.includes(SECRET), file).toBe(false);
    }
    for (const output of [run.stdout, run.stderr, stop.stdout, stop.stderr, again.stdout, again.stderr, reset.stdout, reset.stderr]) {
      expect(output.includes(KEY)).toBe(false);
      expect(output.includes(SECRET)).toBe(false);
    }
  }, 180_000);
});

describe('a paper session with a model on the store\'s side tables (issue 10 item 6)', () => {
  const side = path.join(dir, 'funding');
  const perp = generateSyntheticCandles({ seed: 43, bars: 3400, timeframe: '1h', start: '2021-01-01T00:00:00Z', symbol: 'BTC/USDT:USDT' });
  let futures: FakeExchange | undefined;
  afterAll(async () => {
    await futures?.close();
  });

  it('feeds core/funding the store\'s funding rate with every streamed candle: its predictions equal the batch pipeline\'s', async () => {
    // the store holds the first 3,000 candles; funding is downloaded ahead over the whole market
    const { workspace: sideWorkspace, key, modelName: name } = await trainFundingModel(side, perp, { name: 'fundpaper', storedBars: 3000 });
    futures = await startFakeExchange({ datasets: [{ market: 'futures', symbol: 'BTC/USDT', timeframe: '1h', candles: perp }], now: perp.time[3100] });
    const exchange = futures;
    const drive = (event: SessionEvent) => {
      if ((event.kind === 'stream' && event.event.kind === 'subscribed') || (event.kind === 'candle' && event.mode === 'live')) setImmediate(() => exchange.setNow(exchange.now + HOUR));
    };
    const sessionDir = path.join(side, 'runs', 'paper-funding');
    const result = await runPaperSession({ model: `${name}@1`, market: 'futures', apiUrl: exchange.url, workspace: sideWorkspace, dir: sessionDir, maxCandles: 30, warmup: 100, ...FAST, log: () => {}, onEvent: drive });
    expect(result.liveCandles).toBe(30);
    const decisions = fs.readFileSync(path.join(sessionDir, 'decisions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const live = decisions.filter((d) => d.mode === 'live');
    expect(live).toHaveLength(30);

    // the batch pipeline over the store (the session's candles merged in) with its funding column
    const setup = await resolveTradingSetup({ model: `${name}@1`, workspace: sideWorkspace });
    const stored = loadCandles(setup.context);
    expect(stored.names).toContain('funding_rate');
    const features = buildFeatures(setup.context, stored);
    const names = setup.model.featureNames;
    expect(names).toEqual(expect.arrayContaining(['funding_level', 'funding_ma_8', 'funding_change']));
    for (const d of live) {
      const row = stored.time.indexOf(Date.parse(d.time) - HOUR);
      expect(row).toBeGreaterThan(features.lookback);
      const values = Float32Array.from(names, (column) => features.frame.column(column)[row]);
      const predicted = await setup.model.predict({ values, rows: 1, cols: names.length });
      Array.from(predicted).forEach((p, k) => expect(Math.abs(d.prediction[k] - p), d.time).toBeLessThanOrEqual(1e-6));
    }
    setup.model.dispose();
    // parity backtests the session's candles with the same side tables joined: identical
    const parity = await paperParity(sessionDir, { workspace: sideWorkspace });
    expect(parity.unexplained, JSON.stringify(parity.differences, null, 1)).toBe(0);
    expect(parity.predictionDifference).toBeLessThan(1e-6);
  }, 180_000);
});
