"""The prediction endpoint a Python user would write instead of `candlelab serve`: FastAPI on uvicorn,
pandas for the quickstart spec's features (the same definitions: EMA seeded at the first close, Wilder
RSI and ATR, MACD and ATR divided by the close, Bollinger %B and bandwidth with the population deviation),
the same XGBoost model (its registry JSON loaded by python-xgboost) and the same threshold strategy.
POST /api/predict takes {"candles": [{time, open, high, low, close, volume}, ...]} and answers the last
candle's signal, confidence and class probabilities.

usage: /usr/bin/python3 serve_fastapi.py <model.json> <port> <buyThreshold>
"""
import sys

import numpy as np
import pandas as pd
import uvicorn
import xgboost as xgb
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

MODEL_FILE, PORT, BUY = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
booster = xgb.Booster()
booster.load_model(MODEL_FILE)
booster.set_param({"nthread": 1})
CLASSES = ["SELL", "HOLD", "BUY"]
app = FastAPI()


def wilder(values: pd.Series, period: int) -> pd.Series:
    # the first value is the mean of the first `period`, then Wilder's smoothing
    out = np.full(len(values), np.nan)
    v = values.to_numpy()
    if len(v) >= period:
        prev = v[:period].mean()
        out[period - 1] = prev
        for i in range(period, len(v)):
            prev = (v[i] - prev) / period + prev
            out[i] = prev
    return pd.Series(out, index=values.index)


def features(df: pd.DataFrame) -> pd.DataFrame:
    o, h, l, c = df["open"], df["high"], df["low"], df["close"]
    x = pd.DataFrame(index=df.index)
    for k in (1, 4, 24):
        x[f"ret_{k}"] = c / c.shift(k) - 1
    delta = c.diff()
    gain, loss = delta.clip(lower=0), (-delta).clip(lower=0)
    ag, al = wilder(gain.iloc[1:], 14), wilder(loss.iloc[1:], 14)
    x["rsi_14"] = (100 - 100 / (ag / al + 1)).reindex(df.index)
    x["ema_20_dist"] = c / c.ewm(span=20, adjust=False).mean() - 1
    x["ema_100_dist"] = c / c.ewm(span=100, adjust=False).mean() - 1
    macd = c.ewm(span=12, adjust=False).mean() - c.ewm(span=26, adjust=False).mean()
    macd.iloc[:25] = np.nan
    signal = macd.iloc[25:].ewm(span=9, adjust=False).mean().reindex(df.index)
    x["macd_12_26_9"] = macd / c
    x["macd_signal_12_26_9"] = signal / c
    x["macd_hist_12_26_9"] = (macd - signal) / c
    mid = c.rolling(20).mean()
    sd = c.rolling(20).std(ddof=0)
    upper, lower = mid + 2 * sd, mid - 2 * sd
    x["bb_pctb_20"] = (c - lower) / (upper - lower)
    x["bb_width_20"] = (upper - lower) / mid
    tr = pd.concat([h - l, (h - c.shift()).abs(), (l - c.shift()).abs()], axis=1).max(axis=1)
    tr.iloc[0] = h.iloc[0] - l.iloc[0]
    x["atr_14_pct"] = wilder(tr, 14) / c
    return x


@app.post("/api/predict")
async def predict(request: Request):
    body = await request.json()
    candles = body.get("candles")
    if not isinstance(candles, list) or len(candles) < 100:
        return JSONResponse({"error": "send at least 100 candles", "field": "candles"}, status_code=400)
    df = pd.DataFrame(candles)
    last = features(df).iloc[[-1]]
    p = booster.predict(xgb.DMatrix(last.to_numpy(dtype=np.float32)))[0]
    buy = float(p[2])
    signal = "LONG" if buy > BUY else "FLAT"
    return {"signal": signal, "confidence": buy, "prediction": [float(v) for v in p], "entry": float(df["close"].iloc[-1])}


@app.get("/health")
async def health():
    return {"status": "ok"}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning", access_log=False)
