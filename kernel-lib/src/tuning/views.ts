import { ConfigError } from '../errors';
import type { Figure } from '../report/charts';
import { toInternal } from './distributions';
import type { FrozenTrial, StudyDirection } from './frozen-trial';
import { paramImportances, type ParamImportanceOptions } from './importance';
import { paretoFront } from './pareto-front';

/** What the figures read from a study (a Study, or trials loaded from elsewhere). */
export type StudyResults = { readonly trials: readonly FrozenTrial[]; readonly directions: readonly StudyDirection[]; readonly studyName?: string };

export type TargetOptions = {
  /** What to plot (default the value; required for multi-objective studies). */
  target?: (trial: FrozenTrial) => number;
  /** Axis title of the target (default 'objective value'). */
  targetName?: string;
};

const LAYOUT = { margin: { l: 60, r: 20, t: 40, b: 40 }, height: 380, legend: { orientation: 'h', y: -0.15 } };

function resolveTarget(results: StudyResults, options: TargetOptions, figure: string): (trial: FrozenTrial) => number {
  if (options.target) return options.target;
  if (results.directions.length > 1) throw new ConfigError(`${figure}: a multi-objective study needs options.target, e.g. (t) => t.values![0]`);
  return (trial) => trial.value!;
}

function complete(results: StudyResults): FrozenTrial[] {
  return results.trials.filter((t) => t.state === 'COMPLETE' && t.values !== undefined);
}

/** Objective value of every complete trial by trial number, with the best value so far as a step line. */
export function optimizationHistoryFigure(results: StudyResults, options: TargetOptions = {}): Figure {
  const target = resolveTarget(results, options, 'optimizationHistoryFigure');
  const trials = complete(results);
  const maximize = !options.target && results.directions[0] === 'maximize';
  const best: number[] = [];
  for (const trial of trials) {
    const value = target(trial);
    const previous = best.length ? best[best.length - 1] : undefined;
    best.push(previous === undefined ? value : maximize ? Math.max(previous, value) : Math.min(previous, value));
  }
  const name = options.targetName ?? 'objective value';
  return {
    data: [
      { type: 'scatter', mode: 'markers', name, x: trials.map((t) => t.number), y: trials.map(target), marker: { color: '#2b6cb0', size: 6 } },
      { type: 'scatter', mode: 'lines', name: 'best so far', x: trials.map((t) => t.number), y: best, line: { color: '#c53030', shape: 'hv' } },
    ],
    layout: { ...LAYOUT, title: { text: 'Optimization history' }, xaxis: { title: { text: 'trial' } }, yaxis: { title: { text: name } } },
  };
}

/** Reported values by step, one line per trial (pruned ones dotted). */
export function intermediateValuesFigure(results: StudyResults): Figure {
  const trials = results.trials.filter((t) => Object.keys(t.intermediateValues).length > 0);
  return {
    data: trials.map((t) => {
      const steps = Object.keys(t.intermediateValues).map(Number);
      return {
        type: 'scatter', mode: 'lines+markers', name: `trial ${t.number}${t.state === 'COMPLETE' ? '' : ` (${t.state.toLowerCase()})`}`,
        x: steps, y: steps.map((s) => t.intermediateValues[s]), marker: { size: 4 },
        line: { width: 1, dash: t.state === 'PRUNED' ? 'dot' : 'solid' },
      };
    }),
    layout: { ...LAYOUT, title: { text: 'Intermediate values' }, showlegend: trials.length <= 20, xaxis: { title: { text: 'step' } }, yaxis: { title: { text: 'intermediate value' } } },
  };
}

/**
 * One vertical axis per parameter and one for the objective, a line per complete trial coloured by
 * the objective. Categorical axes show their choices; log ranges are drawn on log10 axes.
 */
