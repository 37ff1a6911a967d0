/**
 * Grades one kata against one target (the learner's code, the reference, or a mutant) in a Vitest
 * process of its own, so that code which loops forever can be stopped at the time limit without
 * stopping the grading of the other katas.
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import { UsageError } from './katas.ts';
import { claimEarlyStart, startVitest, type StartedVitest } from './start-vitest.mjs';
import type { GradingEvent, ReportedError } from './reporter.ts';
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
}

const STAGE_TITLE = /^stage (\d+):\s*(.+)$/i;

export async function gradeKata(options: GradeOptions): Promise<KataResult> {
  const { slug, target = 'katas', timeoutMs = DEFAULT_TIMEOUT_MS, bail = false } = options;
  const run = {
    slug,
    target,
    bail,
    ...(options.junitFile ? { junitFile: options.junitFile } : {}),
  };
  // `npm test -- <slug>` may have started this very run already (scripts/test.mjs).
  const vitest = claimEarlyStart(run) ?? startVitest(run);
  try {
    const { exitCode, timedOut } = await watch(vitest, timeoutMs);
    return resultFromEvents(slug, readEvents(vitest.reportFile), {
      timedOut,
      timeoutMs,
      stderr: vitest.stderr(),
      exitCode,
      durationMs: performance.now() - vitest.startedAt,
    });
  } finally {
    rmSync(vitest.scratch, { recursive: true, force: true });
  }
}

/**
 * Waits for a grading Vitest to end, killing it whole (workers included) once its report file has
 * not grown for `timeoutMs`: every test's start and end is written there as it happens.
 */
async function watch(
  vitest: StartedVitest,
  timeoutMs: number,
): Promise<{ exitCode: number | null; timedOut: boolean }> {
  let timedOut = false;
  let reportSize = 0;
  let lastProgress = performance.now();
  const timer = setInterval(
    () => {
      const size = fileSize(vitest.reportFile);
      if (size !== reportSize) {
        reportSize = size;
        lastProgress = performance.now();
      } else if (performance.now() - lastProgress >= timeoutMs) {
        timedOut = true;
        clearInterval(timer);
        vitest.kill();
      }
    },
    Math.min(250, timeoutMs),
  );
  try {
    return { exitCode: await vitest.exited, timedOut };
  } finally {
    clearInterval(timer);
  }
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function readEvents(file: string): GradingEvent[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return []; // Vitest never got as far as reporting (it failed to start): no events.
  }
  const events: GradingEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      events.push(JSON.parse(line) as GradingEvent);
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

function describeError(error: ReportedError): string {
  return `${error.name}: ${error.message}${error.location ? `\n    at ${error.location}` : ''}`;
}

/** Builds a kata's result from the grading events of one run (also used by watch mode, which collects them in memory). */
export function resultFromEvents(
  slug: string,
  events: GradingEvent[],
  run: {
    timedOut: boolean;
    timeoutMs: number;
    stderr: string;
    exitCode: number | null;
    durationMs: number;
  },
): KataResult {
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
        moduleErrors.push(...event.errors);
        break;
      case 'console':
        consoleOutput.push(event.text.replace(/\n$/, ''));
        break;
      case 'end':
        unhandled.push(...event.unhandledErrors);
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
    // Tests in one file run in order: the first that never finished is the one that hung.
    const hungId =
      order.find(
        (id) => tests.get(id)!.status === 'not-run' && (started.has(id) || started.size === 0),
      ) ?? order.find((id) => tests.get(id)!.status === 'not-run');
    const hung = hungId ? findStageAndName(stageList, tests.get(hungId)!) : undefined;
    problem =
      `grading stopped: nothing finished for ${run.timeoutMs / 1000} s` +
      (hung ? `, in "${hung}"` : '') +
      ': look for a loop that never ends or a promise that never settles';
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
