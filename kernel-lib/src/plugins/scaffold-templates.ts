/**
 * The source files `candlelab plugin new` writes, one template per kind. Each is a small, complete,
 * correct definition that passes its contract suite as written, so an author starts from green and
 * changes one thing at a time.
 */
export type PluginKind = 'feature' | 'labeler' | 'model' | 'strategy' | 'source';
export const PLUGIN_KINDS: readonly PluginKind[] = ['feature', 'labeler', 'model', 'strategy', 'source'];

/** What the templates are filled with: the npm name, the id namespace, the definition's short name. */
export type TemplateNames = { packageName: string; namespace: string; name: string };

const header = (kind: PluginKind, n: TemplateNames): string => `/**
 * ${n.packageName}: a candlelab plugin with one ${kind}. Build with \`npm run build\`; check it with
 * \`npm test\` (candlelab's contract suites, then the tests in test/); use it in a spec with
 * "plugins": ["${n.packageName}"].
 */
`;

export function indexSource(kind: PluginKind, n: TemplateNames): string {
  const id = `${n.namespace}/${n.name}`;
  switch (kind) {
    case 'feature':
      return `${header(kind, n)}import { defineFeature, definePlugin, z } from 'candlelab';

/** Rate of change of the close over \`window\` bars: close[t] / close[t − window] − 1. Row t reads rows ≤ t only. */
export const feature = defineFeature({
  id: '${id}',
  version: '1.0.0',
  doc: 'Rate of change of the close over \`window\` bars.',
  params: z.object({ window: z.number().int().min(1).default(12) }),
  lookback: (p) => p.window,
  outputs: (p) => [\`roc_\${p.window}\`],
  compute: (candles, p) => {
    const close = candles.column('close');
    const out = new Float64Array(close.length).fill(NaN);
    for (let i = p.window; i < close.length; i++) out[i] = close[i] / close[i - p.window] - 1;
    return { [\`roc_\${p.window}\`]: out };
  },
});

export default definePlugin({ id: '${n.packageName}', version: '0.1.0', features: [feature] });
`;
    case 'labeler':
      return `${header(kind, n)}import { defineLabeler, definePlugin, z } from 'candlelab';

const CLASSES = ['BUY', 'HOLD', 'SELL'];

/** BUY when the close \`bars\` ahead is more than \`threshold\` above, SELL when below; NaN without that future. */
export const labeler = defineLabeler({
  id: '${id}',
  version: '1.0.0',
  doc: 'BUY/HOLD/SELL from the return \`bars\` ahead against a threshold.',
  task: 'classification',
  params: z.object({ bars: z.number().int().min(1).default(6), threshold: z.number().min(0).default(0.004) }),
  horizon: (p) => p.bars,
  label: (candles, p) => {
    const close = candles.column('close');
    const target = new Float64Array(close.length).fill(NaN);
    const eventEnd = new Float64Array(close.length).fill(NaN);
    for (let i = 0; i + p.bars < close.length; i++) {
      const r = close[i + p.bars] / close[i] - 1;
      target[i] = r > p.threshold ? 0 : r < -p.threshold ? 2 : 1;
      eventEnd[i] = candles.time[i + p.bars];
    }
    return { target, classes: CLASSES, eventEnd };
  },
});

export default definePlugin({ id: '${n.packageName}', version: '0.1.0', labelers: [labeler] });
`;
    case 'model':
      return `${header(kind, n)}import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { defineModel, definePlugin, z, type FittedModel, type Matrix, type TrainingData } from 'candlelab';

/**
 * A nearest-centroid classifier: each class's mean feature row (standardized); probabilities are a
 * softmax of minus the squared distances over \`temperature\`. Deterministic, so the seed changes nothing.
 */
const params = z.object({ temperature: z.number().positive().default(1) });
type Params = z.output<typeof params>;
type State = { featureNames: string[]; classes: string[]; mean: number[]; scale: number[]; centroids: number[][]; temperature: number };

function fitted(state: State): FittedModel {
  const k = state.classes.length;
  const cols = state.featureNames.length;
  return {
    modelId: '${id}',
    modelVersion: '1.0.0',
    task: 'classification',
    featureNames: state.featureNames,
    classes: state.classes,
    info: { temperature: state.temperature },
    async predict(X: Matrix): Promise<Float32Array> {
      const out = new Float32Array(X.rows * k);
      const scores = new Float64Array(k);
      for (let r = 0; r < X.rows; r++) {
        let best = -Infinity;
        for (let c = 0; c < k; c++) {
          let d = 0;
          for (let j = 0; j < cols; j++) d += ((X.values[r * cols + j] - state.mean[j]) / state.scale[j] - state.centroids[c][j]) ** 2;
          scores[c] = -d / state.temperature;
          best = Math.max(best, scores[c]);
        }
        let sum = 0;
        for (let c = 0; c < k; c++) sum += (scores[c] = Math.exp(scores[c] - best));
        for (let c = 0; c < k; c++) out[r * k + c] = scores[c] / sum;
      }
      return out;
    },
    async save(dir: string) {
      fs.mkdirSync(dir, { recursive: true });
      const bytes = Buffer.from(JSON.stringify(state));
      fs.writeFileSync(path.join(dir, 'centroids.json'), bytes);
      return [{ path: 'centroids.json', kind: 'model', sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length }];
    },
    dispose() {},
  };
}

export const model = defineModel({
  id: '${id}',
  version: '1.0.0',
  doc: 'Nearest-centroid classifier on standardized features (softmax over distances).',
  task: 'classification',
  params,
  fit: async (data: TrainingData, p: Params) => {
    const { X, y } = data.train;
    const cols = X.cols;
    const classes = [...(data.classes ?? [])];
    const mean = new Array(cols).fill(0);
    const scale = new Array(cols).fill(0);
    for (let r = 0; r < X.rows; r++) for (let j = 0; j < cols; j++) mean[j] += X.values[r * cols + j] / X.rows;
    for (let r = 0; r < X.rows; r++) for (let j = 0; j < cols; j++) scale[j] += (X.values[r * cols + j] - mean[j]) ** 2 / X.rows;
    for (let j = 0; j < cols; j++) scale[j] = Math.sqrt(scale[j]) || 1;
    const centroids = classes.map(() => new Array(cols).fill(0));
    const counts = classes.map(() => 0);
    for (let r = 0; r < X.rows; r++) {
      const c = y[r];
      counts[c]++;
      for (let j = 0; j < cols; j++) centroids[c][j] += (X.values[r * cols + j] - mean[j]) / scale[j];
    }
    centroids.forEach((centroid, c) => centroid.forEach((_, j) => (centroid[j] /= Math.max(1, counts[c]))));
    return fitted({ featureNames: [...data.featureNames], classes, mean, scale, centroids, temperature: p.temperature });
  },
  load: async (dir: string) => fitted(JSON.parse(fs.readFileSync(path.join(dir, 'centroids.json'), 'utf8')) as State),
});

export default definePlugin({ id: '${n.packageName}', version: '0.1.0', models: [model] });
`;
    case 'strategy':
      return `${header(kind, n)}import { definePlugin, defineStrategy, strategy as tools, z } from 'candlelab';

/** Long when P(BUY) clears \`threshold\`, short when P(SELL) does (if \`allowShort\`), flat otherwise. */
export const strategy = defineStrategy({
  id: '${id}',
  version: '1.0.0',
  doc: 'Long on P(BUY) > threshold, short on P(SELL) > threshold, flat otherwise.',
  needs: { predictions: true, task: 'classification' },
  params: z.object({ threshold: z.number().min(0).max(1).default(0.45), allowShort: z.boolean().default(false) }),
  lookback: 1,
  targets: (input, p) => {
    const buy = tools.classProbability(input, 'BUY');
    const sell = tools.classProbability(input, 'SELL');
    const targets = new Float64Array(buy.length);
    for (let i = 0; i < buy.length; i++) targets[i] = buy[i] > p.threshold ? 1 : p.allowShort && sell[i] > p.threshold ? -1 : 0;
    return { targets, confidence: Float64Array.from(targets, (t, i) => (t > 0 ? buy[i] : t < 0 ? sell[i] : NaN)), reasoning: (i) => \`P(BUY) \${buy[i].toFixed(3)}, P(SELL) \${sell[i].toFixed(3)}\` };
  },
});

export default definePlugin({ id: '${n.packageName}', version: '0.1.0', strategies: [strategy] });
`;
    case 'source':
      return `${header(kind, n)}import { definePlugin, defineSource, z } from 'candlelab';

const HOUR = 3_600_000;
/** Every value is computed from this origin, so a row never depends on the span asked for (point in time). */
const ORIGIN = Date.UTC(2015, 0, 1);

/**
 * A column source for data.side: a reading every \`everyHours\`, published \`delayMinutes\` after the
 * period it describes (its knownAt), so a bar sees it only once published. Seeded here; replace the loop
 * with a read of your provider's file or API (load is synchronous; fetch in \`prepare\`).
 */
export const source = defineSource({
  id: '${id}',
  version: '1.0.0',
  doc: 'A seeded reading every \`everyHours\`, published with a \`delayMinutes\` lag (a column source).',
  provides: 'columns',
  params: z.object({ everyHours: z.number().int().min(1).default(8), delayMinutes: z.number().int().min(0).default(5), seed: z.number().int().min(0).default(1) }),
  outputs: () => ['${n.name.replace(/[^\w]/g, '_')}'],
  load: (p, context) => {
    const times = context.barTimes ?? new Float64Array();
    const step = p.everyHours * HOUR;
    const end = times.length ? times[times.length - 1] + 24 * HOUR : ORIGIN;
    const knownAt: number[] = [];
    const values: number[] = [];
    let state = p.seed;
    let level = 0;
    for (let t = ORIGIN; t < end; t += step) {
      state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
      level = 0.9 * level + (state / 2_147_483_648 - 0.5);
      if (times.length && t + step >= times[0] - 7 * 24 * HOUR) {
        knownAt.push(t + step + p.delayMinutes * 60_000);
        values.push(level);
      }
    }
    return { knownAt: Float64Array.from(knownAt), columns: { '${n.name.replace(/[^\w]/g, '_')}': Float64Array.from(values) } };
  },
});

export default definePlugin({ id: '${n.packageName}', version: '0.1.0', sources: [source] });
`;
  }
}

