import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FakeExchange, FakeRequest } from '../src/testing';
import { loadState, type LiveTrader } from '../src/trading';
import { ROOT, tempDir } from './helpers';
import { HOUR, KEY, KEY_ENV, PRICE, T0, openTrader, startFake } from './live-trading-helpers';

/**
 * A trading process killed with SIGKILL at the worst moment — the exchange has accepted its order but
 * the process has not seen the answer, let alone persisted it — and restarted: reconciliation settles
 * the order, nothing is sent twice, and the position equals the exchange's.
 */

const DIST = path.join(ROOT, 'kernel-lib', 'dist', 'trading', 'index.js');
/** The bot: open, one decision, exit. Uses the built library, as the CLI will. */
const BOT = `
const { LiveTrader } = require(${JSON.stringify(DIST)});
(async () => {
  const trader = await LiveTrader.open({
    connection: { apiUrl: process.env.FAKE_URL, rateLimitMs: 1, timeoutMs: 60000 },
    symbol: 'BTC/USDT',
    stateDir: process.env.STATE_DIR,
    dryRun: false,
    logger: (line) => process.stdout.write(line + '\\n'),
  });
  const record = await trader.onDecision({ time: Number(process.env.DECISION_TIME), target: 0.5, price: ${PRICE} });
  process.stdout.write('RESULT ' + JSON.stringify(record) + '\\n');
  await trader.close();
})().catch((error) => {
  process.stderr.write(String(error && error.message) + '\\n');
  process.exit(1);
});
`;

let script: string;
beforeAll(() => {
  if (!fs.existsSync(DIST)) throw new Error(`${DIST} is missing; build first: node node_modules/typescript/bin/tsc -b kernel-lib`);
  script = path.join(tempDir('live-crash-bot'), 'bot.js');
  fs.writeFileSync(script, BOT);
});

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function startBot(fake: FakeExchange, stateDir: string, time: number): ChildProcess {
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...KEY_ENV, FAKE_URL: fake.url, STATE_DIR: stateDir, DECISION_TIME: String(time) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanup.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}

/** Resolves with the first request matching `match` (event-driven: the fake exchange emits each request). */
function nextRequest(fake: FakeExchange, match: (r: FakeRequest) => boolean): Promise<FakeRequest> {
  return new Promise((resolve) => {
    const listener = (r: FakeRequest): void => {
      if (!match(r)) return;
      fake.off('request', listener);
      resolve(r);
    };
    fake.on('request', listener);
  });
}

async function killNow(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  const [code, signal] = await exited;
  expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' });
}

async function fake(): Promise<FakeExchange> {
  const f = await startFake();
  cleanup.push(() => f.close());
  return f;
}

async function reopen(f: FakeExchange, stateDir: string): Promise<LiveTrader> {
  const t = await openTrader(f, stateDir);
  cleanup.push(() => t.close());
  return t;
}

const btc = (f: FakeExchange): number => f.balances(KEY).BTC.free + f.balances(KEY).BTC.locked;
const isOrderPost = (r: FakeRequest): boolean => r.method === 'POST' && r.path === '/api/v3/order';

describe('SIGKILL mid-session and restart', () => {
  it('killed after the exchange accepted the order, before the answer: the restart adopts the fill, sends nothing twice', async () => {
    const f = await fake();
    const dir = tempDir('live-crash-accepted');
    // The exchange records and fills the order, then never answers: the bot is frozen right there.
    f.fault('POST /api/v3/order', { kind: 'acceptThenHang' });
    const accepted = once(f, 'order');
    const child = startBot(f, dir, T0);
    const [order] = await accepted;
    await killNow(child);

    // On disk: the order was persisted as "sending" before it left; its result never was.
    const crashed = loadState(dir)!;
    expect(Object.values(crashed.orders)).toMatchObject([{ clientOrderId: order.clientOrderId, status: 'sending' }]);
    expect(crashed.balances.base).toBe(0);

    const t = await reopen(f, dir);
    expect(t.reconciliation?.settled).toEqual([{ clientOrderId: order.clientOrderId, status: 'filled', filled: 0.25 }]);
    expect(t.status().position).toBeCloseTo(btc(f), 10);
    expect(t.status().balances.quote).toBeCloseTo(f.balances(KEY).USDT.free, 8);
    // The same decision again (the engine replays the candle): already at target, nothing sent.
    const again = await t.onDecision({ time: T0, target: 0.5, price: PRICE });
    expect(again.action).toBe('skipped');
    expect(f.orders()).toHaveLength(1);
    expect(f.requests.filter(isOrderPost)).toHaveLength(1);
    expect(t.status().nextSeq).toBe(2);
  });

  it('killed before the exchange processed the order: the restart marks it not sent and never reuses its id', async () => {
    const f = await fake();
    const dir = tempDir('live-crash-unsent');
    // The request arrives but is never processed (the exchange is stuck before its matching engine).
    f.fault('POST /api/v3/order', { kind: 'hang' });
    const arrived = nextRequest(f, isOrderPost);
    const child = startBot(f, dir, T0);
    const request = await arrived;
    await killNow(child);
    const firstId = new URLSearchParams(request.body).get('newClientOrderId');
    expect(f.orders()).toHaveLength(0);

    const t = await reopen(f, dir);
    expect(t.reconciliation?.settled).toEqual([{ clientOrderId: firstId, status: 'not-sent', filled: 0 }]);
    const r = await t.onDecision({ time: T0 + HOUR, target: 0.5, price: PRICE });
    expect(r.action).toBe('sent');
    expect(r.order!.clientOrderId).not.toBe(firstId);
    expect(r.order!.clientOrderId).toBe(firstId!.replace(/-1$/, '-2'));
    expect(f.orders()).toHaveLength(1);
    expect(t.status().position).toBeCloseTo(btc(f), 10);
  });

  it('a bot run to completion and restarted finds nothing to settle', async () => {
    const f = await fake();
    const dir = tempDir('live-crash-clean');
    const child = startBot(f, dir, T0);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(out).toMatch(/RESULT \{"time":\d+,"action":"sent"/);
    expect(out).not.toContain(KEY);
    const t = await reopen(f, dir);
    expect(t.reconciliation?.settled).toEqual([]);
    expect(t.status().position).toBeCloseTo(btc(f), 10);
    expect(f.orders()).toHaveLength(1);
  });
});
