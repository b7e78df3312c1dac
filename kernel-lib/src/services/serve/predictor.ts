import { timeframeMs, isoTime, type Candles } from '../../frame/frame';
import { createEngineKernel } from '../../backtest/kernel';
import type { SignalRecord } from '../../backtest/engine';
import { createFeatureStream } from '../../features/streaming/create-feature-stream';
import { stepStrategy } from '../../strategy/incremental';
import type { TradingSetup } from '../../trading/session-setup';
import { replayCandles } from '../../trading/replay';
import { singleDataSource } from '../../spec/spec';

/**
 * One registered version ready to answer predictions: the decision a paper session would take at the
 * last of the given candles, computed the same way (streaming features → the model → the strategy's
 * incremental form → the engine's stop and take-profit levels), so an answer from the endpoint and a
 * session's decision on the same candles agree.
 */
export type ServedVersion = {
  readonly name: string;
  readonly version: number;
  readonly modelId: string;
  readonly symbol: string;
  readonly timeframe: string;
  readonly featureNames: readonly string[];
  readonly classes?: readonly string[];
  /** How the model scores: trees compiled to JavaScript, or the model's own predict (ONNX Runtime, tfjs). */
  readonly scorer: 'compiled' | 'predict';
  /** Fewest candles a request needs: the features' warm-up + 1 (the first row with every feature). */
  readonly minCandles: number;
  predict(candles: Candles, options?: { all?: boolean }): Promise<PredictionAnswer>;
  /** Release the model's native resources (its ONNX session, booster). */
  dispose(): void;
};

/** The S6 record of one candle, with the model's raw output. */
export type PredictedSignal = SignalRecord & { target: number; prediction: number[] };

/** What a prediction returns: the last candle's S6 record and, when asked, every predicted candle's. */
export type PredictionAnswer = PredictedSignal & {
  model: string;
  version: number;
  modelId: string;
  /** Every candle from the first one with a prediction (only with `all`). */
  rows?: PredictedSignal[];
};

export function createServedVersion(setup: TradingSetup): ServedVersion {
  const { context, model, version } = setup;
  const plan = context.plan;
  const { symbol, timeframe } = singleDataSource(context.spec, 'serving');
  const step = timeframeMs(timeframe);
  const sleeve = plan.strategy.definition.id;
  const classes = model.classes ? [...model.classes] : undefined;
  const needsPredictions = plan.strategy.definition.needs.predictions;
  const names = model.featureNames;
  // compile the trees now, not in the first request
  model.predictSync?.({ values: new Float32Array(names.length), rows: 1, cols: names.length });
  const requiredInputs = createFeatureStream(plan.features, plan.featureContext, { meta: { symbol, timeframe } }).requiredInputs;

  return {
    name: version.name,
    version: version.version,
    modelId: `${version.modelId}@${version.modelVersion}`,
    symbol,
    timeframe,
    featureNames: names,
    classes,
    scorer: model.predictSync ? 'compiled' : 'predict',
    // the replay kernel that prices the stops needs two bars
    minCandles: Math.max(2, requiredInputs + 1),
    dispose: () => model.dispose(),
    async predict(candles, options = {}) {
      const features = createFeatureStream(plan.features, plan.featureContext, { meta: { symbol: candles.meta.symbol ?? symbol, timeframe }, closedOnly: true });
      const strategy = stepStrategy(plan.strategy.definition, plan.strategy.params, { classes });
      // compiled trees where the model has them (a few µs a row, ≤ 1e-6 from ONNX), else its predict
      const replayed = await replayCandles(candles, { features, strategy, model, needsPredictions, score: model.predictSync?.bind(model) });
      // a replay kernel over the request's candles gives the stop levels (indicators in one pass)
      const kernel = createEngineKernel([{ symbol, candles }], [{ name: sleeve }], plan.backtest);
      const answers: PredictedSignal[] = [];
      for (let i = 0; i < candles.length; i++) {
        kernel.step();
        const prediction = replayed.predictions[i];
        if (!prediction || !(options.all || i === candles.length - 1)) continue;
        const decided = replayed.decisions[i];
        let target = decided?.target ?? 0;
        if (target < 0 && !plan.backtest.allowShort) target = 0;
        const direction = Math.sign(target);
        const confidence = decided?.confidence;
        answers.push({
          time: isoTime(candles.time[i] + step),
          asset: candles.meta.symbol ?? symbol,
          sleeve,
          signal: direction > 0 ? 'LONG' : direction < 0 ? 'SHORT' : 'FLAT',
          confidence: confidence !== undefined && Number.isFinite(confidence) ? confidence : null,
          ...kernel.quote(0, target),
          reasoning: decided?.reasoning ?? 'no decision',
          target,
          prediction: Array.from(prediction),
        });
      }
      const last = answers[answers.length - 1];
      return { ...last, model: version.name, version: version.version, modelId: `${version.modelId}@${version.modelVersion}`, ...(options.all ? { rows: answers } : {}) };
    },
  };
}