/** A vitest file: the contract check plus one behaviour test the author extends. */
export function testSource(kind: PluginKind, n: TemplateNames): string {
  const id = `${n.namespace}/${n.name}`;
  const [check, what, behaviour] = {
    feature: [
      'checkFeature(feature)',
      'feature',
      `  it('computes the rate of change by hand', () => {
    const candles = contractCandles(50);
    const close = candles.column('close');
    const roc = feature.compute(candles, feature.params.parse({ window: 3 }))['roc_3'];
    expect(roc[10]).toBeCloseTo(close[10] / close[7] - 1, 12);
  });`,
    ],
    labeler: [
      'checkLabeler(labeler)',
      'labeler',
      `  it('labels a rise BUY', () => {
    const candles = contractCandles(100);
    const out = labeler.label(candles, labeler.params.parse({ bars: 1, threshold: 0 }));
    const close = candles.column('close');
    expect(out.target[0]).toBe(close[1] > close[0] ? 0 : 2);
  });`,
    ],
    model: [
      'await checkModel(model)',
      'model',
      `  it('beats a uniform guess on learnable data', async () => {
    const data = contractTrainingData('classification');
    const fitted = await model.fit(data, model.params.parse({}), { seed: 1 });
    const p = await fitted.predict(data.valid.X);
    let right = 0;
    for (let r = 0; r < data.valid.X.rows; r++) {
      const row = Array.from(p.subarray(r * 3, r * 3 + 3));
      if (row.indexOf(Math.max(...row)) === data.valid.y[r]) right++;
    }
    expect(right / data.valid.X.rows).toBeGreaterThan(0.4);
  });`,
    ],
    strategy: [
      'checkStrategy(strategy)',
      'strategy',
      `  it('goes long only above the threshold', () => {
    const candles = contractCandles(10);
    const predictions = new Float32Array(30).fill(0.2);
    predictions[0] = 0.6;
    const out = strategy.targets({ candles, features: candles, predictions, classes: ['BUY', 'HOLD', 'SELL'] }, strategy.params.parse({}));
    expect((out as { targets: Float64Array }).targets[0]).toBe(1);
    expect((out as { targets: Float64Array }).targets[1]).toBe(0);
  });`,
    ],
    source: [
      'await checkSource(source)',
      'source',
      `  it('publishes each reading after the period it describes', () => {
    const candles = contractCandles(100);
    const rows = source.load(source.params.parse({}), { dataDir: '.', baseDir: '.', symbol: 'BTC/USDT', timeframe: '1h', barTimes: candles.time, log: () => {} });
    expect(rows.knownAt.length).toBeGreaterThan(0);
    for (let i = 1; i < rows.knownAt.length; i++) expect(rows.knownAt[i]).toBeGreaterThan(rows.knownAt[i - 1]);
  });`,
    ],
  }[kind];
  const needsData = kind === 'model';
  const needsCandles = kind !== 'model';
  const imports = [`check${kind[0].toUpperCase()}${kind.slice(1)}`, ...(needsCandles ? ['contractCandles'] : []), ...(needsData ? ['contractTrainingData'] : [])];
  return `import { describe, expect, it } from 'vitest';
import { ${imports.join(', ')} } from 'candlelab/testing';
import { ${what} } from '../src/index';

describe('${id}', () => {
  it('keeps the ${kind} contract', async () => {
    ${check};
  });

${behaviour}
});
`;
}

export function readmeSource(kind: PluginKind, n: TemplateNames, inWorkspace: boolean): string {
  return `# ${n.packageName}

A candlelab plugin with one ${kind}, \`${n.namespace}/${n.name}\`. Made by \`candlelab plugin new\`.

- \`src/index.ts\`: the definition and the plugin (\`definePlugin\`), exported as default.
- \`test/plugin.test.ts\`: its tests with vitest: the contract suite from \`candlelab/testing\` and a behaviour test.

## Build, check, use

\`\`\`sh
npm run build                       # tsc → dist/
npx candlelab plugin test .         # the contract suites (also runs the build when dist/ is stale)
npx vitest run --root .             # test/*.test.ts
\`\`\`

${
  inWorkspace
    ? `It lives in the workspace's \`plugins/\` folder, so \`npm install\` links it like the example plugin; a spec loads it with \`"plugins": ["${n.packageName}"]\`.`
    : `It lives outside a candlelab workspace; \`node_modules/candlelab\` links the candlelab it was made with. A spec loads it by path: \`"plugins": ["<absolute path of this folder>"]\`, or publish it and \`npm install ${n.packageName}\`.`
}

The contract (what \`candlelab plugin test\` checks) is in candlelab's README, "Writing a plugin".
`;
}
