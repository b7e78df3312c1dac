import * as path from 'node:path';
import { Command, Option } from 'commander';
import { ConfigError } from '../errors';
import { writeFileAtomic } from '../util/atomic';
import { ALERT_KINDS, channelsFor, loadAlertsConfig, type AlertsConfig } from '../services/alerts/config';
import { openAlerts } from '../services/alerts/open-alerts';
import { buildReport, reportHtmlFile, type ReportPeriod } from '../services/alerts/build-report';
import type { AlertEvent, AlertKind } from '../services/alerts/types';
import type { Redactor } from '../trading/redact';

/**
 * Send `event` through the config's routes now and print, per channel, "delivered" or "queued" with the
 * (redacted) error. Returns how many channels did not deliver.
 */
async function sendAndReport(config: AlertsConfig, event: AlertEvent): Promise<number> {
  const targets = channelsFor(config, event.kind);
  if (targets.length === 0) throw new ConfigError(`no route in alerts.json sends '${event.kind}' events; add "${event.kind}": ["<channel>"] (or "*") to routes`);
  const sink = openAlerts(config, { log: () => undefined });
  try {
    await sink.send(event);
    await sink.flush();
  } finally {
    await sink.close();
  }
  const stats = sink.stats();
  let failed = 0;
  for (const name of targets) {
    const channel = stats.channels[name];
    if (channel.lastError === undefined) console.log(`${name} (${channel.type}): delivered`);
    else {
      failed++;
      console.log(`${name} (${channel.type}): queued in ${stats.queueDir}: ${channel.lastError}`);
    }
  }
  return failed;
}

/**
 * Run `body` with stdout and stderr passing through the alerts config's redactor (webhook URLs, bot
 * tokens, SMTP credentials), and its error redacted before the CLI prints it. Every command that opens
 * an alerts file runs through this.
 */
export async function withRedactedOutput<T>(redactor: Redactor | undefined, body: () => Promise<T>): Promise<T> {
  if (!redactor) return body();
  const undo = redactor.wrapProcessOutput();
  try {
    return await body();
  } catch (error) {
    throw redactor.redactError(error);
  } finally {
    undo();
  }
}

async function redacted<T>(config: AlertsConfig, body: () => Promise<T>): Promise<T> {
  return withRedactedOutput(config.redactor, body);
}

/** `candlelab alerts test|flush` and `candlelab report`. */
export function registerAlertCommands(program: Command): void {
  const alerts = program
    .command('alerts')
    .summary('send test alerts and flush the alert queue (Telegram, Slack, e-mail)')
    .description(
      'Alerts go to the channels alerts.json routes them to (Telegram, Slack, e-mail). Credentials come from environment variables ("env:NAME" in the file). ' +
        'A delivery that fails stays queued on disk (queueDir, default <workspace>/alerts-queue) and is sent by the next process or `candlelab alerts flush`.',
    );

  alerts
    .command('test')
    .description('send a test alert through every channel its kind is routed to, and print per channel: delivered, or queued with the error')
    .argument('<alerts.json>', 'the alerts config')
    .addOption(new Option('--kind <kind>', 'event kind, which picks the route').choices([...ALERT_KINDS]).default('test'))
    .option('--message <text>', 'the message text', 'candlelab test alert: if you read this, the channel works')
    .action(async (file: string, options: { kind: AlertKind; message: string }) => {
      const config = loadAlertsConfig(file);
      await redacted(config, async () => {
        const failed = await sendAndReport(config, { kind: options.kind, title: `candlelab ${options.kind} alert`, text: options.message, source: 'candlelab alerts test' });
        if (failed > 0) throw new ConfigError(`${failed} channel(s) did not deliver (queued; see above); fix them, then run candlelab alerts flush ${file}`);
      });
    });

  alerts
    .command('flush')
    .description('send what the alert queue holds (deliveries earlier processes could not send) and print, per channel, how many went and how many are still queued')
    .argument('<alerts.json>', 'the alerts config')
    .action(async (file: string) => {
      const config = loadAlertsConfig(file);
      await redacted(config, async () => {
        const sink = openAlerts(config, { log: () => undefined });
        try {
          await sink.flush();
        } finally {
          await sink.close();
        }
        const stats = sink.stats();
        let delivered = 0;
        let queued = 0;
        for (const [name, c] of Object.entries(stats.channels)) {
          delivered += c.delivered;
          queued += c.queued;
          console.log(`${name} (${c.type}): delivered ${c.delivered}, still queued ${c.queued}${c.queued && c.lastError ? ` (${c.lastError})` : ''}`);
        }
        console.log(`delivered ${delivered}, still queued ${queued} in ${stats.queueDir}`);
      });
    });

  program
    .command('report')
    .summary('a daily or weekly report of a paper or live session: send it and/or write it as HTML')
    .description(
      'Build a report of a paper/live session folder: model and strategy, P&L over the period and since the start, equity and position, ' +
        "the period's signals and fills, metrics and an equity chart. --alerts sends it through the routes for 'report' (chat: text and the chart; e-mail: HTML with the chart inline); --out writes the HTML.",
    )
    .argument('<session-dir>', 'the session folder candlelab paper or live wrote')
    .addOption(new Option('--period <period>', 'the period the report covers, ending at the last saved candle').choices(['daily', 'weekly']).default('daily'))
    .option('--alerts <alerts.json>', 'send the report through these alerts')
    .option('--out <report.html>', 'write the report as one HTML file (chart embedded)')
    .action(async (dir: string, options: { period: ReportPeriod; alerts?: string; out?: string }) => {
      if (!options.alerts && !options.out) throw new ConfigError('give --alerts <alerts.json> to send the report, --out <report.html> to write it, or both');
      const config = options.alerts ? loadAlertsConfig(options.alerts) : undefined;
      const { figures: _figures, ...report } = buildReport(dir, { period: options.period });
      console.log(report.title);
      if (options.out) {
        writeFileAtomic(options.out, reportHtmlFile(report));
        console.log(`wrote ${path.relative(process.cwd(), path.resolve(options.out))}`);
      }
      if (config) {
        await redacted(config, async () => {
          const failed = await sendAndReport(config, report);
          if (failed > 0) throw new ConfigError(`${failed} channel(s) did not deliver the report (queued; see above); fix them, then run candlelab alerts flush ${options.alerts}`);
        });
      }
    });
}
