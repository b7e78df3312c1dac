import { createRequire } from 'node:module';
import * as path from 'node:path';

/** A display entry in a notebook cell that can be overwritten (for progress). */
export interface DisplayHandle {
  text(s: string): void;
}

/** Rich output into the current notebook cell. */
export interface NotebookDisplay {
  /** Send one output with several representations; the front end picks the richest it renders. */
  bundle(data: Record<string, unknown>): void;
  newHandle(): DisplayHandle;
}

type WriteDisplayData = (message: { data: Record<string, unknown>; metadata: object; transient: object }, update: boolean) => void;

/**
 * The tslab kernel's display channel when this process is a tslab kernel executing a cell, otherwise
 * undefined. A kernel has tslab's modules loaded already, so only the module cache is consulted: outside
 * notebooks nothing is loaded (tslab pulls in the TypeScript compiler) and candlelab does not need tslab.
 */
export function notebookDisplay(): NotebookDisplay | undefined {
  let jupyterPath: string;
  try {
    jupyterPath = createRequire(path.join(process.cwd(), 'noop.js')).resolve('tslab/dist/jupyter');
  } catch {
    return undefined;
  }
  const jupyter = require.cache[jupyterPath]?.exports as { lastWriteDisplayData: WriteDisplayData | null } | undefined;
  const write = jupyter?.lastWriteDisplayData;
  if (!write) return undefined;
  const publicApi = require(path.join(path.dirname(jupyterPath), 'public.js')) as { newDisplay(): { text(s: string): void } };
  return {
    bundle(data) {
      write({ data, metadata: {}, transient: {} }, false);
    },
    newHandle() {
      const display = publicApi.newDisplay();
      return { text: (s: string) => display.text(s) };
    },
  };
}
