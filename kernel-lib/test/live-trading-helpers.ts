import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { startFakeExchange, type FakeExchange, type FakeSymbolFilters } from '../src/testing';
import { LiveTrader, type LiveTraderOptions } from '../src/trading';

/** Random per run, so a leak in any output is unmistakable. */
export const KEY = 'ktest' + crypto.randomBytes(20).toString('hex');
export const SECRET = 'stest' + crypto.randomBytes(24).toString('hex');
export const KEY_ENV = { CANDLELAB_API_KEY: KEY, CANDLELAB_API_SECRET: SECRET };
export const HOUR = 3_600_000;
export const DAY = 86_400_000;
export const PRICE = 20_000;

export const candles = generateSyntheticCandles({ seed: 11, bars: 200, timeframe: '1h', start: '2022-01-01T00:00:00Z' });
/** Decision times: candle closes well inside the dataset's span (UTC day 2022-01-03 and on). */
export const T0 = Date.parse('2022-01-03T00:00:00Z');

/** A fake Binance with one account (10 000 USDT by default) and the BTC/USDT price fixed at 20 000. */
export async function startFake(options: { balances?: Record<string, number>; filters?: FakeSymbolFilters } = {}): Promise<FakeExchange> {
  const fake = await startFakeExchange({
    datasets: [{ market: 'spot', symbol: 'BTC/USDT', timeframe: '1h', candles, filters: options.filters }],
    accounts: [{ apiKey: KEY, secret: SECRET, balances: options.balances ?? { USDT: 10_000, BTC: 0 } }],
  });
  fake.setPrice('BTC/USDT', PRICE);
  return fake;
}

/** Open a live trader on the fake exchange, keys from the (test) environment, fast retries. */
export function openTrader(fake: FakeExchange, stateDir: string, extra: Partial<LiveTraderOptions> & { logs?: string[] } = {}): Promise<LiveTrader> {
  const { logs, ...rest } = extra;
  return LiveTrader.open({
    connection: { apiUrl: fake.url, rateLimitMs: 1, timeoutMs: 3000 },
    symbol: 'BTC/USDT',
    stateDir,
    dryRun: false,
    keys: { env: KEY_ENV },
    logger: (line) => logs?.push(line),
    retry: { retries: 3, baseDelayMs: 5, maxDelayMs: 20 },
    ...rest,
  });
}

/** Every file under `dir`, recursively. */
export function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

/** Occurrences of the test key and secret in `text`. */
export function secretCount(text: string): number {
  return text.split(KEY).length - 1 + (text.split(SECRET).length - 1);
}
