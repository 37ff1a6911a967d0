/**
 * What one grading run found, in the shape the learner's tools read from `.kata/results.json`:
 * per kata, per stage, per test, a status and the failure message.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RESULTS_FILE } from './paths.ts';

export type TestStatus = 'passed' | 'failed' | 'skipped' | 'not-run';

export interface Failure {
  /** The error's class name, e.g. `AssertionError`, `NotImplementedError`, `TypeError`. */
  name: string;
  message: string;
  /** Expected/received diff from the assertion, when there is one. */
  diff?: string;
  /** Where it was thrown, as `path:line:column` relative to the repository. */
  location?: string;
  /** True when the code under test has not been written yet (the stub's NotImplementedError). */
  notImplemented: boolean;
}

export interface TestOutcome {
  name: string;
  status: TestStatus;
  durationMs?: number;
  failure?: Failure;
}

export interface StageOutcome {
  number: number;
  title: string;
  passed: number;
  total: number;
  tests: TestOutcome[];
}

/**
 * - `not-started`: every test failed with NotImplementedError.
 * - `in-progress`: some tests fail.
 * - `solved`: every test passed, and nothing else went wrong.
 * - `timed-out`: the code looped or never settled; grading stopped at the time limit.
 * - `load-error`: the kata's file failed to compile or threw when imported.
 */
export type KataStatus = 'not-started' | 'in-progress' | 'solved' | 'timed-out' | 'load-error';

export interface KataResult {
  slug: string;
  status: KataStatus;
  stages: StageOutcome[];
  passed: number;
  total: number;
  durationMs: number;
  gradedAt: string;
  /** Why a kata that is not merely failing tests is where it is: the load error, the time-out, an unhandled error. */
  problem?: string;
  /** What the learner's code printed with console.log and friends, in order. */
  consoleOutput: string[];
}

export interface ResultsFile {
  version: 1;
  katas: Record<string, KataResult>;
}

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

/** Reads the last results; missing or corrupt data reads as "nothing graded yet", never a crash. */
export function readResults(file = RESULTS_FILE): ResultsFile {
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as Partial<ResultsFile>;
    if (data.version === 1 && data.katas && typeof data.katas === 'object') {
      return { version: 1, katas: data.katas };
    }
  } catch {
    // Missing or unreadable: start afresh below.
  }
  return { version: 1, katas: {} };
}

/** Records these katas' results, keeping the last results of the katas not graded this time. */
export function saveResults(results: KataResult[], file = RESULTS_FILE): void {
  const data = readResults(file);
  for (const result of results) data.katas[result.slug] = result;
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(data, null, 2)}\n`);
  renameSync(temporary, file); // atomic: a tool reading at the same moment never sees half a file
}
