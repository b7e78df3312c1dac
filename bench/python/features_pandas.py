"""The bench's 50 standard features, written the way a pandas user would (rolling, ewm, numpy where pandas
has no idiom), on the same candles the TypeScript side computes. Prints one JSON line: the best wall
time of `repeat` runs (file reading excluded, as on the TypeScript side), the first run's time apart (the
only one writing into memory the process never touched: later runs reuse what the allocator freed), the
peak resident memory (ru_maxrss) after loading the candles and after the first run, and the last `tail`
values of every column, so the bench can check both sides computed the same thing.

usage: /usr/bin/python3 features_pandas.py <candles.f64> <rows> <repeat> <tail>
The file holds six float64 columns one after another: time, open, high, low, close, volume.
"""
import json
import resource
import sys
import time

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view


def padded(values: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.nan)
    out[n - len(values):] = values
    return out


def features(df: pd.DataFrame) -> dict:
    o, h, l, c, v = df["open"], df["high"], df["low"], df["close"], df["volume"]
    n = len(df)
    x = {}
    for k in (1, 2, 4, 8, 16, 32, 64):
        x[f"ret_{k}"] = c / c.shift(k) - 1
    for k in (1, 4, 16):
        x[f"logret_{k}"] = np.log(c / c.shift(k))
    delta = c.diff()
    gain, loss = delta.clip(lower=0), (-delta).clip(lower=0)
    for p in (7, 14, 28):
        ag = gain.ewm(alpha=1 / p, adjust=False).mean()
        al = loss.ewm(alpha=1 / p, adjust=False).mean()
        x[f"rsi_{p}"] = 100 - 100 / (1 + ag / al)
    for p in (10, 20, 50, 100, 200):
        x[f"ema_{p}_dist"] = c / c.ewm(span=p, adjust=False).mean() - 1
    for p in (10, 20, 50, 100, 200):
        x[f"sma_{p}_dist"] = c / c.rolling(p).mean() - 1
    weights = np.arange(1, 21, dtype=float)
    wma = np.convolve(c.to_numpy(), weights[::-1], "valid") / weights.sum()
    x["wma_20_dist"] = c / padded(wma, n) - 1
    line = c.ewm(span=12, adjust=False).mean() - c.ewm(span=26, adjust=False).mean()
    signal = line.ewm(span=9, adjust=False).mean()
    x["macd_12_26_9"], x["macd_signal_12_26_9"], x["macd_hist_12_26_9"] = line / c, signal / c, (line - signal) / c
    for p in (20, 50):
        mid, sd = c.rolling(p).mean(), c.rolling(p).std(ddof=0)
        upper, lower = mid + 2 * sd, mid - 2 * sd
        x[f"bb_pctb_{p}"] = (c - lower) / (upper - lower)
        x[f"bb_width_{p}"] = (upper - lower) / mid
    prev = c.shift()
    tr = pd.concat([h - l, (h - prev).abs(), (l - prev).abs()], axis=1).max(axis=1)
    atr = tr.ewm(alpha=1 / 14, adjust=False).mean()
    x["atr_14_pct"] = atr / c
    hh, ll = h.rolling(14).max(), l.rolling(14).min()
    fast = 100 * (c - ll) / (hh - ll)
    k = fast.rolling(3).mean()
    x["stoch_k_14"], x["stoch_d_14"] = k, k.rolling(3).mean()
    x["willr_14"] = -100 * (hh - c) / (hh - ll)
    tp = (h + l + c) / 3
    windows = sliding_window_view(tp.to_numpy(), 20)
    mean_tp = windows.mean(axis=1)
    mad = np.abs(windows - mean_tp[:, None]).mean(axis=1)
    x["cci_20"] = padded((windows[:, -1] - mean_tp) / (0.015 * mad), n)
    x["roc_10"] = c.pct_change(10)
    obv = (np.sign(delta) * v).fillna(0).cumsum()
    x["obv_z_100"] = (obv - obv.rolling(100).mean()) / obv.rolling(100).std()
    up, down = h.diff(), -l.diff()
    plus_dm = up.where((up > down) & (up > 0), 0.0)
    minus_dm = down.where((down > up) & (down > 0), 0.0)
    plus_di = plus_dm.ewm(alpha=1 / 14, adjust=False).mean() / atr
    minus_di = minus_dm.ewm(alpha=1 / 14, adjust=False).mean() / atr
    dx = 100 * (plus_di - minus_di).abs() / (plus_di + minus_di)
    x["adx_14"], x["plus_di_14"], x["minus_di_14"] = dx.ewm(alpha=1 / 14, adjust=False).mean(), plus_di, minus_di
    vwap = (tp * v).rolling(24).sum() / v.rolling(24).sum()
    x["vwap_24_dist"] = c / vwap - 1
    vz = (v - v.rolling(24).mean()) / v.rolling(24).std()
    x["volume_z_24"], x["volume_spike_24"] = vz, (vz > 2).astype(float)
    xs = np.arange(24, dtype=float)
    centered = xs - xs.mean()
    slope = np.convolve(np.log(c.to_numpy()), centered[::-1], "valid") / (centered ** 2).sum()
    x["trend_slope_24"] = padded(slope * 23, n)
    x["volatility_24"] = np.log(c / prev).rolling(24).std()
    x["hl_range"] = (h - l) / c
    x["body"] = (c - o) / c
    x["upper_wick"] = (h - np.maximum(o, c)) / c
    x["lower_wick"] = (np.minimum(o, c) - l) / c
    return x


