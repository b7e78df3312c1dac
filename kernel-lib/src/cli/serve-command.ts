import type { Command } from 'commander';
import { ConfigError } from '../errors';
import { untilStopped } from './until-stopped';
import { createPredictionServer } from '../services/serve/server';
import { collect, nonNegative, positiveInt } from './option-parsers';

/**
 * `candlelab serve`: the prediction endpoint over the registry (see services/serve). Prints the URL on
 * stdout when it listens; Ctrl-C (SIGINT/SIGTERM) finishes the requests in flight, writes the served log
 * and exits 0.
 */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .summary('an HTTP prediction endpoint: POST /api/predict answers the S6 decision of a registered model')
    .description(
      'Serve registered models over HTTP (fastify). POST /api/predict with recent candles (or a symbol and timeframe in the store) answers the S6 record: ' +
        'signal, confidence, entry, stop loss, take profit, risk/reward, reasoning, and the model version that answered. GET /health, GET /api/models, ' +
        'GET /openapi.json. A model served by stage follows the registry without a restart: a promotion, rollback or A/B split (candlelab registry split) ' +
        'applies from the next request. Answers are logged to runs/served/<model>.jsonl (candlelab registry compare <model> --served).',
    )
    .option('--model <name[@stage|@version]>', "a model to serve (repeatable; default: the registry's only model, in production)", collect)
    .option('--host <host>', 'address to bind (anything but 127.0.0.1/localhost needs --api-key-env)', '127.0.0.1')
    .option('--port <n>', 'port (0: any free one)', nonNegative('--port'), 8080)
    .option('--api-key-env <NAME>', 'require the x-api-key header to equal this environment variable on /api/* requests')
    .option('--body-limit <bytes>', 'largest request body (a larger one gets a 413)', positiveInt('--body-limit'), 1024 * 1024)
    .option('--no-served-log', 'do not log served predictions')
    .action(async (options) => {
      let apiKey: string | undefined;
      if (options.apiKeyEnv) {
        apiKey = process.env[options.apiKeyEnv];
        if (!apiKey) throw new ConfigError(`--api-key-env ${options.apiKeyEnv}: the environment variable is not set; export ${options.apiKeyEnv}=<a long random key>`);
      }
      const server = await createPredictionServer({ models: options.model, apiKey, bodyLimit: options.bodyLimit, logServed: options.servedLog });
      const url = await server.listen({ host: options.host, port: options.port });
      const served = [...server.models.keys()].join(', ');
      console.log(url);
      console.error(`serving ${served} on ${url}: POST /api/predict, GET /health, GET /api/models, GET /openapi.json${apiKey ? ' (x-api-key required on /api/*)' : ''}. Ctrl-C stops it.`);
      await untilStopped();
      await server.close();
      console.error('stopped; served log written');
    });
}
