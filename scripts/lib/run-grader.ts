/**
 * Grades one kata against one target (the learner's code, the reference, or a mutant) in a Vitest
 * process of its own, so that code which loops forever can be stopped at the time limit without
 * stopping the grading of the other katas.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './paths.ts';
import type { GradingEvent, ReportedError } from './reporter.ts';
import type { Failure, KataResult, KataStatus, StageOutcome, TestOutcome } from './results.ts';

export const DEFAULT_TIMEOUT_MS = 30_000;

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

const VITEST = path.join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const REPORTER = path.join(REPO_ROOT, 'scripts', 'lib', 'reporter.ts');
const STAGE_TITLE = /^stage (\d+):\s*(.+)$/i;

export async function gradeKata(options: GradeOptions): Promise<KataResult> {
  const { slug, target = 'katas', timeoutMs = DEFAULT_TIMEOUT_MS, bail = false } = options;
  const scratch = mkdtempSync(path.join(os.tmpdir(), `kata-${slug}-`));
  const reportFile = path.join(scratch, 'events.jsonl');
  const started = performance.now();
  try {
    // One worker runs the kata's test files one after another: grading several katas at once already
    // fills the cores, and one worker starts faster than one per file. Graders never share state
    // between files, so they need no fresh module registry each (--no-isolate).
    const args = [
      VITEST,
      'run',
      `graders/${slug}/`,
      `--reporter=${REPORTER}`,
      '--maxWorkers=1',
      '--no-isolate',
    ];
    if (bail) args.push('--bail=1');
    if (options.junitFile) args.push('--reporter=junit', `--outputFile.junit=${options.junitFile}`);
    // Plain text from Vitest: messages are stored in results and recoloured when shown.
    const env = {
      ...process.env,
      KATA_TARGET: target,
      KATA_REPORT_FILE: reportFile,
      NO_COLOR: '1',
    };
    const run = await runBounded(args, env, timeoutMs, reportFile);
    const events = readEvents(reportFile);
    return resultFromEvents(slug, events, {
      timedOut: run.timedOut,
      timeoutMs,
      stderr: run.stderr,
      exitCode: run.exitCode,
      durationMs: performance.now() - started,
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

interface BoundedRun {
  exitCode: number | null;
  timedOut: boolean;
  stderr: string;
}

/**
 * Runs Vitest in its own process group, killed whole (workers included) when its report file has
 * not grown for `timeoutMs`: every test's start and end is written there as it happens.
 */
function runBounded(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  reportFile: string,
): Promise<BoundedRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      env,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let timedOut = false;
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < 100_000) stderr += chunk;
    });
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    let reportSize = 0;
    let lastProgress = performance.now();
    const timer = setInterval(
      () => {
        const size = fileSize(reportFile);
        if (size !== reportSize) {
          reportSize = size;
          lastProgress = performance.now();
        } else if (performance.now() - lastProgress >= timeoutMs) {
          timedOut = true;
          clearInterval(timer);
          killGroup();
        }
      },
      Math.min(250, timeoutMs),
    );
    // If grading itself is interrupted (Ctrl-C), take the Vitest process group down with it.
    process.once('exit', killGroup);
    child.on('error', reject);
    child.on('close', (exitCode) => {
      clearInterval(timer);
      process.removeListener('exit', killGroup);
      resolve({ exitCode, timedOut, stderr });
    });
  });
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
