import * as fs from 'node:fs';
import { z } from 'zod';
import { ConfigError, didYouMean } from '../errors';
import { parseConfig } from '../util/parse-config';
import { categoricalDistribution, floatDistribution, intDistribution, type Distribution, type ParamValue } from '../tuning/distributions';
import type { Trial } from '../tuning/trial';
import type { StudyDirection } from '../tuning/frozen-trial';
import type { RunResults } from './run-record';
import { runMetrics } from './run-record';

/**
 * What `candlelab tune` searches and optimizes: a search space over spec paths, and objectives that are
 * run metrics.
 *
 * A space file maps spec paths (as `--set` takes them) to distributions, in the order they are
 * suggested; `when` makes a parameter conditional on values suggested before it (or in the spec):
 *   {
 *     "model.params.maxDepth":     { "type": "int", "low": 2, "high": 8 },
 *     "model.params.learningRate": { "type": "float", "low": 0.01, "high": 0.3, "log": true },
 *     "model.params.booster":      { "type": "categorical", "choices": ["gbtree", "dart"] },
 *     "model.params.rateDrop":     { "type": "float", "low": 0, "high": 0.5, "when": { "model.params.booster": "dart" } },
 *     "strategy.params.buyThreshold": { "type": "float", "low": 0.35, "high": 0.6, "step": 0.05 }
 *   }
 */

const when = z.record(z.unknown()).optional();
const entry = z.discriminatedUnion('type', [
  z.object({ type: z.literal('float'), low: z.number(), high: z.number(), log: z.boolean().optional(), step: z.number().positive().optional(), when }).strict(),
  z.object({ type: z.literal('int'), low: z.number().int(), high: z.number().int(), log: z.boolean().optional(), step: z.number().int().positive().optional(), when }).strict(),
  z.object({ type: z.literal('categorical'), choices: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).min(1), when }).strict(),
]);
const spaceSchema = z.record(entry).refine((space) => Object.keys(space).length > 0, 'the space names no parameter');

export type SearchSpace = z.output<typeof spaceSchema>;

/** Read and check a space file: every path is a spec path and every distribution is valid. */
export function loadSearchSpace(file: string): SearchSpace {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`space file ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : `not valid JSON (${(error as Error).message})`}`);
  }
  return parseSearchSpace(raw, `space file ${file}`);
}

export function parseSearchSpace(raw: unknown, where = 'space'): SearchSpace {
  const space = parseConfig(spaceSchema, raw, where);
  const names = Object.keys(space);
  names.forEach((name, i) => {
    distributionOf(name, space[name], where); // throws on a bad range
    for (const condition of Object.keys(space[name].when ?? {})) {
      const j = names.indexOf(condition);
      if (j >= i) throw new ConfigError(`${where}: '${name}' depends on '${condition}', which comes after it; list '${condition}' first`);
    }
  });
  return space;
}

function distributionOf(name: string, spec: SearchSpace[string], where: string): Distribution {
  try {
    if (spec.type === 'categorical') return categoricalDistribution(name, spec.choices);
    const options = { ...(spec.log !== undefined ? { log: spec.log } : {}), ...(spec.step !== undefined ? { step: spec.step } : {}) };
    return spec.type === 'int' ? intDistribution(name, spec.low, spec.high, options) : floatDistribution(name, spec.low, spec.high, options);
  } catch (error) {
    throw new ConfigError(`${where}: '${name}': ${(error as Error).message}`);
  }
}

