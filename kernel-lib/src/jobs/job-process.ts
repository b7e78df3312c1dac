import { CandlelabError } from '../errors';
import { executeJob } from './execute-job';
import type { Job } from './job';

/**
 * A job worker process, forked by the local pool (local-pool.ts), reused across jobs so its stage
 * cache stays warm. It takes `{id, job}` over IPC and answers `{id, ok, result | error, permanent}`;
 * it exits when its parent goes away (a killed parent leaves no orphans).
 */
process.on('message', (message: { id: number; job: Job }) => {
  void executeJob(message.job).then(
    (result) => process.send?.({ id: message.id, ok: true, result }),
    (error: unknown) => process.send?.({ id: message.id, ok: false, error: error instanceof Error ? error.message : String(error), permanent: isPermanent(error) }),
  );
});
process.on('disconnect', () => process.exit(0));

/** Errors the same input will always give again (a bad spec, bad data, a missing plugin): not retried. */
function isPermanent(error: unknown): boolean {
  return error instanceof CandlelabError && ['CONFIG', 'DATA', 'PLUGIN', 'NOT_ENOUGH_DATA'].includes(error.code);
}
