import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { ConfigError, didYouMean } from '../../errors';
import { Redactor } from '../../trading/redact';
import { openWorkspace, type WorkspaceOverrides } from '../../workspace';
import { configErrorFromZod } from '../../util/parse-config';
import type { AlertKind } from './types';

/** Every event kind a route may name ('*' routes every kind). */
export const ALERT_KINDS: readonly AlertKind[] = ['fill', 'error', 'kill-switch', 'risk', 'promotion', 'rollback', 'model-switch', 'schedule', 'report', 'test'];

/** A credential is never written in the file: "env:NAME" names the environment variable holding it. */
const ENV_REFERENCE = /^env:([A-Za-z_][A-Za-z0-9_]*)$/;
const credential = z.string().min(1);

const rateLimitSchema = z
  .object({
    perMinute: z.number().positive(),
    /** The bucket refills `perMinute` tokens over this many ms (default 60 000; shorten it only in tests). */
    windowMs: z.number().int().positive().optional(),
  })
  .strict();

const telegramSchema = z
  .object({
    type: z.literal('telegram'),
    botToken: credential,
    chatId: z.union([z.string().min(1), z.number().int()]).transform(String),
    apiUrl: z.string().url().optional(),
    rateLimit: rateLimitSchema.optional(),
  })
  .strict();
const slackSchema = z.object({ type: z.literal('slack'), webhookUrl: credential, rateLimit: rateLimitSchema.optional() }).strict();
const emailSchema = z
  .object({
    type: z.literal('email'),
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    secure: z.boolean().optional(),
    user: credential.optional(),
    password: credential.optional(),
    from: z.string().min(3),
    to: z.array(z.string().min(3)).min(1),
    rateLimit: rateLimitSchema.optional(),
  })
  .strict();

/** The alerts.json file as written (credentials still "env:NAME"). */
export const alertsConfigSchema = z
  .object({
    channels: z.record(z.discriminatedUnion('type', [telegramSchema, slackSchema, emailSchema])),
    routes: z.record(z.array(z.string().min(1))),
    rateLimit: rateLimitSchema.optional(),
    retry: z.object({ attempts: z.number().int().min(1), baseMs: z.number().int().min(0), maxMs: z.number().int().min(0) }).partial().strict().optional(),
    queueDir: z.string().min(1).optional(),
  })
  .strict();

export type AlertsConfigInput = z.input<typeof alertsConfigSchema>;

export type RateLimit = { perMinute: number; windowMs: number };

/** A channel with its credentials read from the environment. */
export type ResolvedChannel =
  | { name: string; type: 'telegram'; botToken: string; chatId: string; apiUrl: string; rateLimit?: RateLimit }
  | { name: string; type: 'slack'; webhookUrl: string; rateLimit?: RateLimit }
  | { name: string; type: 'email'; host: string; port: number; secure: boolean; user?: string; password?: string; from: string; to: string[]; rateLimit?: RateLimit };

/** alerts.json validated, credentials resolved, paths absolute, defaults applied. */
export type AlertsConfig = {
  channels: Record<string, ResolvedChannel>;
  /** event kind (or '*') → channel names */
  routes: Record<string, string[]>;
  retry: { attempts: number; baseMs: number; maxMs: number };
  queueDir: string;
  /** Knows every credential: run any text that may leave the process through it. */
  redactor: Redactor;
};

export const DEFAULT_RETRY = { attempts: 4, baseMs: 500, maxMs: 30_000 } as const;

export type LoadAlertsOptions = {
  /** Where the default queue folder goes (<root>/alerts-queue). */
  workspace?: WorkspaceOverrides;
  /** The environment credentials are read from (default: process.env). */
  env?: Record<string, string | undefined>;
};

/**
 * Resolve one "env:NAME" credential, refusing literal secrets. The value is trimmed (a secret read from a
 * file or a .env line often ends in a newline, which URL parsing then drops); the redactor learns both
 * the value as set and as used.
 */
function resolveCredential(source: string, where: string, value: string, env: Record<string, string | undefined>, redactor: Redactor): string {
  const match = ENV_REFERENCE.exec(value);
  if (!match) {
    throw new ConfigError(`${source}: ${where} holds a literal secret; move it into an environment variable and write "env:NAME" there (e.g. "env:${where.split('.').pop()!.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase()}")`);
  }
  const raw = env[match[1]];
  const resolved = raw?.trim();
  if (!resolved) throw new ConfigError(`${source}: ${where} names the environment variable ${match[1]}, which is not set; export ${match[1]} before running`);
  redactor.add(raw, resolved);
  return resolved;
}

/**
 * The forms a Slack incoming-webhook URL can be quoted in: as set, as parsed (href), its path, and its
 * last path segment (the webhook's own secret; the rest only names the workspace and the channel).
 */
