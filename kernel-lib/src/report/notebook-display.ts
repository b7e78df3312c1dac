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
 * undefined. tslab is looked up from the current folder (the notebook's), so the same module instance
 * the kernel loaded is found; candlelab does not depend on tslab outside notebooks.
 */
export function notebookDisplay(): NotebookDisplay | undefined {
  let jupyter: { lastWriteDisplayData: WriteDisplayData | null } | undefined;
  let publicApi: { newDisplay(): { text(s: string): void } } | undefined;
  try {
    const requireFromCwd = createRequire(path.join(process.cwd(), 'noop.js'));
    jupyter = requireFromCwd('tslab/dist/jupyter');
    publicApi = requireFromCwd('tslab');
  } catch {
    return undefined;
  }
  const write = jupyter?.lastWriteDisplayData;
  if (!write || !publicApi) return undefined;
  return {
    bundle(data) {
      write({ data, metadata: {}, transient: {} }, false);
    },
    newHandle() {
      const display = publicApi!.newDisplay();
      return { text: (s: string) => display.text(s) };
    },
  };
}
