import { z } from 'zod';
import { ConfigError } from '../errors';
import { defineStrategy, type StrategyInput } from '../plugins/define';
import { rsiKernel, smaKernel } from '../features/kernels';
import { RollingRsi, RollingSum, classIndex, decision, stepPrediction } from './incremental';

/** The probability column of `className` for each row; throws naming the classes the model has. */
export function classProbability(input: StrategyInput, className: string): Float64Array {
  const { predictions, classes } = input;
  if (!predictions || !classes) throw new ConfigError('this strategy needs classifier predictions; add a model to the spec');
  const index = classes.indexOf(className);
  if (index < 0) throw new ConfigError(`class '${className}' is not one of the model's classes: ${classes.join(', ')}`);
  const rows = input.candles.length;
  if (predictions.length !== rows * classes.length) {
    throw new ConfigError(`predictions have ${predictions.length} values for ${rows} rows × ${classes.length} classes`);
  }
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) out[i] = predictions[i * classes.length + index];
  return out;
}

/** The regressor's predicted value for each row: its only output, or column 0 (the point forecast) of several. */
export function predictedValue(input: StrategyInput): Float64Array {
  const { predictions } = input;
  const rows = input.candles.length;
  if (!predictions || rows === 0 || predictions.length % rows !== 0 || predictions.length === 0) throw new ConfigError('this strategy needs regression predictions (one value per bar); use a regression model');
  const width = predictions.length / rows;
  return Float64Array.from({ length: rows }, (_, i) => predictions[i * width]);
}

/** Column `column` of a regressor's rows × k outputs (a quantile forecaster's quantiles); one-line error when it has fewer. */
export function predictedColumn(input: StrategyInput, column: number): Float64Array {
  const { predictions } = input;
  const rows = input.candles.length;
  const width = predictions && rows > 0 ? predictions.length / rows : 0;
  if (!predictions || !Number.isInteger(width) || width <= column) {
    throw new ConfigError(`this strategy reads output column ${column} but the model gives ${Number.isInteger(width) ? width : 'no whole number of'} column(s) per bar; use a quantile forecaster (core/deepar) or lower the column`);
  }
  return Float64Array.from({ length: rows }, (_, i) => predictions[i * width + column]);
}

const fixed = (x: number, digits = 3): string => (Number.isFinite(x) ? x.toFixed(digits) : String(x));

/**
 * Long while P(BUY) is above a threshold; optionally short while P(SELL) is above its threshold;
 * flat otherwise. Decided at each bar's close, filled by the backtester at the next bar's open.
 */
export const probabilityThreshold = defineStrategy({
  id: 'core/probability-threshold',
  version: '1.1.0',
  doc: 'Long when P(BUY) > buyThreshold, short when allowShort and P(SELL) > sellThreshold, else flat.',
  needs: { predictions: true, task: 'classification' },
  params: z.object({
    buyThreshold: z.number().min(0).max(1).default(0.5),
    sellThreshold: z.number().min(0).max(1).default(0.5),
    allowShort: z.boolean().default(false),
    buyClass: z.string().default('BUY'),
    sellClass: z.string().default('SELL'),
  }),
  targets: (input, p) => {
    const buy = classProbability(input, p.buyClass);
    const sell = p.allowShort ? classProbability(input, p.sellClass) : undefined;
    const targets = new Float64Array(buy.length);
    const confidence = new Float64Array(buy.length);
    for (let i = 0; i < buy.length; i++) {
      if (buy[i] > p.buyThreshold) targets[i] = 1;
      else if (sell && sell[i] > p.sellThreshold) targets[i] = -1;
      confidence[i] = targets[i] < 0 ? sell![i] : buy[i];
    }
    return {
      targets,
      confidence,
      reasoning: (i) =>
        targets[i] > 0
          ? `P(${p.buyClass})=${fixed(buy[i])} > ${p.buyThreshold}`
          : targets[i] < 0
            ? `P(${p.sellClass})=${fixed(sell![i])} > ${p.sellThreshold}`
            : `P(${p.buyClass})=${fixed(buy[i])} ≤ ${p.buyThreshold}${sell ? `, P(${p.sellClass})=${fixed(sell[i])} ≤ ${p.sellThreshold}` : ''}`,
    };
  },
  incremental: (p, { classes }) => {
    const buyIndex = classIndex(classes, p.buyClass);
    const sellIndex = p.allowShort ? classIndex(classes, p.sellClass) : -1;
    return {
      next(step) {
        const prediction = stepPrediction(step, classes!.length);
        const buy = prediction[buyIndex];
        const sell = sellIndex >= 0 ? prediction[sellIndex] : NaN;
        const target = buy > p.buyThreshold ? 1 : sellIndex >= 0 && sell > p.sellThreshold ? -1 : 0;
        const reasoning =
          target > 0
            ? `P(${p.buyClass})=${fixed(buy)} > ${p.buyThreshold}`
            : target < 0
              ? `P(${p.sellClass})=${fixed(sell)} > ${p.sellThreshold}`
              : `P(${p.buyClass})=${fixed(buy)} ≤ ${p.buyThreshold}${sellIndex >= 0 ? `, P(${p.sellClass})=${fixed(sell)} ≤ ${p.sellThreshold}` : ''}`;
        return decision(target, reasoning, target < 0 ? sell : buy);
      },
      snapshot: () => ({}),
      restore: () => {},
    };
  },
});

