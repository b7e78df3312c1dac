"""Writes notebooks/14-baselines-and-rl.ipynb (outputs cleared). Edit the cells here, then run this script."""
import os, sys
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from notebook_cells import Notebook

nb = Notebook()
md, code = nb.md, nb.code

md("""
# 14 · Baselines and reinforcement learning: ARIMA/SARIMAX, PPO and DQN

Two kinds of model that are not "features in, label out":

- **ARIMA/SARIMAX** (`core/arima`, `core/arima-classifier`, the feature `core/arima-forecast`): the exact
  Gaussian likelihood from a state-space Kalman filter laid out as statsmodels' SARIMAX lays it out,
  maximized by BFGS. With the same parameters it agrees with statsmodels 0.13 to about 1e-13 (a test
  runs statsmodels beside it). Every run's report puts a naive and an ARIMA **baseline** beside the model.
- **Reinforcement learning** (`core/ppo`, `core/dqn`, the strategy `core/rl-policy`): agents trained on
  a cost-aware trading environment whose account is the backtest engine's, then registered and traded
  like any model.

This notebook shows

1. an ARIMA fitted by maximum likelihood, its forecasts, and AutoARIMA's table of candidates,
2. the baseline line a run adds: is the ML model better than the last value and than ARIMA?
3. the trading environment and the exact oracle on a market whose best policy is known,
4. PPO and DQN learning that market, with their learning curves and their share of the oracle's return
   on periods they never saw,
5. an RL agent inside an ordinary spec run: trained, backtested with `core/rl-policy`.
""")
code("""
// Parameters: `candlelab notebook -p name=value` injects new values after this cell.
const bars = 3000;      // hourly bars of the sample market
const ppoUpdates = 15;  // PPO updates on the periodic market
const dqnSteps = 800;   // DQN steps per environment on the periodic market
""", tags=["parameters"])
code("""
import * as cl from 'candlelab';

cl.initCharts();
const spec = {
  name: 'nb-baselines',
  seed: 7,
  data: { source: 'sample' as const, symbol: 'BTC/USDT', timeframe: '1h', seed: 42, bars: bars }, // (tslab needs `bars: bars`, not the shorthand)
  features: [
    { id: 'core/returns', params: { periods: [1, 4, 24] } },
    { id: 'core/rsi', params: { period: 14 } },
    { id: 'core/atr', params: { period: 14 } },
  ],
  label: { id: 'core/future-return', params: { bars: 4 } },
  split: { train: 0.7, valid: 0.15, test: 0.15 },
  model: { id: 'core/xgboost-regressor', params: { rounds: 60, maxDepth: 3, learningRate: 0.1, threads: 2 } },
  strategy: { id: 'core/return-threshold', params: {} },
  backtest: { initialCash: 10000, commissionBps: 10, slippageBps: 5 },
  register: false,
};
const context = cl.createRunContext(spec, { progress: 'quiet', log: () => {} });
const candles = cl.loadCandles(context);
const features = cl.buildFeatures(context, candles);
const labels = cl.buildLabels(context, candles);
const split = cl.splitData(context, candles, features, labels);
cl.showValues({ bars: candles.length, features: features.names.join(', '), trainRows: split.train.end - split.train.start, testRows: split.test.end - split.test.start }, 'Data');
""")
md("""
## 1 · ARIMA by maximum likelihood

`fitSarimax(order, {y, exog?})` maximizes the exact log-likelihood (Kalman filter; stationary states
started from the Lyapunov solution, differenced states from statsmodels' approximate diffuse prior and
their first d + s·D terms left out) with BFGS over statsmodels' own parameter transformation, which
keeps the AR part stationary and the MA part invertible. AIC and BIC are statsmodels' definitions.

Here: ARMA(1,1) with a constant on the hourly log return (the `ret_1` column with `log`), fitted on the
training rows. `KalmanFilter` then filters the series and forecasts the next bars.
""")
code("""
const close = candles.column('close');
const logReturns = new Float64Array(split.train.end - 1);
for (let t = 1; t < split.train.end; t++) logReturns[t - 1] = Math.log(close[t] / close[t - 1]);
const arima = cl.models.arima;
const order = { p: 1, d: 0, q: 1, P: 0, D: 0, Q: 0, s: 0, trend: 'c' as const, exog: 0 };
const fit = arima.fitSarimax(order, { y: logReturns });
cl.showValues({ ...Object.fromEntries(fit.names.map((name, i) => [name, arima.parameterVector(fit.params)[i]])), llf: fit.llf, aic: fit.aic, bic: fit.bic, iterations: fit.iterations, converged: fit.converged }, 'ARMA(1,1) + c on hourly log returns (train rows)');
const filter = new arima.KalmanFilter(arima.stateSpaceSystem(order, fit.params));
for (const value of logReturns) filter.step(value);
const next = filter.forecast(6);
cl.showRecords(Array.from(next.means, (mean, h) => ({ barAhead: h + 1, forecast: mean })), 'Forecast of the next 6 log returns');
console.log(`ARMA(1,1)+c: llf ${fit.llf.toFixed(3)}, AIC ${fit.aic.toFixed(3)}, ${fit.converged ? 'converged' : 'not converged'}`);
""")
md("""
**AutoARIMA** fits every order of a small grid and keeps the lowest AIC (or BIC). The model
`core/arima` does the same with `auto: {p: [...], q: [...], criterion}` and records the table in its
`info`.
""")
code("""
const search = arima.searchOrders(order, { p: [0, 1, 2], q: [0, 1] }, 'aic', { y: logReturns });
cl.showRecords(search.candidates.map((c) => ({ order: `(${c.p},${c.d},${c.q})`, aic: c.aic, bic: c.bic, llf: c.llf, converged: c.converged })), 'AutoARIMA candidates');
console.log(`AutoARIMA picked (${search.best.order.p},${search.best.order.d},${search.best.order.q}) by AIC out of ${search.candidates.length}`);
""")
md("""
## 2 · The baseline line of every run

A run's `run.json` holds `baselines`: the model's test metrics beside a **naive** predictor (the last
label already known at the row) and **ARIMA(1,0,1)** with a constant, fitted on at most 2,000 training
rows, all over the same test rows. `report.html` shows the same table, and `candlelab run` prints one
line. How to read it: if the model's RMSE is not below the naive line's, or its direction accuracy is
not above ARIMA's, the features have not earned their keep.
""")
code("""
const run = await cl.runSpec(spec, { progress: 'quiet', log: () => {} });
const baselines = run.record.baselines!;
const line = (predictor: string, m: { rows: number; mae?: number; rmse?: number; r2?: number | null; directionAccuracy?: number | null }) =>
  ({ predictor: predictor, rows: m.rows, mae: m.mae, rmse: m.rmse, r2: m.r2, directionAccuracy: m.directionAccuracy });
cl.showRecords([line('model (XGBoost)', baselines.model), line('naive: last known label', baselines.naive), line('ARIMA(1,0,1)+c', baselines.arima)], 'Test segment: the model against its baselines');
console.log(`baselines over ${baselines.model.rows} test rows: model RMSE ${baselines.model.rmse!.toFixed(5)}, naive ${baselines.naive.rmse!.toFixed(5)}, ARIMA ${baselines.arima.rmse!.toFixed(5)}`);
""")
md("""
## 3 · The trading environment and the oracle

`cl.rl.TradingEnvironment` has gymnasium's shape (`reset(seed)`, `step(actions)` → observation, reward,
terminated, truncated, info) and steps N environments at once. Its account is the backtest engine's
(fills at the next open, commission, slippage, sizing: `environmentCosts(spec.backtest)`); a test checks
its equity against the engine bar by bar.

To see whether an agent learns, we need a market whose best policy is known: a noiseless periodic price
(close = 100·exp(0.004·sin(2πt/16))). With fees, the best short/flat/long sequence is found exactly by
dynamic programming (`oraclePolicy`). The features are the bar's return and the phase (sin, cos).
""")
code("""
const PERIOD = 16;
function periodicRows(rows: number) {
  const values = new Float32Array(rows * 3);
  let previous = 100;
  for (let t = 0; t < rows; t++) {
    const price = 100 * Math.exp(0.004 * Math.sin((2 * Math.PI * t) / PERIOD));
    values[t * 3] = t > 0 ? price / previous - 1 : 0;
    values[t * 3 + 1] = Math.sin((2 * Math.PI * t) / PERIOD);
    values[t * 3 + 2] = Math.cos((2 * Math.PI * t) / PERIOD);
    previous = price;
  }
  return values;
}
const all = periodicRows(1200); // 75 cycles: 40 to train, 10 to validate, 25 never seen
const block = (from: number, to: number) => ({ values: all.slice(from * 3, to * 3), rows: to - from, cols: 3 });
const periodic = {
  featureNames: ['ret_1', 'phase_sin', 'phase_cos'],
  train: { X: block(0, 640), y: new Float64Array(640) },
  valid: { X: block(640, 800), y: new Float64Array(160) },
  horizon: 1,
};
const unseen = block(800, 1200);
const costsSettings = cl.backtest.parseBacktestSettings({ commissionBps: 10, slippageBps: 5 });
const costs = cl.rl.environmentCosts(costsSettings);
const unseenMarket = cl.rl.marketFromReturns(unseen, 0, unseen);
const oracle = cl.rl.oraclePolicy(unseenMarket.open, unseenMarket.close, costs);
cl.showValues({ unseenBars: unseen.rows, oracleReturn: oracle.totalReturn, commissionBps: 10, slippageBps: 5 }, 'The oracle on the unseen cycles');

// the environment by hand: two environments, a few steps of "always long" and "always short"
const env = new cl.rl.TradingEnvironment({ market: cl.rl.marketFromReturns(block(0, 640), 0, block(0, 640)), costs: costs, count: 2, episodeBars: 32, window: 1 });
env.reset(1);
let step: any;
for (let i = 0; i < 5; i++) step = env.step(Int32Array.from([2, 0]));
cl.showRecords([0, 1].map((e) => ({ environment: e, action: e === 0 ? 'long' : 'short', equity: step.info.equity[e], position: step.info.position[e], lastReward: step.reward[e] })), 'Five steps in two environments');
""")
md("""
## 4 · PPO and DQN on the periodic market

- **PPO**: clipped objective, GAE, entropy bonus and a value loss; rollouts from 8 environments.
- **DQN**: double DQN with a target network, a replay buffer and an ε schedule.

Both are seeded (same seed and backend, same policy), train on the first 40 cycles, keep the policy that
scored best on the 10 validation cycles, and are scored here on the 25 cycles they never saw. The
learning curve shows the mean reward per bar on the training episodes and on the validation rows, and
the loss on the second axis.
""")
code("""
async function trainAgent(id: 'core/ppo' | 'core/dqn', params: Record<string, unknown>) {
  const definition = cl.createRegistry().resolve('model', id);
  const model = await definition.fit(periodic, definition.params.parse(params), { seed: 3, backtest: costsSettings });
  return model as InstanceType<typeof cl.rl.RlPolicyModel>;
}
const ppo = await trainAgent('core/ppo', { updates: ppoUpdates, hidden: [16], envs: 8, rolloutSteps: 64, episodeBars: 128, learningRate: 3e-3, gamma: 0.9, evalEvery: 5 });
const dqn = await trainAgent('core/dqn', { steps: dqnSteps, hidden: [16], envs: 4, episodeBars: 128, learningRate: 2e-3, gamma: 0.9, evalEvery: 200, targetUpdate: 100 });
const agents = [{ name: 'PPO', model: ppo }, { name: 'DQN', model: dqn }];
const scores = agents.map((agent) => {
  const got = agent.model.evaluate(unseen).totalReturn;
  return { agent: agent.name, unseenReturn: got, oracleReturn: oracle.totalReturn, shareOfOracle: got / oracle.totalReturn, episodes: agent.model.info.episodes, bestRound: agent.model.info.bestRound };
});
cl.showRecords(scores, 'Unseen cycles, with fees');
for (const agent of agents) {
  const history = agent.model.info.history as Array<{ round: number; train: number; valid: number; loss: number }>;
  const figure = cl.report.trainingCurveFigure(history, 'mean reward per bar', agent.name === 'PPO' ? 'update' : 'step');
  cl.showChart({ ...figure, layout: { ...figure.layout, title: { text: `${agent.name}: learning curve` } } });
}
for (const s of scores) console.log(`${s.agent}: ${(100 * s.shareOfOracle).toFixed(1)}% of the oracle on unseen cycles`);
""")
md("""
How to read it: the oracle knows the future exactly; reaching 80% or more of its return on cycles the
agent never saw means it learned the cycle and the cost of trading it, not the training rows. On real
candles there is no oracle, and an agent is judged by its backtest like any model.

## 5 · An RL agent in a spec run

`core/ppo` is an ordinary model: it trains inside `runSpec` on the spec's features (it reads prices from
the return column `ret_1`), its output is the target exposure, and `core/rl-policy` trades it. The label
is a regression labeler because the pairing check asks for one; the reward, not the label, trains the
agent. The same model runs in walk-forward, paper and live (its `stream()` carries its own position from
bar to bar).

The sample market has no planted edge, and ten PPO updates are a demonstration budget: judge the agent
against buy-and-hold and the baselines, exactly as any other model. `specs/ppo.json` is the full-size
version.
""")
code("""
const rlSpec = {
  ...spec,
  name: 'nb-ppo',
  model: { id: 'core/ppo', params: { returnColumn: 'ret_1', window: 4, envs: 8, episodeBars: 256, updates: 10, rolloutSteps: 64, hidden: [32, 32], reward: { turnover: 0.05 } } },
  strategy: { id: 'core/rl-policy', params: {} },
};
const rlRun = await cl.runSpec(rlSpec, { progress: 'quiet', log: () => {} });
const bt = rlRun.record.metrics.backtest;
cl.showValues({ totalReturn: bt.totalReturn, buyHoldReturn: bt.buyHoldReturn, sharpe: bt.sharpe, maxDrawdown: bt.maxDrawdown, trades: bt.numTrades, report: rlRun.runDir + '/report.html' }, 'core/ppo + core/rl-policy on the test segment');
console.log(`rl run: ${bt.numTrades} trades on the test segment`);
""")
md("""
## From here

- `npx candlelab run specs/arima.json` — AutoARIMA as the model; `specs/ppo.json` — PPO in a full run.
- `core/arima-forecast` puts ARIMA's forecast among the features of any other model.
- `node bench/arima.mjs` and `node bench/rl.mjs` measure fit times against statsmodels and the
  environment's steps per second.
""")

nb.write(sys.argv[1] if len(sys.argv) > 1 else "notebooks/14-baselines-and-rl.ipynb")
