/**
 * Grades many targets (references, stubs, mutants) in one Vitest process, so that verify's cost
 * grows with the tests it runs rather than with the processes it starts. Each target gets a copy
 * of its kata's graders under `<dir>/<id>/graders/`, with a `target.json` saying which
 * implementation `@kata/<slug>` stands for there (graders/support/target.ts); the copies share
 * Vitest's workers, and a mutant's copy stops at its first failing test (graders/support/setup.ts).
 *
 * Code under test may loop forever, which no test time-out can interrupt. When nothing has
 * happened for `hangMs`, the run is stopped: a target with a test (or a file) still open is the one
 * that hung and is reported timed out; every target not yet finished is graded again in a new run.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CopyManifest } from '../../../graders/support/target.ts';
import { GRADERS_DIR, REPO_ROOT } from '../paths.ts';
import type { GradingEvent, ReportedError } from '../reporter.ts';
import type { KataResult } from '../results.ts';
import { fileSize, readEvents as readEventsOf, resultFromEvents } from '../run-grader.ts';
import { UNATTRIBUTED } from './reporter.ts';

export interface Target {
  /** A name unique in the run, safe as a folder name: `token-bucket~mutant~abort-blocks-queue`. */
  id: string;
  slug: string;
  /** The folder holding `<slug>/index.ts`. */
  root: string;
  /** Stop at the first failing test (mutants: one failure is the verdict). */
  bail: boolean;
}

export interface RunOptions {
  /** A scratch folder for the copies; emptied first. */
  dir: string;
  /** Stop a run once nothing has happened for this long, and report what was running as hung. */
  hangMs: number;
  /** Vitest workers. */
  workers: number;
  /** Called as targets finish. */
  onProgress?: (finished: number, total: number) => void;
}

export interface RunOutcome {
  results: Map<string, KataResult>;
  /** Errors that escaped a test and that Vitest could not attribute to one. */
  unattributed: ReportedError[];
  /** Vitest runs it took: 1, plus one per restart after a hang. */
  runs: number;
}

const VITEST = path.join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const CONFIG = path.join(REPO_ROOT, 'scripts', 'lib', 'verify', 'vitest.config.ts');
const REPORTER = path.join(REPO_ROOT, 'scripts', 'lib', 'verify', 'reporter.ts');

type Event = GradingEvent | { type: 'module-start' | 'module-end'; file: string };

interface Copy {
  target: Target;
  dir: string;
  eventsFile: string;
  /** The copy's test files: the target is finished once each has ended. */
  files: string[];
  finished: boolean;
  timedOut: boolean;
}

export async function gradeTargets(targets: Target[], options: RunOptions): Promise<RunOutcome> {
  rmSync(options.dir, { recursive: true, force: true });
  mkdirSync(options.dir, { recursive: true });
  const copies = targets.map((target) => makeCopy(target, options.dir));
  let runs = 0;
  const report = (): void =>
    options.onProgress?.(
      copies.filter((copy) => copy.finished || isDone(copy, readEvents(copy.eventsFile))).length,
      copies.length,
    );

  let blameless = 0;
  for (;;) {
    const pending = copies.filter((copy) => !copy.finished);
    if (pending.length === 0) break;
    for (const copy of pending) {
      rmSync(copy.eventsFile, { force: true });
      rmSync(`${copy.eventsFile}.failed`, { force: true });
    }
    runs += 1;
    const all = pending.length === copies.length;
    const { hung } = await runVitest(
      all ? [] : pending.map((copy) => `${path.relative(REPO_ROOT, copy.dir)}/`),
      pending,
      options,
      report,
    );
    let blamed = 0;
    for (const copy of pending) {
      const events = readEvents(copy.eventsFile);
      if (!hung || isDone(copy, events)) {
        copy.finished = true;
      } else if (openWork(events)) {
        copy.finished = true;
        copy.timedOut = true;
        blamed += 1;
      }
    }
    // Stopped with nothing open to blame (the hang was outside any test): try once more, then
    // blame every target still pending rather than loop.
    blameless = hung && blamed === 0 ? blameless + 1 : 0;
    if (blameless >= 2) {
      for (const copy of pending.filter((candidate) => !candidate.finished)) {
        copy.finished = true;
        copy.timedOut = true;
      }
    }
    report();
  }

  const results = new Map<string, KataResult>();
  for (const copy of copies) {
    const events = readEvents(copy.eventsFile) as GradingEvent[];
    const durationMs = events.reduce(
      (sum, event) => sum + (event.type === 'result' ? (event.durationMs ?? 0) : 0),
      0,
    );
    results.set(
      copy.target.id,
      resultFromEvents(copy.target.slug, events, {
        timedOut: copy.timedOut,
        timeoutMs: options.hangMs,
        stderr: '',
        exitCode: events.length === 0 ? 1 : 0,
        durationMs,
      }),
    );
  }
  const unattributed = (readEvents(path.join(options.dir, UNATTRIBUTED)) as GradingEvent[]).flatMap(
    (event) => (event.type === 'end' ? event.unhandledErrors : []),
  );
  return { results, unattributed, runs };
}

