import * as fs from 'node:fs';
import { ConfigError } from '../errors';

/** Exchange API credentials. */
export type ApiKeys = { apiKey: string; secret: string };

/**
 * Where keys come from: only the environment (CANDLELAB_API_KEY, CANDLELAB_API_SECRET) or a key file
 * (JSON {"apiKey", "secret"}, mode 0600). There is deliberately no way to pass the values themselves:
 * specs and command lines end up in shell history, logs and run records.
 */
export type KeySource = {
  /** A key file; takes precedence over the environment. */
  keyFile?: string;
  /** The environment to read (default process.env). */
  env?: NodeJS.ProcessEnv;
};

export const API_KEY_ENV = 'CANDLELAB_API_KEY';
export const API_SECRET_ENV = 'CANDLELAB_API_SECRET';

/**
 * Load API keys from a 0600 key file or the environment. A key file readable by group or others is
 * refused; so are half-set variables and missing keys (each a one-line error naming the fix).
 */
export function loadApiKeys(source: KeySource = {}): ApiKeys {
  if (source.keyFile !== undefined) return readKeyFile(source.keyFile);
  const env = source.env ?? process.env;
  const apiKey = env[API_KEY_ENV]?.trim();
  const secret = env[API_SECRET_ENV]?.trim();
  if (apiKey && secret) return { apiKey, secret };
  if (apiKey || secret) {
    throw new ConfigError(`${apiKey ? API_SECRET_ENV : API_KEY_ENV} is not set while ${apiKey ? API_KEY_ENV : API_SECRET_ENV} is; set both or use a key file`);
  }
  throw new ConfigError(`live trading needs API keys: set ${API_KEY_ENV} and ${API_SECRET_ENV}, or give a key file (JSON {"apiKey", "secret"}, chmod 600); dry-run needs none`);
}

function readKeyFile(file: string): ApiKeys {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new ConfigError(`key file ${file} does not exist; create it with {"apiKey": "…", "secret": "…"} and chmod 600 ${file}`);
  }
  // Windows has no POSIX modes to check.
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
    throw new ConfigError(`key file ${file} is readable by others (mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')}); run chmod 600 ${file}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    // The parse error would quote the file's text, secrets included.
    throw new ConfigError(`key file ${file} is not valid JSON; write it as {"apiKey": "…", "secret": "…"}`);
  }
  const { apiKey, secret } = (parsed ?? {}) as { apiKey?: unknown; secret?: unknown };
  if (typeof apiKey !== 'string' || typeof secret !== 'string' || !apiKey.trim() || !secret.trim()) {
    throw new ConfigError(`key file ${file} must hold {"apiKey": "…", "secret": "…"} (non-empty strings)`);
  }
  return { apiKey: apiKey.trim(), secret: secret.trim() };
}
