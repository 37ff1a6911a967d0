/**
 * The Vitest reporter of a verify run (run.ts): the same grading events as scripts/lib/reporter.ts,
 * each appended to the `events.jsonl` of the copy of the graders it came from, so that every target
 * of the run gets a record of its own. An unhandled error goes to the copy of the test that was
 * running when it escaped, when Vitest says which (else to the run's own `unattributed.jsonl`).
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import type { SerializedError } from 'vitest';
import type { TestCase, TestModule, TestRunEndReason } from 'vitest/node';
import { gradersRootOf } from '../../../graders/support/target.ts';
import { GradingReporter, toReported, type GradingEvent } from '../reporter.ts';

/** Where the events of the copy holding `file` go. */
export const eventsFileOf = (file: string): string | undefined => {
  const root = gradersRootOf(file);
  return root ? path.join(root, 'events.jsonl') : undefined;
};

/** The events no copy could be named for, written in the folder of all copies. */
export const UNATTRIBUTED = 'unattributed.jsonl';

export default class VerifyReporter extends GradingReporter {
  /** The events file of the module whose report is being turned into events. */
  private current: string | undefined;

  protected override emit(event: GradingEvent): void {
    if (this.current) appendFileSync(this.current, `${JSON.stringify(event)}\n`);
  }

  private within(file: string, report: () => void): void {
    this.current = eventsFileOf(file);
    try {
      report();
    } finally {
      this.current = undefined;
    }
  }

  onTestModuleStart(testModule: TestModule): void {
    const file = eventsFileOf(testModule.moduleId);
    // A module that started and never ended is where a run that had to be stopped hung.
    if (file)
      appendFileSync(
        file,
        `${JSON.stringify({ type: 'module-start', file: testModule.moduleId })}\n`,
      );
  }

  override onTestModuleCollected(testModule: TestModule): void {
    this.within(testModule.moduleId, () => super.onTestModuleCollected(testModule));
  }

  override onTestCaseReady(test: TestCase): void {
    this.within(test.module.moduleId, () => super.onTestCaseReady(test));
  }

  override onTestCaseResult(test: TestCase): void {
    this.within(test.module.moduleId, () => super.onTestCaseResult(test));
  }

  override onTestModuleEnd(testModule: TestModule): void {
    this.within(testModule.moduleId, () => {
      super.onTestModuleEnd(testModule);
      // A module that ended is done: a run restarted after a hang need not grade it again.
      appendFileSync(
        this.current!,
        `${JSON.stringify({ type: 'module-end', file: testModule.moduleId })}\n`,
      );
    });
  }

  override onUserConsoleLog(): void {
    // What the code under test prints is of no use to verify's verdicts.
  }

  override onTestRunEnd(
    _modules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<SerializedError>,
    _reason?: TestRunEndReason,
  ): void {
    const dir = process.env.KATA_VERIFY_DIR;
    for (const error of unhandledErrors) {
      const testPath = (error as { VITEST_TEST_PATH?: unknown }).VITEST_TEST_PATH;
      const file =
        (typeof testPath === 'string' ? eventsFileOf(testPath) : undefined) ??
        (dir ? path.join(dir, UNATTRIBUTED) : undefined);
      if (file)
        appendFileSync(
          file,
          `${JSON.stringify({ type: 'end', unhandledErrors: [toReported(error)] } satisfies GradingEvent)}\n`,
        );
    }
  }
}
