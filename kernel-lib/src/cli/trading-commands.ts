import * as path from 'node:path';
import { Command, Option } from 'commander';
import { ConfigError } from '../errors';
import * as fs from 'node:fs';
import { runPaperSession, type PaperSessionOptions, type SessionInfo } from '../trading/paper-session';
import { paperParity } from '../trading/parity';
import { LiveTrader, type LiveTraderOptions } from '../trading/live-trader';
import { confirmLive } from '../trading/confirm';
import { validateRails, type RampStep, type TradingRails } from '../trading/rails';
import { writeFileAtomic } from '../util/atomic';
import { collect, nonNegative, positiveInt } from './option-parsers';
import { openAlerts, type AlertsService } from '../services/alerts/open-alerts';
import { withRedactedOutput } from './alert-commands';


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
    .option('--set <path=value>', 'override a spec value (repeatable)', collect)
    .option('--alerts <alerts.json>', 'send fills, risk-monitor actions, kill-switch events, model swaps and errors to the channels of this alerts file (Telegram, Slack, e-mail)')
    .option('--json', 'print each candle as a JSON line, and the result as JSON');
}

/** The options of a session from the command line, checked once. */
export function sessionFromOptions(spec: string | undefined, options: Record<string, any>): PaperSessionOptions & { alerts?: AlertsService } {
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
    // channels and credentials are checked here, before the session starts
    ...(options.alerts ? { alerts: openAlerts(options.alerts, { log: (line) => process.stderr.write(`alerts: ${line}\n`) }) } : {}),
  };
}

/** `--ramp-up 0d:0.1,3d:0.5,7d:1` (days) or `0t:0.1,20t:1` (trades) → ramp steps. */
export function parseRampUp(text: string): RampStep[] {
  return text.split(',').map((part) => {
    const match = /^(\d+(?:\.\d+)?)([dt]):(\d*\.?\d+)$/.exec(part.trim());
    if (!match) throw new ConfigError(`--ramp-up '${part}' must look like 3d:0.5 (after 3 days, half the capital) or 20t:1 (after 20 trades, all of it)`);
    const after = Number(match[1]);
    const fraction = Number(match[3]);
    return match[2] === 'd' ? { afterDays: after, fraction } : { afterTrades: after, fraction };
  });
}

/** The live rails from the command line (validated again by LiveTrader). */
function railsFromOptions(options: Record<string, any>): TradingRails {
  return {
    ...(options.maxPosition !== undefined ? { maxPositionBase: options.maxPosition } : {}),
    ...(options.maxPositionValue !== undefined ? { maxPositionQuote: options.maxPositionValue } : {}),
    ...(options.maxOrderValue !== undefined ? { maxOrderValue: options.maxOrderValue } : {}),
    ...(options.maxDailyLoss !== undefined ? { maxDailyLossFraction: options.maxDailyLoss } : {}),
    ...(options.maxDailyLossValue !== undefined ? { maxDailyLossQuote: options.maxDailyLossValue } : {}),
    ...(options.maxOrdersPerMinute !== undefined ? { maxOrdersPerMinute: options.maxOrdersPerMinute } : {}),
    ...(options.rampUp !== undefined ? { rampUp: parseRampUp(options.rampUp) } : {}),
  };
}

/** A live session's trader state lives in <session>/live/ (state.json, journal.jsonl, KILL, rails.json). */
const traderDir = (dir: string): string => path.join(dir, 'live');

/**
 * The rails a session trades under, kept in <session>/live/rails.json so a resume (`--dir`) keeps them:
 * rails given on the command line replace the saved set; none given, the saved set applies.
 */
export function sessionRails(stateDir: string, given: TradingRails): { rails: TradingRails; source: 'given' | 'saved' | 'none' } {
  const file = path.join(stateDir, 'rails.json');
  if (Object.keys(given).length === 0) {
    if (fs.existsSync(file)) return { rails: JSON.parse(fs.readFileSync(file, 'utf8')) as TradingRails, source: 'saved' };
    return { rails: given, source: 'none' };
  }
  // checked before it is saved: a refused set never replaces a good one
  validateRails(given);
  writeFileAtomic(file, JSON.stringify(given, null, 2) + '\n');
  return { rails: given, source: 'given' };
}

/** The rails in one line, as the options that set them. */
export function describeRails(rails: TradingRails): string {
  const parts = [
    rails.maxPositionBase !== undefined && `--max-position ${rails.maxPositionBase}`,
    rails.maxPositionQuote !== undefined && `--max-position-value ${rails.maxPositionQuote}`,
    rails.maxOrderValue !== undefined && `--max-order-value ${rails.maxOrderValue}`,
    rails.maxDailyLossFraction !== undefined && `--max-daily-loss ${rails.maxDailyLossFraction}`,
    rails.maxDailyLossQuote !== undefined && `--max-daily-loss-value ${rails.maxDailyLossQuote}`,
    rails.maxOrdersPerMinute !== undefined && `--max-orders-per-minute ${rails.maxOrdersPerMinute}`,
    rails.rampUp !== undefined && `--ramp-up ${rails.rampUp.map((r) => (r.afterDays !== undefined ? `${r.afterDays}d` : `${r.afterTrades}t`) + `:${r.fraction}`).join(',')}`,
  ].filter(Boolean);
  return parts.length ? parts.join(' ') : 'none';
}

