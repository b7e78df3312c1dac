import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import type { Candles } from '../frame/frame';
import { timeframeMs } from '../frame/frame';
import { ConfigError, DataError } from '../errors';
import { defineFeature } from '../plugins/define';
import { loadCandleSource } from '../data/load-candles';
import { readStore, storeId } from '../data/store';
import { openWorkspace } from '../workspace';
import { alignToBase } from './resample';
import { zScoreKernel } from './kernels';

/**
 * Cross-asset and cross-exchange features: the traded series against a reference series (BTC for an
 * altcoin, the same pair on another exchange, an index). The reference is aligned as of each base bar's
 * close: base row t sees the latest reference bar that closed by then, never a later one.
 */

const referenceSchema = z.union([
  z.object({ column: z.string().min(1) }).strict(),
  z.object({ path: z.string().min(1), timeframe: z.string().regex(/^\d+[mhdw]$/).optional() }).strict(),
  z
    .object({
      exchange: z.string().min(1),
      market: z.enum(['spot', 'futures']).default('spot'),
      symbol: z.string().min(1),
      timeframe: z.string().regex(/^\d+[mhdw]$/).optional(),
    })
    .strict(),
]);
export type ReferenceSource = z.output<typeof referenceSchema>;

const crossAssetParams = z.object({
  /** A column of the data (`{column}`), a candles file (`{path}`, relative to the spec's folder in a run) or a store entry (in the run's store). */
  reference: referenceSchema,
  /** Column prefix: x_<name>_…; default from the reference (its symbol, file or column name). */
  name: z.string().regex(/^[a-z0-9_]+$/).optional(),
  /** Window of the rolling correlation, beta and ratio z-score. */
  window: z.number().int().min(3).max(100_000).default(30),
  /** Horizon of the return spread, in bars. */
  horizon: z.number().int().min(1).max(100_000).default(1),
});
type CrossAssetParams = z.output<typeof crossAssetParams>;

const slug = (text: string) => text.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');

function referenceName(p: CrossAssetParams): string {
  if (p.name) return p.name;
  const r = p.reference;
  if ('column' in r) return slug(r.column);
  if ('path' in r) return slug(path.basename(r.path).replace(/\.[^.]+$/, ''));
  return slug(r.exchange === 'binance' ? r.symbol : `${r.exchange}_${r.symbol}`);
}

const outputNames = (p: CrossAssetParams) => {
  const x = `x_${referenceName(p)}`;
  return { spread: `${x}_ret_spread_${p.horizon}`, ratio: `${x}_ratio`, ratioZ: `${x}_ratio_z_${p.window}`, corr: `${x}_corr_${p.window}`, beta: `${x}_beta_${p.window}` };
};

/**
 * The reference closes on the base rows, as of each base bar's close (NaN before its first bar closed).
 * A file is read relative to `where.baseDir` (a spec's folder in a run) and a store entry from
 * `where.dataDir` (the run's store, --data-dir included), both through the one candle loader.
 */
export function referenceCloses(candles: Candles, reference: ReferenceSource, where: { dataDir?: string; baseDir?: string } = {}): Float64Array {
  if ('column' in reference) {
    if (!candles.has(reference.column)) {
      throw new ConfigError(`core/cross-asset: the data has no column '${reference.column}' (columns: ${candles.names.join(', ')}); load data with the reference column or use {path} / a store entry`);
    }
    return candles.column(reference.column); // already on the base rows
  }
  const baseDir = where.baseDir ?? process.cwd();
  const dataDir = where.dataDir ?? openWorkspace().dataDir;
  let ref: Candles;
  if ('path' in reference) {
    const file = path.resolve(baseDir, reference.path);
    if (!fs.existsSync(file)) throw new DataError(`core/cross-asset: reference file ${file} does not exist; check reference.path (relative to ${baseDir})`);
    ref = loadCandleSource({ source: 'file', path: file, timeframe: reference.timeframe }, { dataDir, baseDir });
  } else {
    const key = { exchange: reference.exchange, market: reference.market, symbol: reference.symbol, timeframe: reference.timeframe ?? candles.meta.timeframe };
    if (!readStore(key, dataDir)) throw new DataError(`core/cross-asset: ${storeId(key)} is not in the data store; fetch or import it first (candlelab data fetch / data import; store: ${dataDir})`);
    ref = loadCandleSource({ source: 'store', ...key }, { dataDir });
  }
  const refStep = timeframeMs(ref.meta.timeframe);
  const baseStep = timeframeMs(candles.meta.timeframe);
  const baseClose = Float64Array.from(candles.time, (t) => t + baseStep);
  const refClose = Float64Array.from(ref.time, (t) => t + refStep);
  return alignToBase(baseClose, refClose, ref.column('close'));
}

