import { notebookDisplay } from '../report/notebook-display';

/** Progress of one long task (training rounds, downloads, trials). */
export interface Progress {
  /** Advance by `n` steps (default 1); `detail` is a short status such as the current loss. */
  tick(n?: number, detail?: string): void;
  /** Mark the task finished. */
  done(detail?: string): void;
}

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'quiet';

const BAR_WIDTH = 28;

/**
 * A progress reporter that fits where the code runs: an updating line in a notebook cell (tslab), a
 * redrawn bar on an interactive terminal, or a line per quarter on logs and CI. Writes to stderr so
 * stdout stays clean for --json output.
 */
export function createProgress(label: string, total: number, mode: ProgressMode = 'auto'): Progress {
  const notebook = mode === 'auto' ? notebookDisplay() : undefined;
  const resolved: ProgressMode =
    mode !== 'auto' ? mode : notebook ? 'bar' : process.stderr.isTTY ? 'bar' : 'lines';
  let done = 0;
  let lastQuarter = -1;
  let lastDraw = 0;
  const render = (detail?: string): string => {
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(fraction * BAR_WIDTH);
    return `${label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${done}/${total}${detail ? ' ' + detail : ''}`;
  };
  const handle = notebook?.newHandle();
  const draw = (detail: string | undefined, final: boolean): void => {
    if (resolved === 'quiet') return;
    if (resolved === 'lines') {
      const quarter = total > 0 ? Math.floor((4 * done) / total) : 4;
      if (quarter !== lastQuarter || final) {
        lastQuarter = quarter;
        process.stderr.write(render(detail) + '\n');
      }
      return;
    }
    // Redraw at most ~10 times a second: drawing must not cost more than the work.
    const now = performance.now();
    if (!final && now - lastDraw < 100) return;
    lastDraw = now;
    if (handle) handle.text(render(detail));
    else process.stderr.write('\r' + render(detail) + (final ? '\n' : ''));
  };
  return {
    tick(n = 1, detail) {
      done += n;
      draw(detail, false);
    },
    done(detail) {
      done = Math.max(done, total);
      draw(detail, true);
    },
  };
}

/**
 * `progress` that also writes lines to `write` (a run's log): the start, about every 2% of the steps
 * with the latest detail (a training loss), and the end.
 */
export function teeProgress(progress: Progress, label: string, total: number, write: (line: string) => void): Progress {
  const every = Math.max(1, Math.floor(total / 50));
  let done = 0;
  write(`${label}: 0/${total}`);
  return {
    tick(n = 1, detail) {
      const before = done;
      done += n;
      if (Math.floor(done / every) !== Math.floor(before / every)) write(`${label}: ${done}/${total}${detail ? ' ' + detail : ''}`);
      progress.tick(n, detail);
    },
    done(detail) {
      write(`${label}: done ${Math.max(done, total)}/${total}${detail ? ' ' + detail : ''}`);
      progress.done(detail);
    },
  };
}