def main() -> None:
    file, rows, repeat, tail = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    raw = np.fromfile(file, dtype="<f8").reshape(6, rows)
    df = pd.DataFrame({"open": raw[1], "high": raw[2], "low": raw[3], "close": raw[4], "volume": raw[5]}, index=pd.to_datetime(raw[0], unit="ms"))
    features(df.iloc[: min(rows, 2000)])  # warm-up on 2,000 rows (lazy imports), as on the TypeScript side
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    runs, rss_first = [], 0
    for _ in range(repeat):
        out = None  # the previous run's columns are released first, as a user recomputing would
        start = time.perf_counter()
        out = features(df)
        runs.append((time.perf_counter() - start) * 1000)
        rss_first = rss_first or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    best = min(runs)
    tails = {name: [None if np.isnan(value) else float(value) for value in np.asarray(series)[-tail:]] for name, series in out.items()}
    print(json.dumps({"ms": best, "runs": runs, "maxrss_loaded_kb": rss_loaded, "maxrss_first_kb": rss_first, "pandas": pd.__version__, "numpy": np.__version__, "columns": list(out), "tail": tails, "exact": exact_tails(df, tail)}))


def exact_tails(df: pd.DataFrame, tail: int) -> dict:
    """The rolling-deviation columns by exact two passes per window (not timed): pandas' rolling std is a
    one-pass online algorithm whose rounding shows on large levels with a small spread (prices, OBV)."""
    c, v = df["close"].to_numpy(), df["volume"].to_numpy()

    def zscore(x: np.ndarray, w: int) -> np.ndarray:
        windows = sliding_window_view(x[-(tail + w - 1):], w)
        mean = windows.mean(axis=1)
        return (windows[:, -1] - mean) / np.sqrt(((windows - mean[:, None]) ** 2).sum(axis=1) / (w - 1))

    def pctb(w: int) -> np.ndarray:
        windows = sliding_window_view(c[-(tail + w - 1):], w)
        mean = windows.mean(axis=1)
        sd = np.sqrt(((windows - mean[:, None]) ** 2).sum(axis=1) / w)
        return (c[-tail:] - (mean - 2 * sd)) / (4 * sd)

    obv = np.concatenate([[0.0], np.cumsum(np.sign(np.diff(c)) * v[1:])])
    exact = {"bb_pctb_20": pctb(20), "bb_pctb_50": pctb(50), "obv_z_100": zscore(obv, 100), "volume_z_24": zscore(v, 24)}
    return {name: [float(value) for value in values] for name, values in exact.items()}


if __name__ == "__main__":
    main()
