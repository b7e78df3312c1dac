import { createHash, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyError } from 'fastify';
import swagger from '@fastify/swagger';
import { CandlelabError, ConfigError } from '../../errors';
import { storeFile, type StoreKey } from '../../data/store';
import { filesStamp, loadCandleSource, sideTableFiles } from '../../data/load-candles';
import type { Candles } from '../../frame/frame';
import { ModelRegistry } from '../../registry/model-registry';
import { parseModelReference } from '../../trading/session-setup';
import { openWorkspace, type WorkspaceOverrides } from '../../workspace';
import { CANDLELAB_VERSION } from '../../version';
import { parseRequestCandles, RequestError, type PredictRequest } from './request';
import { ServedLog } from './served-log';
import { describeArms, ServedModel } from './served-model';

/**
 * `candlelab serve`: the prediction endpoint (fastify). POST /api/predict answers the S6 record of the
 * served model for recent candles (sent, or read from the store); GET /health and /api/models say what
 * is served; /openapi.json documents it. Versions follow the registry (production, an A/B split, hot
 * reload without a restart); every answer names its version and is logged for `registry compare --served`.
 */
export type PredictionServerOptions = {
  /** Model references: name, name@stage or name@version (default: the registry's only model). */
  models?: readonly string[];
  workspace?: WorkspaceOverrides;
  /** Required in the x-api-key header of /api/* requests when set. */
  apiKey?: string;
  /** Largest request body in bytes (default 1 MiB); a larger one gets a 413. */
  bodyLimit?: number;
  /** Log every answer to runs/served/<model>.jsonl (default true). */
  logServed?: boolean;
  /** Progress lines: start, version switches, errors (default: stderr). */
  log?: (line: string) => void;
};

export type PredictionServer = {
  readonly app: FastifyInstance;
  readonly models: ReadonlyMap<string, ServedModel>;
  /** Start listening (default 127.0.0.1, port 8080; port 0 picks a free one); returns the base URL. */
  listen(options?: { host?: string; port?: number }): Promise<string>;
  close(): Promise<void>;
};

const CANDLE_SCHEMA = {
  type: 'object',
  required: ['time', 'open', 'high', 'low', 'close', 'volume'],
  properties: {
    time: { anyOf: [{ type: 'number' }, { type: 'string' }], description: 'open time: epoch ms or ISO 8601' },
    open: { type: 'number' },
    high: { type: 'number' },
    low: { type: 'number' },
    close: { type: 'number' },
    volume: { type: 'number' },
  },
} as const;

const SIGNAL_PROPERTIES = {
  time: { type: 'string', description: 'close time of the predicted candle' },
  asset: { type: 'string' },
  sleeve: { type: 'string' },
  signal: { type: 'string', enum: ['LONG', 'SHORT', 'FLAT'] },
  confidence: { type: ['number', 'null'] },
  entry: { type: 'number' },
  stop_loss: { type: ['number', 'null'] },
  take_profit: { type: ['number', 'null'] },
  risk_reward: { type: ['number', 'null'] },
  reasoning: { type: 'string' },
  target: { type: 'number', description: 'the strategy target exposure (−1…1)' },
  prediction: { type: 'array', items: { type: 'number' }, description: "the model's output: class probabilities or [value]" },
} as const;

const ERROR_SCHEMA = { type: 'object', properties: { error: { type: 'string' }, field: { type: 'string' } } } as const;

