import type { Reporter } from 'vitest/reporters';

type TaskLike = { type: string; mode?: string; result?: { state?: string }; tasks?: TaskLike[] };

/**
 * Prints one plain closing line, "N passed, N failed[, N skipped]", after vitest's own summary, so any
 * CI log reader finds the outcome on the last line.
 */
export default class SummaryReporter implements Reporter {
  onFinished(files: TaskLike[] = []): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const visit = (task: TaskLike): void => {
      if (task.type === 'test') {
        if (task.result?.state === 'pass') passed++;
        else if (task.result?.state === 'fail') failed++;
        else skipped++;
      }
      task.tasks?.forEach(visit);
    };
    files.forEach(visit);
    process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  }
}
