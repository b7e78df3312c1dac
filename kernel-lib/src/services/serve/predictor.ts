import { timeframeMs, isoTime, type Candles } from '../../frame/frame';
import { createEngineKernel } from '../../backtest/kernel';
import type { SignalRecord } from '../../backtest/engine';
import { createFeatureStream } from '../../features/streaming/create-feature-stream';
import { stepStrategy } from '../../strategy/incremental';
import type { StrategyDecision } from '../../plugins/define';
import type { TradingSetup } from '../../trading/session-setup';

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
  const symbol = context.spec.data.symbol;
  const timeframe = context.spec.data.timeframe;
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
      const n = candles.length;
      const features = createFeatureStream(plan.features, plan.featureContext, { meta: { symbol: candles.meta.symbol ?? symbol, timeframe }, closedOnly: true });
      const [open, high, low, close, volume] = (['open', 'high', 'low', 'close', 'volume'] as const).map((c) => candles.column(c));
      const time = candles.time;
      // features for every candle; the model's matrix from the first row every feature has a value
      const first = requiredInputs;
      const predicted = Math.max(0, n - first);
      const values = new Float32Array(predicted * names.length);
      const rows: Record<string, number>[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const row = features.update({ time: time[i], open: open[i], high: high[i], low: low[i], close: close[i], volume: volume[i] });
        rows[i] = row;
        if (i >= first) for (let k = 0; k < names.length; k++) values[(i - first) * names.length + k] = row[names[k]];
      }
      const matrix = { values, rows: predicted, cols: names.length };
      // compiled trees where the model has them (a few µs a row, ≤ 1e-6 from ONNX), else its predict
      const output = predicted === 0 ? new Float32Array(0) : model.predictSync ? model.predictSync(matrix) : await model.predict(matrix);
      const width = predicted > 0 ? output.length / predicted : 0;
      // the strategy follows every candle it can see, as in a session; the kernel gives the stop levels
      const strategy = stepStrategy(plan.strategy.definition, plan.strategy.params, { classes });
      // a replay kernel over the request's candles (indicators in one pass; 2–4× cheaper than stepping)
      const kernel = createEngineKernel([{ symbol, candles }], [{ name: sleeve }], plan.backtest);
      const answers: PredictedSignal[] = [];
      for (let i = 0; i < n; i++) {
        const bar = { time: time[i], open: open[i], high: high[i], low: low[i], close: close[i], volume: volume[i] };
        const prediction = i >= first ? Array.from(output.subarray((i - first) * width, (i - first + 1) * width)) : undefined;
        let decided: StrategyDecision | undefined;
        if (!needsPredictions || prediction) decided = strategy.next({ bar, prediction, features: rows[i] });
        kernel.step();
        if (!prediction || !(options.all || i === n - 1)) continue;
        let target = decided?.target ?? 0;
        if (target < 0 && !plan.backtest.allowShort) target = 0;
        const direction = Math.sign(target);
        const confidence = decided?.confidence;
        answers.push({
          time: isoTime(bar.time + step),
          asset: candles.meta.symbol ?? symbol,
          sleeve,
          signal: direction > 0 ? 'LONG' : direction < 0 ? 'SHORT' : 'FLAT',
          confidence: confidence !== undefined && Number.isFinite(confidence) ? confidence : null,
          ...kernel.quote(0, target),
          reasoning: decided?.reasoning ?? 'no decision',
          target,
          prediction,
        });
      }
      const last = answers[answers.length - 1];
      return { ...last, model: version.name, version: version.version, modelId: `${version.modelId}@${version.modelVersion}`, ...(options.all ? { rows: answers } : {}) };
    },
  };
}
