/**
 * Grades one kata against one target (the learner's code, the reference, or a mutant) in a Vitest
 * process of its own, so that code which loops forever can be stopped at the time limit without
 * stopping the grading of the other katas.
 */
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { UsageError } from './katas.ts';
import { claimEarlyStart, startVitest, type StartedVitest } from './start-vitest.mjs';
import { kataFile, shown } from './paths.ts';
import type { GradingEvent, ReportedError } from './reporter.ts';
import { collectedTests, rememberTestList, testList } from './test-list.ts';
import type { Failure, KataResult, KataStatus, StageOutcome, TestOutcome } from './results.ts';

export const DEFAULT_TIMEOUT_MS = 30_000;

const TIMEOUT_ADVICE = 'give a whole number of milliseconds above 0, e.g. 30000';

/** A time limit as the learner wrote it (`--timeout-ms` or KATA_TIMEOUT_MS), or undefined if unusable. */
export function parseTimeoutMs(text: string): number | undefined {
  const ms = Number(text);
  return /^\s*\d+\s*$/.test(text) && Number.isSafeInteger(ms) && ms > 0 ? ms : undefined;
}

/** Why a time limit is refused, in the words every tool uses: `invalid <where> "<text>": …`. */
export const timeoutMistake = (where: string, text: string): string =>
  `invalid ${where} "${text}": ${TIMEOUT_ADVICE}`;

/**
 * The time limit the learner set in KATA_TIMEOUT_MS, else the default. A value that is not a whole
 * number of milliseconds above 0 is a usage mistake (UsageError), as `--timeout-ms abc` is: never
 * silently ignored.
 */
export function timeoutFromEnv(): number {
  const text = process.env.KATA_TIMEOUT_MS;
  if (text === undefined || text === '') return DEFAULT_TIMEOUT_MS;
  const ms = parseTimeoutMs(text);
  if (ms === undefined) throw new UsageError(timeoutMistake('KATA_TIMEOUT_MS', text));
  return ms;
}

export interface GradeOptions {
  slug: string;
  /** `katas` (default), `solutions`, or a folder holding `<slug>/index.ts`: see graders/support/target.ts. */
  target?: string;
  /**
   * Stop grading and report `timed-out` once this long passes with no test starting or finishing:
   * a loop that never ends, or a wait that never returns. A kata with many slow tests is not cut off.
   */
  timeoutMs?: number;
  /** Stop at the first failing test (for mutants, where one failure is the verdict). */
  bail?: boolean;
  /** Also write Vitest's JUnit XML report of this kata to this file (CI tools read it). */
  junitFile?: string;
  /**
   * Stop grading and report `timed-out` once the whole run has taken this long, progress or not
   * (an interview's final grading, which must not outlast the round).
   */
  maxDurationMs?: number;
}

const STAGE_TITLE = /^stage (\d+):\s*(.+)$/i;

export async function gradeKata(options: GradeOptions): Promise<KataResult> {
  const { slug, target = 'katas', timeoutMs = DEFAULT_TIMEOUT_MS, bail = false } = options;
  if ((target === 'katas' || target === '') && !existsSync(kataFile(slug))) {
    return missingFile(slug);
  }
  const run = {
    slug,
    target,
    bail,
    ...(options.junitFile ? { junitFile: options.junitFile } : {}),
  };
  // `npm test -- <slug>` may have started this very run already (scripts/test.mjs).
  const vitest = claimEarlyStart(run) ?? startVitest(run);
  let events: GradingEvent[];
  let facts: RunFacts;
  try {
    const { exitCode, timedOut, capped } = await watch(vitest, timeoutMs, options.maxDurationMs);
    events = readEvents(vitest.reportFile);
    facts = {
      timedOut,
      timeoutMs,
      ...(capped ? { timedOutAfterMs: options.maxDurationMs } : {}),
      stderr: vitest.stderr(),
      exitCode,
      durationMs: performance.now() - vitest.startedAt,
    };
  } finally {
    rmSync(vitest.scratch, { recursive: true, force: true });
  }
  const result = resultFromEvents(slug, events, facts);
  const cutShort =
    result.status === 'timed-out' ||
    result.status === 'load-error' ||
    events.some((event) => event.type === 'module-error');
  if (!cutShort && !bail && facts.exitCode !== null) {
    // Every file was reached: this run's list of tests is the whole list.
    rememberTestList(slug, collectedTests(events));
    return result;
  }
  if (!cutShort) return result;
  // Totals come from the whole list of tests, never from the ones this run reached.
  const list = await testList(slug);
  if (!list) return result;
  return resultFromEvents(slug, [{ type: 'collected', tests: list }, ...events], facts);
}

