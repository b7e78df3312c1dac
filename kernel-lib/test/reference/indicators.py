"""Independent reference values for candlelab's indicator kernels, computed with pandas (Debian's
python3-pandas) in pandas' own idioms: rolling windows, ewm, explicit Wilder recursions.

usage: /usr/bin/python3 indicators.py <candles.csv> <expected.csv>
"""
import sys

import numpy as np
import pandas as pd


def wilder(values: pd.Series, n: int) -> pd.Series:
    """Wilder's smoothing seeded with the simple mean of the first n values (NaN values skipped at the start)."""
    out = pd.Series(np.nan, index=values.index)
    valid = values.dropna()
    if len(valid) < n:
        return out
    first = valid.index[n - 1]
    average = valid.iloc[:n].mean()
    out[first] = average
    for i in valid.index[n:]:
        average = average + (values[i] - average) / n
        out[i] = average
    return out


def main() -> None:
    df = pd.read_csv(sys.argv[1])
    o, h, l, c, v = df["open"], df["high"], df["low"], df["close"], df["volume"]
    x = {}
    x["sma_20"] = c.rolling(20).mean()
    ema = c.ewm(span=20, adjust=False).mean()
    ema[:19] = np.nan
    x["ema_20"] = ema
    delta = c.diff()
    gain = delta.clip(lower=0)
    loss = (-delta).clip(lower=0)
    avg_gain, avg_loss = wilder(gain.iloc[1:], 14), wilder(loss.iloc[1:], 14)
    rsi = 100 - 100 / (1 + avg_gain / avg_loss)
    x["rsi_14"] = rsi.where(avg_loss != 0, 100.0).reindex(df.index)
    fast, slow = c.ewm(span=12, adjust=False).mean(), c.ewm(span=26, adjust=False).mean()
    line = (fast - slow).where(df.index >= 25)
    signal = line.iloc[25:].ewm(span=9, adjust=False).mean().reindex(df.index)
    signal[: 25 + 8] = np.nan
    x["macd_line"], x["macd_signal"] = line, signal
    middle, deviation = c.rolling(20).mean(), c.rolling(20).std(ddof=0)
    x["bb_upper"], x["bb_lower"] = middle + 2 * deviation, middle - 2 * deviation
    true_range = pd.concat([h - l, (h - c.shift()).abs(), (l - c.shift()).abs()], axis=1).max(axis=1)
    true_range[0] = h[0] - l[0]
    x["atr_14"] = wilder(true_range, 14)
    x["roc_10"] = c.pct_change(10)
    weights = np.arange(1, 21)
    x["wma_20"] = c.rolling(20).apply(lambda w: np.dot(w, weights) / weights.sum(), raw=True)
    highest, lowest = h.rolling(14).max(), l.rolling(14).min()
    x["willr_14"] = ((highest - c) / (highest - lowest) * -100).where(highest != lowest, -100.0)
    typical = (h + l + c) / 3
    mean_tp = typical.rolling(20).mean()
    mad = typical.rolling(20).apply(lambda w: np.abs(w - w.mean()).mean(), raw=True)
    x["cci_20"] = (typical - mean_tp) / (0.015 * mad)
    x["vwap_24"] = (typical * v).rolling(24).sum() / v.rolling(24).sum()
    x["volume_z_24"] = (v - v.rolling(24).mean()) / v.rolling(24).std(ddof=1)
    x["volatility_24"] = np.log(c / c.shift()).rolling(24).std(ddof=1)
    pd.DataFrame(x).to_csv(sys.argv[2], index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
