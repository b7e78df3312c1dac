import type { AnyDefinition, ColumnSourceDefinition, FeatureContext } from './define';

export type ParamDescription = { name: string; type: string; default: unknown; required: boolean };

/** The zod type of a schema, in words (number, boolean, string, enum a|b, array, …). */
function typeName(schema: any): string {
  let node = schema;
  for (let depth = 0; node && depth < 10; depth++) {
    const kind: string = node._def?.typeName ?? '';
    if (kind === 'ZodDefault' || kind === 'ZodOptional' || kind === 'ZodEffects') node = node._def.innerType ?? node._def.schema;
    else if (kind === 'ZodEnum') return node._def.values.join('|');
    else if (kind === 'ZodArray') return `${typeName(node._def.type)}[]`;
    else if (kind === 'ZodUnion') return node._def.options.map(typeName).join('|');
    else if (kind === 'ZodLiteral') return JSON.stringify(node._def.value);
    else if (kind === 'ZodObject') return `{${Object.keys(node.shape).join(', ')}}`;
    else return kind.replace(/^Zod/, '').toLowerCase() || 'unknown';
  }
  return 'unknown';
}

/** A definition's params with their types and defaults, for catalogues (`features --list`). */
export function describeParams(definition: AnyDefinition): ParamDescription[] {
  let node: any = definition.params;
  for (let depth = 0; node && !node.shape && depth < 10; depth++) node = node._def?.schema ?? node._def?.innerType;
  if (!node?.shape) return [];
  // each field's own default (a required field elsewhere must not hide the others')
  return Object.entries(node.shape as Record<string, any>).map(([name, schema]) => {
    const parsed = schema.safeParse(undefined);
    return { name, type: typeName(schema), default: parsed.success ? parsed.data : undefined, required: !parsed.success };
  });
}

/** One line per param: `name: type = default`. */
export function formatParams(definition: AnyDefinition): string {
  return describeParams(definition)
    .map((p) => `${p.name}: ${p.type}${p.default === undefined ? '' : ` = ${JSON.stringify(p.default)}`}`)
    .join(', ');
}

/**
 * One entry of the machine-readable catalogue (`candlelab plugins list --json`, `features --list
 * --json`): what a tool or a notebook needs to offer a definition. `outputs`, `lookback` and `horizon`
 * are those of the default params (null when a param has no default), features on 1h candles.
 */
export type CatalogueEntry = {
  kind: AnyDefinition['kind'];
  id: string;
  version: string;
  plugin: string;
  doc: string;
  params: Array<ParamDescription>;
  /** Features: their column names; labelers: ['label'] (class names are known once they run); strategies: ['target']. */
  outputs: string[] | null;
  /** Features and labelers: rows of warm-up at the start. */
  lookback?: number | null;
  /** Labelers: bars the label looks ahead. */
  horizon?: number | null;
  /** Labelers and models: classification or regression. */
  task?: string;
  /** Features: columns beyond OHLCV they read. */
  inputs?: string[] | null;
  /** Strategies: whether they need predictions, and of which task. */
  needs?: unknown;
  /** Sources: 'candles' (data.source) or 'columns' (data.side). */
  provides?: string;
};

/** The catalogue entry of a definition (see CatalogueEntry); `context` is what features see (timeframe). */
export function catalogueEntry(definition: AnyDefinition & { pluginId?: string }, context: FeatureContext): CatalogueEntry {
  const parsed = definition.params.safeParse({});
  const params = parsed.success ? parsed.data : undefined;
  const attempt = <T>(f: () => T): T | null => {
    if (!parsed.success) return null;
    try {
      return f();
    } catch {
      return null;
    }
  };
  const base = { kind: definition.kind, id: definition.id, version: definition.version, plugin: definition.pluginId ?? '', doc: definition.doc, params: describeParams(definition) };
  switch (definition.kind) {
    case 'feature':
      return {
        ...base,
        outputs: attempt(() => definition.outputs(params, context)),
        lookback: attempt(() => definition.lookback(params, context)),
        inputs: attempt(() => definition.inputs?.(params) ?? []),
      };
    case 'labeler':
      return {
        ...base,
        task: definition.task,
        outputs: ['label'],
        horizon: attempt(() => definition.horizon(params)),
        lookback: attempt(() => definition.lookback?.(params) ?? 0),
      };
    case 'model':
      return { ...base, task: definition.task, outputs: null };
    case 'strategy':
      return { ...base, needs: definition.needs, outputs: ['target'] };
    case 'splitter':
      return { ...base, outputs: null };
    case 'source':
      return {
        ...base,
        provides: definition.provides,
        outputs: definition.provides === 'columns' ? attempt(() => (definition as ColumnSourceDefinition).outputs(params)) : ['open', 'high', 'low', 'close', 'volume'],
      };
  }
}
