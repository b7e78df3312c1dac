import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors';
import { parseConfig } from '../util/parse-config';
import { canonicalJson, sha256Hex } from '../util/hash';
import { markedBacktestSettingsSchema } from '../backtest/settings';
import { exchangeSourceParams, fileSourceParams, sampleSourceParams, storeSourceParams } from '../data/sources';

/** A reference to a plugin definition: id, optional pinned version, params (validated by the plugin). */
const definitionRef = z
  .object({
    id: z.string().min(1),
    version: z.string().optional(),
    params: z.record(z.unknown()).default({}),
  })
  .strict();

const symbol = z.string().regex(/^[A-Z0-9]+\/[A-Z0-9]+(:[A-Z0-9]+)?$/, 'must look like BTC/USDT').default('BTC/USDT');
const timeframe = z.string().regex(/^\d+[smhdw]$/, 'must look like 1m, 1h, 4h or 1d').default('1h');
/**
 * How the data stage treats missing bars and NaN rows (see applyMissingDataPolicy); absent = no
 * policy (gaps are reported, NaN rows stop the run).
 */
const missing = z.enum(['drop', 'ffill', 'interpolate', 'regression']).optional();

/** A column source joined to the candles (on-chain, sentiment, order book): a plugin's id and its params. */
const sideSource = definitionRef;
/**
 * Every data source has these fields, its own params between them (in this order, so a spec without
 * the newer fields serializes and hashes as before). `side` and `missing` are absent unless given.
 */
const dataFields = <L extends string, T extends z.ZodRawShape>(source: z.ZodLiteral<L>, params: z.ZodObject<T>) =>
  z.object({ source, symbol, timeframe }).extend(params.shape).extend({ missing, side: z.array(sideSource).optional() }).strict();

const sampleData = dataFields(z.literal('sample'), sampleSourceParams);
const fileData = dataFields(z.literal('file'), fileSourceParams);
const storeData = dataFields(z.literal('store'), storeSourceParams);
const exchangeData = dataFields(z.literal('exchange'), exchangeSourceParams);
/** A plugin's candle source, written `{"source": "@acme/ticks", ...its params}`: read as {source: 'plugin', id, params}. */
const pluginData = z.object({ source: z.literal('plugin'), symbol, timeframe, id: z.string().min(1), version: z.string().optional(), params: z.record(z.unknown()).default({}), missing, side: z.array(sideSource).optional() }).strict();

const PLUGIN_SOURCE_ID = /^(@[\w.-]+\/|[\w.-]+\/)[\w.-]+$/;
const dataUnion = z.discriminatedUnion('source', [sampleData, fileData, storeData, exchangeData, pluginData], {
  errorMap: (issue, context) =>
    issue.code === 'invalid_union_discriminator'
      ? { message: `is not a data source: use sample, file, store, exchange, or a plugin's source id like '@acme/onchain' (candlelab plugins list shows them)` }
      : { message: context.defaultError },
});
/** What a user writes for a plugin's candle source: its id as `source`, its params beside the shared fields. */
type PluginDataInput = { source: `${string}/${string}`; symbol?: string; timeframe?: string; missing?: z.input<typeof missing>; side?: z.input<typeof sideSource>[]; version?: string; [param: string]: unknown };
const dataSchema = z.preprocess(
  (raw) => {
    // `{"source": "@acme/ticks", "symbol": …, "depth": 5}` → the plugin branch, its own keys as params
    if (!raw || typeof raw !== 'object' || typeof (raw as { source?: unknown }).source !== 'string' || !PLUGIN_SOURCE_ID.test((raw as { source: string }).source)) return raw;
    const { source, symbol: s, timeframe: t, missing: m, side, version, ...params } = raw as Record<string, unknown>;
    return { source: 'plugin', id: source, ...(version !== undefined ? { version } : {}), params, symbol: s, timeframe: t, missing: m, side };
  },
  dataUnion,
) as unknown as z.ZodType<z.output<typeof dataUnion>, z.ZodTypeDef, Exclude<z.input<typeof dataUnion>, { source: 'plugin' }> | PluginDataInput>;

const dataList = z.array(dataSchema).min(2, 'lists several coins: give at least two sources, or one source as an object');
/**
 * `data`: one source (an object, validated and hashed exactly as before lists existed) or a list of
 * them; each form is validated by its own schema, so errors name the offending field, not "invalid input".
 */
const dataField = z.unknown().transform((raw, context) => {
  const result = (Array.isArray(raw) ? dataList : dataSchema).safeParse(raw);
  if (result.success) return result.data;
  for (const issue of result.error.issues) context.addIssue(issue as z.IssueData);
  return z.NEVER;
}) as unknown as z.ZodType<z.output<typeof dataSchema> | z.output<typeof dataList>, z.ZodTypeDef, z.input<typeof dataSchema> | z.input<typeof dataList>>;

/**
 * Several coins (M7): `data` lists one source per coin, all on one timeframe; `models.mode` says how
 * they are trained (see runner/multi-coin.ts trainCoins). Absent for a single-coin spec.
 */
const modelsSchema = z
  .object({
    /** 'per-coin': a model per coin; 'universal': one model on every coin's rows; 'fine-tune': universal, then continued per coin. */
    mode: z.enum(['per-coin', 'universal', 'fine-tune']).default('per-coin'),
    /** fine-tune: params that override the model's for the per-coin rounds (e.g. {"rounds": 20} or {"epochs": 3}). */
    fineTune: z.object({ params: z.record(z.unknown()).default({}) }).strict().optional(),
  })
  .strict();