export type CrossAssetColumns = { spread: Float64Array; ratio: Float64Array; ratioZ: Float64Array; corr: Float64Array; beta: Float64Array };

/**
 * Return spread over `horizon` bars (r_asset − r_ref), price ratio, z-score of the log ratio, and the
 * rolling correlation and beta of one-bar log returns over `window` bars. A window holding a NaN gives NaN.
 */
export function crossAssetKernel(close: Float64Array, reference: Float64Array, window: number, horizon: number): CrossAssetColumns {
  const n = close.length;
  const nan = () => new Float64Array(n).fill(NaN);
  const out = { spread: nan(), ratio: nan(), corr: nan(), beta: nan() };
  const logRatio = new Float64Array(n);
  const x = nan(); // asset log returns
  const y = nan(); // reference log returns
  for (let t = 0; t < n; t++) {
    out.ratio[t] = close[t] / reference[t];
    logRatio[t] = Math.log(out.ratio[t]);
    if (t >= horizon) out.spread[t] = close[t] / close[t - horizon] - reference[t] / reference[t - horizon];
    if (t >= 1) {
      x[t] = Math.log(close[t] / close[t - 1]);
      y[t] = Math.log(reference[t] / reference[t - 1]);
    }
  }
  for (let t = window - 1; t < n; t++) {
    // two passes over the window: exact for returns near zero
    let mx = 0;
    let my = 0;
    for (let i = t - window + 1; i <= t; i++) {
      mx += x[i];
      my += y[i];
    }
    mx /= window;
    my /= window;
    if (!Number.isFinite(mx) || !Number.isFinite(my)) continue; // a window holding a NaN
    let vx = 0;
    let vy = 0;
    let cxy = 0;
    for (let i = t - window + 1; i <= t; i++) {
      vx += (x[i] - mx) ** 2;
      vy += (y[i] - my) ** 2;
      cxy += (x[i] - mx) * (y[i] - my);
    }
    out.corr[t] = vx > 0 && vy > 0 ? cxy / Math.sqrt(vx * vy) : 0;
    out.beta[t] = vy > 0 ? cxy / vy : 0;
  }
  return { ...out, ratioZ: zScoreKernel(logRatio, window) };
}

export const crossAssetFeature = defineFeature({
  id: 'core/cross-asset',
  version: '1.0.0',
  doc: 'Against a reference series (data column, file or store entry, aligned as of each bar close): return spread, price ratio and its z-score, rolling correlation and beta.',
  params: crossAssetParams,
  lookback: (p) => Math.max(p.window, p.horizon),
  inputs: (p) => ('column' in p.reference ? [p.reference.column] : []),
  outputs: (p) => Object.values(outputNames(p)),
  compute: (candles, p, context) => {
    const reference = referenceCloses(candles, p.reference, { dataDir: context?.dataDir, baseDir: context?.baseDir });
    const columns = crossAssetKernel(candles.column('close'), reference, p.window, p.horizon);
    const names = outputNames(p);
    return { [names.spread]: columns.spread, [names.ratio]: columns.ratio, [names.ratioZ]: columns.ratioZ, [names.corr]: columns.corr, [names.beta]: columns.beta };
  },
});
