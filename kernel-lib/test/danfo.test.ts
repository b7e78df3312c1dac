import { describe, expect, it } from 'vitest';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { danfo, fromDanfo, showDanfo, toDanfo } from '../src/frame/danfo';
import { Frame } from '../src/frame/frame';
import { DataError } from '../src/errors';

const meta = { symbol: 'BTC/USDT', timeframe: '1h' };

/** Hand-made values that float32 would round (0.1, 1e-9, large volumes), NaN, and whole numbers danfo types as int32. */
function smallFrame(): Frame {
  const time = Float64Array.from([0, 1, 2, 3], (i) => Date.UTC(2024, 0, 1) + i * 3_600_000);
  return Frame.fromColumns(
    time,
    {
      close: Float64Array.from([100.1, 100.2, NaN, 100.30000000000001]),
      volume: Float64Array.from([1000, 2000, 3000, 123456789.123]),
      tiny: Float64Array.from([1e-9, -1e-9, 0, NaN]),
    },
    meta,
  );
}

describe('danfo interop', () => {
  it('toDanfo: the epoch-ms index, the columns in order, float dtypes, exact float64 values and NaN', () => {
    const frame = smallFrame();
    const df = toDanfo(frame);
    expect(df.shape).toEqual([4, 3]);
    expect(df.columns).toEqual(['close', 'volume', 'tiny']);
    expect(df.index).toEqual(Array.from(frame.time));
    expect(df.dtypes).toEqual(['float32', 'float32', 'float32']);
    expect(df.column('close').values).toEqual([100.1, 100.2, NaN, 100.30000000000001]);
    expect(df.column('volume').values).toEqual([1000, 2000, 3000, 123456789.123]);
    expect(df.column('tiny').values).toEqual([1e-9, -1e-9, 0, NaN]);
    // The Float64Array buffers are not shared (danfo keeps row arrays): changing the danfo copy leaves the frame alone.
    (df.column('close').values as number[])[0] = -1;
    expect(frame.column('close')[0]).toBe(100.1);
  });

  it('round trip: same times, columns, Float64Array values bit for bit, NaN where NaN was, meta kept', () => {
    const frame = smallFrame();
    const back = fromDanfo(toDanfo(frame));
    expect(back.meta).toEqual(meta);
    expect(back.time).toBeInstanceOf(Float64Array);
    expect(Array.from(back.time)).toEqual(Array.from(frame.time));
    expect(back.names).toEqual(['close', 'volume', 'tiny']);
    for (const name of frame.names) {
      expect(back.column(name)).toBeInstanceOf(Float64Array);
      expect(Array.from(back.column(name))).toEqual(Array.from(frame.column(name)));
    }
    expect(Number.isNaN(back.column('close')[2])).toBe(true);
    expect(Number.isNaN(back.column('tiny')[3])).toBe(true);
  });

  it('round trip of a synthetic candle series with its OHLCV columns, and with a time column', () => {
    const candles = generateSyntheticCandles({ bars: 500, seed: 7 });
    const back = fromDanfo(toDanfo(candles));
    expect(back.length).toBe(500);
    expect(Array.from(back.time)).toEqual(Array.from(candles.time));
    for (const name of candles.names) expect(Array.from(back.column(name))).toEqual(Array.from(candles.column(name)));

    const withTime = toDanfo(candles, { timeColumn: true });
    expect(withTime.columns).toEqual(['time', ...candles.names]);
    // resetIndex drops the time index; fromDanfo then reads the time column, and leaves it out of the columns.
    const reset = withTime.resetIndex() as ReturnType<typeof toDanfo>;
    const fromColumn = fromDanfo(reset, { meta: candles.meta, columns: ['close'] });
    expect(fromColumn.names).toEqual(['close']);
    expect(Array.from(fromColumn.time)).toEqual(Array.from(candles.time));
    expect(Array.from(fromColumn.column('close'))).toEqual(Array.from(candles.column('close')));
  });

  it('a danfo result goes back into a frame: column arithmetic, a Series, Date and ISO times, null as NaN, booleans as 1/0', () => {
    const dfd = danfo();
    const frame = smallFrame();
    const df = toDanfo(frame);
    const spread = df.column('close').mul(2) as InstanceType<typeof dfd.Series>;
    const fromSeries = fromDanfo(spread, { meta });
    expect(fromSeries.names).toEqual(['close']);
    expect(Array.from(fromSeries.column('close'))).toEqual([200.2, 200.4, NaN, 200.60000000000002]);
    expect(Array.from(fromSeries.time)).toEqual(Array.from(frame.time));

    const made = new dfd.DataFrame(
      { time: ['2024-01-01T00:00:00Z', '2024-01-01T01:00:00Z', '2024-01-01T02:00:00Z'], flag: [true, false, true], x: [1.5, null, 3] },
      {},
    );
    const back = fromDanfo(made, { meta });
    expect(Array.from(back.time)).toEqual([0, 1, 2].map((i) => Date.UTC(2024, 0, 1) + i * 3_600_000));
    expect(Array.from(back.column('flag'))).toEqual([1, 0, 1]);
    expect(Array.from(back.column('x'))).toEqual([1.5, NaN, 3]);

    const dated = new dfd.DataFrame({ x: [1, 2] }, { index: [new Date(Date.UTC(2024, 0, 1)), new Date(Date.UTC(2024, 0, 2))] as unknown as number[] });
    expect(Array.from(fromDanfo(dated, { meta }).time)).toEqual([Date.UTC(2024, 0, 1), Date.UTC(2024, 0, 2)]);
  });

  it('danfo runs on the same tfjs as candlelab (one engine, one version): its tfjs-node is an alias of @tensorflow/tfjs', () => {
    const dfd = danfo();
    const tf = require('@tensorflow/tfjs') as typeof import('@tensorflow/tfjs');
    expect(dfd.tensorflow.version_core).toBe(tf.version_core);
    expect(dfd.tensorflow.engine()).toBe(tf.engine());
    // danfo's tensors are candlelab's tensors: a danfo op result is usable by candlelab's tf.
    const tensor = toDanfo(smallFrame()).column('volume').tensor;
    expect(tensor).toBeInstanceOf(tf.Tensor);
    tensor.dispose();
  });

  it('an empty frame converts both ways', () => {
    const empty = Frame.fromColumns(new Float64Array(0), { close: new Float64Array(0) }, meta);
    const df = toDanfo(empty);
    expect(df.columns).toEqual(['close']);
    const back = fromDanfo(df);
    expect(back.length).toBe(0);
    expect(back.names).toEqual(['close']);
  });

  it('clear errors: no meta, string columns, unparseable times, unsorted times, a missing time column', () => {
    const dfd = danfo();
    const plain = new dfd.DataFrame({ x: [1, 2] }, { index: [10, 20] });
    expect(() => fromDanfo(plain)).toThrow('fromDanfo needs meta ({ symbol, timeframe }) for a DataFrame not made by toDanfo; pass { meta: candles.meta }');
    const labelled = new dfd.DataFrame({ x: [1, 2], side: ['buy', 'sell'] }, { index: [10, 20] });
    expect(() => fromDanfo(labelled, { meta })).toThrow(`danfo column 'side' holds "buy" at row 0, not a number; leave it out with { columns: [...] }`);
    expect(Array.from(fromDanfo(labelled, { meta, columns: ['x'] }).column('x'))).toEqual([1, 2]);
    const badTimes = new dfd.DataFrame({ x: [1, 2] }, { index: ['a', 'b'] });
    expect(() => fromDanfo(badTimes, { meta })).toThrow(`danfo index holds "a" at row 0, not a time (epoch ms, Date or ISO string)`);
    const unsorted = new dfd.DataFrame({ x: [1, 2] }, { index: [20, 10] });
    expect(() => fromDanfo(unsorted, { meta })).toThrow(DataError);
    expect(() => fromDanfo(plain, { meta, time: 'when' })).toThrow("danfo frame has no column 'when' for times; it has: x");
  });

  it('explores like pandas and hands the result back: groupby hour of day, then a per-row feature joined to the candles', () => {
    const dfd = danfo();
    const candles = generateSyntheticCandles({ bars: 24 * 20, seed: 3 });
    const close = candles.column('close');
    const ret = Float64Array.from(close, (c, i) => (i === 0 ? NaN : c / close[i - 1] - 1));
    const df = toDanfo(candles.withColumns({ ret }), { timeColumn: true });
    df.addColumn('hour', (df.column('time').values as number[]).map((t) => new Date(t).getUTCHours()), { inplace: true });
    const byHour = df.dropNa().groupby(['hour']).col(['ret']).mean() as InstanceType<typeof dfd.DataFrame>;
    expect(byHour.shape[0]).toBe(24);
    const hours = byHour.column('hour').values as number[];
    const means = byHour.column('ret_mean').values as number[];
    // Check the group means against a plain loop.
    for (let h = 0; h < 24; h++) {
      let sum = 0;
      let n = 0;
      for (let i = 1; i < candles.length; i++) {
        if (new Date(candles.time[i]).getUTCHours() === h) {
          sum += ret[i];
          n++;
        }
      }
      expect(means[hours.indexOf(h)]).toBeCloseTo(sum / n, 12);
    }
    // Map each bar to its hour's mean return and hand it back as a feature column.
    const hourMean = new Map(hours.map((h, i) => [h, means[i]]));
    const feature = fromDanfo(df.column('hour').map((h) => hourMean.get(h as number) ?? NaN) as InstanceType<typeof dfd.Series>, { meta: candles.meta });
    const joined = candles.withColumns({ hour_mean_ret: feature.column('hour') });
    expect(joined.column('hour_mean_ret')[5]).toBe(hourMean.get(new Date(candles.time[5]).getUTCHours()));
  });

  it('showDanfo prints a DataFrame and a Series outside notebooks with times as ISO', () => {
    const lines: string[] = [];
    const original = console.log;
    const table = console.table;
    console.log = (...args: unknown[]) => void lines.push(args.map(String).join(' '));
    console.table = (rows: unknown) => void lines.push(JSON.stringify(rows));
    try {
      showDanfo(toDanfo(smallFrame()), 'candles', 2);
      showDanfo(toDanfo(smallFrame()).column('volume'));
    } finally {
      console.log = original;
      console.table = table;
    }
    expect(lines[0]).toBe('candles: 4 rows × 3 columns (first 2)');
    expect(lines[1]).toContain('"":"2024-01-01T00:00:00.000Z","close":100.1,"volume":1000');
    expect(lines[2]).toBe('danfo Series: 4 rows × 1 columns');
  });
});
