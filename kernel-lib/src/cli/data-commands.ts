import * as fs from 'node:fs';
import { type Command, Option } from 'commander';
import { ConfigError, DataError } from '../errors';
import { isoTime } from '../frame/frame';
import { openWorkspace } from '../workspace';
import { checkQuality } from '../quality/check-quality';
import { readCandlesFileRaw } from '../data/read-candles-file';
import { exportCandles, importCandlesFiles, writeCandlesFile } from '../data/import-export';
import { loadNamedCandles } from '../data/load-candles';
import { CANDLE_REPAIRS } from '../data/candle-validation';
import { describeStore, listStore, mergeIntoStore, parseStoreId, readStore, storeId, type StoreKey } from '../data/store';
import { resampleCandles } from '../features/resample';
import type { CsvFormat } from '../data/csv-file';

/** --repair drop: keep the rows that could be real when some candles cannot be (recorded in the store). */
export const repairOption = (): Option =>
  new Option('--repair <policy>', "'drop': leave out impossible candles (non-finite, price ≤ 0, volume < 0, high/low outside open/close) instead of refusing").choices([...CANDLE_REPAIRS]);

/** The store folder: --data-dir, else the workspace's (CANDLELAB_DATA_DIR, package.json, data/). */
function dataDirOf(options: { dataDir?: string }): string {
  return openWorkspace({ dataDir: options.dataDir }).dataDir;
}

function storeKeyOf(options: { exchange?: string; market?: string; symbol?: string; timeframe?: string }): StoreKey {
  for (const name of ['exchange', 'market', 'symbol', 'timeframe'] as const) {
    if (!options[name]) throw new ConfigError(`give --${name} (the store key is --exchange, --market spot|futures, --symbol BASE/QUOTE, --timeframe)`);
  }
  return { exchange: options.exchange!, market: options.market as StoreKey['market'], symbol: options.symbol!, timeframe: options.timeframe! };
}

/**
 * The `candlelab data` subcommands of the local store: import, export, check, list, resample. They
 * join the existing `data` command (sample) and share its error handling.
 */
