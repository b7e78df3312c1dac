import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../src/registry/model-registry';
import { writeArtifact } from '../src/models/artifact';
import type { FittedModel } from '../src/models/model';
import type { AlertEvent, AlertSink } from '../src/services/alerts/types';
import {
  createManualClock,
  systemClock,
  createScheduler,
  defineSchedule,
  loadSchedule,
  parseSchedule,
  readHistory,
  type HistoryEntry,
  type JobRunner,
  type LoadedSchedule,
  type ManualClock,
  type Scheduler,
  type SchedulerEvent,
  type SchedulerOptions,
} from '../src/services/schedule';
import { CLI_BIN, ROOT, cli, tempDir, workspaceEnv } from './helpers';
import { spawn } from 'node:child_process';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { fetchCandles } from '../src/data/exchange/fetch-candles';
import { runSpec } from '../src/runner/run-spec';
import { startFakeExchange, type FakeExchange } from '../src/testing';

const dir = tempDir('schedule');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A small quickstart: 3000 synthetic hourly bars, 20 boosting rounds, one thread. */
const MODEL_NAME = 'sched-btc';
function writeSmallSpec(folder: string, extra: Record<string, unknown> = {}): string {
  const spec = JSON.parse(fs.readFileSync(path.join(ROOT, 'specs', 'quickstart.json'), 'utf8'));
  spec.name = 'sched';
  spec.data.bars = 3000;
  spec.model.name = MODEL_NAME;
  spec.model.params = { ...spec.model.params, rounds: 20, threads: 1 };
  Object.assign(spec, extra);
  fs.mkdirSync(folder, { recursive: true });
  const file = path.join(folder, 'small.json');
  fs.writeFileSync(file, JSON.stringify(spec, null, 2));
  return file;
}

/** A workspace of its own per test: data, models, runs. */
function workspaceIn(name: string): { root: string; dataDir: string; modelsDir: string; runsDir: string } {
  const root = path.join(dir, name);
  return { root, dataDir: path.join(root, 'data'), modelsDir: path.join(root, 'models'), runsDir: path.join(root, 'runs') };
}

/** An alert sink that keeps what it is sent. */
function recordingSink(): AlertSink & { events: AlertEvent[] } {
  const events: AlertEvent[] = [];
  return { events, send: async (event) => void events.push(event), flush: async () => undefined, close: async () => undefined };
}

/** Scheduler events, with waits that resolve on the event itself (never on a timer). */
function eventRecorder(): { events: SchedulerEvent[]; onEvent: (event: SchedulerEvent) => void; next: (match: (event: SchedulerEvent) => boolean) => Promise<SchedulerEvent> } {
  const events: SchedulerEvent[] = [];
  let waiters: Array<{ match: (event: SchedulerEvent) => boolean; resolve: (event: SchedulerEvent) => void }> = [];
  return {
    events,
    onEvent: (event) => {
      events.push(event);
      const hit = waiters.filter((w) => w.match(event));
      waiters = waiters.filter((w) => !w.match(event));
      for (const w of hit) w.resolve(event);
    },
    next: (match) => new Promise((resolve) => waiters.push({ match, resolve })),
  };
}

const finished = (job: string) => (e: SchedulerEvent) => e.type === 'job-finished' && e.job === job;
const entryOf = (event: SchedulerEvent): HistoryEntry => (event as { entry: HistoryEntry }).entry;

/** A registered production version with a chosen metric value (the model itself is a stand-in). */
async function registerProduction(modelsDir: string, metrics: Record<string, unknown>): Promise<number> {
  const model: FittedModel = {
    modelId: 'core/xgboost',
    modelVersion: '1.0.0',
    task: 'classification',
    featureNames: ['x'],
    classes: ['SELL', 'HOLD', 'BUY'],
    info: {},
    predict: async () => new Float32Array(0),
    save: async (folder) => [writeArtifact(folder, 'stand-in.txt', 'note', 'a production stand-in')],
    dispose: () => undefined,
  };
  const version = await new ModelRegistry(modelsDir).register({
    name: MODEL_NAME,
    createdAt: '2025-12-01T00:00:00.000Z',
    params: {},
    label: {},
    metrics,
    dataFingerprint: 'x',
    specHash: 'x',
    runId: 'hand-made',
    codeVersion: 'test',
    model,
    stage: 'production',
  });
  return version.version;
}

