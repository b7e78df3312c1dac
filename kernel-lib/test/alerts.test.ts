import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { runSpec } from '../src/runner/run-spec';
import { runPaperSession, type SessionEvent } from '../src/trading/paper-session';
import { LiveTrader } from '../src/trading';
import { ConfigError } from '../src/errors';
import { buildReport, digestEvent, loadAlertsConfig, openAlerts, PNG_SIGNATURE, type AlertEvent, type AlertsConfigInput } from '../src/services/alerts';
import { startFakeChatServer, startFakeExchange, startFakeSmtpServer, type FakeChatServer, type FakeExchange, type FakeSmtpServer } from '../src/testing';
import { tradesCsv } from '../src/runner/run-record';
import { sharpeOfReturns } from '../src/backtest/metrics';
import { cli, ROOT, tempDir } from './helpers';

const TOKEN = '7012345678:AAH-secret-telegram-token-xyz';
const SMTP_PASSWORD = 'smtp-password-very-secret';
const FAST_RETRY = { attempts: 2, baseMs: 1, maxMs: 5 };
const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

let chat: FakeChatServer;
let smtp: FakeSmtpServer;
let root: string;

beforeAll(async () => {
  chat = await startFakeChatServer();
  smtp = await startFakeSmtpServer();
  root = tempDir('alerts');
});
afterAll(async () => {
  await chat.close();
  await smtp.close();
  fs.rmSync(root, { recursive: true, force: true });
});

/** A fresh queue folder and env for one test. */
function setup(name: string): { queueDir: string; env: Record<string, string> } {
  return { queueDir: path.join(root, name, 'queue'), env: { TELEGRAM_BOT_TOKEN: TOKEN, SLACK_WEBHOOK_URL: chat.slackWebhookUrl, SMTP_USER: 'alice', SMTP_PASSWORD } };
}

function telegramConfig(queueDir: string, extra: Partial<AlertsConfigInput> = {}): AlertsConfigInput {
  return { channels: { phone: { type: 'telegram', botToken: 'env:TELEGRAM_BOT_TOKEN', chatId: '4242', apiUrl: chat.url } }, routes: { '*': ['phone'] }, retry: FAST_RETRY, queueDir, ...extra };
}

const event = (title: string, kind: AlertEvent['kind'] = 'fill'): AlertEvent => ({ kind, title, text: `${title} body` });

/** Every file under a folder, recursively, with its text. */
function filesUnder(dir: string): Array<{ file: string; text: string }> {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .map((f) => path.join(dir, f))
    .filter((f) => fs.statSync(f).isFile())
    .map((file) => ({ file, text: fs.readFileSync(file, 'utf8') }));
}

/** A small paper session folder: 48 hourly candles, equity rising 10/candle with one dip, signals, fills, a trade. */
function makeSession(dir: string): { equity: number[]; positions: number[] } {
  fs.mkdirSync(dir, { recursive: true });
  const n = 48;
  const time = (i: number): number => T0 + i * HOUR;
  const equity = Array.from({ length: n }, (_, i) => (i === 10 ? 9900 : 10_000 + 10 * i));
  const positions = Array.from({ length: n }, (_, i) => (i >= 30 ? 0.1 : 0));
  const files: Record<string, string> = {
    'candles.csv': 'time,open,high,low,close,volume,mode,source\n' + Array.from({ length: n }, (_, i) => `${time(i)},100,101,99,100,5,live,stream\n`).join(''),
    'decisions.jsonl': Array.from({ length: n }, () => JSON.stringify({ target: 0, prediction: null }) + '\n').join(''),
    'equity.csv': 'time,equity,cash,position_value,position\n' + equity.map((e, i) => `${time(i)},${e},${e - positions[i] * 100},${positions[i] * 100},${positions[i]}\n`).join(''),
    'signals.jsonl': Array.from({ length: n }, (_, i) =>
      JSON.stringify({ time: new Date(time(i)).toISOString(), asset: 'BTC/USDT', sleeve: 'main', signal: ['LONG', 'SHORT', 'FLAT'][i % 3], confidence: 0.6, entry: 100, stop_loss: null, take_profit: null, risk_reward: null, reasoning: '' }) + '\n',
    ).join(''),
    'fills.jsonl': [5, 30, 40].map((i) => JSON.stringify({ time: new Date(time(i)).toISOString(), asset: 'BTC/USDT', sleeve: 'main', side: i === 40 ? 'sell' : 'buy', type: 'market', quantity: 0.1, basePrice: 100, price: 100.05, slippageCost: 0.005, commission: 0.01 }) + '\n').join(''),
    'risk-events.jsonl': '',
    'trades.csv': tradesCsv([{ sleeve: 'main', asset: 'BTC/USDT', side: 'long', entryTime: time(30), entryPrice: 100, exitTime: time(40), exitPrice: 112.5, units: 1, pnl: 12.5, returnPct: 0.125, bars: 10, fees: 0, funding: 0, slippageCost: 0, exitReason: 'signal' }]),
  };
  for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), text);
  const logOffsets = Object.fromEntries(Object.entries(files).map(([file, text]) => [file, Buffer.byteLength(text)]));
  fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify({ format: 1, rows: n, logOffsets }));
  fs.writeFileSync(
    path.join(dir, 'session.json'),
    JSON.stringify({
      format: 1, kind: 'paper', createdAt: new Date(T0).toISOString(), startTime: T0, exchange: 'binance', market: 'spot', symbol: 'BTC/USDT', timeframe: '1h', spec: {},
      model: { name: 'btc-direction', version: 3, modelId: 'm-123', featureNames: [] }, strategy: { id: 'core/threshold', version: '1.0.0', params: { buyThreshold: 0.55 } },
      settings: { initialCash: 10_000 }, sleeve: 'main', warmupRows: 0, requiredInputs: 0,
    }),
  );
  return { equity, positions };
}