export function parallelCoordinateFigure(results: StudyResults, options: TargetOptions & { params?: readonly string[] } = {}): Figure {
  const target = resolveTarget(results, options, 'parallelCoordinateFigure');
  const trials = complete(results);
  const names = options.params ? [...options.params] : [...new Set(trials.flatMap((t) => Object.keys(t.params)))].sort();
  const name = options.targetName ?? 'objective value';
  const values = trials.map(target);
  const dimensions: Array<Record<string, unknown>> = [{ label: name, values }];
  for (const param of names) {
    const having = trials.filter((t) => param in t.params);
    if (having.length === 0) throw new ConfigError(`parallelCoordinateFigure: no complete trial has parameter '${param}'`);
    const distribution = having[having.length - 1].distributions[param];
    // Trials without the parameter (conditional spaces) get NaN and are drawn without that axis segment.
    if (distribution.type === 'categorical') {
      const choices = distribution.choices;
      dimensions.push({
        label: param, tickvals: choices.map((_, i) => i), ticktext: choices.map(String),
        values: trials.map((t) => (param in t.params ? toInternal(distribution, t.params[param]) : NaN)),
      });
    } else if (distribution.log) {
      const low = Math.floor(Math.log10(distribution.low));
      const high = Math.ceil(Math.log10(distribution.high));
      const ticks = Array.from({ length: high - low + 1 }, (_, i) => low + i);
      dimensions.push({
        label: param, tickvals: ticks, ticktext: ticks.map((k) => `1e${k}`),
        values: trials.map((t) => (param in t.params ? Math.log10(t.params[param] as number) : NaN)),
      });
    } else dimensions.push({ label: param, values: trials.map((t) => (param in t.params ? (t.params[param] as number) : NaN)) });
  }
  const reverse = !options.target && results.directions[0] === 'minimize';
  return {
    data: [{ type: 'parcoords', dimensions, line: { color: values, colorscale: 'Blues', reversescale: reverse, showscale: true, colorbar: { title: { text: name } } } }],
    layout: { ...LAYOUT, height: 420, title: { text: 'Parallel coordinates' } },
  };
}

/** Horizontal bars of `paramImportances` (mean decrease in impurity of a seeded random forest). */
export function paramImportancesFigure(results: StudyResults, options: ParamImportanceOptions & { targetName?: string } = {}): Figure {
  const importances = paramImportances(results.trials, results.directions, options);
  const names = Object.keys(importances).reverse(); // plotly draws the first bar at the bottom
  return {
    data: [{
      type: 'bar', orientation: 'h', x: names.map((n) => importances[n]), y: names,
      text: names.map((n) => importances[n].toFixed(2)), textposition: 'outside', marker: { color: '#2b6cb0' },
    }],
    layout: {
      ...LAYOUT, height: Math.max(240, 60 + 28 * names.length), title: { text: `Parameter importances${options.targetName ? ` for ${options.targetName}` : ''}` },
      xaxis: { title: { text: 'importance (mean decrease in impurity)' }, range: [0, 1.1] }, yaxis: { automargin: true },
    },
  };
}

/** Two objectives of every complete trial, the Pareto front highlighted and joined. */
export function paretoFrontFigure(results: StudyResults, options: { targetNames?: readonly [string, string] } = {}): Figure {
  if (results.directions.length !== 2) throw new ConfigError(`paretoFrontFigure draws 2 objectives; this study has ${results.directions.length}`);
  const trials = complete(results);
  const front = paretoFront(trials, results.directions).sort((a, b) => a.values![0] - b.values![0]);
  const onFront = new Set(front.map((t) => t.number));
  const rest = trials.filter((t) => !onFront.has(t.number));
  const [xName, yName] = options.targetNames ?? ['objective 0', 'objective 1'];
  const point = (t: FrozenTrial): string => `trial ${t.number}<br>${Object.entries(t.params).map(([k, v]) => `${k}=${String(v)}`).join('<br>')}`;
  return {
    data: [
      { type: 'scatter', mode: 'markers', name: 'trials', x: rest.map((t) => t.values![0]), y: rest.map((t) => t.values![1]), text: rest.map(point), hoverinfo: 'x+y+text', marker: { color: '#a0aec0', size: 6 } },
      { type: 'scatter', mode: 'lines+markers', name: 'Pareto front', x: front.map((t) => t.values![0]), y: front.map((t) => t.values![1]), text: front.map(point), hoverinfo: 'x+y+text', marker: { color: '#c53030', size: 8 }, line: { color: '#c53030', width: 1 } },
    ],
    layout: {
      ...LAYOUT, title: { text: 'Pareto front' },
      xaxis: { title: { text: `${xName} (${results.directions[0]})` } }, yaxis: { title: { text: `${yName} (${results.directions[1]})` } },
    },
  };
}