/** Long when the regressor predicts a return above a threshold, short below −threshold (if allowed). */
export const returnThreshold = defineStrategy({
  id: 'core/return-threshold',
  version: '1.0.0',
  doc: 'Long when the predicted return > threshold, short when allowShort and it is < -threshold, else flat.',
  needs: { predictions: true, task: 'regression' },
  params: z.object({ threshold: z.number().min(0).default(0.002), allowShort: z.boolean().default(false) }),
  targets: (input, p) => {
    const predicted = predictedValue(input);
    const targets = new Float64Array(predicted.length);
    for (let i = 0; i < predicted.length; i++) {
      if (predicted[i] > p.threshold) targets[i] = 1;
      else if (p.allowShort && predicted[i] < -p.threshold) targets[i] = -1;
    }
    return { targets, reasoning: (i) => `predicted return ${fixed(100 * predicted[i], 3)}% vs threshold ±${fixed(100 * p.threshold, 3)}%` };
  },
  incremental: (p) => ({
    next(step) {
      // column 0: the point forecast, whether the model gives one value or several (quantiles after it)
      const predicted = stepPrediction(step, step.prediction?.length || 1)[0];
      const target = predicted > p.threshold ? 1 : p.allowShort && predicted < -p.threshold ? -1 : 0;
      return decision(target, `predicted return ${fixed(100 * predicted, 3)}% vs threshold ±${fixed(100 * p.threshold, 3)}%`);
    },
    snapshot: () => ({}),
    restore: () => {},
  }),
});

/**
 * Trade only when a probabilistic forecast clears the costs: long when even the low quantile of the
 * forward return is above the round-trip cost, short (if allowed) when even the high quantile is below
 * minus the cost, flat otherwise. Reads a quantile forecaster's columns: core/deepar with quantiles
 * [0.1, 0.5, 0.9] gives [value, q0.1, q0.5, q0.9], so lowColumn 1 and highColumn 3 are the 10% and 90% quantiles.
 */
export const quantileThreshold = defineStrategy({
  id: 'core/quantile-threshold',
  version: '1.0.0',
  doc: 'Long when the low quantile of the predicted return > roundTripCost, short when allowShort and the high quantile < -roundTripCost, else flat.',
  needs: { predictions: true, task: 'regression', outputs: (p) => p.highColumn + 1 },
  params: z
    .object({
      /** Output column of the low quantile (core/deepar: 1 + its index in `quantiles`). */
      lowColumn: z.number().int().min(0).default(1),
      /** Output column of the high quantile. */
      highColumn: z.number().int().min(0).default(3),
      /** Round-trip cost as a fraction of price (fees and slippage both ways, e.g. 2 × (10 + 5) bps = 0.003). */
      roundTripCost: z.number().min(0).default(0.003),
      allowShort: z.boolean().default(false),
    })
    .refine((p) => p.lowColumn < p.highColumn, { message: 'lowColumn must be below highColumn (the low quantile comes first)', path: ['lowColumn'] }),
  targets: (input, p) => {
    const low = predictedColumn(input, p.lowColumn);
    const high = predictedColumn(input, p.highColumn);
    const targets = new Float64Array(low.length);
    for (let i = 0; i < low.length; i++) targets[i] = quantileDecision(low[i], high[i], p);
    return { targets, reasoning: (i) => quantileReason(low[i], high[i], targets[i], p) };
  },
  incremental: (p) => ({
    next(step) {
      const prediction = step.prediction;
      if (!prediction || prediction.length <= p.highColumn) {
        throw new ConfigError(`core/quantile-threshold reads output column ${p.highColumn} but the model gives ${prediction ? prediction.length : 'no'} value(s) per bar; use a quantile forecaster (core/deepar)`);
      }
      const low = prediction[p.lowColumn];
      const high = prediction[p.highColumn];
      const target = quantileDecision(low, high, p);
      return decision(target, quantileReason(low, high, target, p));
    },
    snapshot: () => ({}),
    restore: () => {},
  }),
});

