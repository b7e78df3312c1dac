"""The peer of candlelab's backtest engine: the same SMA-crossover strategy in a plain Python event loop
over a pandas DataFrame, with the same rules (decide at the close, fill at the next open, commission and
slippage in bps, all equity per entry, flips close then open, close at the last close).

usage: /usr/bin/python3 backtest_loop.py <candles.csv> <fast> <slow> <commission_bps> <slippage_bps>
prints one JSON line: {"bars", "seconds", "final_equity", "trades"}
"""
import json
import sys
import time

import pandas as pd


def main() -> None:
    path, fast, slow, commission_bps, slippage_bps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    frame = pd.read_csv(path)
    started = time.perf_counter()
    sma_fast = frame["close"].rolling(fast).mean()
    sma_slow = frame["close"].rolling(slow).mean()
    targets = ((sma_fast > sma_slow).astype(float) - (sma_fast < sma_slow).astype(float)).where(sma_slow.notna(), 0.0)
    final_equity, trades = run(frame["open"], frame["close"], targets, commission_bps, slippage_bps)
    seconds = time.perf_counter() - started
    result = {"bars": len(frame), "seconds": seconds, "final_equity": final_equity, "trades": trades}
    if "candlelab_target" in frame:
        # the same loop on candlelab's own targets: isolates the backtest rules from indicator rounding
        result["final_equity_on_candlelab_targets"], result["trades_on_candlelab_targets"] = run(frame["open"], frame["close"], frame["candlelab_target"], commission_bps, slippage_bps)
    print(json.dumps(result))


def run(open_column, close_column, target_column, commission_bps, slippage_bps):
    commission, slippage = commission_bps / 10_000, slippage_bps / 10_000
    cash, units, held, trades = 10_000.0, 0.0, 0.0, 0
    previous_target = 0.0
    rows = list(zip(open_column.tolist(), close_column.tolist(), target_column.tolist()))
    last = len(rows) - 1
    for i, (open_, close, target) in enumerate(rows):
        if i > 0 and previous_target != held:
            if units != 0:
                price = open_ * (1 - slippage if units > 0 else 1 + slippage)
                fee = abs(units) * price * commission
                cash += units * price - fee
                units, trades = 0.0, trades + 1
            held = previous_target
            if held != 0:
                price = open_ * (1 + slippage if held > 0 else 1 - slippage)
                size = cash * abs(held) / (price * (1 + commission))
                fee = size * price * commission
                units = size if held > 0 else -size
                cash -= units * price + fee
        if i == last and units != 0:
            price = close * (1 - slippage if units > 0 else 1 + slippage)
            cash += units * price - abs(units) * price * commission
            units, trades = 0.0, trades + 1
        previous_target = target
    return cash, trades


if __name__ == "__main__":
    main()