export async function createPredictionServer(options: PredictionServerOptions = {}): Promise<PredictionServer> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const workspace = openWorkspace(options.workspace);
  const registry = new ModelRegistry(workspace.modelsDir);
  const references = options.models?.length ? options.models : defaultModel(registry);
  const servedLog = options.logServed === false ? undefined : new ServedLog(workspace.runsDir);
  const models = new Map<string, ServedModel>();
  for (const reference of references) {
    const { name, selector } = parseModelReference(reference);
    if (models.has(name)) throw new ConfigError(`--model ${name} is given twice; serve each model once`);
    const model = new ServedModel(name, selector, workspace.modelsDir, {
      workspace: options.workspace,
      log,
      onSwitch: ({ from, to }) => servedLog?.add({ kind: 'switch', at: new Date().toISOString(), model: name, from: from.map(({ version, weight }) => ({ version, weight })), to: to.map(({ version, weight }) => ({ version, weight })) }),
    });
    // fail at the start, not at the first request: the versions must load
    await model.current();
    models.set(name, model);
  }
  const defaultName = [...models.keys()][0];
  const apiKey = options.apiKey ? createHash('sha256').update(options.apiKey).digest() : undefined;
  const started = Date.now();
  let answered = 0;
  let refused = 0;

  // no type coercion: "candles": "x" is an error, not ["x"]
  const app = Fastify({ logger: false, bodyLimit: options.bodyLimit ?? 1024 * 1024, ajv: { customOptions: { coerceTypes: false, allErrors: false } } });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'candlelab prediction endpoint', version: CANDLELAB_VERSION, description: 'The S6 decision of a registered model for recent candles.' },
      components: { securitySchemes: options.apiKey ? { apiKey: { type: 'apiKey', name: 'x-api-key', in: 'header' } } : {} },
    },
  });

  // one JSON error shape for everything refused: { error, field }
  app.setErrorHandler((error: FastifyError, request, reply) => {
    refused++;
    if (error instanceof RequestError) return reply.status(error.statusCode).send({ error: error.message, field: error.field });
    if (error.validation) {
      const first = error.validation[0];
      const field = fieldOf(error.validationContext ?? 'body', first.instancePath, (first.params as { missingProperty?: string }).missingProperty);
      const missing = (first.params as { missingProperty?: string }).missingProperty;
      // JSON.parse reads 1e999 as Infinity, which the schema calls "not a number": say what it is
      const value = valueAt(request.body, first.instancePath);
      if (typeof value === 'number' && !Number.isFinite(value)) return reply.status(400).send({ error: `${field} is ${value} (not a finite number)`, field });
      return reply.status(400).send({ error: missing ? `${field} is missing` : `${field} ${first.message ?? 'is invalid'}`, field });
    }
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.status(413).send({ error: `the body is over the limit of ${options.bodyLimit ?? 1024 * 1024} bytes; send fewer candles (the model needs only its warm-up + 1)`, field: 'body' });
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return reply.status(415).send({ error: 'send the body as application/json', field: 'content-type' });
    if (error.statusCode === 400) return reply.status(400).send({ error: `malformed JSON body: ${error.message}`, field: 'body' });
    if (error instanceof CandlelabError) return reply.status(400).send({ error: error.message, field: 'body' });
    log(`request failed: ${error.stack ?? error.message}`);
    return reply.status(500).send({ error: `internal error: ${error.message}` });
  });
  // JSON only: a text/plain body is a 415, not a string the schema then calls "not an object"
  app.removeContentTypeParser('text/plain');
  app.setNotFoundHandler((request, reply) => reply.status(404).send({ error: `no route ${request.method} ${request.url}; see GET /openapi.json`, field: 'url' }));

  app.addHook('onRequest', async (request, reply) => {
    if (!apiKey || !request.url.startsWith('/api/')) return;
    const given = request.headers['x-api-key'];
    const digest = typeof given === 'string' ? createHash('sha256').update(given).digest() : undefined;
    if (!digest || !timingSafeEqual(digest, apiKey)) {
      refused++;
      return reply.status(401).send({ error: 'missing or wrong x-api-key header', field: 'x-api-key' });
    }
  });

  // The store read once per version of its files (a predict request by symbol must not re-read them),
  // through the one loader: the candles with the side tables the store holds for the symbol (funding,
  // open interest), as a spec run gets them, so a model with core/funding predicts from the store too.
  const storeCache = new Map<string, { stamp: string; candles: Candles }>();
  const fromStore = (key: StoreKey, limit: number): Candles => {
    const file = storeFile(key, workspace.dataDir);
    if (!fs.existsSync(file)) throw new RequestError('symbol', `the store has no ${key.symbol} ${key.timeframe} candles (${key.exchange} ${key.market}); download them with: candlelab data fetch ${key.symbol} --timeframe ${key.timeframe}, or send candles`);
    const stamp = filesStamp([file, ...sideTableFiles(key, workspace.dataDir)]);
    let cached = storeCache.get(file);
    if (!cached || cached.stamp !== stamp) {
      cached = { stamp, candles: loadCandleSource({ source: 'store', ...key }, { dataDir: workspace.dataDir }) };
      storeCache.set(file, cached);
    }
    return cached.candles.slice(Math.max(0, cached.candles.length - limit));
  };

  app.post<{ Body: PredictRequest }>(
    '/api/predict',
    {
      schema: {
        summary: 'the S6 decision for the latest candle',
        description: 'Send recent closed candles (oldest first, at least the warm-up + 1 given by GET /api/models), or a symbol and timeframe to read the last candles from the store. The answer names the model version that computed it.',
        headers: { type: 'object', properties: { 'x-client-key': { type: 'string', description: 'sticky A/B key (same key, same version)' } } },
        body: {
          type: 'object',
          properties: {
            model: { type: 'string' },
            clientKey: { type: 'string' },
            candles: { type: 'array', items: CANDLE_SCHEMA },
            symbol: { type: 'string' },
            timeframe: { type: 'string' },
            exchange: { type: 'string' },
            market: { type: 'string', enum: ['spot', 'futures'] },
            limit: { type: 'integer', minimum: 1, maximum: 100000 },
            all: { type: 'boolean' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              model: { type: 'string' },
              version: { type: 'integer' },
              modelId: { type: 'string' },
              arm: { type: 'string' },
              ...SIGNAL_PROPERTIES,
              rows: { type: 'array', items: { type: 'object', properties: SIGNAL_PROPERTIES } },
            },
          },
          400: ERROR_SCHEMA,
          401: ERROR_SCHEMA,
          413: ERROR_SCHEMA,
        },
      },
    },
    async (request) => {
      const startedAt = performance.now();
      const body = request.body ?? {};
      if (typeof body !== 'object' || Array.isArray(body)) throw new RequestError('body', 'the body must be a JSON object with candles, or symbol and timeframe');
      const name = body.model ?? defaultName;
      const model = models.get(name);
      if (!model) throw new RequestError('model', `model '${name}' is not served here; served: ${[...models.keys()].join(', ')}`);
      const header = request.headers['x-client-key'];
      const clientKey = body.clientKey ?? (typeof header === 'string' ? header : undefined);
      const { served, arm } = await model.pick(clientKey);
      let candles: Candles;
      if (body.candles !== undefined) {
        candles = parseRequestCandles(body.candles, { symbol: body.symbol ?? served.symbol, timeframe: served.timeframe, minCandles: served.minCandles });
      } else {
        if (!body.symbol) throw new RequestError('candles', 'send candles, or a symbol (and timeframe) to read from the store');
        const timeframe = body.timeframe ?? served.timeframe;
        if (timeframe !== served.timeframe) throw new RequestError('timeframe', `${name} v${served.version} was trained on ${served.timeframe} candles, not ${timeframe}`);
        const limit = body.limit ?? Math.max(2 * served.minCandles, 500);
        const key = { exchange: body.exchange ?? 'binance', market: body.market ?? 'spot', symbol: body.symbol, timeframe };
        candles = fromStore(key, limit);
        if (candles.length < served.minCandles) throw new RequestError('limit', `the store gives ${candles.length} candle(s) but the model needs at least ${served.minCandles}; raise limit or fetch more data`);
      }
      const answer = await served.predict(candles, { all: body.all === true });
      answered++;
      servedLog?.add({
        kind: 'prediction',
        at: new Date().toISOString(),
        model: name,
        version: served.version,
        arm: arm.label,
        ...(clientKey !== undefined ? { client: createHash('sha256').update(clientKey).digest('hex').slice(0, 12) } : {}),
        symbol: candles.meta.symbol ?? served.symbol,
        timeframe: served.timeframe,
        time: answer.time,
        signal: answer.signal,
        confidence: answer.confidence,
        entry: answer.entry,
        prediction: answer.prediction,
        latencyMs: performance.now() - startedAt,
      });
      return { ...answer, arm: arm.label };
    },
  );

  app.get('/health', { schema: { summary: 'liveness and what is served' } }, async () => ({
    status: 'ok',
    uptimeSeconds: Math.round((Date.now() - started) / 1000),
    answered,
    refused,
    models: Object.fromEntries(await Promise.all([...models].map(async ([name, model]) => [name, describeArms(await model.current())]))),
  }));

  app.get('/api/models', { schema: { summary: 'the served models: versions, A/B weights, warm-up, features' } }, async () => ({
    models: await Promise.all(
      [...models].map(async ([name, model]) => ({
        name,
        selector: 'version' in model.selector ? `@${model.selector.version}` : `@${model.selector.stage}`,
        versions: (await model.versions()).map(({ arm, served }) => ({
          version: served.version,
          arm: arm.label,
          weight: arm.weight,
          modelId: served.modelId,
          symbol: served.symbol,
          timeframe: served.timeframe,
          minCandles: served.minCandles,
          scorer: served.scorer,
          featureNames: served.featureNames,
          classes: served.classes ?? null,
          metrics: registry.get(name, served.version).metrics,
        })),
      })),
    ),
  }));

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.ready();

  return {
    app,
    models,
    async listen(listenOptions = {}) {
      const host = listenOptions.host ?? '127.0.0.1';
      if (!apiKey && !isLoopback(host)) throw new ConfigError(`--host ${host} exposes the endpoint beyond this machine; set an API key (--api-key-env NAME) or bind to 127.0.0.1`);
      const address = await app.listen({ host, port: listenOptions.port ?? 8080 });
      return address;
    },
    async close() {
      await app.close();
      await servedLog?.close();
      for (const model of models.values()) await model.dispose();
    },
  };
}

/** A fastify/ajv error location as the field name a user sent: body.candles[3].close. */
function fieldOf(context: string, instancePath: string, missing?: string): string {
  const parts = instancePath.split('/').filter(Boolean);
  let field = context === 'body' ? '' : context;
  for (const part of parts) field += /^\d+$/.test(part) ? `[${part}]` : field ? `.${part}` : part;
  if (missing) field += field ? `.${missing}` : missing;
  return field || context;
}

/** The value at a JSON pointer (/candles/3/close) in a parsed body. */
function valueAt(body: unknown, pointer: string): unknown {
  let value: unknown = body;
  for (const part of pointer.split('/').filter(Boolean)) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  return value;
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1';
}

/** The registry's only model, or a one-line error asking for --model. */
function defaultModel(registry: ModelRegistry): string[] {
  const names = registry.names();
  if (names.length === 1) return [names[0]];
  throw new ConfigError(names.length === 0 ? `the registry ${registry.dir} has no model; train one with candlelab run <spec.json>` : `the registry has several models (${names.join(', ')}); name one with --model name[@stage]`);
}