/** The learner's file is not there: say so, and how to bring the stub back; nothing to run. */
async function missingFile(slug: string): Promise<KataResult> {
  const list = await testList(slug);
  const result = resultFromEvents(slug, list ? [{ type: 'collected', tests: list }] : [], {
    timedOut: false,
    timeoutMs: 0,
    stderr: '',
    exitCode: 1,
    durationMs: 0,
  });
  return {
    ...result,
    status: 'load-error',
    problem: `${shown(kataFile(slug))} is missing; \`npm run kata -- reset ${slug}\` brings the stub back`,
  };
}

interface RunFacts {
  timedOut: boolean;
  timeoutMs: number;
  /** Set when the run was stopped by `maxDurationMs` rather than for lack of progress. */
  timedOutAfterMs?: number;
  stderr: string;
  exitCode: number | null;
  durationMs: number;
}

/**
 * Waits for a grading Vitest to end, killing it whole (workers included) once its report file has
 * not grown for `timeoutMs`: every test's start and end is written there as it happens.
 */
async function watch(
  vitest: StartedVitest,
  timeoutMs: number,
  maxDurationMs = Infinity,
): Promise<{ exitCode: number | null; timedOut: boolean; capped: boolean }> {
  let timedOut = false;
  let capped = false;
  let reportSize = 0;
  let lastProgress = performance.now();
  const timer = setInterval(
    () => {
      const size = fileSize(vitest.reportFile);
      const now = performance.now();
      if (now - vitest.startedAt >= maxDurationMs) {
        timedOut = true;
        capped = true;
        clearInterval(timer);
        vitest.kill();
      } else if (size !== reportSize) {
        reportSize = size;
        lastProgress = now;
      } else if (now - lastProgress >= timeoutMs) {
        timedOut = true;
        clearInterval(timer);
        vitest.kill();
      }
    },
    Math.min(250, timeoutMs, maxDurationMs),
  );
  try {
    return { exitCode: await vitest.exited, timedOut, capped };
  } finally {
    clearInterval(timer);
  }
}

/** A file's size in bytes, 0 while it does not exist. */
export function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** The events a grading run has written to `file`, one JSON object per line; none if it is missing. */
export function readEvents<Event = GradingEvent>(file: string): Event[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return []; // Vitest never got as far as reporting (it failed to start): no events.
  }
  const events: Event[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      events.push(JSON.parse(line) as Event);
    } catch {
      // A line cut short when the process was killed mid-write.
    }
  }
  return events;
}

/** A stub's NotImplementedError, whether thrown directly or received by a toThrow/rejects assertion. */
function isNotImplemented(error: ReportedError): boolean {
  return [error.name, error.message, error.diff, error.actual].some((text) =>
    text?.includes('NotImplementedError'),
  );
}

function toFailure(error: ReportedError): Failure {
  return {
    name: error.name,
    message: error.message,
    ...(error.diff ? { diff: error.diff } : {}),
    ...(error.location ? { location: error.location } : {}),
    notImplemented: isNotImplemented(error),
  };
}

const sameError = (a: ReportedError, b: ReportedError): boolean =>
  a.name === b.name && a.message === b.message && a.location === b.location;

function describeError(error: ReportedError): string {
  return `${error.name}: ${error.message}${error.location ? `\n    at ${error.location}` : ''}`;
}