const START = Date.parse('2026-01-01T00:00:00Z');
const HOUR = 3_600_000;

function retrainSchedule(folder: string, job: Record<string, unknown> = {}): LoadedSchedule {
  writeSmallSpec(folder);
  return defineSchedule(
    { jobs: [{ name: 'retrain-btc', cron: '0 3 * * *', kind: 'retrain', spec: 'small.json', compare: { metric: 'valid.accuracy' }, ...job }] },
    { baseDir: folder, name: 'test' },
  );
}

function schedulerFor(schedule: LoadedSchedule, name: string, clock: ManualClock, options: SchedulerOptions = {}): Scheduler {
  return createScheduler(schedule, { clock, workspace: workspaceIn(name), log: () => undefined, ...options });
}

describe('schedule.json is validated once, with one-line errors naming the field and the fix', () => {
  const job = { name: 'a', cron: '0 3 * * *', kind: 'retrain', spec: 's.json', compare: { metric: 'backtest.sharpe' } };
  it('accepts a job and fills the defaults', () => {
    const schedule = parseSchedule({ jobs: [job] });
    expect(schedule.jobs[0]).toMatchObject({ timezone: 'UTC', catchUp: true, warmStart: false, refresh: false, set: [], compare: { direction: 'higher', margin: 0 } });
  });
  it.each([
    [{ jobs: [{ ...job, cron: '0 25 * * *' }] }, /^schedule: job 'a': cron '0 25 \* \* \*' is not valid \(Invalid value for hour: 25\); use 5 fields/],
    [{ jobs: [{ ...job, cron: 'every day' }] }, /job 'a': cron 'every day' is not valid .*exactly five, six, or seven/],
    [{ jobs: [{ ...job, timezone: 'Mars/Olympus' }] }, /^schedule: job 'a': timezone 'Mars\/Olympus' is not valid \(unknown time zone\); .*IANA zone like UTC/],
    [{ jobs: [{ ...job, comapre: {} }] }, /unknown field 'jobs.0.comapre' \(did you mean 'compare'\?\)/],
    [{ jobs: [{ ...job, compare: undefined }] }, /'jobs.0.compare' required/],
    [{ jobs: [{ ...job, compare: { metric: 'x', direction: 'up' } }] }, /'jobs.0.compare.direction' invalid enum value. Expected 'higher' \| 'lower'/],
    [{ jobs: [{ ...job, kind: 'retrian' }] }, /'jobs.0.kind' invalid discriminator value. Expected 'retrain'/],
    [{ jobs: [{ ...job, set: ['rounds'] }] }, /'jobs.0.set.0' must look like path=value/],
    [{ jobs: [job, job] }, /job name 'a' is used twice/],
    [{ jobs: [] }, /'jobs' needs at least one job/],
  ])('%j', (raw, message) => {
    expect(() => parseSchedule(raw)).toThrow(message);
  });
  it('a missing file and bad JSON name the file', () => {
    expect(() => loadSchedule(path.join(dir, 'nowhere.json'))).toThrow(/schedule file .*nowhere.json not found; pass the path of a schedule JSON/);
    fs.writeFileSync(path.join(dir, 'broken.json'), '{"jobs": [');
    expect(() => loadSchedule(path.join(dir, 'broken.json'))).toThrow(/schedule file .*broken.json is not valid JSON/);
  });
});

describe('the system clock', () => {
  it('sleeps past 2^31 ms in chunks (no overflow to an immediate wake-up) and wakes on abort', async () => {
    const controller = new AbortController();
    let woke = false;
    const long = systemClock.sleepUntil(Date.now() + 2 ** 33, controller.signal).then(() => (woke = true));
    // a short real sleep ends on time meanwhile
    const started = Date.now();
    await systemClock.sleepUntil(started + 30, new AbortController().signal);
    expect(Date.now()).toBeGreaterThanOrEqual(started + 30);
    expect(woke).toBe(false);
    controller.abort();
    await long;
    expect(woke).toBe(true);
  });
});

