#!/usr/bin/env node
// ARIMA bench (printed figures, not tests). Run: npm run bench, or node bench/arima.mjs
//   For a few orders on one seeded series: our SARIMAX fit time (BFGS over statsmodels' transformation)
//   against statsmodels 0.13's SARIMAX.fit (L-BFGS) on the same series, the ratio, and the log-likelihood
//   check: ours at statsmodels' estimates equals statsmodels' llf, and each optimum's llf.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cl, now, fmt } from './lib.mjs';

const N = Number(process.env.BENCH_ARIMA_ROWS ?? 3000);
const { fitSarimax, logLikelihood, parametersFromVector } = cl.models.arima;

// a seeded ARMA(1,1) + seasonal AR(24) series (an LCG and Box–Muller, as the reference test does)
let state = 7;
const uniform = () => ((state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0) + 0.5) / 4_294_967_296;
const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
const y = [];
let previous = 0;
for (let t = 0; t < N; t++) {
  const e = normal();
  y.push(0.1 + (t ? 0.5 * (y[t - 1] - 0.1) : 0) + (t >= 24 ? 0.3 * (y[t - 24] - 0.1) : 0) + e + 0.3 * previous);
  previous = e;
}
const integrated = [];
y.reduce((level, v) => (integrated.push(level + v), level + v), 0);

const cases = [
  { name: 'ARMA(1,1)+c', order: { p: 1, d: 0, q: 1, P: 0, D: 0, Q: 0, s: 0, trend: 'c', exog: 0 }, y },
  { name: 'ARIMA(2,1,1)', order: { p: 2, d: 1, q: 1, P: 0, D: 0, Q: 0, s: 0, trend: 'n', exog: 0 }, y: integrated },
  { name: 'SARIMA(1,0,1)(1,0,0,24)+c', order: { p: 1, d: 0, q: 1, P: 1, D: 0, Q: 0, s: 24, trend: 'c', exog: 0 }, y },
];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'candlelab-arima-bench-'));
const input = path.join(dir, 'cases.json');
fs.writeFileSync(input, JSON.stringify(cases.map((c) => ({ y: c.y, order: [c.order.p, c.order.d, c.order.q], seasonal: [c.order.P, c.order.D, c.order.Q, c.order.s], trend: c.order.trend }))));
const script = `
import json, sys, time, warnings
warnings.simplefilter('ignore')
from statsmodels.tsa.statespace.sarimax import SARIMAX
import numpy as np
out = []
for c in json.load(open(sys.argv[1])):
    mod = SARIMAX(np.array(c['y']), order=c['order'], seasonal_order=c['seasonal'], trend=c['trend'])
    best = float('inf')
    for _ in range(3):
        t = time.perf_counter()
        res = mod.fit(disp=False)
        best = min(best, time.perf_counter() - t)
    out.append({'ms': best * 1000, 'params': [float(v) for v in res.params], 'llf': float(res.llf)})
print(json.dumps(out))
`;
const python = spawnSync('/usr/bin/python3', ['-c', script, input], { encoding: 'utf8' });
fs.rmSync(dir, { recursive: true, force: true });
if (python.status !== 0) {
  console.error(`statsmodels did not run (${python.stderr?.trim() || python.error?.message}); install python3-statsmodels (node scripts/setup.mjs)`);
  process.exit(1);
}
const references = JSON.parse(python.stdout);

console.log(`\ncandlelab ARIMA bench · ${N.toLocaleString('en-US')} rows, fit time best of 3 (statsmodels ${'0.13'}: SARIMAX.fit, L-BFGS)`);
console.log('   model                       ours ms   statsmodels ms   ratio   llf ours (optimum)   llf statsmodels   |Δllf| at its params (rel)');
cases.forEach((c, i) => {
  const reference = references[i];
  let fit;
  let ms = Infinity;
  for (let r = 0; r < 3; r++) {
    const t = now();
    fit = fitSarimax(c.order, { y: c.y });
    ms = Math.min(ms, now() - t);
  }
  const atTheirs = logLikelihood(c.order, parametersFromVector(c.order, reference.params), { y: c.y }).llf;
  const relative = Math.abs(atTheirs - reference.llf) / Math.abs(reference.llf);
  console.log(
    `   ${c.name.padEnd(27)} ${fmt(ms, 0).padStart(7)}   ${fmt(reference.ms, 0).padStart(14)}   ${fmt(ms / reference.ms, 2).padStart(5)}   ${fit.llf.toFixed(4).padStart(18)}   ${reference.llf.toFixed(4).padStart(15)}   ${relative.toExponential(1)}`,
  );
});