function quantileDecision(low: number, high: number, p: { roundTripCost: number; allowShort: boolean }): number {
  if (low > p.roundTripCost) return 1;
  if (p.allowShort && high < -p.roundTripCost) return -1;
  return 0;
}

function quantileReason(low: number, high: number, target: number, p: { roundTripCost: number }): string {
  const pct = (x: number) => `${fixed(100 * x, 3)}%`;
  const cost = pct(p.roundTripCost);
  return target > 0 ? `low quantile ${pct(low)} > cost ${cost}` : target < 0 ? `high quantile ${pct(high)} < -${cost}` : `quantiles [${pct(low)}, ${pct(high)}] do not clear ±${cost}`;
}

/** The classic: long while the fast SMA is above the slow one; short below it if allowed. */
export const smaCrossover = defineStrategy({
  id: 'core/sma-crossover',
  version: '1.0.0',
  doc: 'Long while SMA(fast) > SMA(slow); short while below if allowShort; flat during warm-up.',
  needs: { predictions: false },
  params: z
    .object({
      fast: z.number().int().min(1).default(10),
      slow: z.number().int().min(2).default(30),
      allowShort: z.boolean().default(false),
      /** 'state': take the side the averages show from the end of the warm-up; 'cross': wait for the first crossover. */
      entry: z.enum(['state', 'cross']).default('state'),
    })
    .refine((p) => p.fast < p.slow, { message: 'must have fast < slow', path: ['fast'] }),
  targets: (input, p) => {
    const close = input.candles.column('close');
    const fast = smaKernel(close, p.fast);
    const slow = smaKernel(close, p.slow);
    const targets = new Float64Array(close.length);
    let crossed = p.entry === 'state';
    for (let i = p.slow - 1; i < close.length; i++) {
      // a crossover: the fast average strictly changes side between the previous bar and this one
      if (!crossed && i >= p.slow && Math.sign(fast[i] - slow[i]) * Math.sign(fast[i - 1] - slow[i - 1]) < 0) crossed = true;
      if (!crossed) continue;
      if (fast[i] > slow[i]) targets[i] = 1;
      else if (p.allowShort && fast[i] < slow[i]) targets[i] = -1;
      else if (fast[i] === slow[i]) targets[i] = i > 0 ? targets[i - 1] : 0; // equal averages: no new signal
    }
    return { targets, reasoning: (i) => `SMA(${p.fast})=${fixed(fast[i], 2)} vs SMA(${p.slow})=${fixed(slow[i], 2)}` };
  },
  lookback: (p) => p.slow,
  incremental: (p) => {
    const fast = new RollingSum(p.fast);
    const slow = new RollingSum(p.slow);
    let state = { row: -1, crossed: p.entry === 'state', previousFast: NaN, previousSlow: NaN, previousTarget: 0 };
    return {
      next(step) {
        const i = ++state.row;
        const f = fast.push(step.bar.close);
        const s = slow.push(step.bar.close);
        let target = 0;
        if (i >= p.slow - 1) {
          // the batch form's rules, on this bar and the previous one
          if (!state.crossed && i >= p.slow && Math.sign(f - s) * Math.sign(state.previousFast - state.previousSlow) < 0) state.crossed = true;
          if (state.crossed) {
            if (f > s) target = 1;
            else if (p.allowShort && f < s) target = -1;
            else if (f === s) target = i > 0 ? state.previousTarget : 0;
          }
        }
        state.previousFast = f;
        state.previousSlow = s;
        state.previousTarget = target;
        return decision(target, `SMA(${p.fast})=${fixed(f, 2)} vs SMA(${p.slow})=${fixed(s, 2)}`);
      },
      snapshot: () => ({ ...state, fast: fast.state(), slow: slow.state() }),
      restore: (saved) => {
        const { fast: fastState, slow: slowState, ...rest } = saved as typeof state & { fast: ReturnType<RollingSum['state']>; slow: ReturnType<RollingSum['state']> };
        fast.load(fastState);
        slow.load(slowState);
        state = { ...rest, previousFast: rest.previousFast ?? NaN, previousSlow: rest.previousSlow ?? NaN };
      },
    };
  },
});

