import { z } from 'zod';
import { ConfigError, didYouMean } from '../errors';

/**
 * The one place a zod validation failure becomes a candlelab error: the first issue, as one line that
 * names where it is (`spec`, `backtest settings`, `portfolio file x.json`, `feature core/rsi`) and
 * the offending field, with "did you mean" for an unknown key.
 */
export function configErrorFromZod(error: z.ZodError, where: string, options: { schema?: z.ZodTypeAny; field?: string } = {}): ConfigError {
  const issue = error.issues[0];
  const field = options.field ?? 'field';
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    const allowed = options.schema ? keysAt(options.schema, issue.path) : [];
    return new ConfigError(`${where}: unknown ${field} '${[...issue.path, key].join('.')}'${didYouMean(key, allowed)}`);
  }
  const at = issue.path.length ? issue.path.join('.') : '(top level)';
  const prefix = options.field ? `${options.field} ` : '';
  return new ConfigError(`${where}: ${prefix}'${at}' ${issue.message.charAt(0).toLowerCase()}${issue.message.slice(1)}`);
}

/** Validate `raw` against `schema`; a failure is one ConfigError (see configErrorFromZod). */
export function parseConfig<S extends z.ZodTypeAny>(schema: S, raw: unknown, where: string, options: { field?: string } = {}): z.output<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  throw configErrorFromZod(result.error, where, { schema, field: options.field });
}

/** Look through default/optional/effects wrappers. */
function unwrap(schema: z.ZodTypeAny): z.ZodTypeAny {
  let node: z.ZodTypeAny = schema;
  for (let depth = 0; depth < 10; depth++) {
    if (node instanceof z.ZodDefault || node instanceof z.ZodOptional || node instanceof z.ZodNullable) node = node._def.innerType;
    else if (node instanceof z.ZodEffects) node = node._def.schema;
    else break;
  }
  return node;
}

/** The field names a schema allows at a path (for "did you mean"). */
export function keysAt(schema: z.ZodTypeAny, pathParts: ReadonlyArray<string | number>): string[] {
  let node = unwrap(schema);
  for (const part of pathParts) {
    if (node instanceof z.ZodObject) node = node.shape[part];
    else if (node instanceof z.ZodArray) node = node.element;
    else if (node instanceof z.ZodDiscriminatedUnion) node = node.options.map((o: z.ZodObject<z.ZodRawShape>) => o.shape[part]).find(Boolean);
    else return [];
    if (!node) return [];
    node = unwrap(node);
  }
  if (node instanceof z.ZodObject) return Object.keys(node.shape);
  if (node instanceof z.ZodDiscriminatedUnion) return [...new Set(node.options.flatMap((o: z.ZodObject<z.ZodRawShape>) => Object.keys(o.shape)))] as string[];
  return [];
}