/** The PNG's IHDR width and height (after checking the signature and chunk type). */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
  expect(png.subarray(12, 16).toString('ascii')).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('alerts.json', () => {
  const env = { TELEGRAM_BOT_TOKEN: TOKEN };
  it('refuses a literal secret, naming the field and the fix, without quoting it', () => {
    const config = { channels: { phone: { type: 'telegram', botToken: TOKEN, chatId: '1' } }, routes: { '*': ['phone'] } } as AlertsConfigInput;
    const attempt = (): unknown => loadAlertsConfig(config, { env });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/channels\.phone\.botToken holds a literal secret; move it into an environment variable.*env:BOT_TOKEN/);
    try {
      attempt();
    } catch (error) {
      expect((error as Error).message).not.toContain(TOKEN);
      expect((error as Error).message.split('\n')).toHaveLength(1);
    }
  });

  it('names a missing environment variable', () => {
    const config: AlertsConfigInput = { channels: { team: { type: 'slack', webhookUrl: 'env:SLACK_HOOK_MISSING' } }, routes: { error: ['team'] } };
    expect(() => loadAlertsConfig(config, { env: {} })).toThrow(/channels\.team\.webhookUrl names the environment variable SLACK_HOOK_MISSING, which is not set; export SLACK_HOOK_MISSING/);
  });

  it('refuses a route to an unknown channel or kind, with a suggestion', () => {
    const channels = { phone: { type: 'telegram' as const, botToken: 'env:TELEGRAM_BOT_TOKEN', chatId: '1' } };
    expect(() => loadAlertsConfig({ channels, routes: { fill: ['phon'] } }, { env })).toThrow(/routes\.fill names channel 'phon', which is not in channels \(did you mean 'phone'\?\)/);
    expect(() => loadAlertsConfig({ channels, routes: { fills: ['phone'] } }, { env })).toThrow(/routes\.fills: unknown event kind \(did you mean 'fill'\?\)/);
    expect(() => loadAlertsConfig({ channels: { x: { type: 'pager' } }, routes: {} } as unknown as AlertsConfigInput, { env })).toThrow(/channels\.x\.type: type must be 'telegram', 'slack' or 'email'/);
    expect(() => loadAlertsConfig(path.join(root, 'nope.json'))).toThrow(/nope\.json does not exist/);
  });
});

describe('channels speak the wire formats', () => {
  it('Telegram: sendMessage (JSON) then sendPhoto (multipart) for an image attachment', async () => {
    const { queueDir, env } = setup('telegram');
    const sink = openAlerts(telegramConfig(queueDir), { env, log: () => undefined });
    const before = chat.messages.length;
    const png = Buffer.from(PNG_SIGNATURE);
    await sink.send({ kind: 'report', title: 'daily report', text: 'equity 100', attachments: [{ filename: 'equity.png', contentType: 'image/png', content: png, cid: 'c' }] });
    await sink.flush();
    await sink.close();
    const [message, photo] = (await chat.waitForMessages(before + 2)).slice(before);
    expect(message).toMatchObject({ service: 'telegram', method: 'sendMessage', token: TOKEN, chatId: '4242', text: 'daily report\n\nequity 100' });
    expect(photo).toMatchObject({ method: 'sendPhoto', chatId: '4242', caption: 'daily report', photo: { filename: 'equity.png', contentType: 'image/png' } });
    expect(photo.photo!.content.equals(png)).toBe(true);
    expect(filesUnder(queueDir).filter((f) => f.file.endsWith('.json'))).toEqual([]);
  });

  it('Slack: an incoming-webhook POST {text}', async () => {
    const { queueDir, env } = setup('slack');
    const sink = openAlerts({ channels: { team: { type: 'slack', webhookUrl: 'env:SLACK_WEBHOOK_URL' } }, routes: { error: ['team'] }, queueDir, retry: FAST_RETRY }, { env, log: () => undefined });
    const before = chat.messages.length;
    await sink.send(event('engine stopped', 'error'));
    await sink.send(event('a fill nobody routes', 'fill'));
    await sink.flush();
    await sink.close();
    const received = (await chat.waitForMessages(before + 1)).slice(before);
    expect(received).toEqual([{ service: 'slack', method: 'webhook', text: '*engine stopped*\nengine stopped body' }]);
    expect(sink.stats().channels.team).toMatchObject({ delivered: 1, queued: 0 });
  });

  it('e-mail: SMTP with auth, text, HTML and the report chart inline by cid', async () => {
    const { queueDir, env } = setup('email');
    const sessionDir = path.join(root, 'email', 'session');
    makeSession(sessionDir);
    const { figures: _figures, ...report } = buildReport(sessionDir, { period: 'daily' });
    const sink = openAlerts(
      { channels: { mail: { type: 'email', host: smtp.host, port: smtp.port, user: 'env:SMTP_USER', password: 'env:SMTP_PASSWORD', from: 'bot@candlelab.test', to: ['me@candlelab.test'] } }, routes: { report: ['mail'] }, queueDir, retry: FAST_RETRY },
      { env, log: () => undefined },
    );
    await sink.send(report);
    await sink.flush();
    await sink.close();
    const [mail] = await smtp.waitForMessages(1);
    expect(mail).toMatchObject({ from: 'bot@candlelab.test', to: ['me@candlelab.test'], user: 'alice' });
    const raw = mail.raw.replace(/=\r?\n/g, ''); // undo quoted-printable soft breaks
    expect(raw).toContain(`Subject: ${report.title.slice(0, 30)}`);
    expect(raw).toMatch(/Content-Type: text\/plain/);
    expect(raw).toMatch(/Content-Type: text\/html/);
    expect(raw).toContain('cid:equity-chart');
    expect(raw).toContain('Content-ID: <equity-chart>');
    // the image part: headers, blank line, base64 up to the boundary
    const imagePart = /Content-Type: image\/png[^]*?\r?\n\r?\n([A-Za-z0-9+/=\r\n]+)/.exec(mail.raw);
    expect(imagePart).not.toBeNull();
    const png = Buffer.from(imagePart![1].replace(/\s/g, ''), 'base64');
    expect(pngSize(png)).toEqual({ width: 640, height: 240 });
    expect(png.equals(report.attachments![0].content)).toBe(true);
  });

  it('e-mail: a 4xx reply keeps the message queued until the server accepts again', async () => {
    const { queueDir, env } = setup('email-reject');
    const config: AlertsConfigInput = { channels: { mail: { type: 'email', host: smtp.host, port: smtp.port, from: 'bot@candlelab.test', to: ['me@candlelab.test'] } }, routes: { '*': ['mail'] }, queueDir, retry: FAST_RETRY };
    const before = smtp.messages.length;
    smtp.setReject(451);
    const sink = openAlerts(config, { env, log: () => undefined });
    await sink.send(event('mail while rejecting'));
    await sink.flush();
    expect(sink.stats().channels.mail).toMatchObject({ queued: 1, delivered: 0 });
    expect(sink.stats().channels.mail.lastError).toMatch(/451/);
    smtp.setReject(undefined);
    await sink.flush();
    await sink.close();
    expect((await smtp.waitForMessages(before + 1)).length).toBe(before + 1);
    expect(sink.stats().channels.mail).toMatchObject({ queued: 0, delivered: 1 });
  });
});

