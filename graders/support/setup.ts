/**
 * Runs before every grader file. Keeps grading deterministic: fast-check uses a fixed seed
 * (override with FC_SEED=<n> to explore, FC_RUNS=<n> for more runs), and every test starts and
 * ends on real timers so one test's fake clock never leaks into the next.
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeAll, beforeEach, vi } from 'vitest';
import { perfHooksWithGraderClock, timersWithGraderClock, withGraderClock } from './node-clock.ts';
import { gradersRootOf, readCopyManifest, type CopyManifest } from './target.ts';

const seed = Number(process.env.FC_SEED ?? 20_261_121);
const numRuns = Number(process.env.FC_RUNS ?? 200);
fc.configureGlobal({ seed, numRuns });

// The real clock, as the worker first saw it. Test files share workers (and verify runs many
// copies of the graders side by side): whatever a test or helper did to the clock's globals, the
// next test starts with the real ones.
const CLOCK_GLOBALS = [
  'Date',
  'performance',
  'setTimeout',
  'clearTimeout',
  'setInterval',
  'clearInterval',
  'setImmediate',
  'clearImmediate',
  'queueMicrotask',
] as const;
const globals = globalThis as unknown as Record<string, unknown> & {
  __kataRealClock?: Record<string, unknown>;
};
const realClock = (globals.__kataRealClock ??= Object.fromEntries(
  CLOCK_GLOBALS.map((name) => [name, globals[name]]),
));

afterEach(() => {
  vi.useRealTimers();
  for (const name of CLOCK_GLOBALS) {
    if (globals[name] !== realClock[name]) globals[name] = realClock[name];
  }
});

// Learners may take time from node:timers, node:timers/promises or node:perf_hooks rather than the
// globals: make those follow the grader's clock too, so a correct implementation is never failed
// for where it imported setTimeout or performance from.
for (const id of ['node:timers/promises', 'timers/promises']) {
  vi.doMock(id, async (importOriginal) => withGraderClock(await importOriginal()));
}
for (const id of ['node:timers', 'timers']) {
  vi.doMock(id, async (importOriginal) => timersWithGraderClock(await importOriginal()));
}
for (const id of ['node:perf_hooks', 'perf_hooks']) {
  vi.doMock(id, async (importOriginal) => perfHooksWithGraderClock(await importOriginal()));
}

// While grading (scripts/lib/run-grader.ts), note each test's start and end from inside the test
// process, synchronously: if the code under test loops forever, Vitest's own batched reports never
// arrive, and this record is what tells the learner which test hung and which passed before it.
// In a verify run (scripts/lib/verify/run.ts), each copy of the graders has its own record,
// `events.jsonl` beside its `target.json`, and a mutant's copy skips its remaining tests once one
// has failed: one failure is its verdict.
const copies = new Map<string, CopyManifest | undefined>();
const copyOf = (testFile: string): { root: string; manifest: CopyManifest } | undefined => {
  const root = gradersRootOf(testFile);
  if (root === undefined) return undefined;
  if (!copies.has(root)) copies.set(root, readCopyManifest(root));
  const manifest = copies.get(root);
  return manifest ? { root, manifest } : undefined;
};
const progressFileOf = (testFile: string): string | undefined => {
  const copy = copyOf(testFile);
  return copy ? path.join(copy.root, 'events.jsonl') : process.env.KATA_REPORT_FILE;
};
const bailsOf = (testFile: string): boolean => copyOf(testFile)?.manifest.bail === true;
const failedMarker = (progressFile: string): string => `${progressFile}.failed`;

// The file's tests, listed before any runs (Vitest's own list may be lost the same way).
// Vitest requires a destructuring pattern for the fixtures argument; the file suite comes second.
// eslint-disable-next-line no-empty-pattern
beforeAll(({}, file) => {
  const progressFile = progressFileOf(file.file.filepath);
  if (progressFile)
    appendFileSync(
      progressFile,
      `${JSON.stringify({ type: 'collected', tests: listTests(file) })}\n`,
    );
});
// Hooks destructure the test context: Vitest then knows they use no fixture, and a grader may
// define its own with `test.extend`.
beforeEach(({ task, skip }) => {
  const progressFile = progressFileOf(task.file.filepath);
  if (!progressFile) return;
  if (bailsOf(task.file.filepath) && existsSync(failedMarker(progressFile))) {
    skip('an earlier test of this mutant failed');
  }
  appendFileSync(progressFile, `${JSON.stringify({ type: 'worker-start', id: task.id })}\n`);
});
afterEach(({ task }) => {
  const progressFile = progressFileOf(task.file.filepath);
  if (!progressFile) return;
  const failed = (task.result?.errors?.length ?? 0) > 0;
  if (failed && bailsOf(task.file.filepath)) writeFileSync(failedMarker(progressFile), '');
  appendFileSync(progressFile, `${JSON.stringify({ type: 'worker-end', id: task.id, failed })}\n`);
});

interface TaskNode {
  id: string;
  name: string;
  type: string;
  tasks?: readonly TaskNode[];
}

/** Every test below `suite` with its stage (top-level describe) and its name below that, as the reporter names them. */
function listTests(
  suite: { tasks: readonly TaskNode[] },
  titles: string[] = [],
): Array<{ id: string; stage: string; name: string }> {
  return suite.tasks.flatMap((task) => {
    const path = [...titles, task.name];
    if (task.tasks) return listTests({ tasks: task.tasks }, path);
    if (task.type !== 'test') return [];
    const [stage = '', ...rest] = path.length > 1 ? path : ['', ...path];
    return [{ id: task.id, stage, name: rest.join(' › ') }];
  });
}
