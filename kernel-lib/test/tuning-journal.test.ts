import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError } from '../src/errors';
import { JournalFileStorage } from '../src/tuning/storage/journal-file';
import { RandomSampler } from '../src/tuning/samplers/random';
import { createStudy, loadStudy } from '../src/tuning/study';
import { TrialPruned } from '../src/tuning/trial';
import { exec, ROOT, tempDir } from './helpers';

const dir = tempDir('tuning-journal');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const journalPath = (): string => path.join(dir, `study-${counter++}.jsonl`);

/** A child script using the built library (npm test builds it first). */
const LIBRARY = path.join(ROOT, 'kernel-lib', 'dist', 'index.js');
function childScript(body: string): string {
  const file = path.join(dir, `child-${counter++}.js`);
  fs.writeFileSync(file, `const { tuning } = require(${JSON.stringify(LIBRARY)});\n(async () => {\n${body}\n})().catch((e) => { console.error(e); process.exit(1); });\n`);
  return file;
}

const objectiveSource = `
  const yieldTurn = () => new Promise((r) => setImmediate(r));
  const objective = async (trial) => {
    const x = trial.suggestFloat('x', -10, 10);
    const k = trial.suggestInt('k', 0, 5);
    for (let step = 0; step < 3; step++) { await yieldTurn(); trial.report(x * x + step, step); }
    return x * x + k;
  };`;

