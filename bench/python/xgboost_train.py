"""Python's xgboost (Debian's python3-xgboost) training on the bench's matrix, for the side-by-side ratio.

usage: /usr/bin/python3 xgboost_train.py <X.f32> <y.f32> <rows> <cols> <rounds> <repeat> <params.json>
Prints one JSON line: best wall time (DMatrix + training, as on the TypeScript side) and the final
train log-loss, so the bench can check both trained the same model.
"""
import json
import sys
import time

import numpy as np
import xgboost as xgb


def main() -> None:
    x_file, y_file, rows, cols, rounds, repeat, params = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), json.loads(sys.argv[7])
    X = np.fromfile(x_file, dtype="<f4").reshape(rows, cols)
    y = np.fromfile(y_file, dtype="<f4")
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        train = xgb.DMatrix(X, label=y, missing=np.nan, nthread=params.get("nthread", -1))
        booster = xgb.train(params, train, num_boost_round=rounds)
        best = min(best, (time.perf_counter() - start) * 1000)
    loss = float(booster.eval(train).split(":")[1])
    print(json.dumps({"ms": best, "version": xgb.__version__, "train_loss": loss}))


if __name__ == "__main__":
    main()
