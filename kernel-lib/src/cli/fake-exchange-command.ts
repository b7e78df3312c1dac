import { Command } from 'commander';
import { ConfigError } from '../errors';
import { untilStopped } from './until-stopped';
import { isoTime } from '../frame/frame';
import { generateSyntheticCandles } from '../data/synthetic';
import { startFakeExchange } from '../testing/fake-exchange';
import { API_KEY_ENV, API_SECRET_ENV } from '../trading/keys';
import { nonNegative, positiveInt } from './option-parsers';

/**
 * `candlelab fake-exchange`: the test suite's Binance stand-in as a command, so paper and live trading
 * can be tried offline with the README's commands: it serves the seeded sample market on 127.0.0.1 (REST
 * and websocket streams, signed spot trading) and moves its clock one candle every `--advance-every` ms.
 */
export function registerFakeExchangeCommand(program: Command): void {
  program
    .command('fake-exchange')
    .summary('a local Binance stand-in serving the sample market, for trying paper and live trading offline')
    .description(
      'Serve the seeded sample market (BTC/USDT, spot and USDⓈ-M futures) on 127.0.0.1 with Binance\'s REST and websocket formats, its clock moving one candle ' +
        'every --advance-every ms. Point candlelab at it with --api-url. With --account, an account with the keys in CANDLELAB_API_KEY / CANDLELAB_API_SECRET ' +
        'and 10,000 USDT takes signed orders (candlelab live --live). Ctrl-C stops it.',
    )
    .option('--port <n>', 'port (default: any free one; the URL is printed)', nonNegative('--port'), 0)
    .option('--timeframe <tf>', 'candle timeframe of the market', '1h')
    .option('--bars <n>', 'candles in the market', positiveInt('--bars'), 26_280)
    .option('--seed <n>', 'seed of the sample market (the quickstart spec trains on seed 42)', nonNegative('--seed'), 42)
    .option('--start-bar <n>', 'the clock starts at the close of this candle', nonNegative('--start-bar'), 20_000)
    .option('--advance-every <ms>', 'real milliseconds per candle of market time (0: the clock stands still)', nonNegative('--advance-every'), 50)
    .option('--account', `add a trading account with the keys in ${API_KEY_ENV} / ${API_SECRET_ENV} and 10,000 USDT`)
    .action(async (options) => {
      const candles = generateSyntheticCandles({ seed: options.seed, bars: options.bars, timeframe: options.timeframe, start: '2021-01-01T00:00:00Z' });
      if (options.startBar >= candles.length) throw new ConfigError(`--start-bar ${options.startBar} is past the market's ${candles.length} candles`);
      const accounts = [];
      if (options.account) {
        const apiKey = process.env[API_KEY_ENV];
        const secret = process.env[API_SECRET_ENV];
        if (!apiKey || !secret) throw new ConfigError(`--account needs ${API_KEY_ENV} and ${API_SECRET_ENV} in the environment (any values: they are this exchange's keys)`);
        accounts.push({ apiKey, secret, balances: { USDT: 10_000, BTC: 0 } });
      }
      const step = candles.time[1] - candles.time[0];
      const fake = await startFakeExchange({
        datasets: ['spot', 'futures'].map((market) => ({ market: market as 'spot' | 'futures', symbol: 'BTC/USDT', timeframe: options.timeframe, candles })),
        now: candles.time[options.startBar] + step,
        accounts,
        port: options.port,
        ...(options.advanceEvery > 0 ? { autoAdvance: { everyMs: options.advanceEvery, stepMs: step } } : {}),
      });
      console.log(fake.url);
      console.error(
        `fake exchange on ${fake.url}: BTC/USDT ${options.timeframe} (spot and futures), ${candles.length} candles from ${isoTime(candles.time[0])}, clock at ${isoTime(fake.now)}` +
          `${options.advanceEvery > 0 ? `, one candle every ${options.advanceEvery} ms` : ''}${accounts.length ? '; trading account ready' : ''}. Ctrl-C stops it.`,
      );
      await untilStopped();
      await fake.close();
    });
}
