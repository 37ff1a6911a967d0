/**
 * A Vitest reporter for grading. It runs inside the Vitest process that grades one kata and
 * appends one JSON event per line to the file named by KATA_REPORT_FILE, as tests are collected,
 * start and finish, so that even a run killed for looping forever leaves a record of how far it got.
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { stripVTControlCharacters as plain } from 'node:util';
import type { Reporter, TestCase, TestModule, TestRunEndReason } from 'vitest/node';
import type { SerializedError, UserConsoleLog } from 'vitest';
import { parentChannel } from './watchdog.ts';

// Grading never outlives the process that asked for it (see watchdog.ts).
parentChannel();

export type GradingEvent =
  /** Vitest is up and starts its workers: the time limit counts from here, not from the spawn. */
  | { type: 'run-start' }
  | { type: 'collected'; tests: Array<{ id: string; stage: string; name: string }> }
  | { type: 'start'; id: string }
  /** Written by graders/support/setup.ts from inside the test process, unbatched. */
  | { type: 'worker-start'; id: string }
  | { type: 'worker-end'; id: string; failed: boolean }
  | { type: 'result'; id: string; state: string; durationMs?: number; errors: ReportedError[] }
  | { type: 'module-error'; errors: ReportedError[] }
  | { type: 'console'; text: string }
  | { type: 'end'; unhandledErrors: ReportedError[] };

export interface ReportedError {
  name: string;
  message: string;
  diff?: string;
  actual?: string;
  stack?: string;
  location?: string;
}

const root = process.cwd();

/** The top-level describe a test belongs to (its stage), and its name below that. */
export function describeTest(test: TestCase): { stage: string; name: string } {
  const titles: string[] = [];
  for (let node: TestCase['parent'] | TestCase = test; node.type !== 'module'; node = node.parent) {
    titles.unshift(node.name);
  }
  const [stage = '', ...rest] = titles.length > 1 ? titles : ['', ...titles];
  return { stage, name: rest.join(' › ') };
}

export function toReported(
  error: SerializedError & { diff?: string; actual?: unknown },
): ReportedError {
  const frame = error.stacks?.find((entry) => !entry.file.includes('node_modules'));
  return {
    name: typeof error.name === 'string' ? error.name : 'Error',
    message: plain(typeof error.message === 'string' ? error.message : String(error.message)),
    ...(typeof error.diff === 'string' ? { diff: plain(error.diff) } : {}),
    ...(error.actual !== undefined
      ? { actual: String(JSON.stringify(error.actual)).slice(0, 2000) }
      : {}),
    ...(typeof error.stack === 'string' ? { stack: plain(error.stack) } : {}),
    ...(frame
      ? {
          location: `${path.relative(root, frame.file.replace(/^file:\/\//, ''))}:${frame.line}:${frame.column}`,
        }
      : {}),
  };
}

/**
 * Turns Vitest's reports into grading events. This one appends them to KATA_REPORT_FILE; watch
 * mode's reporter (watch-reporter.ts) keeps them in memory instead, by overriding `emit`.
 */
export class GradingReporter implements Reporter {
  protected emit(event: GradingEvent): void {
    const file = process.env.KATA_REPORT_FILE;
    if (file) appendFileSync(file, `${JSON.stringify(event)}\n`);
  }

  onTestRunStart(): void {
    this.emit({ type: 'run-start' });
  }

  onTestModuleCollected(testModule: TestModule): void {
    const tests = [...testModule.children.allTests()].map((test) => ({
      id: test.id,
      ...describeTest(test),
    }));
    this.emit({ type: 'collected', tests });
  }

  onTestCaseReady(test: TestCase): void {
    this.emit({ type: 'start', id: test.id });
  }

  onTestCaseResult(test: TestCase): void {
    const result = test.result();
    this.emit({
      type: 'result',
      id: test.id,
      state: result.state,
      durationMs: test.diagnostic()?.duration,
      errors: (result.errors ?? []).map(toReported),
    });
  }

  onTestModuleEnd(testModule: TestModule): void {
    const errors = testModule.errors();
    if (errors.length > 0) this.emit({ type: 'module-error', errors: errors.map(toReported) });
  }

  onUserConsoleLog(log: UserConsoleLog): void {
    this.emit({ type: 'console', text: log.content });
  }

  onTestRunEnd(
    _modules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<SerializedError>,
    _reason?: TestRunEndReason,
  ): void {
    this.emit({ type: 'end', unhandledErrors: unhandledErrors.map(toReported) });
  }
}

export default GradingReporter;