function slackSecretForms(webhookUrl: string): string[] {
  const url = new URL(webhookUrl);
  const segments = url.pathname.split('/').filter(Boolean);
  const last = segments.length > 1 ? segments[segments.length - 1] : '';
  // a token-like last segment only: a short word ("alerts") would redact ordinary text
  return [webhookUrl, url.href, url.pathname, url.pathname + url.search, last.length >= 16 ? last : ''];
}

/** A Telegram bot token is "<bot id>:<secret>": the secret half alone is a secret too. */
function telegramSecretForms(botToken: string): string[] {
  const colon = botToken.indexOf(':');
  return [botToken, colon >= 0 ? botToken.slice(colon + 1) : ''];
}

/**
 * Read and check alerts.json (or an object of the same shape) once: the schema, that routes name known
 * kinds and channels, and that every credential comes from a set environment variable.
 */
export function loadAlertsConfig(input: string | AlertsConfigInput, options: LoadAlertsOptions = {}): AlertsConfig {
  const env = options.env ?? process.env;
  let raw: unknown = input;
  let source = 'alerts config';
  let baseDir = process.cwd();
  if (typeof input === 'string') {
    source = input;
    baseDir = path.dirname(path.resolve(input));
    if (!fs.existsSync(input)) throw new ConfigError(`${input} does not exist; give the path of your alerts.json`);
    try {
      raw = JSON.parse(fs.readFileSync(input, 'utf8'));
    } catch (error) {
      throw new ConfigError(`${input} is not valid JSON (${(error as Error).message}); fix the file`);
    }
  }
  const parsed = alertsConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (issue.code === 'invalid_union_discriminator') throw new ConfigError(`${source}: ${issue.path.join('.')}: type must be 'telegram', 'slack' or 'email'`);
    throw configErrorFromZod(parsed.error, source, { schema: alertsConfigSchema });
  }
  const file = parsed.data;
  const redactor = new Redactor();
  const defaultLimit = file.rateLimit;
  const limit = (own?: { perMinute: number; windowMs?: number }): RateLimit | undefined => {
    const chosen = own ?? defaultLimit;
    return chosen ? { perMinute: chosen.perMinute, windowMs: chosen.windowMs ?? 60_000 } : undefined;
  };
  const channels: Record<string, ResolvedChannel> = {};
  for (const [name, channel] of Object.entries(file.channels)) {
    const at = (field: string): string => `channels.${name}.${field}`;
    if (channel.type === 'telegram') {
      const botToken = resolveCredential(source, at('botToken'), channel.botToken, env, redactor);
      redactor.add(...telegramSecretForms(botToken));
      channels[name] = { name, type: 'telegram', botToken, chatId: channel.chatId, apiUrl: (channel.apiUrl ?? 'https://api.telegram.org').replace(/\/+$/, ''), rateLimit: limit(channel.rateLimit) };
    } else if (channel.type === 'slack') {
      const webhookUrl = resolveCredential(source, at('webhookUrl'), channel.webhookUrl, env, redactor);
      // the whole URL is the secret; its path and its last segment alone too (error messages may quote either)
      try {
        redactor.add(...slackSecretForms(webhookUrl));
      } catch {
        throw new ConfigError(`${source}: ${at('webhookUrl')}: the environment variable holds no URL; set it to the Slack incoming-webhook URL`);
      }
      channels[name] = { name, type: 'slack', webhookUrl, rateLimit: limit(channel.rateLimit) };
    } else {
      const user = channel.user === undefined ? undefined : resolveCredential(source, at('user'), channel.user, env, redactor);
      const password = channel.password === undefined ? undefined : resolveCredential(source, at('password'), channel.password, env, redactor);
      channels[name] = { name, type: 'email', host: channel.host, port: channel.port, secure: channel.secure ?? channel.port === 465, user, password, from: channel.from, to: channel.to, rateLimit: limit(channel.rateLimit) };
    }
  }
  const names = Object.keys(channels);
  for (const [kind, targets] of Object.entries(file.routes)) {
    if (kind !== '*' && !ALERT_KINDS.includes(kind as AlertKind)) {
      throw new ConfigError(`${source}: routes.${kind}: unknown event kind${didYouMean(kind, ALERT_KINDS)}; use one of ${ALERT_KINDS.join(', ')} or '*'`);
    }
    for (const target of targets) {
      if (!channels[target]) throw new ConfigError(`${source}: routes.${kind} names channel '${target}', which is not in channels${didYouMean(target, names)}; define it or fix the name`);
    }
  }
  const queueDir = file.queueDir ? path.resolve(baseDir, file.queueDir) : path.join(openWorkspace(options.workspace ?? {}, baseDir).root, 'alerts-queue');
  return { channels, routes: file.routes, retry: { ...DEFAULT_RETRY, ...file.retry }, queueDir, redactor };
}

/** The channels an event of `kind` goes to: its own route plus '*', each once, in route order. */
export function channelsFor(config: Pick<AlertsConfig, 'routes'>, kind: AlertKind): string[] {
  return [...new Set([...(config.routes[kind] ?? []), ...(config.routes['*'] ?? [])])];
}