describe('a scheduled retrain compares the candidate with production', () => {
  it('promotes a better candidate at its cron time, alerts with both values and records the run', async () => {
    const clock = createManualClock(START);
    const alerts = recordingSink();
    const recorder = eventRecorder();
    const workspace = workspaceIn('promote');
    const production = await registerProduction(workspace.modelsDir, { valid: { accuracy: 0.01 } });
    const scheduler = schedulerFor(retrainSchedule(path.join(dir, 'promote', 'specs')), 'promote', clock, { alerts, onEvent: recorder.onEvent });
    await scheduler.start();
    const done = recorder.next(finished('retrain-btc'));
    clock.advanceTo(START + 3 * HOUR);
    const entry = entryOf(await done);
    await scheduler.stop();

    expect(entry).toMatchObject({ outcome: 'promoted', trigger: 'schedule', scheduledFor: '2026-01-01T03:00:00.000Z', model: MODEL_NAME, production, candidate: production + 1, productionValue: 0.01 });
    expect(entry.candidateValue).toBeGreaterThan(0.01);
    const registry = new ModelRegistry(workspace.modelsDir);
    expect(registry.resolve(MODEL_NAME, { stage: 'production' }).version).toBe(production + 1);
    expect(registry.get(MODEL_NAME, production).stage).toBe('archived');
    expect(fs.existsSync(path.join(workspace.runsDir, entry.runId!, 'run.json'))).toBe(true);
    expect(alerts.events).toHaveLength(1);
    expect(alerts.events[0]).toMatchObject({ kind: 'promotion', source: 'schedule retrain-btc', title: `retrain-btc: promoted ${MODEL_NAME} v2 to production` });
    expect(alerts.events[0].text).toMatch(/sched-btc v2 vs production v1\nvalid\.accuracy: candidate 0\.\d+, production 0\.01\nreason: valid\.accuracy 0\.\d+ > 0\.01/);
    expect(scheduler.history()).toEqual([entry]);
    expect(JSON.parse(fs.readFileSync(scheduler.paths.state, 'utf8')).jobs['retrain-btc']).toMatchObject({ lastScheduled: '2026-01-01T03:00:00.000Z', lastOutcome: 'promoted' });
  });

  it('keeps production when the candidate is not better by the margin; the candidate stays in staging', async () => {
    const clock = createManualClock(START);
    const alerts = recordingSink();
    const recorder = eventRecorder();
    const workspace = workspaceIn('keep');
    const production = await registerProduction(workspace.modelsDir, { valid: { accuracy: 0.3 } });
    const schedule = retrainSchedule(path.join(dir, 'keep', 'specs'), { compare: { metric: 'valid.accuracy', margin: 0.9 } });
    const scheduler = schedulerFor(schedule, 'keep', clock, { alerts, onEvent: recorder.onEvent });
    await scheduler.start();
    const done = recorder.next(finished('retrain-btc'));
    clock.advanceTo(START + 3 * HOUR);
    const entry = entryOf(await done);
    await scheduler.stop();

    expect(entry).toMatchObject({ outcome: 'kept', production, candidate: production + 1, productionValue: 0.3 });
    expect(entry.reason).toMatch(/^valid\.accuracy 0\.\d+ is not > 1\.2 \(production 0\.3 \+ margin 0\.9\)$/);
    const registry = new ModelRegistry(workspace.modelsDir);
    expect(registry.resolve(MODEL_NAME, { stage: 'production' }).version).toBe(production);
    expect(registry.get(MODEL_NAME, production + 1).stage).toBe('staging');
    expect(alerts.events.map((e) => e.kind)).toEqual(['schedule']);
    expect(alerts.events[0].title).toBe('retrain-btc: kept production v1; sched-btc v2 stays in staging');
  });

  it("re-scores a real production model on the candidate's test window when it never saw that window", async () => {
    const clock = createManualClock(START);
    const recorder = eventRecorder();
    const workspace = workspaceIn('rescore');
    const schedule = retrainSchedule(path.join(dir, 'rescore', 'specs'), { compare: { metric: 'test.accuracy' } });
    // production: the same spec on the first 2000 of the candidate's 3000 bars (validation ends at bar ~1700,
    // before the candidate's test rows from bar ~2550)
    const first = await runSpec(path.join(dir, 'rescore', 'specs', 'small.json'), { overrides: ['data.bars=2000'], workspace, progress: 'quiet', log: () => {} });
    const registry = new ModelRegistry(workspace.modelsDir);
    registry.promote(MODEL_NAME, first.record.model.registered!.version, 'production');
    const recorded = (registry.get(MODEL_NAME, 1).metrics.test as { accuracy: number }).accuracy;
    const scheduler = schedulerFor(schedule, 'rescore', clock, { onEvent: recorder.onEvent });
    await scheduler.start();
    const done = recorder.next(finished('retrain-btc'));
    clock.advanceTo(START + 3 * HOUR);
    const entry = entryOf(await done);
    await scheduler.stop();
    expect(entry.notes).toEqual([expect.stringMatching(/^production v1 re-scored on the candidate's test window \(\S+ → \S+\)$/)]);
    expect(entry.productionValue).not.toBe(recorded);
    expect(entry.productionValue).toBeGreaterThan(0);
    expect(entry.productionValue).toBeLessThan(1);
    // not fair: a production model trained and early-stopped on 4000 bars has seen the candidate's test rows
    const unfair = await runSpec(path.join(dir, 'rescore', 'specs', 'small.json'), { overrides: ['data.bars=4000'], workspace, progress: 'quiet', log: () => {} });
    registry.promote(MODEL_NAME, unfair.record.model.registered!.version, 'production');
    const again = await createScheduler(schedule, { clock, workspace, log: () => undefined }).runNow('retrain-btc');
    expect(again.notes).toEqual([expect.stringMatching(/^compared with production v\d+'s recorded metrics \(it trained and early-stopped on data up to .*inside the candidate's test window/)]);
  });

  it('warm start continues from the production booster: its trees plus the new ones', async () => {
    const clock = createManualClock(START);
    const recorder = eventRecorder();
    const workspace = workspaceIn('warm');
    const folder = path.join(dir, 'warm', 'specs');
    // every round kept (no early stopping), so the tree counts are exact
    const schedule = retrainSchedule(folder, { warmStart: true, set: ['model.params.earlyStoppingRounds=0', 'model.params.rounds=5'] });
    const scheduler = schedulerFor(schedule, 'warm', clock, { onEvent: recorder.onEvent });
    const first = await scheduler.runNow('retrain-btc');
    expect(first).toMatchObject({ outcome: 'promoted', trigger: 'run-now', notes: ['warm start not applied: no production version to continue from'] });
    const second = await scheduler.runNow('retrain-btc');
    // (production v1 ran on the same bars: its test rows are the candidate's, so it is re-scored there)
    expect(second.notes).toEqual(['warm start from production v1', expect.stringMatching(/^production v1 re-scored on the candidate's test window/)]);
    const registry = new ModelRegistry(workspace.modelsDir);
    const trees = (version: number): number =>
      JSON.parse(fs.readFileSync(path.join(registry.artifactDir(MODEL_NAME, version), 'model.json'), 'utf8')).learner.gradient_booster.model.trees.length;
    // 3 classes: 3 trees per round; 5 rounds, then 5 more on top
    expect(trees(1)).toBe(15);
    expect(trees(2)).toBe(30);
    const card = JSON.parse(fs.readFileSync(path.join(registry.artifactDir(MODEL_NAME, 2), 'model-card.json'), 'utf8'));
    expect(card.info).toMatchObject({ warmStartFrom: registry.artifactDir(MODEL_NAME, 1), initialRounds: 5 });
  });
});

describe('a retrain job refreshes its store data first, then trains walk-forward', () => {
  let fake: FakeExchange;
  const candles = generateSyntheticCandles({ seed: 5, bars: 3000, timeframe: '1h', start: '2022-01-01T00:00:00Z' });
  beforeAll(async () => {
    fake = await startFakeExchange({ datasets: [{ market: 'spot', symbol: 'BTC/USDT', timeframe: '1h', candles }] });
  });
  afterAll(async () => {
    await fake?.close();
  });

  it('downloads only what the store lacks (the downloader resume), then compares on the walk-forward Sharpe', async () => {
    const workspace = workspaceIn('refresh');
    // the store holds the first 2000 candles; the exchange has 3000
    await fetchCandles({ apiUrl: fake.url, symbol: 'BTC/USDT', timeframe: '1h', from: '2022-01-01', to: candles.time[2000], dataDir: workspace.dataDir, progress: 'quiet' });
    const folder = path.join(dir, 'refresh', 'specs');
    writeSmallSpec(folder, {
      data: { source: 'store', exchange: 'binance', market: 'spot', symbol: 'BTC/USDT', timeframe: '1h', start: '2022-01-01' },
      validation: { method: 'walk-forward', train: '40d', test: '20d', mode: 'rolling' },
    });
    const schedule = defineSchedule(
      { jobs: [{ name: 'wf', cron: '0 3 * * *', kind: 'retrain', spec: 'small.json', refresh: { apiUrl: fake.url }, compare: { metric: 'validation.outOfSample.sharpe' } }] },
      { baseDir: folder, name: 'test' },
    );
    const entry = await schedulerFor(schedule, 'refresh', createManualClock(START)).runNow('wf');
    expect(entry).toMatchObject({ outcome: 'promoted', metric: 'validation.outOfSample.sharpe', notes: ['data refreshed: 1000 new candles (3000 stored)'] });
    expect(typeof entry.candidateValue).toBe('number');
    const run = JSON.parse(fs.readFileSync(path.join(workspace.runsDir, entry.runId!, 'run.json'), 'utf8'));
    expect(run.data.rows).toBe(3000);
    expect(run.validation.windows.length).toBeGreaterThan(1);
  });

  it('a spec that does not suit its job fails when the scheduler is created, not at the first run', () => {
    const schedule = retrainSchedule(path.join(dir, 'refresh-sample', 'specs'), { refresh: {} });
    expect(() => schedulerFor(schedule, 'refresh-sample', createManualClock(START))).toThrow(
      `job 'retrain-btc': refresh needs a spec whose data.source is "store" (it is "sample"); set "refresh": false or point the spec at the store`,
    );
    const missing = defineSchedule({ jobs: [{ name: 'gone', cron: '0 3 * * *', kind: 'retrain', spec: 'nowhere.json', compare: { metric: 'valid.accuracy' } }] }, { baseDir: dir });
    expect(() => schedulerFor(missing, 'missing', createManualClock(START))).toThrow(/^job 'gone': spec file .*nowhere\.json not found; pass the path of a spec JSON/);
    const badSet = retrainSchedule(path.join(dir, 'bad-set', 'specs'), { set: ['nme=x'] });
    expect(() => schedulerFor(badSet, 'bad-set', createManualClock(START))).toThrow(/^job 'retrain-btc': .*small.json: unknown field 'nme' \(did you mean 'name'\?\)$/);
  });
});

describe('warm start where the model has none', () => {
  it('is a note in the history and the alert, not an error', async () => {
    const folder = path.join(dir, 'warm-none', 'specs');
    const member = { id: 'core/xgboost', params: { rounds: 5, threads: 1 } };
    writeSmallSpec(folder, { model: { id: 'core/ensemble', name: MODEL_NAME, params: { members: [member, { ...member, params: { ...member.params, maxDepth: 2 } }] } } });
    const schedule = defineSchedule(
      { jobs: [{ name: 'ens', cron: '0 3 * * *', kind: 'retrain', spec: 'small.json', warmStart: true, compare: { metric: 'valid.accuracy' } }] },
      { baseDir: folder, name: 'test' },
    );
    const alerts = recordingSink();
    const scheduler = schedulerFor(schedule, 'warm-none', createManualClock(START), { alerts });
    expect((await scheduler.runNow('ens')).outcome).toBe('promoted');
    const second = await scheduler.runNow('ens');
    expect(second.outcome).not.toBe('failed');
    expect(second.notes).toEqual(['warm start not applied: model core/ensemble has no initModel param', expect.stringMatching(/^production v1 re-scored on the candidate's test window/)]);
    expect(alerts.events[1].text).toMatch(/\nwarm start not applied: model core\/ensemble has no initModel param\nproduction v1 re-scored/);
  });
});

/** A runJob held open until released: overlap tests see the job still running at its next time. */
function heldRunner(): { runJob: JobRunner; release: () => void; calls: number } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const held = {
    calls: 0,
    release: () => release(),
    runJob: (async () => {
      held.calls++;
      await gate;
      return { outcome: 'completed' as const };
    }) as JobRunner,
  };
  return held;
}

function everyTenMinutes(name: string): LoadedSchedule {
  return defineSchedule(
    { jobs: [{ name: 'job', cron: '*/10 * * * *', kind: 'retrain', spec: 'unused.json', compare: { metric: 'valid.accuracy' } }] },
    { baseDir: path.join(dir, name), name: 'test' },
  );
}

describe('overlap: a job still running is not started again', () => {
  it('the next scheduled time is skipped and recorded while the run is held open', async () => {
    const clock = createManualClock(START);
    const recorder = eventRecorder();
    const held = heldRunner();
    const alerts = recordingSink();
    const scheduler = schedulerFor(everyTenMinutes('overlap'), 'overlap', clock, { runJob: held.runJob, onEvent: recorder.onEvent, alerts });
    await scheduler.start();
    const started = recorder.next((e) => e.type === 'job-started');
    clock.advanceTo(START + 10 * 60_000);
    await started;
    const skipped = recorder.next((e) => e.type === 'skipped-overlap');
    clock.advanceTo(START + 20 * 60_000);
    expect(entryOf(await skipped)).toMatchObject({ outcome: 'skipped-overlap', scheduledFor: '2026-01-01T00:20:00.000Z', reason: 'the previous run is still going' });
    const done = recorder.next(finished('job'));
    held.release();
    await done;
    await scheduler.stop();
    expect(held.calls).toBe(1);
    expect(scheduler.history().map((e) => [e.scheduledFor, e.outcome])).toEqual([
      ['2026-01-01T00:20:00.000Z', 'skipped-overlap'],
      ['2026-01-01T00:10:00.000Z', 'completed'],
    ]);
    expect(alerts.events.map((e) => e.kind)).toEqual(['schedule']);
    // the run of 00:10 ended after 00:20 was skipped: catch-up counts from 00:20
    expect(JSON.parse(fs.readFileSync(scheduler.paths.state, 'utf8')).jobs.job).toMatchObject({ lastScheduled: '2026-01-01T00:20:00.000Z', lastOutcome: 'completed' });
  });

  it('a second scheduler instance on the same schedule cannot take the job lock', async () => {
    const clock = createManualClock(START);
    const held = heldRunner();
    const first = schedulerFor(everyTenMinutes('lock'), 'lock', clock, { runJob: held.runJob });
    const second = schedulerFor(everyTenMinutes('lock'), 'lock', clock, { runJob: held.runJob });
    const running = first.runNow('job');
    const refused = await second.runNow('job');
    expect(refused).toMatchObject({ outcome: 'skipped-overlap', trigger: 'run-now' });
    expect(refused.reason).toMatch(/^another scheduler process is running it \(.*locks\/job\.lock\)$/);
    held.release();
    expect((await running).outcome).toBe('completed');
    // the lock is released with the run: the second instance may run it now
    const after = heldRunner();
    after.release();
    const third = schedulerFor(everyTenMinutes('lock'), 'lock', clock, { runJob: after.runJob });
    expect((await third.runNow('job')).outcome).toBe('completed');
    expect(first.history().map((e) => e.outcome)).toEqual(['skipped-overlap', 'completed', 'completed']);
  });
});

describe('catch-up after downtime', () => {
  const daily = (name: string, catchUp?: boolean): LoadedSchedule =>
    defineSchedule(
      { jobs: [{ name: 'nightly', cron: '0 3 * * *', kind: 'retrain', spec: 'unused.json', compare: { metric: 'valid.accuracy' }, ...(catchUp === undefined ? {} : { catchUp }) }] },
      { baseDir: path.join(dir, name), name: 'test' },
    );
  const counting = (): { runJob: JobRunner; calls: number[] } => {
    const calls: number[] = [];
    const runJob: JobRunner = async (_job, context) => (calls.push(context.scheduledFor), { outcome: 'completed' as const });
    return { runJob, calls };
  };

  it('runs the job once for several missed times, recorded as a catch-up', async () => {
    const before = createManualClock(START);
    const firstRun = counting();
    const up = schedulerFor(daily('catch-up'), 'catch-up', before, { runJob: firstRun.runJob });
    await up.start();
    await up.stop();
    expect(firstRun.calls).toEqual([]);

    // the machine was off for three days and a bit: 03:00 on Jan 1, 2, 3 and 4 passed
    const after = createManualClock(START + 3 * 24 * HOUR + 5 * HOUR);
    const recorder = eventRecorder();
    const secondRun = counting();
    const scheduler = schedulerFor(daily('catch-up'), 'catch-up', after, { runJob: secondRun.runJob, onEvent: recorder.onEvent });
    const done = recorder.next(finished('nightly'));
    const sleeping = after.nextSleep();
    await scheduler.start();
    const entry = entryOf(await done);
    // idle until the next 03:00, with nothing else run
    expect(await sleeping).toBe(Date.parse('2026-01-05T03:00:00Z'));
    expect(recorder.events.filter((e) => e.type === 'caught-up')).toEqual([{ type: 'caught-up', job: 'nightly', missed: 4, scheduledFor: Date.parse('2026-01-04T03:00:00Z') }]);
    expect(secondRun.calls).toEqual([Date.parse('2026-01-04T03:00:00Z')]);
    expect(entry).toMatchObject({ trigger: 'catch-up', missed: 4, scheduledFor: '2026-01-04T03:00:00.000Z', outcome: 'completed' });

    // the next day runs on schedule as usual
    const next = recorder.next(finished('nightly'));
    after.advanceTo(Date.parse('2026-01-05T03:00:00Z'));
    expect(entryOf(await next)).toMatchObject({ trigger: 'schedule', scheduledFor: '2026-01-05T03:00:00.000Z' });
    await scheduler.stop();
    expect(scheduler.history()).toHaveLength(2);
  });

  it('catchUp: false skips it (and so does the option, for every job)', async () => {
    for (const [name, job, option] of [['no-catch-up', false, undefined], ['no-catch-up-option', undefined, false]] as const) {
      const runs = counting();
      const up = schedulerFor(daily(name, job), name, createManualClock(START), { runJob: runs.runJob });
      await up.start();
      await up.stop();
      const recorder = eventRecorder();
      const after = createManualClock(START + 2 * 24 * HOUR + 5 * HOUR);
      const scheduler = schedulerFor(daily(name, job), name, after, { runJob: runs.runJob, onEvent: recorder.onEvent, catchUp: option });
      const sleeping = after.nextSleep();
      await scheduler.start();
      await sleeping;
      await scheduler.stop();
      expect(runs.calls).toEqual([]);
      expect(recorder.events).toEqual([{ type: 'catch-up-skipped', job: 'nightly', missed: 3, scheduledFor: Date.parse('2026-01-03T03:00:00Z') }]);
      // the missed times are settled: a later start does not catch them up again
      const again = schedulerFor(daily(name), name, after, { runJob: runs.runJob });
      const idle = after.nextSleep();
      await again.start();
      await idle;
      await again.stop();
      expect(runs.calls).toEqual([]);
    }
  });
});

describe('cron times', () => {
  it('are read in the job\'s time zone', async () => {
    const clock = createManualClock(START);
    const recorder = eventRecorder();
    const runJob: JobRunner = async () => ({ outcome: 'completed' });
    const schedule = defineSchedule(
      { jobs: [{ name: 'berlin', cron: '0 3 * * *', timezone: 'Europe/Berlin', kind: 'retrain', spec: 'unused.json', compare: { metric: 'valid.accuracy' } }] },
      { baseDir: path.join(dir, 'berlin'), name: 'test' },
    );
    const scheduler = schedulerFor(schedule, 'berlin', clock, { runJob, onEvent: recorder.onEvent });
    const sleeping = clock.nextSleep();
    await scheduler.start();
    // 03:00 in Berlin is 02:00 UTC in winter
    expect(await sleeping).toBe(Date.parse('2026-01-01T02:00:00Z'));
    const done = recorder.next(finished('berlin'));
    clock.advanceTo(Date.parse('2026-01-01T02:00:00Z'));
    expect(entryOf(await done).scheduledFor).toBe('2026-01-01T02:00:00.000Z');
    await scheduler.stop();
  });
});

describe('a failing job alerts and the scheduler keeps going', () => {
  it('records the failure, sends an error alert, and runs the next time', async () => {
    const clock = createManualClock(START);
    const alerts = recordingSink();
    const recorder = eventRecorder();
    let calls = 0;
    const runJob: JobRunner = async () => {
      if (++calls === 1) throw new Error('the exchange is down; retry later');
      return { outcome: 'completed' };
    };
    const scheduler = schedulerFor(everyTenMinutes('failing'), 'failing', clock, { runJob, alerts, onEvent: recorder.onEvent });
    await scheduler.start();
    let done = recorder.next(finished('job'));
    clock.advanceTo(START + 10 * 60_000);
    expect(entryOf(await done)).toMatchObject({ outcome: 'failed', error: 'the exchange is down; retry later' });
    expect(alerts.events).toEqual([expect.objectContaining({ kind: 'error', title: 'job failed', source: 'schedule job' })]);
    expect(alerts.events[0].text).toMatch(/job \(schedule, due 2026-01-01T00:10:00.000Z\) failed: the exchange is down; retry later/);
    done = recorder.next(finished('job'));
    clock.advanceTo(START + 20 * 60_000);
    expect(entryOf(await done).outcome).toBe('completed');
    await scheduler.stop();
    expect(scheduler.history().map((e) => e.outcome)).toEqual(['failed', 'completed']);
  });

  it('a retrain whose metric does not exist fails with the metrics it could use', async () => {
    const clock = createManualClock(START);
    const schedule = retrainSchedule(path.join(dir, 'bad-metric', 'specs'), { compare: { metric: 'backtest.sharp' } });
    const entry = await schedulerFor(schedule, 'bad-metric', clock).runNow('retrain-btc');
    expect(entry.outcome).toBe('failed');
    expect(entry.error).toMatch(/^compare\.metric 'backtest\.sharp' is not a number in sched-btc v1's metrics; use one of: .*backtest\.sharpe/);
  });

  it('runNow of an unknown job names the jobs', async () => {
    const scheduler = schedulerFor(everyTenMinutes('unknown'), 'unknown', createManualClock(START), { runJob: heldRunner().runJob });
    await expect(scheduler.runNow('jbo')).rejects.toThrow("no job named 'jbo' in the schedule (did you mean 'job'?); jobs: job");
  });
});

describe('candlelab schedule', () => {
  const folder = path.join(dir, 'cli');
  let scheduleFile: string;
  beforeAll(() => {
    writeSmallSpec(folder);
    scheduleFile = path.join(folder, 'nightly.json');
    fs.writeFileSync(scheduleFile, JSON.stringify({ jobs: [{ name: 'retrain-btc', cron: '0 3 * * *', kind: 'retrain', spec: 'small.json', compare: { metric: 'backtest.sharpe', margin: 0.05 } }] }));
  });

  it('--once runs a job on a real small spec, prints its outcome; history prints the table', async () => {
    const env = workspaceEnv(folder);
    const run = await cli(['schedule', scheduleFile, '--once', 'retrain-btc'], env);
    expect(run.stderr).not.toMatch(/error/);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/retrain-btc \(run-now, due .*\): promoted sched-btc v1 backtest\.sharpe -?[\d.]+ vs — — no production version yet/);
    const history = readHistory(path.join(folder, 'runs', 'schedule', 'nightly', 'history.jsonl'));
    expect(history).toEqual([expect.objectContaining({ job: 'retrain-btc', outcome: 'promoted', candidate: 1, production: null })]);
    const table = await cli(['schedule', 'history', scheduleFile], env);
    expect(table.status).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^job\s+scheduled for\s+trigger\s+outcome\s+model\s+candidate\s+production\s+metric/);
    expect(table.stdout).toMatch(/retrain-btc\s+\S+Z\s+run-now\s+promoted\s+sched-btc\s+v1\s+—\s+backtest\.sharpe/);
  });

  it('SIGTERM waits for the running job, then exits 0', async () => {
    const child = spawn(CLI_BIN, ['schedule', scheduleFile, '--run-now', 'retrain-btc'], { cwd: ROOT, env: { ...process.env, ...workspaceEnv(path.join(dir, 'cli-signal')) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    const started = new Promise<void>((resolve) =>
      child.stderr.setEncoding('utf8').on('data', (chunk) => {
        stderr += chunk;
        if (/retrain-btc started/.test(stderr)) resolve();
      }),
    );
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await started;
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/stopping \(waiting for running jobs\)/);
    // the run that was going finished and was recorded; nothing else started
    expect(stdout).toMatch(/retrain-btc \(run-now, due .*\): promoted sched-btc v1/);
    expect(readHistory(path.join(dir, 'cli-signal', 'runs', 'schedule', 'nightly', 'history.jsonl')).map((e) => e.outcome)).toEqual(['promoted']);
  });

  it('errors are one line; --help describes the schedule shape', async () => {
    const bad = await cli(['schedule', scheduleFile, '--once', 'retrain-eth'], workspaceEnv(folder));
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim()).toBe("candlelab: error: no job named 'retrain-eth' in the schedule (did you mean 'retrain-btc'?); jobs: retrain-btc");
    const help = await cli(['schedule', '--help']);
    expect(help.stdout).toMatch(/--once <job>/);
    expect(help.stdout).toMatch(/--no-catch-up/);
    expect(help.stdout).toMatch(/"compare": \{"metric": "backtest\.sharpe"/);
  });
});