describe('journal file storage', () => {
  it('replays a study: trials, params, values, intermediate values and attributes come back equal', async () => {
    const file = journalPath();
    const study = createStudy({ storage: file, studyName: 'replay', seed: 3 });
    await study.optimize((trial) => {
      const x = trial.suggestFloat('x', -1, 1);
      const c = trial.suggestCategorical('c', ['a', null, true, 2.5]);
      trial.setUserAttr('note', { c, list: [1, 2] });
      trial.report(x, 0);
      trial.report(Infinity, 1);
      if (trial.number === 2) throw new TrialPruned();
      if (trial.number === 3) return NaN;
      return x * x;
    }, { nTrials: 6 });
    study.enqueueTrial({ x: 0.5 });
    const reopened = loadStudy({ storage: file, studyName: 'replay' });
    expect(reopened.trials).toEqual(study.trials);
    expect(reopened.trials.map((t) => t.state)).toEqual(['COMPLETE', 'COMPLETE', 'PRUNED', 'FAIL', 'COMPLETE', 'COMPLETE', 'WAITING']);
    expect(reopened.trials[0].intermediateValues[1]).toBe(Infinity);
    expect(reopened.trials[3].systemAttrs.fail_reason).toMatch(/NaN/);
    expect(reopened.bestParams).toEqual(study.bestParams);
    // Every line is one JSON event, fsynced in order.
    const ops = fs.readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line).op);
    expect(ops[0]).toBe('create_study');
    expect(new Set(ops)).toEqual(new Set(['create_study', 'create_trial', 'set_param', 'set_user_attr', 'report', 'set_system_attr', 'set_state']));
    // The enqueued trial runs next, with its fixed value.
    await reopened.optimize((t) => t.suggestFloat('x', -1, 1), { nTrials: 1 });
    expect(reopened.trials[6].params.x).toBe(0.5);
    expect(() => createStudy({ storage: file, studyName: 'replay' })).toThrow(/loadIfExists/);
    expect(() => createStudy({ storage: file, studyName: 'replay', loadIfExists: true, direction: 'maximize' })).toThrow(/directions/);
  });

  it('ignores a torn last line, keeps every earlier record, and repairs it on the next write', async () => {
    const file = journalPath();
    const study = createStudy({ storage: file, studyName: 'torn' });
    await study.optimize((t) => t.suggestFloat('x', 0, 1), { nTrials: 4 });
    const before = study.trials;
    fs.appendFileSync(file, '{"op":"set_state","trialId":3,"sta'); // a crash mid-append
    const reopened = loadStudy({ storage: file, studyName: 'torn' });
    expect(reopened.trials).toEqual(before);
    await reopened.optimize((t) => t.suggestFloat('x', 0, 1), { nTrials: 2 });
    expect(reopened.trials.map((t) => t.state)).toEqual(new Array(6).fill('COMPLETE'));
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const torn = lines.findIndex((line) => line.endsWith('"sta'));
    expect(JSON.parse(lines[torn + 1]).op).toBe('repair');
    expect(loadStudy({ storage: file, studyName: 'torn' }).trials).toEqual(reopened.trials);
  });

  it('refuses a corrupt line in the middle (not a torn tail)', () => {
    const file = journalPath();
    createStudy({ storage: file, studyName: 'a' });
    fs.appendFileSync(file, 'garbage\n');
    fs.appendFileSync(file, JSON.stringify({ op: 'create_study', studyId: 1, studyName: 'b', directions: ['minimize'], time: 0 }) + '\n');
    expect(() => new JournalFileStorage(file)).toThrow(DataError);
    expect(() => new JournalFileStorage(file)).toThrow(/line 2/);
  });

  it('two processes sharing one journal get unique trial numbers and the right total', async () => {
    const file = journalPath();
    // Both create the study with loadIfExists: whichever comes second loads it.
    const script = childScript(`${objectiveSource}
      const study = tuning.createStudy({ storage: process.argv[2], studyName: 'shared', loadIfExists: true, seed: Number(process.argv[3]), sampler: new tuning.TPESampler({ nStartupTrials: 5 }) });
      await study.optimize(objective, { nTrials: 15, nJobs: 2 });`);
    const [a, b] = await Promise.all([exec(process.execPath, [script, file, '1']), exec(process.execPath, [script, file, '2'])]);
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    const trials = loadStudy({ storage: file, studyName: 'shared' }).trials;
    expect(trials.length).toBe(30);
    expect(trials.map((t) => t.number)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(trials.every((t) => t.state === 'COMPLETE' && Object.keys(t.intermediateValues).length === 3)).toBe(true);
    expect(fs.existsSync(`${file}.lock`)).toBe(false);
  });

  it('resumes after SIGKILL: completed trials kept, the running one failed and retried with its parameters', async () => {
    const file = journalPath();
    // The child completes 4 trials, then hangs inside trial 4 after reporting a step; it says so on stdout.
    const script = childScript(`
      const study = tuning.createStudy({ storage: process.argv[2], studyName: 'crash', seed: 11, sampler: new tuning.RandomSampler() });
      await study.optimize(async (trial) => {
        const x = trial.suggestFloat('x', -10, 10);
        trial.suggestCategorical('c', ['a', 'b']);
        trial.report(x, 0);
        if (trial.number === 4) { console.log('hanging 4'); await new Promise(() => {}); }
        return x * x;
      }, { nTrials: 10, callbacks: [(s, t) => console.log('done ' + t.number)] });`);
    const child: ChildProcess = spawn(process.execPath, [script, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      let stdout = '';
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        if (stdout.includes('hanging 4')) resolve();
      });
      child.on('exit', () => reject(new Error(`child exited before hanging: ${stdout} ${stderr}`)));
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const before = loadStudy({ storage: file, studyName: 'crash' }).trials;
    expect(before.map((t) => t.state)).toEqual(['COMPLETE', 'COMPLETE', 'COMPLETE', 'COMPLETE', 'RUNNING']);
    const study = createStudy({ storage: file, studyName: 'crash', loadIfExists: true, sampler: new RandomSampler(), seed: 11 });
    await study.optimize((trial) => {
      const x = trial.suggestFloat('x', -10, 10);
      trial.suggestCategorical('c', ['a', 'b']);
      return x * x;
    }, { nTrials: 3 });
    const trials = study.trials;
    expect(trials.length).toBe(8);
    expect(trials.slice(0, 4)).toEqual(before.slice(0, 4));
    expect(trials[4].state).toBe('FAIL');
    expect(trials[4].systemAttrs.fail_reason).toMatch(/process died/);
    expect(trials[4].intermediateValues).toEqual(before[4].intermediateValues);
    // The retry is trial 5, with the parameters of trial 4.
    expect(trials[5].params).toEqual(trials[4].params);
    expect(trials[5].systemAttrs.failed_trial).toBe(4);
    expect(trials[5].state).toBe('COMPLETE');
    expect(trials.slice(5).every((t) => t.state === 'COMPLETE')).toBe(true);
    // Random draws depend on (seed, trial number) only: trial 6 equals what any process draws for 6.
    const reference = createStudy({ sampler: new RandomSampler(), seed: 11 });
    await reference.optimize((t) => (t.suggestFloat('x', -10, 10), t.suggestCategorical('c', ['a', 'b']), 0), { nTrials: 7 });
    expect(trials[6].params).toEqual(reference.trials[6].params);
  });

  it('judges staleness by pid on this host and by heartbeat age for other hosts', () => {
    const file = journalPath();
    let clock = 1_000_000;
    const storage = new JournalFileStorage(file, { clock: () => clock, heartbeatGraceSec: 60 });
    const study = createStudy({ storage, studyName: 'stale' });
    const mine = study.ask();
    // A trial started by a process on another host, as that process would have written it.
    fs.appendFileSync(file, JSON.stringify({ op: 'create_trial', studyId: 0, trialId: 1, number: 1, state: 'RUNNING', time: clock, owner: { pid: 1, host: 'elsewhere' } }) + '\n');
    storage.refresh();
    clock += 30_000;
    storage.recordHeartbeat(1);
    clock += 59_000;
    expect(storage.staleTrials(0)).toEqual([]); // our own live process, and a heartbeat 59 s old
    clock += 2_000;
    expect(storage.staleTrials(0).map((t) => t.number)).toEqual([1]);
    expect(fs.readFileSync(file, 'utf8')).toContain('"op":"heartbeat"');
    const retried = study.ask(); // fails trial 1, re-enqueues it as trial 2 and starts that
    expect(retried.number).toBe(2);
    expect(retried.systemAttrs.failed_trial).toBe(1);
    expect(study.trials.map((t) => t.state)).toEqual(['RUNNING', 'FAIL', 'RUNNING']);
    study.tell(mine, 1);
  });

  it('takes over the lock of a dead writer', async () => {
    const file = journalPath();
    createStudy({ storage: file, studyName: 'lock' });
    const dead = await exec(process.execPath, ['-e', 'console.log(process.pid)']);
    fs.writeFileSync(`${file}.lock`, JSON.stringify({ pid: Number(dead.stdout.trim()), host: require('node:os').hostname(), token: 'x', since: 0 }));
    const study = loadStudy({ storage: file, studyName: 'lock' });
    await study.optimize((t) => t.suggestFloat('x', 0, 1), { nTrials: 2 });
    expect(study.trials.length).toBe(2);
  });
});