describe('delivery through outages', () => {
  it('a channel down (5xx, closed, refused) then recovering: every alert once, in order, across restarts and two concurrent senders', async () => {
    const { queueDir, env } = setup('outage');
    const config = telegramConfig(queueDir);
    const before = chat.messages.length;
    const requestsBefore = chat.requests;
    const open = (): ReturnType<typeof openAlerts> => openAlerts(config, { env, log: () => undefined, flushIntervalMs: 3_600_000 });
    const titles = Array.from({ length: 9 }, (_, i) => `alert ${i + 1}`);

    await chat.setMode({ kind: 'status', status: 503 });
    const first = open();
    for (const t of titles.slice(0, 4)) await first.send(event(t));
    await first.flush();
    expect(first.stats().channels.phone).toMatchObject({ queued: 4, delivered: 0 });
    expect(first.stats().channels.phone.lastError).toMatch(/HTTP 503/);
    expect(chat.requests).toBeGreaterThan(requestsBefore); // it did try
    await first.close(); // the process "exits" with everything still queued

    await chat.setMode({ kind: 'close' });
    const second = open();
    for (const t of titles.slice(4, 6)) await second.send(event(t));
    await second.flush();
    expect(second.stats().channels.phone.queued).toBe(6);
    await second.close();

    await chat.setMode({ kind: 'refuse' });
    const third = open();
    await third.send(event(titles[6]));
    await third.flush();
    expect(third.stats().channels.phone.lastError).toMatch(/ECONNREFUSED/);
    await third.close();
    expect(chat.messages.length).toBe(before);

    // Senders that died mid-delivery left claims and a channel lock: all are reclaimed, nothing is lost.
    // One had another pid; one had ours (a restarted container often gets its predecessor's pid).
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    const stranded = filesUnder(path.join(queueDir, 'phone')).filter((f) => f.file.endsWith('.json')).map((f) => f.file);
    fs.renameSync(stranded[0], `${stranded[0]}.sending-${deadPid}-abc123`);
    fs.renameSync(stranded[3], `${stranded[3]}.sending-${process.pid}-abc123`);
    fs.writeFileSync(path.join(queueDir, 'phone', '.lock'), JSON.stringify({ pid: deadPid, incarnation: 'abc123', owner: 'gone' }));

    await chat.setMode({ kind: 'up' });
    // two sinks on one queue at once (a second process, or a second open): nothing is sent twice
    const a = open();
    const b = open();
    await a.send(event(titles[7]));
    await b.send(event(titles[8]));
    await Promise.all([a.flush(), b.flush()]);
    await Promise.all([a.flush(), b.flush()]);
    const received = (await chat.waitForMessages(before + titles.length)).slice(before);
    await Promise.all([a.close(), b.close()]);
    expect(received.map((m) => m.text!.split('\n')[0])).toEqual(titles);
    expect(chat.messages.length).toBe(before + titles.length);
    expect(filesUnder(queueDir).filter((f) => !f.file.endsWith('.lock'))).toEqual([]);
  });

  it('send never waits for a channel that is down, and close() cuts the backoff short, leaving the delivery queued', async () => {
    const { queueDir, env } = setup('nonblocking');
    await chat.setMode({ kind: 'status', status: 500 });
    const sink = openAlerts(telegramConfig(queueDir, { retry: { attempts: 5, baseMs: 60_000, maxMs: 60_000 } }), { env, log: () => undefined });
    const started = performance.now();
    await sink.send(event('while the channel is down'));
    const sendMs = performance.now() - started;
    await sink.close(); // the sender is in a 60 s backoff: close must not wait it out
    const closeMs = performance.now() - started;
    await chat.setMode({ kind: 'up' });
    expect(sendMs).toBeLessThan(1_000);
    expect(closeMs).toBeLessThan(5_000);
    expect(sink.stats().channels.phone.queued).toBe(1);
    const [stored] = filesUnder(queueDir).filter((f) => f.file.endsWith('.json'));
    expect(JSON.parse(stored.text)).toMatchObject({ channel: 'phone', event: { title: 'while the channel is down' }, attempts: 1 });
  });

  it('429: waits Telegram retry_after and Slack Retry-After, then delivers once', async () => {
    const { queueDir, env } = setup('429');
    const sink = openAlerts(
      { channels: { phone: telegramConfig(queueDir).channels.phone, team: { type: 'slack', webhookUrl: 'env:SLACK_WEBHOOK_URL' } }, routes: { '*': ['phone', 'team'] }, queueDir, retry: { attempts: 3, baseMs: 1, maxMs: 5 } },
      { env, log: () => undefined },
    );
    const before = chat.messages.length;
    await chat.setMode({ kind: 'rate-limited', retryAfterSeconds: 1, count: 2 });
    const started = Date.now();
    await sink.send(event('after the 429'));
    await sink.flush();
    await sink.close();
    const received = (await chat.waitForMessages(before + 2)).slice(before);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950); // retry_after honoured, not the 1 ms backoff
    expect(received.map((m) => m.service).sort()).toEqual(['slack', 'telegram']);
    expect(chat.messages.length).toBe(before + 2);
  });

  it('rate limit: a burst of 100 gives at most the limit + 1 digest, and every title arrives', async () => {
    const { queueDir, env } = setup('rate');
    // 20 a "minute" of 2 s: one token per 100 ms. The clock stands still during the burst (a fault loop
    // faster than any refill), then moves one token's worth.
    let now = T0;
    const sink = openAlerts(
      { channels: { team: { type: 'slack', webhookUrl: 'env:SLACK_WEBHOOK_URL', rateLimit: { perMinute: 20, windowMs: 2_000 } } }, routes: { '*': ['team'] }, queueDir, retry: FAST_RETRY },
      { env, log: () => undefined, clock: { now: () => now } },
    );
    const before = chat.messages.length;
    const titles = Array.from({ length: 100 }, (_, i) => `fault loop ${String(i).padStart(3, '0')}`);
    for (const t of titles) await sink.send(event(t, 'error'));
    now += 100;
    await sink.flush();
    await sink.close();
    const received = chat.messages.slice(before);
    expect(received).toHaveLength(21);
    expect(received.slice(0, 20).map((m) => m.text!.split('\n')[0])).toEqual(titles.slice(0, 20).map((t) => `*${t}*`));
    expect(received[20].text).toMatch(/^\*80 alerts held by the rate limit\*\n/);
    const all = received.map((m) => m.text).join('\n');
    for (const t of titles) expect(all).toContain(t);
    expect(sink.stats().channels.team).toMatchObject({ delivered: 100, queued: 0, digests: 1 });
    // a fault loop repeating one title: one line with its count
    expect(digestEvent([event('feed down'), event('feed down'), event('order refused')]).text).toMatch(/^• +… +feed down \(×2\)\n• +order refused$/);
  });

  it('redaction: the token appears in no log line, error, stat or queue file', async () => {
    const { queueDir, env } = setup('redact');
    const lines: string[] = [];
    // a network layer whose error quotes the URL, token included
    const leaky = (async (url: string | URL | Request) => {
      throw new Error(`connect ETIMEDOUT for ${String(url)}`);
    }) as typeof fetch;
    const sink = openAlerts(telegramConfig(queueDir, { retry: { attempts: 3, baseMs: 1, maxMs: 2 } }), { env, log: (l) => lines.push(l), fetch: leaky });
    await sink.send(event(`carries ${TOKEN} in its text`));
    await sink.flush();
    await sink.close();
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.join('\n')).toContain('connect ETIMEDOUT for http://127.0.0.1');
    expect(lines.join('\n')).toContain('[redacted]');
    for (const line of lines) expect(line).not.toContain(TOKEN);
    expect(sink.stats().channels.phone.lastError).not.toContain(TOKEN);
    const queued = filesUnder(queueDir);
    expect(queued.length).toBe(1);
    expect(queued[0].text).not.toContain(TOKEN);
    expect(JSON.parse(queued[0].text)).toMatchObject({ attempts: 3, lastError: expect.stringContaining('[redacted]') });
  });

  it('redaction of a Slack webhook URL and a Telegram bot token set with a trailing newline, in whatever form an error quotes them', async () => {
    const { queueDir } = setup('redact-webhook');
    const webhook = chat.slackWebhookUrl;
    const env = { TELEGRAM_BOT_TOKEN: `${TOKEN}\n`, SLACK_WEBHOOK_URL: `${webhook}\n` };
    const lines: string[] = [];
    // a network layer whose error quotes the URL as parsed (the newline dropped), its path, and its last segment
    const leaky = (async (url: string | URL | Request) => {
      const parsed = new URL(String(url));
      throw new Error(`connect ECONNRESET ${parsed.href} (path ${parsed.pathname}, last ${parsed.pathname.split('/').pop()})`);
    }) as typeof fetch;
    const config: AlertsConfigInput = {
      channels: { phone: { type: 'telegram', botToken: 'env:TELEGRAM_BOT_TOKEN', chatId: '1', apiUrl: chat.url }, team: { type: 'slack', webhookUrl: 'env:SLACK_WEBHOOK_URL' } },
      routes: { '*': ['phone', 'team'] },
      retry: { attempts: 2, baseMs: 1, maxMs: 2 },
      queueDir,
    };
    const sink = openAlerts(config, { env, log: (l) => lines.push(l), fetch: leaky });
    await sink.send(event(`an error quoting ${webhook} and bot${TOKEN}/sendMessage`, 'error'));
    await sink.flush();
    await sink.close();
    const secrets = [TOKEN, TOKEN.split(':')[1], webhook, new URL(webhook).pathname, new URL(webhook).pathname.split('/').pop()!];
    const stats = JSON.stringify(sink.stats());
    const files = filesUnder(queueDir);
    expect(files).toHaveLength(2);
    expect(lines.join('\n')).toContain('connect ECONNRESET');
    expect(lines.join('\n')).toContain('[redacted]');
    for (const secret of secrets) {
      for (const line of lines) expect(line).not.toContain(secret);
      expect(stats).not.toContain(secret);
      for (const { file, text } of files) expect(text, file).not.toContain(secret);
    }
    // the trimmed credentials are what is used: once the channels are up (and the real fetch), both deliver
    const before = chat.messages.length;
    const real = openAlerts(config, { env, log: (l) => lines.push(l) });
    await real.flush();
    await real.close();
    expect(chat.messages.slice(before).map((m) => m.service).sort()).toEqual(['slack', 'telegram']);
    expect(filesUnder(queueDir)).toEqual([]);
  });
});

