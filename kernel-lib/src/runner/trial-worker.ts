import { runTrial, type TrialRequest } from './trial-run';

/**
 * A tuning trial process: forked by `candlelab tune --jobs N` (one per job, reused across trials).
 * It takes trial requests over IPC and answers with each outcome; it exits when the parent goes away,
 * so a killed tuner leaves no orphans.
 */
process.on('message', (message: { id: number; request: TrialRequest }) => {
  void runTrial(message.request).then((outcome) => process.send?.({ id: message.id, outcome }));
});
process.on('disconnect', () => process.exit(0));
