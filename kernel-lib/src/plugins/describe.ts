import type { AnyDefinition } from './define';

export type ParamDescription = { name: string; type: string; default: unknown };

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
    return { name, type: typeName(schema), default: parsed.success ? parsed.data : undefined };
  });
}

/** One line per param: `name: type = default`. */
export function formatParams(definition: AnyDefinition): string {
  return describeParams(definition)
    .map((p) => `${p.name}: ${p.type}${p.default === undefined ? '' : ` = ${JSON.stringify(p.default)}`}`)
    .join(', ');
}