function makeCopy(target: Target, dir: string): Copy {
  const copyDir = path.join(dir, target.id);
  const skip = (source: string): boolean => !/[\\/]mutants([\\/]|$)|\.md$/.test(source);
  cpSync(path.join(GRADERS_DIR, target.slug), path.join(copyDir, 'graders', target.slug), {
    recursive: true,
    filter: skip,
  });
  cpSync(path.join(GRADERS_DIR, 'support'), path.join(copyDir, 'graders', 'support'), {
    recursive: true,
  });
  const manifest: CopyManifest = { repoRoot: REPO_ROOT, target: target.root, bail: target.bail };
  writeFileSync(path.join(copyDir, 'target.json'), `${JSON.stringify(manifest)}\n`);
  return {
    target,
    dir: copyDir,
    eventsFile: path.join(copyDir, 'events.jsonl'),
    files: testFiles(path.join(copyDir, 'graders', target.slug)),
    finished: false,
    timedOut: false,
  };
}

function testFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.test.ts'))
    .map((file) => path.join(dir, file));
}

/** Runs Vitest on `filters` (all copies when empty); `hung` when it had to be stopped. */
function runVitest(
  filters: string[],
  pending: Copy[],
  options: RunOptions,
  report: () => void,
): Promise<{ hung: boolean }> {
  const args = [
    VITEST,
    'run',
    `--config=${CONFIG}`,
    `--reporter=${REPORTER}`,
    `--maxWorkers=${options.workers}`,
    '--no-isolate',
    // A copy whose every test fails is a verdict, not a reason to stop.
    '--passWithNoTests',
    ...filters,
  ];
  const { KATA_TARGET: _target, KATA_REPORT_FILE: _report, ...env } = process.env;
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...env, KATA_VERIFY_DIR: options.dir, NO_COLOR: '1' },
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const kill = (): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', kill);

  return new Promise((resolve, reject) => {
    let hung = false;
    let size = -1;
    let lastProgress = performance.now();
    const timer = setInterval(() => {
      const now = pending.reduce((sum, copy) => sum + fileSize(copy.eventsFile), 0);
      if (now !== size) {
        size = now;
        lastProgress = performance.now();
        report();
      } else if (performance.now() - lastProgress >= options.hangMs) {
        hung = true;
        kill();
      }
    }, 500);
    child.on('error', reject);
    child.on('close', () => {
      clearInterval(timer);
      process.removeListener('exit', kill);
      resolve({ hung });
    });
  });
}

/** A test that started and did not end, or a file that started and did not end. */
function openWork(events: Event[]): boolean {
  const tests = new Set<string>();
  const files = new Set<string>();
  for (const event of events) {
    if (event.type === 'worker-start') tests.add(event.id);
    else if (event.type === 'worker-end') tests.delete(event.id);
    else if (event.type === 'module-start') files.add(event.file);
    else if (event.type === 'module-end') files.delete(event.file);
  }
  return tests.size > 0 || files.size > 0;
}

/** Every test file of the copy has ended. */
const isDone = (copy: Copy, events: Event[]): boolean =>
  new Set(events.flatMap((event) => (event.type === 'module-end' ? [event.file] : []))).size >=
  copy.files.length;

const readEvents = (file: string): Event[] => readEventsOf<Event>(file);
