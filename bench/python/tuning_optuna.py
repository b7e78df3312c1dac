"""Optuna's TPESampler (Debian's python3-optuna 3.1, default settings) on the tuning bench's test functions.

usage: /usr/bin/python3 tuning_optuna.py '<config json>'
config: {"functions": [...], "seeds": [...], "trials": n, "multivariate": [false, true],
         "samplers": ["tpe", "random"] (optional, default ["tpe"])}
Prints one JSON line: for every function, variant and seed the best-so-far value after each trial and
the sampler's own time (optimize wall time minus time spent in the objective), in ms; per trial the
same (trialMs: from the end of the previous trial's formula to the end of this one's), and the time
inside the sampler's methods alone (inSamplerMs).
The functions are the same formulas as bench/tuning-lib.mjs.
"""
import json
import math
import sys
import time
import warnings

import optuna

optuna.logging.set_verbosity(optuna.logging.ERROR)
warnings.simplefilter("ignore")

HARTMANN_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
HARTMANN_P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991], [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]
HARTMANN_ALPHA = [1.0, 1.2, 3.0, 3.2]


def branin(x):
    x1, x2 = x
    return (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


def hartmann6(x):
    return -sum(HARTMANN_ALPHA[i] * math.exp(-sum(HARTMANN_A[i][j] * (x[j] - 1e-4 * HARTMANN_P[i][j]) ** 2 for j in range(6))) for i in range(4))


def rosenbrock4(x):
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (x[i] - 1) ** 2 for i in range(3))


# name: (formula, [(low, high)] per dimension) — standard domains
FUNCTIONS = {
    "branin": (branin, [(-5, 10), (0, 15)]),
    "hartmann6": (hartmann6, [(0, 1)] * 6),
    "rosenbrock4": (rosenbrock4, [(-5, 10)] * 4),
}


SAMPLER_METHODS = ["infer_relative_search_space", "sample_relative", "sample_independent", "before_trial", "after_trial"]


def timed_sampler(sampler, clock):
    """The sampler with its methods adding their time to clock[0] (instance attributes shadow the class's)."""
    for name in SAMPLER_METHODS:
        method = getattr(sampler, name, None)
        if method is None:
            continue

        def timed(*args, _method=method, **kwargs):
            start = time.perf_counter()
            try:
                return _method(*args, **kwargs)
            finally:
                clock[0] += time.perf_counter() - start

        setattr(sampler, name, timed)
    return sampler


def make_sampler(kind, seed, multivariate):
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, multivariate=multivariate)


def main():
    config = json.loads(sys.argv[1])
    out = {"version": optuna.__version__, "runs": []}
    for name in config["functions"]:
        for kind in config.get("samplers", ["tpe"]):
            for multivariate in config["multivariate"] if kind == "tpe" else [False]:
                for seed in config["seeds"]:
                    spent = [0.0]
                    ends = []

                    def objective(t, f=FUNCTIONS[name][0], bounds=FUNCTIONS[name][1]):
                        # Suggesting is the sampler's work; only the formula counts as objective time.
                        x = [t.suggest_float(f"x{i}", low, high) for i, (low, high) in enumerate(bounds)]
                        start = time.perf_counter()
                        value = f(x)
                        end = time.perf_counter()
                        spent[0] += end - start
                        ends.append((end, end - start))
                        return value

                    clock = [0.0]
                    study = optuna.create_study(sampler=timed_sampler(make_sampler(kind, seed, multivariate), clock))
                    start = time.perf_counter()
                    study.optimize(objective, n_trials=config["trials"])
                    total = time.perf_counter() - start
                    trial_ms = [(end - (ends[k - 1][0] if k else start) - formula) * 1000 for k, (end, formula) in enumerate(ends)]
                    best, curve = math.inf, []
                    for trial in study.trials:
                        best = min(best, trial.value)
                        curve.append(best)
                    out["runs"].append({
                        "function": name, "sampler": kind, "multivariate": multivariate, "seed": seed, "best": curve,
                        "samplerMs": (total - spent[0]) * 1000, "trialMs": trial_ms, "inSamplerMs": clock[0] * 1000, "trials": len(study.trials),
                    })
    print(json.dumps(out))


if __name__ == "__main__":
    main()
