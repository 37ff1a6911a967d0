/**
 * What one grading run found, in the shape the learner's tools read from `.kata/results.json`:
 * per kata, per stage, per test, a status and the failure message.
 */
import * as v from 'valibot';
import { RESULTS_FILE } from './paths.ts';
import { readState, writeJsonAtomic } from './state.ts';

const TestStatusSchema = v.picklist(['passed', 'failed', 'skipped', 'not-run']);
export type TestStatus = v.InferOutput<typeof TestStatusSchema>;

const FailureSchema = v.object({
  /** The error's class name, e.g. `AssertionError`, `NotImplementedError`, `TypeError`. */
  name: v.string(),
  message: v.string(),
  /** Expected/received diff from the assertion, when there is one. */
  diff: v.optional(v.string()),
  /** Where it was thrown, as `path:line:column` relative to the repository. */
  location: v.optional(v.string()),
  /** True when the code under test has not been written yet (the stub's NotImplementedError). */
  notImplemented: v.boolean(),
});
export type Failure = v.InferOutput<typeof FailureSchema>;

const TestOutcomeSchema = v.object({
  name: v.string(),
  status: TestStatusSchema,
  durationMs: v.optional(v.number()),
  failure: v.optional(FailureSchema),
});
export type TestOutcome = v.InferOutput<typeof TestOutcomeSchema>;

const count = v.pipe(v.number(), v.integer(), v.minValue(0));

const StageOutcomeSchema = v.object({
  number: count,
  title: v.string(),
  passed: count,
  total: count,
  tests: v.array(TestOutcomeSchema),
});
export type StageOutcome = v.InferOutput<typeof StageOutcomeSchema>;

/**
 * - `not-started`: every test failed with NotImplementedError.
 * - `in-progress`: some tests fail.
 * - `solved`: every test passed, and nothing else went wrong.
 * - `timed-out`: the code looped or never settled; grading stopped at the time limit.
 * - `load-error`: the kata's file is missing, failed to compile or threw when imported.
 */
export const KataStatusSchema = v.picklist([
  'not-started',
  'in-progress',
  'solved',
  'timed-out',
  'load-error',
]);
export type KataStatus = v.InferOutput<typeof KataStatusSchema>;

/** A moment as `Date.toISOString()` writes it. */
export const Timestamp = v.pipe(v.string(), v.isoTimestamp());

const KataResultSchema = v.object({
  slug: v.string(),
  status: KataStatusSchema,
  stages: v.array(StageOutcomeSchema),
  passed: count,
  total: count,
  durationMs: v.number(),
  gradedAt: Timestamp,
  /** Why a kata that is not merely failing tests is where it is: the load error, the time-out, an unhandled error. */
  problem: v.optional(v.string()),
  /** What the learner's code printed with console.log and friends, in order. */
  consoleOutput: v.array(v.string()),
});
export type KataResult = v.InferOutput<typeof KataResultSchema>;

const ResultsFileSchema = v.object({
  version: v.literal(1),
  katas: v.record(v.string(), KataResultSchema),
});
export type ResultsFile = v.InferOutput<typeof ResultsFileSchema>;

/** The first failing test of a kata, in stage order: what the learner should fix next. */
export function firstFailure(
  result: KataResult,
): { stage: StageOutcome; test: TestOutcome } | undefined {
  for (const stage of result.stages) {
    const test = stage.tests.find((candidate) => candidate.status === 'failed');
    if (test) return { stage, test };
  }
  return undefined;
}

export const stagesPassed = (result: KataResult): number =>
  result.stages.filter((stage) => stage.total > 0 && stage.passed === stage.total).length;

/**
 * Reads the last results. Missing reads as "nothing graded yet"; a file that cannot be used is
 * backed up with a one-line note (scripts/lib/state.ts) and reads the same way: never a crash.
 */
export function readResults(file = RESULTS_FILE): ResultsFile {
  return (
    readState(file, ResultsFileSchema, {
      instead: 'grading results start afresh: the next grading writes them again',
    }) ?? { version: 1, katas: {} }
  );
}

/** Records these katas' results, keeping the last results of the katas not graded this time. */
export function saveResults(results: KataResult[], file = RESULTS_FILE): void {
  const data = readResults(file);
  for (const result of results) data.katas[result.slug] = result;
  writeJsonAtomic(file, data);
}
