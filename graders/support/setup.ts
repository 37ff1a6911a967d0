/**
 * Runs before every grader file. Keeps grading deterministic: fast-check uses a fixed seed
 * (override with FC_SEED=<n> to explore, FC_RUNS=<n> for more runs), and every test starts and
 * ends on real timers so one test's fake clock never leaks into the next.
 */
import fc from 'fast-check';
import { afterEach, vi } from 'vitest';

const seed = Number(process.env.FC_SEED ?? 20_261_121);
const numRuns = Number(process.env.FC_RUNS ?? 200);
fc.configureGlobal({ seed, numRuns });

afterEach(() => {
  vi.useRealTimers();
});