/** Buy oversold, sell overbought: enter when RSI crosses the band, leave when it returns to the middle. */
export const rsiMeanReversion = defineStrategy({
  id: 'core/rsi-mean-reversion',
  version: '1.0.0',
  doc: 'Long when RSI < oversold until RSI > exitLevel; short when RSI > overbought (if allowShort) until RSI < exitLevel.',
  needs: { predictions: false },
  params: z.object({
    period: z.number().int().min(2).default(14),
    oversold: z.number().min(0).max(100).default(30),
    overbought: z.number().min(0).max(100).default(70),
    exitLevel: z.number().min(0).max(100).default(50),
    allowShort: z.boolean().default(false),
  }),
  targets: (input, p) => {
    const rsi = rsiKernel(input.candles.column('close'), p.period);
    const targets = new Float64Array(rsi.length);
    let position = 0;
    for (let i = 0; i < rsi.length; i++) {
      const value = rsi[i];
      if (!Number.isFinite(value)) continue;
      if (position > 0 && value > p.exitLevel) position = 0;
      else if (position < 0 && value < p.exitLevel) position = 0;
      if (position === 0) {
        if (value < p.oversold) position = 1;
        else if (p.allowShort && value > p.overbought) position = -1;
      }
      targets[i] = position;
    }
    return { targets, reasoning: (i) => `RSI(${p.period})=${fixed(rsi[i], 1)} (oversold ${p.oversold}, overbought ${p.overbought}, exit ${p.exitLevel})` };
  },
  lookback: (p) => 10 * p.period,
  incremental: (p) => {
    const rsi = new RollingRsi(p.period);
    let position = 0;
    return {
      next(step) {
        const value = rsi.push(step.bar.close);
        if (Number.isFinite(value)) {
          if (position > 0 && value > p.exitLevel) position = 0;
          else if (position < 0 && value < p.exitLevel) position = 0;
          if (position === 0) {
            if (value < p.oversold) position = 1;
            else if (p.allowShort && value > p.overbought) position = -1;
          }
        }
        return decision(Number.isFinite(value) ? position : 0, `RSI(${p.period})=${fixed(value, 1)} (oversold ${p.oversold}, overbought ${p.overbought}, exit ${p.exitLevel})`);
      },
      snapshot: () => ({ rsi: rsi.state(), position }),
      restore: (saved) => {
        const state = saved as { rsi: ReturnType<RollingRsi['state']>; position: number };
        rsi.load({ ...state.rsi, previous: state.rsi.previous ?? NaN });
        position = state.position;
      },
    };
  },
});

/** Fully long from the first bar: the benchmark every strategy is compared with. */
export const buyAndHold = defineStrategy({
  id: 'core/buy-and-hold',
  version: '1.0.0',
  doc: 'Long from the first bar to the last, no predictions needed.',
  needs: { predictions: false },
  params: z.object({}),
  targets: (input) => ({ targets: new Float64Array(input.candles.length).fill(1), reasoning: () => 'buy and hold' }),
  lookback: 1,
  incremental: () => ({ next: () => decision(1, 'buy and hold'), snapshot: () => ({}), restore: () => {} }),
});

/**
 * Trades what an RL policy (core/ppo, core/dqn) decided: its model output at each bar is the target
 * exposure, taken as it is (scaled by `maxExposure`, clamped to [−1, 1]). The policy already saw its own
 * position when deciding, so backtest, paper and live sessions run the agent unchanged.
 */
export const rlPolicy = defineStrategy({
  id: 'core/rl-policy',
  version: '1.0.0',
  doc: "Holds the target exposure an RL policy model (core/ppo, core/dqn) outputs at each bar, times maxExposure.",
  needs: { predictions: true, task: 'regression' },
  params: z.object({ maxExposure: z.number().positive().max(1).default(1) }),
  targets: (input, p) => {
    const action = predictedValue(input);
    const targets = new Float64Array(action.length);
    for (let i = 0; i < action.length; i++) targets[i] = policyTarget(action[i], p.maxExposure);
    return { targets, reasoning: (i) => `policy exposure ${fixed(action[i], 3)}` };
  },
  lookback: 1,
  incremental: (p) => ({
    next(step) {
      const action = stepPrediction(step, 1)[0];
      return decision(policyTarget(action, p.maxExposure), `policy exposure ${fixed(action, 3)}`);
    },
    snapshot: () => ({}),
    restore: () => {},
  }),
});

/** A policy's output as a target: NaN (no decision) is flat; the rest scaled and clamped to [−1, 1]. */
function policyTarget(action: number, maxExposure: number): number {
  return Number.isFinite(action) ? Math.max(-1, Math.min(1, action * maxExposure)) : 0;
}

export const coreStrategies = [probabilityThreshold, returnThreshold, quantileThreshold, smaCrossover, rsiMeanReversion, buyAndHold, rlPolicy];
