import { ConfigError } from '../errors';

/** Parsers for numeric command-line options: a one-line error naming the option and the value. */
export const positiveInt =
  (name: string) =>
  (text: string): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${name} must be a whole number ≥ 1, got '${text}'`);
    return value;
  };

export const nonNegative =
  (name: string) =>
  (text: string): number => {
    const value = Number(text);
    if (!Number.isFinite(value) || value < 0) throw new ConfigError(`${name} must be a number ≥ 0, got '${text}'`);
    return value;
  };

/** Collect a repeatable option into an array. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