export const specSchema = z
  .object({
    /** Names the run folder and the default model name. */
    name: z.string().regex(/^[\w.-]+$/, 'may use letters, digits, _ . - only').default('run'),
    /** Seed for every random choice of the run (model training, sampling). */
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(42),
    /** Plugin packages to load besides the built-ins (npm package names). */
    plugins: z.array(z.string().min(1)).default([]),
    /** One data source, or a list of them (one per coin, see `models`). */
    data: dataField,
    features: z.array(definitionRef).min(1, 'needs at least one feature'),
    label: definitionRef,
    split: z
      .object({ train: z.number().positive().default(0.7), valid: z.number().positive().default(0.15), test: z.number().positive().default(0.15) })
      .strict()
      .default({}),
    model: definitionRef.extend({ name: z.string().regex(/^[\w.-]+$/).optional() }).strict(),
    /** Several coins (data is a list): how their models are trained. */
    models: modelsSchema.optional(),
    strategy: definitionRef,
    /**
     * Validation with refitting: `method` names a splitter ('walk-forward', 'purged-kfold', 'cpcv' or a
     * plugin's id), the other keys are its params, e.g. {"method": "walk-forward", "train": "180d",
     * "test": "30d", "mode": "rolling", "embargo": "1%"}. Absent: one chronological split (`split`).
     */
    validation: z.object({ method: z.string().min(1) }).passthrough().optional(),
    /** Backtest settings (see docs/backtest.md): costs, fills, sizing, exits, risk monitors. */
    backtest: markedBacktestSettingsSchema.default({}),
    /** Register the trained model in the model registry (models/). */
    register: z.boolean().default(true),
  })
  .strict();

/** A validated spec, defaults filled in. */
export type Spec = z.output<typeof specSchema>;
/** What a user writes: every field with a default may be left out. */
export type SpecInput = z.input<typeof specSchema>;
/** One data source (a spec's `data`, or one entry of its list). */
export type DataSpec = Exclude<Spec['data'], readonly unknown[]>;
export type ModelsSpec = NonNullable<Spec['models']>;

/** The spec's data sources: the one source, or every coin's. */
export function dataSources(spec: Pick<Spec, 'data'>): DataSpec[] {
  return Array.isArray(spec.data) ? spec.data : [spec.data as DataSpec];
}

/** Whether the spec lists several coins (`data` is a list). */
export function isMultiCoinSpec(spec: Pick<Spec, 'data'>): boolean {
  return Array.isArray(spec.data);
}

/**
 * The spec's one data source, for what works on a single coin (paper and live sessions, serving,
 * retraining jobs); a list of coins fails, naming `what` and the fix.
 */
export function singleDataSource(spec: Pick<Spec, 'data'>, what = 'this command'): DataSpec {
  if (Array.isArray(spec.data)) {
    throw new ConfigError(`${what} works on one coin, but the spec's data lists ${spec.data.length} (${spec.data.map((d) => d.symbol).join(', ')}); write a spec per coin with data as one object`);
  }
  return spec.data as DataSpec;
}

/** Validate a spec object; the error names the first offending field and what it must be. */
export function parseSpec(raw: unknown, where = 'spec'): Spec {
  return parseConfig(specSchema, raw, where);
}

/**
 * Apply `path=value` overrides (the CLI's --set): dotted path, array indexes as numbers
 * (`features.0.params.period=21`); the value is read as JSON when it parses, else as a string.
 */
export function applyOverrides(raw: unknown, overrides: readonly string[]): unknown {
  const copy = JSON.parse(JSON.stringify(raw ?? {}));
  for (const override of overrides) {
    const eq = override.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--set '${override}' must look like path=value, e.g. strategy.params.buyThreshold=0.45`);
    const keyPath = override.slice(0, eq).split('.');
    const value = parseLooseValue(override.slice(eq + 1));
    let node = copy as Record<string, unknown>;
    for (let i = 0; i < keyPath.length - 1; i++) {
      const key = keyPath[i];
      if (node[key] === undefined || node[key] === null) node[key] = /^\d+$/.test(keyPath[i + 1]) ? [] : {};
      if (typeof node[key] !== 'object') throw new ConfigError(`--set '${override}': '${keyPath.slice(0, i + 1).join('.')}' is not an object`);
      node = node[key] as Record<string, unknown>;
    }
    node[keyPath[keyPath.length - 1]] = value;
  }
  return copy;
}

/** A command-line value: JSON when it parses (numbers, booleans, arrays, quoted strings), else the text. */
export function parseLooseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export type LoadedSpec = { spec: Spec; file: string; baseDir: string };

/** Read, override and validate a spec file. */
export function loadSpec(file: string, overrides: readonly string[] = []): LoadedSpec {
  const resolved = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(resolved, 'utf8');
  } catch {
    throw new ConfigError(`spec file ${file} not found; pass the path of a spec JSON (see specs/quickstart.json)`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`spec file ${file} is not valid JSON: ${(error as Error).message}`);
  }
  return { spec: parseSpec(applyOverrides(raw, overrides), file), file: resolved, baseDir: path.dirname(resolved) };
}

/** A hash of the validated spec (defaults included): equal specs, equal hashes. */
export function specHash(spec: Spec): string {
  return sha256Hex(canonicalJson(spec));
}
