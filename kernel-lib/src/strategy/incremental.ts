import { ConfigError } from '../errors';
import { Frame } from '../frame/frame';
import { strategyOutput, type IncrementalStrategy, type StrategyDecision, type StrategyDefinition, type StrategyStep } from '../plugins/define';

/**
 * Strategies stepped one bar at a time (paper and live sessions). A strategy with an incremental form
 * (`definition.incremental`) uses it; the built-ins all have one, with the batch form's exact arithmetic,
 * so a session decides what the backtest decided (test: strategy-incremental.test.ts). Any other strategy
 * is recomputed over a trailing buffer of its declared `lookback` plus a margin: exact when the batch
 * form really looks back no further than that.
 */

/** The decider a session uses for one strategy: its incremental form, or the trailing-buffer fallback. */
export function stepStrategy(definition: StrategyDefinition, params: unknown, context: { classes?: string[] } = {}): IncrementalStrategy {
  if (definition.incremental) return definition.incremental(params, context);
  return trailingBufferStrategy(definition, params, context);
}

/** Bars a trailing-buffer strategy keeps: the declared lookback × 2 (at least lookback + 100). */
export function strategyBufferBars(definition: StrategyDefinition, params: unknown): number {
  const declared = typeof definition.lookback === 'function' ? definition.lookback(params) : definition.lookback ?? 500;
  return Math.max(declared + 100, 2 * declared);
}

type BufferState = { bars: StrategyStep['bar'][]; predictions: number[][]; features: Record<string, number>[] };

/** The fallback: the batch form over the last `strategyBufferBars` bars, read at the newest row. */
export function trailingBufferStrategy(definition: StrategyDefinition, params: unknown, context: { classes?: string[] } = {}): IncrementalStrategy {
  const capacity = strategyBufferBars(definition, params);
  let state: BufferState = { bars: [], predictions: [], features: [] };
  return {
    next(step) {
      state.bars.push({ ...step.bar });
      state.predictions.push(step.prediction ? Array.from(step.prediction) : []);
      state.features.push({ ...(step.features ?? {}) });
      if (state.bars.length > capacity) {
        state.bars.shift();
        state.predictions.shift();
        state.features.shift();
      }
      const n = state.bars.length;
      const time = Float64Array.from(state.bars, (b) => b.time);
      const column = (name: 'open' | 'high' | 'low' | 'close' | 'volume'): Float64Array => Float64Array.from(state.bars, (b) => b[name]);
      const candles = Frame.fromColumns(time, { open: column('open'), high: column('high'), low: column('low'), close: column('close'), volume: column('volume') }, { symbol: 'stream', timeframe: 'unknown' });
      const featureNames = Object.keys(state.features[n - 1]);
      const features = Frame.fromColumns(time, Object.fromEntries(featureNames.map((name) => [name, Float64Array.from(state.features, (row) => row[name] ?? NaN)])), candles.meta);
      const width = state.predictions[n - 1].length;
      const predictions = width > 0 ? Float32Array.from(state.predictions.flatMap((row) => (row.length === width ? row : new Array<number>(width).fill(NaN)))) : undefined;
      const output = strategyOutput(definition.targets({ candles, features, predictions, classes: context.classes }, params));
      const target = output.targets[n - 1];
      const confidence = output.confidence?.[n - 1];
      return { target, confidence: confidence !== undefined && Number.isFinite(confidence) ? confidence : undefined, reasoning: output.reasoning?.(n - 1) ?? `target ${target} from ${definition.id}` };
    },
    snapshot: () => structuredClone(state),
    restore: (saved) => {
      state = structuredClone(saved as BufferState);
    },
  };
}

/** The class index of `className` among the model's classes (one-line error otherwise). */
export function classIndex(classes: string[] | undefined, className: string): number {
  if (!classes) throw new ConfigError('this strategy needs classifier predictions; add a model to the spec');
  const index = classes.indexOf(className);
  if (index < 0) throw new ConfigError(`class '${className}' is not one of the model's classes: ${classes.join(', ')}`);
  return index;
}

/** The step's prediction, checked (a strategy that needs one cannot decide without it). */
export function stepPrediction(step: StrategyStep, width: number): ArrayLike<number> {
  const prediction = step.prediction;
  if (!prediction || prediction.length !== width) throw new ConfigError(`this strategy needs a prediction of ${width} value(s) at each bar; got ${prediction ? prediction.length : 'none'}`);
  return prediction;
}

/**
 * A simple moving average updated one value at a time with `smaKernel`'s arithmetic (sum += new, then
 * −= the value leaving), so the values are bit-identical to the batch kernel's.
 */
export class RollingSum {
  ring: number[];
  next = 0;
  count = 0;
  sum = 0;
  constructor(readonly period: number) {
    this.ring = new Array<number>(period).fill(0);
  }
  push(value: number): number {
    this.sum += value;
    if (this.count >= this.period) this.sum -= this.ring[this.next];
    this.ring[this.next] = value;
    this.next = (this.next + 1) % this.period;
    this.count++;
    return this.count >= this.period ? this.sum / this.period : NaN;
  }
  state(): { ring: number[]; next: number; count: number; sum: number } {
    return { ring: [...this.ring], next: this.next, count: this.count, sum: this.sum };
  }
  load(state: { ring: number[]; next: number; count: number; sum: number }): void {
    this.ring = [...state.ring];
    this.next = state.next;
    this.count = state.count;
    this.sum = state.sum;
  }
}

/** Wilder's RSI updated one close at a time with `rsiKernel`'s arithmetic. */
export class RollingRsi {
  previous = NaN;
  index = -1;
  averageGain = 0;
  averageLoss = 0;
  constructor(readonly period: number) {}
  push(close: number): number {
    this.index++;
    const i = this.index;
    const previous = this.previous;
    this.previous = close;
    if (i === 0) return NaN;
    const change = close - previous;
    const gain = change > 0 ? change : 0;
    const loss = change > 0 ? 0 : -change;
    if (i < this.period) {
      this.averageGain += gain;
      this.averageLoss += loss;
      return NaN;
    }
    if (i === this.period) {
      this.averageGain = (this.averageGain + gain) / this.period;
      this.averageLoss = (this.averageLoss + loss) / this.period;
    } else {
      const factor = 1 / this.period;
      this.averageGain = (gain - this.averageGain) * factor + this.averageGain;
      this.averageLoss = (loss - this.averageLoss) * factor + this.averageLoss;
    }
    return this.averageLoss === 0 ? 100 : 100 - 100 / (this.averageGain / this.averageLoss + 1);
  }
  state(): { previous: number; index: number; averageGain: number; averageLoss: number } {
    return { previous: this.previous, index: this.index, averageGain: this.averageGain, averageLoss: this.averageLoss };
  }
  load(state: { previous: number; index: number; averageGain: number; averageLoss: number }): void {
    Object.assign(this, state);
  }
}

/** A decision with a finite confidence or none. */
export function decision(target: number, reasoning: string, confidence?: number): StrategyDecision {
  return confidence !== undefined && Number.isFinite(confidence) ? { target, confidence, reasoning } : { target, reasoning };
}
