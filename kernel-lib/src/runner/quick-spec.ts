import { parseSpec, type LoadedSpec } from '../spec/spec';

/** Bars a --quick run keeps: the last 3000 (about four months of hourly bars). */
export const QUICK_BARS = 3000;
/** Upper bounds --quick puts on these model params, wherever they appear (ensemble members included). */
export const QUICK_PARAM_CAPS: Readonly<Record<string, number>> = { rounds: 20, epochs: 2, earlyStoppingRounds: 5 };

/**
 * `candlelab run --quick`, a smoke test: the same stages on small data with few rounds.
 * - the run is named `<name>-quick` (so is its registered model: `model.name` + `-quick` when set);
 * - sample data: `data.bars` → at most 3000; file and store data: the last 3000 bars (see `lastBars`);
 * - every `rounds`, `epochs`, `earlyStoppingRounds` in the model params (members, meta-learners too)
 *   → at most 20, 2, 5; an XGBoost reference without `rounds` gets `rounds: 20`.
 * Everything else (features, labels, split, validation windows, strategy, backtest) is unchanged.
 * Returns the spec and what changed, as `path: before → after` lines.
 */
export function quickSpec(loaded: LoadedSpec): { loaded: LoadedSpec; lastBars: number; changes: string[] } {
  const raw = JSON.parse(JSON.stringify(loaded.spec)) as Record<string, any>;
  const changes: string[] = [];
  const set = (holder: Record<string, any>, key: string, value: unknown, where: string): void => {
    changes.push(`${where}: ${holder[key] === undefined ? '(default)' : JSON.stringify(holder[key])} → ${JSON.stringify(value)}`);
    holder[key] = value;
  };
  set(raw, 'name', `${raw.name}-quick`, 'name');
  if (raw.model.name) set(raw.model, 'name', `${raw.model.name}-quick`, 'model.name');
  const dataList: Array<Record<string, any>> = Array.isArray(raw.data) ? raw.data : [raw.data];
  dataList.forEach((data, i) => {
    if (data.source === 'sample' && data.bars > QUICK_BARS) set(data, 'bars', QUICK_BARS, Array.isArray(raw.data) ? `data.${i}.bars` : 'data.bars');
  });
  const visit = (node: unknown, where: string): void => {
    if (Array.isArray(node)) return node.forEach((item, i) => visit(item, `${where}.${i}`));
    if (!node || typeof node !== 'object') return;
    const object = node as Record<string, any>;
    // a model reference { id, params }: core/xgboost's and core/xgboost-regressor's rounds default to 300, so cap them even when absent
    if ((object.id === 'core/xgboost' || object.id === 'core/xgboost-regressor') && object.params && typeof object.params === 'object' && object.params.rounds === undefined) set(object.params, 'rounds', QUICK_PARAM_CAPS.rounds, `${where}.params.rounds`);
    for (const [key, value] of Object.entries(object)) {
      const cap = QUICK_PARAM_CAPS[key];
      if (cap !== undefined && typeof value === 'number' && value > cap) set(object, key, cap, `${where}.${key}`);
      else visit(value, `${where}.${key}`);
    }
  };
  visit(raw.model, 'model');
  if (raw.models?.fineTune) visit(raw.models.fineTune, 'models.fineTune');
  const spec = parseSpec(raw, `${loaded.file || 'spec'} (--quick)`);
  if (dataList.some((data) => data.source !== 'sample')) changes.push(`data: the last ${QUICK_BARS} bars`);
  return { loaded: { ...loaded, spec }, lastBars: QUICK_BARS, changes };
}
