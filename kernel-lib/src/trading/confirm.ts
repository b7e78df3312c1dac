import * as readline from 'node:readline';
import { ConfigError } from '../errors';

export const LIVE_CONFIRM_ENV = 'CANDLELAB_LIVE_CONFIRM';

export type ConfirmLiveOptions = {
  /** The symbol the user must type, e.g. 'BTC/USDT'. */
  symbol: string;
  /** Environment (default process.env): CANDLELAB_LIVE_CONFIRM=yes confirms without a prompt. */
  env?: NodeJS.ProcessEnv;
  /** Where the answer is read (default process.stdin); it must be a TTY for the prompt. */
  input?: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Where the prompt is written (default process.stderr). */
  output?: NodeJS.WritableStream;
};

/**
 * The confirmation real orders need besides `--live`: CANDLELAB_LIVE_CONFIRM=yes, or, in a terminal,
 * the symbol typed at a prompt. Resolves when confirmed; otherwise a one-line ConfigError (a pipe or a
 * CI job without the variable is never taken as a yes).
 */
export async function confirmLive(options: ConfirmLiveOptions): Promise<void> {
  const env = options.env ?? process.env;
  if (env[LIVE_CONFIRM_ENV] === 'yes') return;
  const input = options.input ?? process.stdin;
  if (!input.isTTY) {
    throw new ConfigError(`live trading sends real orders and needs confirmation: set ${LIVE_CONFIRM_ENV}=yes, or run in a terminal and type the symbol when asked`);
  }
  const rl = readline.createInterface({ input, output: options.output ?? process.stderr, terminal: false });
  try {
    const answer = await new Promise<string>((resolve, reject) => {
      rl.question(`Live trading sends REAL orders. Type the symbol (${options.symbol}) to confirm: `, resolve);
      rl.once('close', () => reject(new ConfigError(`live trading not confirmed (no answer); nothing was sent`)));
    });
    if (answer.trim().toUpperCase() !== options.symbol.toUpperCase()) {
      throw new ConfigError(`live trading not confirmed: typed '${answer.trim()}', expected '${options.symbol}'; nothing was sent`);
    }
  } finally {
    rl.close();
  }
}
