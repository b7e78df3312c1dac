import { z } from 'zod';
import { ConfigError, didYouMean } from '../errors';
import { defineFeature } from '../plugins/define';
import { Frame, type Candles } from '../frame/frame';

/**
 * Any streaming indicator of trading-signals as a feature ("and the rest it offers"): the class is
 * constructed with `args`, fed bar by bar, and its stable results become columns (one per numeric field
 * when it returns an object). Whether it takes closes or candles, its output fields and its warm-up are
 * found by running it on a small seeded probe series. Slower than the typed-array kernels (it is the
 * streaming implementation), exact by definition.
 */
type Indicator = { update(input: unknown, replace: boolean): unknown; isStable?: boolean };
type IndicatorClass = new (...args: unknown[]) => Indicator;

function library(): Record<string, unknown> {
  // trading-signals is an ES module; Node ≥ 20.19 loads it through require.
  return require('trading-signals');
}

function indicatorClasses(): Record<string, IndicatorClass> {
  const all = library();
  return Object.fromEntries(
    Object.entries(all).filter(([name, value]) => /^[A-Z]/.test(name) && typeof value === 'function' && typeof (value as IndicatorClass).prototype?.update === 'function'),
  ) as Record<string, IndicatorClass>;
}

type Params = { indicator: string; args: unknown[]; input: 'auto' | 'close' | 'candle' };

/** A seeded random walk with valid OHLCV, for probing an indicator's shape and warm-up. */
function probeCandles(n: number): Candles {
  let price = 100;
  let state = 12345;
  const random = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
  const open = new Float64Array(n), high = new Float64Array(n), low = new Float64Array(n), close = new Float64Array(n), volume = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    open[i] = price;
    price *= 1 + (random() - 0.5) * 0.02;
    close[i] = price;
    high[i] = Math.max(open[i], close[i]) * (1 + random() * 0.005);
    low[i] = Math.min(open[i], close[i]) * (1 - random() * 0.005);
    volume[i] = 100 + random() * 50;
  }
  return Frame.fromColumns(Float64Array.from({ length: n }, (_, i) => i * 3_600_000), { open, high, low, close, volume }, { symbol: 'PROBE/X', timeframe: '1h' });
}

/** Feed the indicator every bar; returns the stable results (null where not stable). */
function run(params: Params, candles: Candles, input: 'close' | 'candle'): unknown[] {
  const classes = indicatorClasses();
  const Class = classes[params.indicator];
  if (!Class) {
    throw new ConfigError(`trading-signals has no indicator '${params.indicator}'${didYouMean(params.indicator, Object.keys(classes))}`);
  }
  let indicator: Indicator;
  try {
    indicator = new Class(...params.args);
  } catch (error) {
    throw new ConfigError(`trading-signals ${params.indicator}(${params.args.map((a) => JSON.stringify(a)).join(', ')}) failed: ${(error as Error).message}`);
  }
  const [open, high, low, close, volume] = (['open', 'high', 'low', 'close', 'volume'] as const).map((c) => candles.column(c));
  const out: unknown[] = new Array(candles.length);
  for (let i = 0; i < candles.length; i++) {
    const value = input === 'close' ? close[i] : { open: open[i], high: high[i], low: low[i], close: close[i], volume: volume[i] };
    let result: unknown;
    try {
      result = indicator.update(value, false);
    } catch {
      result = null;
    }
    const stable = indicator.isStable ?? true;
    out[i] = result !== null && result !== undefined && stable ? result : null;
  }
  return out;
}

/** Numeric fields of a result: a number is one unnamed field; an object, its numeric properties. */
function fields(result: unknown): string[] {
  if (typeof result === 'number') return [''];
  if (result && typeof result === 'object') return Object.keys(result).filter((k) => typeof (result as Record<string, unknown>)[k] === 'number');
  return [];
}

type Shape = { input: 'close' | 'candle'; fields: string[]; warmup: number };

function probe(params: Params): Shape {
  const candles = probeCandles(600);
  const inputs: Array<'close' | 'candle'> = params.input === 'auto' ? ['close', 'candle'] : [params.input];
  for (const input of inputs) {
    const results = run(params, candles, input);
    const first = results.findIndex((r) => fields(r).length > 0 && fields(r).every((f) => Number.isFinite(f === '' ? r : (r as Record<string, number>)[f])));
    if (first >= 0) return { input, fields: fields(results[first]), warmup: first };
  }
  throw new ConfigError(`trading-signals ${params.indicator} gave no numeric result on 600 probe bars with ${inputs.join(' or ')} input; check its args`);
}

function slug(params: Params): string {
  const values = params.args.flatMap((a) => (a && typeof a === 'object' ? Object.values(a as Record<string, unknown>) : [a])).filter((v) => typeof v === 'number');
  return ['ts', params.indicator.toLowerCase(), ...values.map(String)].join('_');
}

const outputNames = (params: Params, shape: Shape) => shape.fields.map((f) => (f === '' ? slug(params) : `${slug(params)}_${f.toLowerCase()}`));

export const tradingSignalsFeature = defineFeature({
  id: 'core/trading-signals',
  version: '1.0.0',
  doc: 'Any trading-signals indicator by class name and constructor args (e.g. TEMA [20], KeltnerChannels [20, 2]); streaming, exact.',
  params: z.object({
    indicator: z.string().min(1).default('TEMA'),
    args: z.array(z.unknown()).default([20]),
    input: z.enum(['auto', 'close', 'candle']).default('auto'),
  }),
  lookback: (p) => probe(p).warmup,
  outputs: (p) => outputNames(p, probe(p)),
  compute: (candles, p) => {
    const shape = probe(p);
    const results = run(p, candles, shape.input);
    const names = outputNames(p, shape);
    const columns = shape.fields.map(() => new Float64Array(candles.length).fill(NaN));
    for (let i = shape.warmup; i < candles.length; i++) {
      const r = results[i];
      if (r === null) continue;
      shape.fields.forEach((f, k) => {
        const value = f === '' ? (r as number) : (r as Record<string, number>)[f];
        columns[k][i] = typeof value === 'number' ? value : NaN;
      });
    }
    return Object.fromEntries(names.map((name, k) => [name, columns[k]]));
  },
});

/** The indicator class names trading-signals exports (for catalogues). */
export function tradingSignalsIndicators(): string[] {
  return Object.keys(indicatorClasses()).sort();
}