/** A value at a dotted path of a plain object (array indexes as numbers). */
export function valueAt(object: unknown, path: string): unknown {
  let node = object;
  for (const key of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/**
 * Suggest the trial's parameters in the space's order, skipping those whose `when` does not hold (a
 * condition reads the values suggested before it, else the base spec). Returns the `--set` overrides.
 */
export function suggestSpace(trial: Trial, space: SearchSpace, baseSpec: unknown): { params: Record<string, ParamValue>; overrides: string[] } {
  const params: Record<string, ParamValue> = {};
  for (const [name, spec] of Object.entries(space)) {
    const holds = Object.entries(spec.when ?? {}).every(([path, expected]) => JSON.stringify(path in params ? params[path] : valueAt(baseSpec, path)) === JSON.stringify(expected));
    if (!holds) continue;
    params[name] = trial.suggestDistribution(name, distributionOf(name, spec, 'space'));
  }
  return { params, overrides: Object.entries(params).map(([path, value]) => `${path}=${JSON.stringify(value)}`) };
}

/** One objective: a path into the run's metrics and whether lower or higher is better. */
export type RunObjective = { name: string; path: string; direction: StudyDirection };

/** The numbers an objective path reads: `backtest`, `classification`/`regression` ({valid, test}), `validation` (run.json's record). */
export function objectiveView(results: RunResults): Record<string, unknown> {
  return { ...runMetrics(results), ...(results.validation ? { validation: results.validation.record } : {}) };
}

const SHORT_BACKTEST = ['sharpe', 'sortino', 'calmar', 'totalReturn', 'cagr', 'maxDrawdown', 'profitFactor', 'winRate', 'expectancy', 'annualVolatility', 'numTrades', 'exposure'];
const SHORT_MODEL = ['logLoss', 'accuracy', 'balancedAccuracy', 'macroF1', 'rocAucMacro', 'mae', 'rmse', 'r2', 'directionAccuracy'];
const LOWER_IS_BETTER = /loss|rmse|mae|drawdown|volatility|fees|slippage/i;

/**
 * `--objective` items: a full path (`validation.outOfSample.backtest.sharpe`, `classification.valid.logLoss`)
 * or a short name: backtest names (sharpe, totalReturn, maxDrawdown, …) read the walk-forward
 * out-of-sample account when the spec has `validation`, else the run's backtest (the test segment);
 * model names (logLoss, rmse, rocAucMacro, …) read the validation segment (the stitched out-of-sample
 * rows with `validation`). With several backtest paths (CPCV) `sharpe` is the mean path Sharpe. `:min`/`:max` sets the direction; by default losses, errors and drawdowns
 * are minimized and the rest maximized. Default: the out-of-sample Sharpe with `validation`, else the
 * validation log-loss (classification) or RMSE (regression).
 */
export function parseObjectives(text: string | undefined, context: { validated: boolean; task: 'classification' | 'regression'; severalPaths?: boolean }): RunObjective[] {
  const items = text ? text.split(',').map((s) => s.trim()).filter(Boolean) : [context.validated ? 'sharpe' : context.task === 'classification' ? 'logLoss' : 'rmse'];
  return items.map((item) => {
    const [name, suffix] = item.split(':');
    if (suffix !== undefined && suffix !== 'min' && suffix !== 'max') throw new ConfigError(`--objective '${item}': the suffix must be :min or :max`);
    let path: string;
    if (name.includes('.')) path = name;
    // several backtest paths (CPCV): the Sharpe is their mean; other account metrics are the first path's
    else if (name === 'sharpe' && context.severalPaths) path = 'validation.pathSummary.sharpeMean';
    else if (SHORT_BACKTEST.includes(name)) path = context.validated ? `validation.outOfSample.backtest.${name}` : `backtest.${name}`;
    else if (SHORT_MODEL.includes(name)) path = context.validated ? `validation.outOfSample.model.${name}` : `${context.task}.valid.${name}`;
    else throw new ConfigError(`--objective '${name}' is not a run metric${didYouMean(name, [...SHORT_BACKTEST, ...SHORT_MODEL])}; use one of ${[...SHORT_BACKTEST, ...SHORT_MODEL].join(', ')} or a path such as validation.outOfSample.backtest.sharpe`);
    const direction: StudyDirection = suffix === 'min' ? 'minimize' : suffix === 'max' ? 'maximize' : LOWER_IS_BETTER.test(name) ? 'minimize' : 'maximize';
    return { name, path, direction };
  });
}

/** The objective's value in a finished run; a missing or non-numeric value is an error naming the path. */
export function objectiveValue(objective: RunObjective, view: Record<string, unknown>): number {
  const value = valueAt(view, objective.path);
  if (value === null) return NaN; // an undefined metric (e.g. no trades): the trial fails, as Optuna fails a NaN
  if (typeof value !== 'number') throw new ConfigError(`objective '${objective.name}': ${objective.path} is not a number in this run's metrics (got ${JSON.stringify(value)?.slice(0, 80)})`);
  return value;
}
