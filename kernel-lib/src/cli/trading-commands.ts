import * as path from 'node:path';
import { Command, Option } from 'commander';
import { ConfigError } from '../errors';
import { runPaperSession, type PaperSessionOptions } from '../trading/paper-session';
import { paperParity } from '../trading/parity';

const positiveInt = (name: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`${name} '${value}' must be a positive whole number`);
  return n;
};
const nonNegative = (name: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new ConfigError(`${name} '${value}' must be a number ≥ 0`);
  return n;
};

/** The options paper and live share: what to trade, where, and for how long. */
export function sessionOptions(command: Command): Command {
  return command
    .argument('[spec]', 'spec file (its registered model in production is used unless --model names one)')
    .option('--model <name[@stage|@version]>', 'the registry model to trade with (its run supplies the spec when no spec file is given)')
    .option('--exchange <id>', 'ccxt exchange id', 'binance')
    .option('--symbol <symbol>', "market symbol (default: the spec's)")
    .option('--timeframe <tf>', "candle timeframe (default: the spec's; it must match the model's)")
    .addOption(new Option('--market <market>', 'spot or USDⓈ-M perpetual futures').choices(['spot', 'futures']).default('spot'))
    .option('--api-url <url>', "replace the exchange's REST and websocket hosts (e.g. the fake exchange)")
    .option('--cash <amount>', "starting cash (default: the spec's backtest.initialCash)", nonNegative('--cash'))
    .option('--latency <ms>', 'order latency in the simulated venue (a latency under one bar fills at the next open, as a backtest)', nonNegative('--latency'))
    .option('--max-participation <share>', "cap each fill at this share of the previous bar's volume", nonNegative('--max-participation'))
    .option('--max-candles <n>', 'stop after N candles that close after the start', positiveInt('--max-candles'))
    .option('--until <date>', 'stop at the first candle closing at or after this time (UTC)')
    .option('--warmup <n>', 'history candles before trading starts (default: twice what features and strategy need, + 100)', positiveInt('--warmup'))
    .option('--dir <folder>', 'the session folder: resumed if it holds a session (default: runs/paper-<model>-<time>)')
    .option('--set <path=value>', 'override a spec value (repeatable)', (value: string, previous: string[] = []) => [...previous, value])
    .option('--json', 'print each candle as a JSON line, and the result as JSON');
}

/** The options of a session from the command line, checked once. */
export function sessionFromOptions(spec: string | undefined, options: Record<string, any>): PaperSessionOptions {
  if (options.maxCandles !== undefined && options.until !== undefined) throw new ConfigError('give --max-candles or --until, not both');
  if (!spec && !options.model && !options.dir) throw new ConfigError('give a spec file, --model name[@stage], or --dir <session> to resume');
  return {
    spec,
    model: options.model,
    exchange: options.exchange,
    symbol: options.symbol,
    timeframe: options.timeframe,
    market: options.market,
    apiUrl: options.apiUrl,
    cash: options.cash,
    latencyMs: options.latency,
    maxParticipation: options.maxParticipation,
    maxCandles: options.maxCandles,
    until: options.until,
    warmup: options.warmup,
    dir: options.dir,
    overrides: options.set,
  };
}

/** `candlelab paper` and `candlelab parity`. */
export function registerTradingCommands(program: Command): void {
  sessionOptions(
    program
      .command('paper')
      .summary('paper-trade a registered model on live candles (simulated fills)')
      .description(
        'Paper trading: stream closed candles (backfilled after disconnects), update the features, predict with the registry model, decide, and fill on a simulated venue ' +
          "with the spec's fees and slippage and the exchange's lot, tick and minimum-notional rules. Every decision and fill is appended to the session folder as it happens; " +
          'run it again with --dir to resume after a stop or a crash. Ctrl-C stops cleanly.',
      ),
  ).action(async (spec: string | undefined, options) => {
    const controller = new AbortController();
    const stop = (): void => controller.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      const result = await runPaperSession({
        ...sessionFromOptions(spec, options),
        signal: controller.signal,
        log: options.json ? (line) => process.stderr.write(line + '\n') : undefined,
        onEvent: options.json ? (event) => event.kind === 'candle' && console.log(JSON.stringify({ ...event.decision, fills: event.fills, equity: event.equity, position: event.position })) : undefined,
      });
      if (options.json) console.log(JSON.stringify(result));
      else {
        console.log(`paper session ${path.relative(process.cwd(), result.dir) || '.'}: ${result.stopReason}`);
        console.log(`  candles ${result.candles} (${result.liveCandles} traded this run)   fills ${result.fills}   trades ${result.trades}   equity ${result.equity.toFixed(2)}   position ${result.position}`);
        console.log(`  report: ${path.relative(process.cwd(), path.join(result.dir, 'report.html'))}   parity: candlelab parity ${path.relative(process.cwd(), result.dir)}`);
      }
    } finally {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
    }
  });

  program
    .command('parity')
    .summary('backtest the candles a paper session saw and list every difference')
    .description('Backtest exactly the candles a paper session saw, with the same model, strategy and settings, through the batch path, and list every difference (missing or extra fills and trades, time and price differences). Exits 1 when a difference is unexplained.')
    .argument('<paper-run>', 'the paper session folder')
    .option('--json', 'print the report as JSON')
    .action(async (dir: string, options) => {
      const report = await paperParity(dir);
      if (options.json) {
        const { backtest: _backtest, ...rest } = report;
        console.log(JSON.stringify(rest, null, 2));
      } else {
        console.log(`parity ${path.relative(process.cwd(), report.dir) || '.'}: ${report.candles} candles (${report.liveCandles} live, ${report.missedCandles} missed)`);
        console.log(`  fills  session ${report.fills.session}, backtest ${report.fills.backtest}, identical ${report.fills.matched}`);
        console.log(`  trades session ${report.trades.session}, backtest ${report.trades.backtest}, identical ${report.trades.matched}`);
        console.log(`  largest prediction difference (streamed vs batch features) ${report.predictionDifference.toExponential(2)}`);
        if (report.differences.length === 0) console.log('  no differences');
        for (const d of report.differences) console.log(`  ${d.explained ? 'explained  ' : 'DIFFERENCE '} ${d.kind.padEnd(6)} ${d.time}  ${d.detail}${d.explained ? ` — ${d.explained}` : ''}`);
        console.log(report.unexplained === 0 ? '  parity: every difference is explained' : `  parity: ${report.unexplained} unexplained difference(s)`);
      }
      if (report.unexplained > 0) process.exitCode = 1;
    });
}