/** Open the trader of an existing live or dry-run session folder (for stop and reset). */
async function openSessionTrader(dir: string, options: Record<string, any>): Promise<LiveTrader> {
  const file = path.join(dir, 'session.json');
  if (!fs.existsSync(file)) throw new ConfigError(`${dir} holds no session (no session.json); give the folder a live session wrote`);
  const info = JSON.parse(fs.readFileSync(file, 'utf8')) as SessionInfo;
  if (info.kind === 'paper') throw new ConfigError(`${dir} is a paper session: it has no exchange orders to stop; stop the process with Ctrl-C`);
  return LiveTrader.open({
    connection: { exchange: info.exchange, apiUrl: options.apiUrl },
    symbol: info.symbol,
    stateDir: traderDir(dir),
    dryRun: info.kind === 'dry-run',
    keys: { keyFile: options.keyFile },
  });
}

/** `candlelab paper`, `candlelab parity` and `candlelab live`. */
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
    const session = sessionFromOptions(spec, options);
    // nothing printed or thrown carries a webhook URL, bot token or SMTP password of --alerts
    await withRedactedOutput(session.alerts?.config.redactor, async () => {
      const controller = new AbortController();
      const stop = (): void => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const result = await runPaperSession({
          ...session,
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
        // what could not be delivered stays queued on disk (candlelab alerts flush)
        await session.alerts?.close();
      }
    });
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
        console.log(`  positions per candle ${report.positions.bars}, identical ${report.positions.matched}`);
        console.log(`  largest prediction difference (streamed vs batch features) ${report.predictionDifference.toExponential(2)}`);
        if (report.differences.length === 0) console.log('  no differences');
        for (const d of report.differences) console.log(`  ${d.explained ? 'explained  ' : 'DIFFERENCE '} ${d.kind.padEnd(8)} ${d.time}  ${d.detail}${d.explained ? ` — ${d.explained}` : ''}`);
        console.log(report.unexplained === 0 ? '  parity: every difference is explained' : `  parity: ${report.unexplained} unexplained difference(s)`);
        const x = report.execution;
        if (x) {
          console.log(`  ${x.kind} fills against the simulated venue: ${x.executed} decision(s) filled on the exchange, ${x.paired} also filled by the simulation`);
          if (x.priceBps) console.log(`    price: exchange − simulated ${x.priceBps.mean.toFixed(2)} bps on average against the trader (worst ${x.priceBps.worst.toFixed(2)} bps); quantity ratio ${x.quantityRatio!.toFixed(4)}`);
        }
      }
      if (report.unexplained > 0) process.exitCode = 1;
    });

  const live = sessionOptions(
    program
      .command('live')
      .summary('trade a registered model on an exchange: dry-run unless --live')
      .description(
        'Live trading: the paper session pipeline, with each decision also executed on the exchange through ccxt (Binance spot). Dry-run is the default: ' +
          'orders are logged and simulated, no keys are needed and no signed request is made. Real orders need --live, keys (CANDLELAB_API_KEY / CANDLELAB_API_SECRET or ' +
          '--key-file with mode 0600) and a confirmation (CANDLELAB_LIVE_CONFIRM=yes, or the symbol typed at a terminal). Every order carries a client order id and is looked up ' +
          'by it before anything is resent; on start the session reconciles with the exchange and refuses to trade on a difference it cannot explain. ' +
          'Kill switch: candlelab live stop --dir <session>, a KILL file in <session>/live/, or SIGUSR2.',
      ),
  )
    .option('--live', 'send real orders (needs keys and a confirmation)')
    .option('--key-file <file>', 'API keys as JSON {"apiKey", "secret"}, mode 0600 (default: CANDLELAB_API_KEY and CANDLELAB_API_SECRET)')
    .option('--max-position <units>', 'largest position in base units', nonNegative('--max-position'))
    .option('--max-position-value <quote>', 'largest position value in quote', nonNegative('--max-position-value'))
    .option('--max-order-value <quote>', 'largest single order value in quote', nonNegative('--max-order-value'))
    .option('--max-daily-loss <fraction>', 'stop for the UTC day once equity is this fraction below the day start (e.g. 0.03)', nonNegative('--max-daily-loss'))
    .option('--max-daily-loss-value <quote>', 'stop for the UTC day once equity is this much quote below the day start', nonNegative('--max-daily-loss-value'))
    .option('--max-orders-per-minute <n>', 'orders in any 60 s window at most', positiveInt('--max-orders-per-minute'))
    .option('--ramp-up <steps>', 'capital allowed over time: 0d:0.1,3d:0.5,7d:1 (after days) or 0t:0.1,20t:1 (after trades)')
    .option('--flatten-on-kill', 'the KILL file and SIGUSR2 also sell the position (default: cancel and block only)')
    .addOption(new Option('--order-type <type>', 'order type on the exchange').choices(['market', 'limit']).default('market'))
    // `live stop --dir …`: options after a subcommand belong to it (the program enables this too)
    .enablePositionalOptions()
    .action(async (spec: string | undefined, options) => {
      const session = sessionFromOptions(spec, options);
      // nothing printed or thrown carries a webhook URL, bot token or SMTP password of --alerts
      await withRedactedOutput(session.alerts?.config.redactor, async () => {
        const dryRun = !options.live;
        const givenRails = railsFromOptions(options);
        let undoRedaction: (() => void) | undefined;
        const controller = new AbortController();
        const stop = (): void => controller.abort();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        let trader: LiveTrader | undefined;
        const stopWatching: Array<() => void> = [];
        try {
          const result = await runPaperSession({
            ...session,
            signal: controller.signal,
            executorKind: dryRun ? 'dry-run' : 'live',
            executor: async ({ dir, symbol, connection }) => {
              if (!dryRun) await confirmLive({ symbol });
              fs.mkdirSync(traderDir(dir), { recursive: true });
              const { rails, source } = sessionRails(traderDir(dir), givenRails);
              process.stderr.write(`rails: ${describeRails(rails)}${source === 'saved' ? ` (saved with the session; options given now replace them)` : ''}\n`);
              const traderOptions: LiveTraderOptions = {
                connection,
                symbol,
                stateDir: traderDir(dir),
                dryRun,
                rails,
                keys: { keyFile: options.keyFile },
                orderType: options.orderType,
                flattenOnKillFile: options.flattenOnKill ?? false,
                // the trader's own lines go to its log (the session prints each candle's outcome)
                logger: (line) => fs.appendFileSync(path.join(traderDir(dir), 'trader.log'), `${new Date().toISOString()} ${line}\n`),
                ...(session.cash !== undefined ? { dryRunBalances: { quote: session.cash } } : {}),
                onKill: (kill) =>
                  void session.alerts?.send({
                    kind: 'kill-switch',
                    title: `${dryRun ? 'dry-run' : 'live'} ${symbol}: KILL SWITCH (${kill.reason})`,
                    text: `${kill.cancelled} open order(s) cancelled${kill.flatten ? `; flatten: ${kill.flatten.action} (${kill.flatten.reason})` : ''}; new entries blocked until candlelab live reset --dir ${dir}`,
                    source: `${dryRun ? 'dry-run' : 'live'} ${dir}`,
                  }),
              };
              trader = await LiveTrader.open(traderOptions);
              // from here on nothing printed can carry a key or secret
              undoRedaction = trader.redactor.wrapProcessOutput();
              stopWatching.push(trader.killOnSignal('SIGUSR2', { flatten: options.flattenOnKill ?? false }), trader.watchKillFile());
              return { kind: dryRun ? 'dry-run' : 'live', onDecision: (decision) => trader!.onDecision(decision) };
            },
          });
          const status = trader?.status();
          console.log(`${dryRun ? 'dry-run' : 'live'} session ${path.relative(process.cwd(), result.dir) || '.'}: ${result.stopReason}`);
          if (status) console.log(`  exchange position ${status.position}   balances ${JSON.stringify(status.balances)}   open orders ${status.openOrders.length}${status.killed ? `   KILL SWITCH SET (${status.killed.reason})` : ''}`);
          console.log(`  candles ${result.candles} (${result.liveCandles} traded this run)   simulated book: fills ${result.fills}, equity ${result.equity.toFixed(2)}`);
        } finally {
          process.removeListener('SIGINT', stop);
          process.removeListener('SIGTERM', stop);
          for (const stopOne of stopWatching) stopOne();
          await trader?.close();
          await session.alerts?.close();
          undoRedaction?.();
        }
      });
    });

  /** A subcommand acting on a running or stopped session's trader (stop, reset). */
  const traderCommand = (name: string, description: string, act: (trader: LiveTrader, options: Record<string, any>) => Promise<string>): Command =>
    live
      .command(name)
      .description(description)
      .requiredOption('--dir <folder>', 'the live or dry-run session folder')
      .option('--api-url <url>', "replace the exchange's hosts (e.g. the fake exchange)")
      .option('--key-file <file>', 'API keys as JSON, mode 0600 (default: the environment)')
      .action(async (options) => {
        const trader = await openSessionTrader(options.dir, options);
        try {
          console.log(await act(trader, options));
        } finally {
          await trader.close();
        }
      });

  traderCommand('stop', "the kill switch: cancel the session's open orders, optionally sell the position, and block new entries until `live reset` (survives restarts)", async (trader, options) => {
    const result = await trader.kill({ flatten: options.flatten, reason: 'candlelab live stop' });
    return `kill switch set for ${options.dir}: ${result.cancelled} open order(s) cancelled${result.flatten ? `, flatten: ${result.flatten.action} (${result.flatten.reason})` : ''}; new entries blocked until candlelab live reset --dir ${options.dir}`;
  }).option('--flatten', 'also sell the position');

  traderCommand('reset', 'clear the kill switch of a live or dry-run session', async (trader, options) => {
    await trader.resetKill();
    return `kill switch cleared for ${options.dir}; trading resumes on the next decision`;
  });
}
