import { Command, Option } from 'commander';
import { isoTime } from '../frame/frame';
import { openWorkspace } from '../workspace';
import { fetchCandles } from '../data/exchange/fetch-candles';
import { formatStreamedCandle, streamCandles } from '../data/exchange/stream-candles';
import { addCoins, formatAddedCoin } from '../runner/add-coins';
import { addJobOptions, cancelOnSigint, jobRunnerFromOptions } from './jobs-commands';
import { repairOption } from './data-commands';
import { positiveInt } from './option-parsers';


const marketOption = (): Option => new Option('--market <market>', 'spot or USDⓈ-M perpetual futures').choices(['spot', 'futures']).default('spot');
const apiUrlOption = (): Option => new Option('--api-url <url>', "replace the exchange's REST and websocket hosts (e.g. a local stand-in such as the fake exchange)");

/**
 * Market-data commands on the exchanges: `data fetch`, `data stream` (under the existing `data`
 * command) and `coin add`.
 */
export function registerExchangeCommands(program: Command): void {
  const data = program.commands.find((c) => c.name() === 'data') ?? program.command('data').description('market data');

  data
    .command('fetch')
    .description('download candles from a ccxt exchange into the store (resumable; funding and open interest too on futures)')
    .argument('<exchange>', 'ccxt exchange id, e.g. binance')
    .argument('<symbol>', 'e.g. BTC/USDT (on futures: the USDT perpetual)')
    .argument('<timeframe>', 'e.g. 1m, 1h, 1d')
    .requiredOption('--from <date>', 'first candle, e.g. 2024-01-01 or 2024-01-01T12:00:00Z (UTC)')
    .option('--to <date>', "end, exclusive (default: the exchange's now; candles still forming are never stored)")
    .addOption(marketOption())
    .addOption(apiUrlOption())
    .option('--page-size <n>', "candles per request (default: the exchange's page limit)", positiveInt('--page-size'))
    .option('--no-extras', 'skip funding-rate and open-interest history on futures')
    .addOption(repairOption())
    .option('--data-dir <dir>', 'the data store (default: <workspace>/data)')
    .option('--json', 'print the result as JSON')
    .addOption(new Option('--progress <mode>', 'progress display').choices(['auto', 'bar', 'lines', 'quiet']).default('auto'))
    .action(async (exchange: string, symbol: string, timeframe: string, options) => {
      const result = await fetchCandles({
        exchange,
        symbol,
        timeframe,
        market: options.market,
        from: options.from,
        to: options.to,
        apiUrl: options.apiUrl,
        pageSize: options.pageSize,
        extras: options.extras,
        repair: options.repair,
        dataDir: openWorkspace({ dataDir: options.dataDir }).dataDir,
        progress: options.progress,
      });
      if (options.json) {
        console.log(JSON.stringify(result, null, 2));
        return;
      }
      console.log(`${result.storeId}: ${result.added} new candles, ${result.total} stored (${result.first ?? '—'} … ${result.last ?? '—'}) in ${result.pages} pages, ${result.seconds.toFixed(1)} s`);
      console.log(`  file: ${result.file}`);
      if (result.repaired.rows) console.log(`  --repair drop left out ${result.repaired.rows} impossible candle(s), first at ${result.repaired.first.join(', ')} (recorded in the store's metadata)`);
      for (const [name, series] of [['funding', result.funding], ['open interest', result.openInterest]] as const) {
        if (!series) continue;
        console.log('error' in series ? `  ${name}: not stored (${series.error})` : `  ${name}: ${series.added} new rows, ${series.total} stored`);
      }
    });

  data
    .command('stream')
    .description('stream closed candles over a websocket into the store (reconnects and backfills holes); Ctrl-C stops')
    .argument('<exchange>', 'ccxt exchange id, e.g. binance')
    .argument('<symbol>', 'e.g. BTC/USDT')
    .argument('<timeframe>', 'e.g. 1m')
    .addOption(marketOption())
    .addOption(apiUrlOption())
    .addOption(new Option('--mode <mode>', 'candle stream, or trades aggregated into candles').choices(['auto', 'ohlcv', 'trades']).default('auto'))
    .option('--max-candles <n>', 'stop after N closed candles', positiveInt('--max-candles'))
    .option('--from <date>', 'backfill from this date first (default: after the last stored candle)')
    .addOption(repairOption())
    .option('--data-dir <dir>', 'the data store (default: <workspace>/data)')
    .option('--json', 'print each candle as a JSON line')
    .action(async (exchange: string, symbol: string, timeframe: string, options) => {
      const controller = new AbortController();
      const stop = (): void => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      let count = 0;
      try {
        for await (const candle of streamCandles({
          exchange,
          symbol,
          timeframe,
          market: options.market,
          apiUrl: options.apiUrl,
          mode: options.mode,
          maxCandles: options.maxCandles,
          backfillFrom: options.from,
          repair: options.repair,
          dataDir: openWorkspace({ dataDir: options.dataDir }).dataDir,
          signal: controller.signal,
          onEvent: (event) => {
            if (event.kind === 'disconnected') console.error(`disconnected (${event.error}); reconnecting in ${event.delayMs} ms (attempt ${event.attempt})`);
            else if (event.kind === 'subscribed') console.error(`streaming ${exchange} ${symbol} ${timeframe} (${event.mode})`);
            else if (event.candles > 0) console.error(`backfilled ${event.candles} candles through REST up to ${isoTime(event.to)}`);
          },
        })) {
          count++;
          console.log(options.json ? JSON.stringify(candle) : formatStreamedCandle(candle));
        }
      } finally {
        process.removeListener('SIGINT', stop);
        process.removeListener('SIGTERM', stop);
      }
      console.error(`stopped after ${count} closed candles`);
    });

  const coin = program.command('coin').summary('add coins: download to training').description('coins: download, check, features, spec and training in one command');
  const add = coin
    .command('add')
    .description('add one or many coins: download → quality check → features → spec (specs/coins/) → training (optional)')
    .argument('<symbol...>', 'symbols, e.g. BTC/USDT ETH/USDT')
    .option('--exchange <id>', 'ccxt exchange id', 'binance')
    .addOption(marketOption())
    .option('--timeframe <tf>', 'bar length', '1h')
    .option('--from <date>', 'first candle (default: one year before --to)')
    .option('--to <date>', "end, exclusive (default: the exchange's now)")
    .addOption(apiUrlOption())
    .option('--no-train', 'skip training')
    .option('--spec <file.json>', 'the base spec (default: specs/quickstart.json)')
    .option('--specs-dir <dir>', "where each coin's spec goes (default: specs/coins)")
    .option('--data-dir <dir>', 'the data store (default: <workspace>/data)')
    .option('--runs-dir <dir>', 'where run folders go (default: <workspace>/runs)')
    .option('--models-dir <dir>', 'the model registry (default: <workspace>/models)')
    .addOption(new Option('--progress <mode>', 'progress display').choices(['auto', 'bar', 'lines', 'quiet']).default('auto'))
    .option('--json', 'print the results as JSON');
  addJobOptions(add, 'train the coins in this many processes, after the downloads (default 1, in this process)').action(async (symbols: string[], options) => {
      const runner = await jobRunnerFromOptions(options);
      const stop = runner ? cancelOnSigint('coin add') : undefined;
      stop?.signal.addEventListener('abort', () => void runner!.cancel());
      const results = await addCoins({
        runner,
        symbols,
        exchange: options.exchange,
        market: options.market,
        timeframe: options.timeframe,
        from: options.from,
        to: options.to,
        apiUrl: options.apiUrl,
        train: options.train,
        baseSpec: options.spec,
        specsDir: options.specsDir,
        dataDir: options.dataDir,
        runsDir: options.runsDir,
        modelsDir: options.modelsDir,
        progress: options.progress,
      }).finally(() => {
        stop?.dispose();
        return runner?.close();
      });
      if (options.json) console.log(JSON.stringify(results, null, 2));
      else for (const r of results) console.log(formatAddedCoin(r));
      const failed = results.filter((r) => !r.ok);
      if (failed.length) {
        console.error(`candlelab: error: ${failed.length} of ${results.length} coins failed: ${failed.map((r) => `${r.symbol} (${r.error})`).join('; ')}`);
        process.exitCode = 1;
      }
    });
}