describe('session events reach the channels', () => {
  // a small quickstart model that buys readily, a fake exchange whose candle 3240 is impossible (high < low)
  const dir = tempDir('alerts-session');
  const workspace = { root: dir, dataDir: path.join(dir, 'data'), modelsDir: path.join(dir, 'models'), runsDir: path.join(dir, 'runs') };
  const MODEL = 'quickstart-BTC-USDT-1h@1';
  const KEY = 'k3yALERTSbbbbCCCCddddEEEEffff0001';
  const SECRET = 's3cretALERTSyyyyXXXXwwwwVVVVuuuu0002';
  const FAST = { reconnect: { baseDelayMs: 5, maxDelayMs: 20 }, retry: { baseDelayMs: 5 }, rateLimitMs: 1, timeoutMs: 5000 };
  const BAD = 3240;
  let fake: FakeExchange;
  const candles = generateSyntheticCandles({ seed: 42, bars: 4000, timeframe: '1h', start: '2021-01-01T00:00:00Z' });

  beforeAll(async () => {
    candles.column('high')[BAD] = candles.column('low')[BAD] * 0.5;
    await runSpec(path.join(ROOT, 'specs', 'quickstart.json'), { overrides: ['data.bars=3000', 'model.params.rounds=25'], workspace, progress: 'quiet', log: () => {} });
    fake = await startFakeExchange({ datasets: [{ market: 'spot', symbol: 'BTC/USDT', timeframe: '1h', candles }], now: candles.time[3000], accounts: [{ apiKey: KEY, secret: SECRET, balances: { USDT: 10_000, BTC: 0 } }] });
  }, 180_000);
  afterAll(async () => {
    await fake?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Move the exchange clock one candle each time the session has handled a live candle (event-driven). */
  const driveClock = (event: SessionEvent): void => {
    if ((event.kind === 'stream' && event.event.kind === 'subscribed') || (event.kind === 'candle' && event.mode === 'live')) setImmediate(() => fake.setNow(fake.now + HOUR));
  };
  const routed = (queueDir: string): AlertsConfigInput => ({
    channels: {
      phone: { type: 'telegram', botToken: 'env:TELEGRAM_BOT_TOKEN', chatId: '31', apiUrl: chat.url },
      team: { type: 'slack', webhookUrl: 'env:SLACK_WEBHOOK_URL' },
      mail: { type: 'email', host: smtp.host, port: smtp.port, user: 'env:SMTP_USER', password: 'env:SMTP_PASSWORD', from: 'bot@candlelab.test', to: ['desk@candlelab.test'] },
    },
    routes: { risk: ['phone'], error: ['team', 'mail'] },
    retry: FAST_RETRY,
    queueDir,
  });

  it('a paper session: risk monitors acting go to Telegram; the error that stops it goes to Slack and e-mail', async () => {
    const { queueDir, env } = setup('session-paper');
    const sessionDir = path.join(dir, 'runs', 'paper-risk');
    fake.setNow(candles.time[BAD - 30]);
    const chatBefore = chat.messages.length;
    const mailBefore = smtp.messages.length;
    const alerts = openAlerts(routed(queueDir), { env, log: () => {} });
    // an exposure cap of 5% of equity: the strategy's full-size entries are clipped by the monitor
    const run = runPaperSession({ model: MODEL, apiUrl: fake.url, workspace, dir: sessionDir, maxCandles: 100, warmup: 200, overrides: ['strategy.params.buyThreshold=0.01', 'backtest.risk.maxAssetExposure=0.05'], ...FAST, log: () => {}, onEvent: driveClock, alerts });
    await expect(run).rejects.toThrow(/impossible candle/);
    await alerts.flush();
    await alerts.close();
    const risk = fs.readFileSync(path.join(sessionDir, 'risk-events.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { time: string; monitor: string; action: string });
    const decisions = fs.readFileSync(path.join(sessionDir, 'decisions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { time: string; mode: string });
    const liveTimes = new Set(decisions.filter((d) => d.mode === 'live').map((d) => d.time));
    const liveRisk = risk.filter((e) => liveTimes.has(e.time));
    expect(liveRisk.length).toBeGreaterThan(0);
    expect(liveRisk.every((e) => e.monitor === 'exposure-limit')).toBe(true);
    const received = chat.messages.slice(chatBefore);
    // one Telegram message per live risk event, each naming the monitor and its action
    const telegram = received.filter((m) => m.service === 'telegram').map((m) => m.text!);
    expect(telegram).toHaveLength(liveRisk.length);
    for (const [i, e] of liveRisk.entries()) expect(telegram[i].split('\n')[0]).toBe(`paper BTC/USDT: ${e.monitor} ${e.action}`);
    // the error: Slack and e-mail, once each, naming the cause and how to resume
    const slack = received.filter((m) => m.service === 'slack').map((m) => m.text!);
    expect(slack).toEqual([expect.stringMatching(/^\*paper BTC\/USDT: the session stopped on an error\*\n.*impossible candle/)]);
    expect(slack[0]).toContain(`resume it with --dir ${sessionDir}`);
    const mails = await smtp.waitForMessages(mailBefore + 1);
    expect(mails).toHaveLength(mailBefore + 1);
    expect(mails[mailBefore].raw).toContain('Subject: paper BTC/USDT: the session stopped on an error');
    expect(filesUnder(queueDir)).toEqual([]);
  }, 120_000);

  it('a live session: an order the exchange rejects goes to the error channels', async () => {
    const { queueDir, env } = setup('session-live');
    const sessionDir = path.join(dir, 'runs', 'live-reject');
    fake.setNow(candles.time[3000]);
    const chatBefore = chat.messages.length;
    const alerts = openAlerts(routed(queueDir), { env, log: () => {} });
    await runPaperSession({
      model: MODEL,
      apiUrl: fake.url,
      workspace,
      dir: sessionDir,
      maxCandles: 4,
      warmup: 200,
      overrides: ['strategy.params.buyThreshold=0.01'],
      ...FAST,
      log: () => {},
      onEvent: driveClock,
      alerts,
      executorKind: 'live',
      executor: async ({ dir: at, symbol, connection }) => {
        const trader = await LiveTrader.open({ connection, symbol, stateDir: path.join(at, 'live'), dryRun: false, keys: { env: { CANDLELAB_API_KEY: KEY, CANDLELAB_API_SECRET: SECRET } }, logger: () => {}, retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 20 } });
        // the account lost its USDT behind the bot's back: every buy is refused by the exchange (-2010)
        fake.setBalance(KEY, 'USDT', 1);
        return { kind: 'live', onDecision: (decision) => trader.onDecision(decision) };
      },
    });
    await alerts.flush();
    await alerts.close();
    const orders = fs.readFileSync(path.join(sessionDir, 'orders.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { action: string; reason: string });
    const rejected = orders.filter((o) => o.action === 'rejected');
    expect(rejected.length).toBeGreaterThan(0);
    const slack = chat.messages.slice(chatBefore).filter((m) => m.service === 'slack').map((m) => m.text!);
    expect(slack).toHaveLength(rejected.length);
    for (const [i, o] of rejected.entries()) {
      expect(slack[i]).toBe(`*live BTC/USDT: order rejected*\n${o.reason}`);
      expect(o.reason).toMatch(/insufficient balance.*-2010/);
    }
    expect(fake.orders()).toHaveLength(0);
    expect(filesUnder(queueDir)).toEqual([]);
  }, 120_000);
});

describe('buildReport', () => {
  it("states the session's numbers and draws a valid PNG", () => {
    const dir = path.join(root, 'report-session');
    const { equity, positions } = makeSession(dir);
    const report = buildReport(dir, { period: 'daily' });
    const last = equity.length - 1;
    // the day ends at the last candle (row 47) and starts after row 23
    expect(report.figures).toMatchObject({
      to: T0 + last * HOUR,
      from: T0 + (last - 24) * HOUR,
      equity: equity[last],
      position: positions[last],
      periodPnl: equity[last] - equity[last - 24],
      totalPnl: equity[last] - 10_000,
      signals: { LONG: 8, SHORT: 8, FLAT: 8 },
      fills: 2,
      tradesClosed: 1,
      tradesPnl: 12.5,
    });
    expect(report.figures.maxDrawdown).toBeCloseTo((10_090 - 9_900) / 10_090, 10);
    expect(report.kind).toBe('report');
    expect(report.title).toBe('paper BTC/USDT 1h daily report: equity 10470.00 (+240.00 this period)');
    expect(report.text).toContain('model: btc-direction v3');
    expect(report.text).toContain('strategy: core/threshold {"buyThreshold":0.55}');
    expect(report.text).toContain('P&L since start: +470.00 (+4.70%)');
    expect(report.text).toContain('signals: 24: LONG 8 · SHORT 8 · FLAT 8');
    expect(report.text).toContain('max drawdown: 1.88%');
    expect(report.html).toContain('<img src="cid:equity-chart"');
    expect(report.html).toContain('equity 10000.00 → 10470.00 (low 9900.00, high 10470.00)');
    const [chart] = report.attachments!;
    expect(chart).toMatchObject({ filename: 'equity.png', contentType: 'image/png', cid: 'equity-chart' });
    expect(pngSize(chart.content)).toEqual({ width: 640, height: 240 });
    // deterministic: the same folder gives the same bytes
    expect(buildReport(dir, { period: 'daily' }).attachments![0].content.equals(chart.content)).toBe(true);

    const weekly = buildReport(dir, { period: 'weekly' });
    expect(weekly.figures).toMatchObject({ periodPnl: equity[last] - 10_000, signals: { LONG: 16, SHORT: 16, FLAT: 16 }, fills: 3 });
    expect(() => buildReport(path.join(root, 'nowhere'), { period: 'daily' })).toThrow(/holds no paper or live session/);
  });

  it('a running session (no summary.json yet): the latest metrics come from its equity and trades so far, up to the report time', () => {
    const dir = path.join(root, 'report-running');
    const { equity } = makeSession(dir);
    expect(fs.existsSync(path.join(dir, 'summary.json'))).toBe(false);
    const report = buildReport(dir, { period: 'daily' });
    const last = equity.length - 1;
    const returns = equity.slice(1).map((e, i) => e / equity[i] - 1);
    expect(report.figures.metricsSource).toBe('session');
    expect(report.figures.metrics.totalReturn).toBeCloseTo(equity[last] / 10_000 - 1, 12);
    expect(report.figures.metrics.sharpe).toBeCloseTo(sharpeOfReturns(returns, 8760), 9);
    expect(report.figures.metrics.maxDrawdown).toBeCloseTo((10_090 - 9_900) / 10_090, 12);
    expect(report.figures.metrics).toMatchObject({ numTrades: 1, winRate: 1, finalEquity: equity[last] });
    expect(report.text).toContain(`metrics since start: totalReturn ${(equity[last] / 10_000 - 1).toFixed(3)}, sharpe ${sharpeOfReturns(returns, 8760).toFixed(3)}`);
    expect(report.text).toMatch(/numTrades 1$/m);
    expect(report.html).toContain('metrics since start');

    // as of an earlier time: only what had happened by then (the trade closes at row 40)
    const early = buildReport(dir, { period: 'daily', now: T0 + 35 * HOUR });
    expect(early.figures.metrics.totalReturn).toBeCloseTo(equity[35] / 10_000 - 1, 12);
    expect(early.figures.metrics.numTrades).toBe(0);
    expect(early.figures.metrics.sharpe).toBeCloseTo(sharpeOfReturns(returns.slice(0, 35), 8760), 9);

    // a summary.json from an earlier stop is stale: the session's own numbers win
    fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify({ metrics: { totalReturn: 0.5, sharpe: 9, numTrades: 7 } }));
    const resumed = buildReport(dir, { period: 'daily' });
    expect(resumed.figures.metrics.numTrades).toBe(1);
    expect(resumed.text).not.toContain('numTrades 7');
  });
});

describe('CLI', () => {
  it('alerts test, alerts flush and report, with credentials redacted', async () => {
    const dir = path.join(root, 'cli');
    fs.mkdirSync(dir, { recursive: true });
    const sessionDir = path.join(dir, 'session');
    makeSession(sessionDir);
    const alertsFile = path.join(dir, 'alerts.json');
    fs.writeFileSync(
      alertsFile,
      JSON.stringify({
        channels: { phone: { type: 'telegram', botToken: 'env:TELEGRAM_BOT_TOKEN', chatId: '77', apiUrl: chat.url }, team: { type: 'slack', webhookUrl: 'env:SLACK_WEBHOOK_URL' } },
        routes: { test: ['phone', 'team'], report: ['phone'] },
        retry: FAST_RETRY,
        queueDir: 'queue',
      }),
    );
    const env = { TELEGRAM_BOT_TOKEN: TOKEN, SLACK_WEBHOOK_URL: chat.slackWebhookUrl };

    let before = chat.messages.length;
    const ok = await cli(['alerts', 'test', alertsFile, '--message', 'hello from the test'], env);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('phone (telegram): delivered');
    expect(ok.stdout).toContain('team (slack): delivered');
    const received = chat.messages.slice(before);
    expect(received.map((m) => m.text)).toEqual(expect.arrayContaining(['candlelab test alert\n\nhello from the test', '*candlelab test alert*\nhello from the test']));

    await chat.setMode({ kind: 'status', status: 502 });
    const down = await cli(['alerts', 'test', alertsFile], env);
    await chat.setMode({ kind: 'up' });
    expect(down.status).toBe(1);
    expect(down.stdout).toMatch(/phone \(telegram\): queued in .*queue: telegram sendMessage: HTTP 502/);
    expect(down.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^candlelab: error: 2 channel\(s\) did not deliver .*candlelab alerts flush/)]);
    expect(down.stdout + down.stderr).not.toContain(TOKEN);

    before = chat.messages.length;
    const flushed = await cli(['alerts', 'flush', alertsFile], env);
    expect(flushed.status).toBe(0);
    expect(flushed.stdout).toContain('delivered 2, still queued 0');
    expect(chat.messages.length).toBe(before + 2);

    before = chat.messages.length;
    const out = path.join(dir, 'report.html');
    const reported = await cli(['report', sessionDir, '--period', 'weekly', '--alerts', alertsFile, '--out', out], env);
    expect(reported.status).toBe(0);
    expect(reported.stdout).toContain('paper BTC/USDT 1h weekly report: equity 10470.00');
    expect(reported.stdout).toContain('phone (telegram): delivered');
    const html = fs.readFileSync(out, 'utf8');
    expect(html).toContain('src="data:image/png;base64,');
    expect(html).toContain('LONG 16');
    const sent = chat.messages.slice(before);
    expect(sent.map((m) => m.method)).toEqual(['sendMessage', 'sendPhoto']);
    expect(pngSize(sent[1].photo!.content)).toEqual({ width: 640, height: 240 });

    const bad = await cli(['report', sessionDir], env);
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim()).toBe('candlelab: error: give --alerts <alerts.json> to send the report, --out <report.html> to write it, or both');
    const literal = path.join(dir, 'literal.json');
    fs.writeFileSync(literal, JSON.stringify({ channels: { phone: { type: 'telegram', botToken: TOKEN, chatId: '1' } }, routes: {} }));
    const refused = await cli(['alerts', 'test', literal], env);
    expect(refused.status).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toContain('holds a literal secret; move it into an environment variable');
    expect(refused.stderr).not.toContain(TOKEN);
    const help = await cli(['alerts', 'test', '--help']);
    expect(help.stdout).toContain('--kind <kind>');
  }, 120_000);

  it('candlelab schedule sends a report job to the --alerts channels, and records it in the history', async () => {
    const dir = path.join(root, 'schedule-report');
    fs.mkdirSync(dir, { recursive: true });
    makeSession(path.join(dir, 'session'));
    fs.writeFileSync(path.join(dir, 'alerts.json'), JSON.stringify({ channels: { phone: { type: 'telegram', botToken: 'env:TELEGRAM_BOT_TOKEN', chatId: '9', apiUrl: chat.url } }, routes: { '*': ['phone'] }, retry: FAST_RETRY, queueDir: 'queue' }));
    fs.writeFileSync(path.join(dir, 'schedule.json'), JSON.stringify({ jobs: [{ name: 'daily-report', cron: '0 8 * * *', kind: 'report', session: 'session', period: 'daily' }] }));
    const env = { TELEGRAM_BOT_TOKEN: TOKEN, CANDLELAB_RUNS_DIR: path.join(dir, 'runs') };
    const before = chat.messages.length;
    const run = await cli(['schedule', path.join(dir, 'schedule.json'), '--once', 'daily-report', '--alerts', path.join(dir, 'alerts.json')], env);
    expect(run.status, run.stderr).toBe(0);
    const sent = chat.messages.slice(before);
    expect(sent.map((m) => m.method)).toEqual(['sendMessage', 'sendPhoto']);
    expect(sent[0].text).toContain('daily report');
    expect(run.stdout + run.stderr).not.toContain(TOKEN);
    const history = await cli(['schedule', 'history', path.join(dir, 'schedule.json'), '--json'], env);
    const entries = JSON.parse(history.stdout);
    expect(entries.map((e: { job: string; outcome: string }) => [e.job, e.outcome])).toEqual([['daily-report', 'completed']]);
    // a report job on a folder without a session fails when the scheduler starts, in one line
    fs.writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ jobs: [{ name: 'r', cron: '0 8 * * *', kind: 'report', session: 'nowhere' }] }));
    const bad = await cli(['schedule', path.join(dir, 'bad.json'), '--once', 'r'], env);
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^candlelab: error: job 'r': \S+nowhere holds no paper or live session/);
  }, 120_000);

  it('CLI: no webhook URL or bot token in any output or file written while Slack is down (schedule, alerts flush, registry-free commands)', async () => {
    const dir = path.join(root, 'cli-redact');
    fs.mkdirSync(dir, { recursive: true });
    makeSession(path.join(dir, 'session'));
    fs.writeFileSync(
      path.join(dir, 'alerts.json'),
      JSON.stringify({ channels: { phone: { type: 'telegram', botToken: 'env:TELEGRAM_BOT_TOKEN', chatId: '9', apiUrl: chat.url }, team: { type: 'slack', webhookUrl: 'env:SLACK_WEBHOOK_URL' } }, routes: { '*': ['phone', 'team'] }, retry: FAST_RETRY, queueDir: 'queue' }),
    );
    fs.writeFileSync(path.join(dir, 'schedule.json'), JSON.stringify({ jobs: [{ name: 'daily-report', cron: '0 8 * * *', kind: 'report', session: 'session', period: 'daily' }] }));
    const env = { TELEGRAM_BOT_TOKEN: `${TOKEN}\n`, SLACK_WEBHOOK_URL: `${chat.slackWebhookUrl}\n`, CANDLELAB_RUNS_DIR: path.join(dir, 'runs') };
    const outputs: string[] = [];
    await chat.setMode({ kind: 'status', status: 502 });
    try {
      const run = await cli(['schedule', path.join(dir, 'schedule.json'), '--once', 'daily-report', '--alerts', path.join(dir, 'alerts.json')], env);
      outputs.push(run.stdout, run.stderr);
      expect(run.status, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/alerts: .*stays queued/);
      const test = await cli(['alerts', 'test', path.join(dir, 'alerts.json')], env);
      outputs.push(test.stdout, test.stderr);
      expect(test.status).toBe(1);
      expect(test.stdout).toMatch(/team \(slack\): queued in .*slack webhook: HTTP 502/);
    } finally {
      await chat.setMode({ kind: 'up' });
    }
    const flushed = await cli(['alerts', 'flush', path.join(dir, 'alerts.json')], env);
    outputs.push(flushed.stdout, flushed.stderr);
    expect(flushed.status, flushed.stderr).toBe(0);
    const history = await cli(['schedule', 'history', path.join(dir, 'schedule.json')], env);
    outputs.push(history.stdout, history.stderr);
    const written = filesUnder(dir).filter(({ file }) => !file.endsWith('.png'));
    // the queue held the failed deliveries; the history, the session and the queue are all scanned
    expect(written.some(({ file }) => file.includes(`${path.sep}runs${path.sep}`))).toBe(true);
    const secrets = [TOKEN, TOKEN.split(':')[1], chat.slackWebhookUrl, new URL(chat.slackWebhookUrl).pathname, new URL(chat.slackWebhookUrl).pathname.split('/').pop()!];
    for (const secret of secrets) {
      for (const text of outputs) expect(text).not.toContain(secret);
      for (const { file, text } of written) expect(text, file).not.toContain(secret);
    }
  }, 120_000);
});
