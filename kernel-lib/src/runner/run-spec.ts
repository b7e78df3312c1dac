import type { LoadedSpec, SpecInput } from '../spec/spec';
import { writeRun, type RunRecord, type RunResults } from './run-record';
import {
  backtestStrategy,
  buildFeatures,
  buildLabels,
  checkCandles,
  createRunContext,
  evaluateRun,
  loadCandles,
  predictRows,
  runStrategy,
  splitData,
  trainModel,
  type RunContextOptions,
} from './stages';

/** A finished spec run. `results.trained.model` has been disposed (its artifacts are in the run folder). */
export type SpecRun = { record: RunRecord; results: RunResults; runDir: string };

/**
 * Run a whole spec: the same stage calls, in the same order, as notebooks/00-quickstart.ipynb makes
 * one cell at a time. Writes runs/<run-id>/ and registers the model.
 */
export async function runSpec(source: string | LoadedSpec | SpecInput, options: RunContextOptions = {}): Promise<SpecRun> {
  const context = createRunContext(source, options);
  const candles = loadCandles(context);
  const quality = checkCandles(candles);
  const features = buildFeatures(context, candles);
  const labels = buildLabels(context, candles);
  const split = splitData(context, candles, features, labels);
  const trained = await trainModel(context, features, labels, split);
  try {
    const predictions = await predictRows(trained.model, features, split);
    const evaluation = evaluateRun(predictions, labels, split);
    const strategy = runStrategy(context, candles, features, predictions, split);
    const backtest = backtestStrategy(context, candles, strategy);
    const results: RunResults = { candles, quality, features, labels, split, trained, predictions, evaluation, strategy, backtest };
    const record = await writeRun(context, results);
    return { record, results, runDir: `${context.workspace.runsDir}/${record.runId}` };
  } finally {
    trained.model.dispose();
  }
}