export function registerDataCommands(program: Command): void {
  const data = program.commands.find((c) => c.name() === 'data') ?? program.command('data').description('market data');
  const dataDirOption = (): Option => new Option('--data-dir <dir>', 'the data store (default: <workspace>/data or CANDLELAB_DATA_DIR)');

  data
    .command('import')
    .description('import candle files (CSV with or without header, Binance kline dumps, Parquet, Arrow) into the store')
    .argument('<files...>', '.csv, .parquet or .arrow files; all are checked before anything is written')
    .requiredOption('--exchange <name>', 'exchange, e.g. binance')
    .addOption(new Option('--market <market>', 'spot or futures').choices(['spot', 'futures']).default('spot'))
    .requiredOption('--symbol <symbol>', 'symbol, e.g. BTC/USDT (BTC/USDT:USDT for a perpetual)')
    .requiredOption('--timeframe <tf>', 'bar length, e.g. 1m, 1h, 1d')
    .addOption(new Option('--format <format>', "CSV flavour: 'binance' forces Binance's kline rules").choices(['auto', 'generic', 'binance']).default('auto'))
    .addOption(repairOption())
    .addOption(dataDirOption())
    .option('--json', 'print the import report as JSON')
    .action((files: string[], options) => {
      const key = storeKeyOf(options);
      const report = importCandlesFiles(files, key, { dataDir: dataDirOf(options), format: options.format as CsvFormat, repair: options.repair });
      if (options.json) return console.log(JSON.stringify(report, null, 2));
      const rows = report.files.reduce((sum, f) => sum + f.rows, 0);
      console.log(`imported ${rows} rows from ${report.files.length} file(s) into ${storeId(key)} (${isoTime(report.first)} … ${isoTime(report.last)})`);
      console.log(`  added ${report.merge.added}, replaced ${report.merge.replaced}, total ${report.merge.total}${report.duplicatesDropped ? `; ${report.duplicatesDropped} exact duplicate row(s) dropped` : ''}${report.sorted ? '; rows were sorted by time' : ''}`);
      if (report.repaired.rows) console.log(`  --repair drop left out ${report.repaired.rows} impossible candle(s), first at ${report.repaired.first.join(', ')} (recorded in the store's metadata)`);
    });

  data
    .command('export')
    .description('export candles from the store (or a file) to .csv, .parquet or .arrow')
    .argument('<source>', 'a store id <exchange>/<market>/<BASE-QUOTE>/<timeframe>, or a file')
    .requiredOption('--out <file>', 'output file: .csv, .parquet or .arrow (written atomically)')
    .addOption(dataDirOption())
    .action((source: string, options) => {
      const result = exportCandles(source, options.out, dataDirOf(options));
      console.log(`wrote ${result.rows} rows → ${result.file}`);
    });

  data
    .command('check')
    .description('check candles for NaN, broken OHLC, negative volume, duplicate or unordered times, gaps and outlier candles')
    .argument('<source>', 'a .csv/.parquet/.arrow file or a store id <exchange>/<market>/<BASE-QUOTE>/<timeframe>')
    .option('--timeframe <tf>', 'bar length, for the gap check (e.g. 1h; default: from the data)')
    .option('--outlier-z <z>', 'robust z-score above which a return or range is an outlier', (v) => Number(v), 40)
    .addOption(dataDirOption())
    .option('--json', 'print the report as JSON')
    .action((source: string, options) => {
      // Files are checked as stored (duplicates and unordered rows are findings, not read errors).
      const key = fs.existsSync(source) ? undefined : parseStoreId(source);
      const stored = key ? readStore(key, dataDirOf(options)) : undefined;
      if (key && !stored) throw new DataError(`${source} is not in the store; ${describeStore(dataDirOf(options))}`);
      const raw = stored ?? readCandlesFileRaw(source, { symbol: 'UNKNOWN', timeframe: options.timeframe ?? 'unknown', source });
      const report = checkQuality(raw, { timeframe: options.timeframe, outlierZ: options.outlierZ });
      if (options.json) console.log(JSON.stringify(report, null, 2));
      else {
        console.log(`${source}: ${report.rows} rows, ${report.start} … ${report.end}: ${report.ok ? 'ok' : 'NOT USABLE'}`);
        for (const issue of report.issues) {
          console.log(`  ${issue.severity} ${issue.kind}: ${issue.count}${issue.detail ? ` (${issue.detail})` : ''}, first at ${issue.first.join(', ')}`);
        }
      }
      if (!report.ok) process.exitCode = 1;
    });

  data
    .command('list')
    .description('list the candles in the store: id, rows, first and last bar')
    .addOption(dataDirOption())
    .option('--json', 'print the list as JSON')
    .action((options) => {
      const dataDir = dataDirOf(options);
      const entries = listStore(dataDir);
      if (options.json) return console.log(JSON.stringify(entries, null, 2));
      if (entries.length === 0) return console.log(`the store (${dataDir}) is empty; import files with candlelab data import`);
      for (const entry of entries) console.log(`${storeId(entry).padEnd(40)} ${String(entry.rows).padStart(10)} rows  ${isoTime(entry.first)} … ${isoTime(entry.last)}`);
    });

  data
    .command('resample')
    .description('resample candles to longer timeframes (UTC buckets); a store id source writes the results into the store')
    .argument('<source>', 'a store id <exchange>/<market>/<BASE-QUOTE>/<timeframe>, or a file')
    .requiredOption('--to <timeframes>', 'comma-separated target timeframes, e.g. 5m,15m,1h,4h,1d')
    .option('--out <file>', 'with one target: write it to this file instead of the store (.csv, .parquet, .arrow)')
    .addOption(dataDirOption())
    .action((source: string, options) => {
      const dataDir = dataDirOf(options);
      const targets = String(options.to).split(',').map((t) => t.trim()).filter(Boolean);
      const key = fs.existsSync(source) ? undefined : parseStoreId(source);
      const candles = key ? readStore(key, dataDir) : loadNamedCandles(source, { dataDir });
      if (!candles) throw new DataError(`${source} is not in the store; ${describeStore(dataDir)}`);
      if (options.out && targets.length !== 1) throw new ConfigError('--out takes one target timeframe; drop --out to write several into the store');
      if (!key && !options.out) throw new ConfigError('a file source needs --out (only store ids resample into the store)');
      for (const timeframe of targets) {
        // 'edges': buckets cut by the data's first or last bar are dropped, every stored bar is whole.
        const resampled = resampleCandles(candles, timeframe, 'edges').candles;
        if (options.out) {
          writeCandlesFile(options.out, resampled);
          console.log(`wrote ${resampled.length} ${timeframe} bars → ${options.out}`);
        } else {
          const target = { ...key!, timeframe };
          const merge = mergeIntoStore(target, resampled, dataDir);
          console.log(`${storeId(target)}: ${resampled.length} bars (added ${merge.added}, replaced ${merge.replaced}, total ${merge.total})`);
        }
      }
    });
}
