import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['kernel-lib/test/**/*.test.ts'],
    // The machine has 2 cores and the heavy tests (Jupyter, CLI runs, XGBoost on 2 threads, Chromium)
    // start their own processes: running files one at a time is faster than letting them compete.
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 180_000,
    reporters: ['default', './kernel-lib/test/summary-reporter.ts'],
  },
});
