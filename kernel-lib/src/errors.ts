/**
 * The error hierarchy of candlelab. Every error a user can cause carries a stable `code` and a
 * one-line message that names the problem and the fix; the CLI prints exactly that line.
 */
export type ErrorCode =
  | 'CONFIG'
  | 'DATA'
  | 'PLUGIN'
  | 'MODEL'
  | 'NATIVE_LIBRARY'
  | 'NOT_ENOUGH_DATA'
  | 'NOTEBOOK'
  | 'REGISTRY'
  | 'TRADING'
  | 'IO';

export class CandlelabError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A spec, option or parameter is malformed. */
export class ConfigError extends CandlelabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFIG', message, options);
  }
}

/** Market data is missing, corrupt or inconsistent. */
export class DataError extends CandlelabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DATA', message, options);
  }
}

/** A plugin id is unknown, duplicated or a plugin does not load. */
export class PluginError extends CandlelabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PLUGIN', message, options);
  }
}

/** A model cannot be trained, saved, loaded or used for prediction. */
export class ModelError extends CandlelabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MODEL', message, options);
  }
}

/** A native library (libxgboost) is missing or failed. */
export class NativeLibraryError extends CandlelabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NATIVE_LIBRARY', message, options);
  }
}

/** Too few rows remain for the requested operation. */
export class NotEnoughDataError extends CandlelabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NOT_ENOUGH_DATA', message, options);
  }
}

/** A notebook could not be prepared or one of its cells failed. */
export class NotebookError extends CandlelabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NOTEBOOK', message, options);
  }
}

/** The model registry refused an operation. */
export class RegistryError extends CandlelabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('REGISTRY', message, options);
  }
}

/**
 * Live trading refused to go on: the exchange and the bot's state disagree, an order's status is
 * unknown, or a safety rail stopped it. Nothing more was sent.
 */
export class TradingError extends CandlelabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TRADING', message, options);
  }
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const previous = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) previous[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0];
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j];
      previous[j] = Math.min(above + 1, previous[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return previous[b.length];
}

/** The closest candidate to `name`, or undefined when nothing is reasonably close. */
export function nearestName(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** " (did you mean 'x'?)" or "" — appended to unknown-name errors. */
export function didYouMean(name: string, candidates: readonly string[]): string {
  const nearest = nearestName(name, candidates);
  return nearest ? ` (did you mean '${nearest}'?)` : '';
}
