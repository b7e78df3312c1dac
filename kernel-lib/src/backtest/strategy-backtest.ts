import { Frame, type Candles } from '../frame/frame';
import { strategyOutput, type StrategyDefinition, type StrategyOutput } from '../plugins/define';
import { runEngine, type EngineAsset, type EngineResult, type FundingSeries } from './engine';
import { analyzeBacktest, type BacktestReport } from './metrics';
import type { BacktestSettings, BacktestSettingsInput } from './settings';

export type StrategyBacktestInput = {
  candles: Candles;
  definition: StrategyDefinition;
  /** Params already validated against the definition's schema. */
  params: unknown;
  settings: BacktestSettingsInput | BacktestSettings;
  /** Feature columns over the same rows (default: none). */
  features?: Frame;
  /** rows × classes (or rows × 1) predictions over the same rows. */
  predictions?: Float32Array;
  classes?: string[];
  funding?: FundingSeries;
};

export type StrategyBacktest = {
  assets: EngineAsset[];
  result: EngineResult;
  report: BacktestReport;
  /** The strategy's targets (one per bar of the candles). */
  targets: Float64Array;
};

/** Run one strategy on one asset through the engine, and analyze the run. */
export function runStrategyBacktest(input: StrategyBacktestInput): StrategyBacktest {
  const { candles, definition, params } = input;
  const output = strategyOutput(
    definition.targets(
      {
        candles,
        features: input.features ?? Frame.fromColumns(candles.time, {}, candles.meta),
        predictions: input.predictions,
        classes: input.classes,
      },
      params,
    ),
  );
  return backtestStrategyOutput(candles, definition.id, output, input.settings, input.funding);
}

/**
 * Run a strategy's already computed output (targets, confidence, reasoning) on one asset. `history`:
 * the candles before the traded ones (a run's train and valid segments), for causal context only
 * (the regime of each traded bar); nothing is traded on them.
 */
export function backtestStrategyOutput(
  candles: Candles,
  name: string,
  output: StrategyOutput,
  settings: BacktestSettingsInput | BacktestSettings,
  funding?: FundingSeries,
  history?: Candles,
): StrategyBacktest {
  const symbol = candles.meta.symbol;
  const assets: EngineAsset[] = [{ symbol, candles, funding }];
  const result = runEngine(
    assets,
    [
      {
        name,
        targets: { [symbol]: output.targets },
        confidence: output.confidence ? { [symbol]: output.confidence } : undefined,
        reasoning: output.reasoning ? { [symbol]: output.reasoning } : undefined,
      },
    ],
    settings,
  );
  return { assets, result, report: analyzeBacktest(result, assets, { regimeHistory: history?.column('close') }), targets: output.targets };
}