/** Builds a kata's result from the grading events of one run (also used by watch mode, which collects them in memory). */
export function resultFromEvents(slug: string, events: GradingEvent[], run: RunFacts): KataResult {
  const stages = new Map<string, StageOutcome>();
  const tests = new Map<string, TestOutcome>();
  const order: string[] = [];
  const started = new Set<string>();
  const finished = new Set<string>();
  const moduleErrors: ReportedError[] = [];
  const unhandled: ReportedError[] = [];
  const consoleOutput: string[] = [];

  for (const event of events) {
    switch (event.type) {
      case 'collected':
        for (const { id, stage, name } of event.tests) {
          if (tests.has(id)) continue; // listed by both the test process and Vitest's reporter
          const match = STAGE_TITLE.exec(stage);
          const key = match ? match[1]! : stage;
          if (!stages.has(key)) {
            stages.set(key, {
              number: match ? Number(match[1]) : 0,
              title: match ? match[2]! : stage || '(no stage)',
              passed: 0,
              total: 0,
              tests: [],
            });
          }
          const outcome: TestOutcome = { name, status: 'not-run' };
          stages.get(key)!.tests.push(outcome);
          tests.set(id, outcome);
          order.push(id);
        }
        break;
      case 'start':
      case 'worker-start':
        started.add(event.id);
        break;
      case 'worker-end': {
        // Provisional, until Vitest's own report of the test arrives (it may never, if a later test hangs).
        const outcome = tests.get(event.id);
        if (outcome?.status === 'not-run') outcome.status = event.failed ? 'failed' : 'passed';
        finished.add(event.id);
        break;
      }
      case 'result': {
        const outcome = tests.get(event.id);
        if (!outcome) break;
        finished.add(event.id);
        outcome.status =
          event.state === 'passed'
            ? 'passed'
            : event.state === 'failed'
              ? 'failed'
              : event.state === 'skipped'
                ? 'skipped'
                : 'not-run';
        if (event.durationMs !== undefined) outcome.durationMs = Math.round(event.durationMs);
        const [error] = event.errors;
        if (outcome.status === 'failed' && error) outcome.failure = toFailure(error);
        break;
      }
      case 'module-error':
        // A file that does not load fails every test file that imports it: say it once.
        for (const error of event.errors) {
          if (!moduleErrors.some((known) => sameError(known, error))) moduleErrors.push(error);
        }
        break;
      case 'console':
        consoleOutput.push(event.text.replace(/\n$/, ''));
        break;
      case 'end':
        for (const error of event.unhandledErrors) {
          if (!unhandled.some((known) => sameError(known, error))) unhandled.push(error);
        }
        break;
    }
  }

  const stageList = [...stages.values()].sort((a, b) => a.number - b.number);
  for (const stage of stageList) {
    stage.total = stage.tests.length;
    stage.passed = stage.tests.filter((test) => test.status === 'passed').length;
  }
  const all = [...tests.values()];
  const passed = all.filter((test) => test.status === 'passed').length;
  const failed = all.filter((test) => test.status === 'failed');

  let status: KataStatus;
  let problem: string | undefined;
  if (run.timedOut) {
    status = 'timed-out';
    // Files run one after another, in path order, each test in order: the test that started and
    // never finished is the one that hung. None started: the code hung while being loaded.
    const hungId = order.find((id) => started.has(id) && !finished.has(id));
    const hung = hungId ? findStageAndName(stageList, tests.get(hungId)!) : undefined;
    const limit = run.timedOutAfterMs ?? run.timeoutMs;
    problem =
      (run.timedOutAfterMs === undefined
        ? `grading stopped: nothing finished for ${limit / 1000} s`
        : `grading stopped at the time limit, ${limit / 1000} s`) +
      (hung
        ? `, in "${hung}": look for a loop that never ends or a promise that never settles`
        : started.size === 0
          ? `, before any test started: look for a loop that never ends at the top level of ${shown(kataFile(slug))}`
          : ': look for a loop that never ends or a promise that never settles');
  } else if (moduleErrors.length > 0 || (all.length === 0 && run.exitCode !== 0)) {
    status = 'load-error';
    problem =
      moduleErrors.length > 0
        ? moduleErrors.map(describeError).join('\n')
        : lastLines(run.stderr) || `Vitest exited with code ${run.exitCode}`;
  } else if (all.length > 0 && passed === all.length && unhandled.length === 0) {
    status = 'solved';
  } else if (
    all.length > 0 &&
    failed.length === all.length &&
    failed.every((test) => test.failure?.notImplemented)
  ) {
    status = 'not-started';
  } else {
    status = 'in-progress';
  }
  if (unhandled.length > 0 && status !== 'load-error') {
    const text = `an error escaped the tests (an unhandled rejection or an exception in a timer):\n${unhandled.map(describeError).join('\n')}`;
    problem = problem ? `${problem}\n${text}` : text;
  }

  return {
    slug,
    status,
    stages: stageList,
    passed,
    total: all.length,
    durationMs: Math.round(run.durationMs),
    gradedAt: new Date().toISOString(),
    ...(problem ? { problem } : {}),
    consoleOutput,
  };
}

function findStageAndName(stages: StageOutcome[], test: TestOutcome): string | undefined {
  const stage = stages.find((candidate) => candidate.tests.includes(test));
  return stage ? `stage ${stage.number}: ${stage.title} › ${test.name}` : test.name;
}

function lastLines(text: string, count = 15): string {
  return text.trim().split('\n').slice(-count).join('\n');
}
