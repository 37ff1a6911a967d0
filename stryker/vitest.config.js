// Vitest config for mutation testing (scripts/mutation.ts): the repository's own config, grading
// one kata's reference (KATA_TARGET=solutions) with that kata's grader only (STRYKER_KATA).
// Stryker runs it inside its sandbox, so `@kata/<slug>` resolves (graders/support/target.ts, from
// the sandbox's copy) to the sandbox's solutions/<slug>/index.ts: the mutated file.
import process from 'node:process';
import { defineConfig } from 'vitest/config';
import { BaseSequencer } from 'vitest/node';
import base from '../vitest.config.ts';

const slug = process.env.STRYKER_KATA;
if (!slug) throw new Error('stryker/vitest.config.js: set STRYKER_KATA to the kata to grade');
process.env.KATA_TARGET = 'solutions';

// Instrumented code runs many times slower (streaming-csv's 6 MB backpressure checks: ~0.2 s
// graded, over 4.5 s instrumented), so the graders' hang guards and test timeouts get room.
// Hung mutants are still cut off by Stryker's own per-mutant timeout.
const SLOW = { 'streaming-csv': 20 }[slug] ?? 1;
process.env.KATA_HANG_GUARD_SCALE = String(SLOW);

// Stage files in stage order (stage-1 before stage-5): a mutant is usually killed by an early,
// cheap stage, and Stryker bails at the first failure, so the costly Limits checks of the last
// stage run only for the mutants that get that far. (Vitest's default puts the largest file first.)
class StageOrder extends BaseSequencer {
  sort(files) {
    return Promise.resolve([...files].sort((a, b) => a.moduleId.localeCompare(b.moduleId)));
  }
}

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [`graders/${slug}/**/*.test.ts`],
    sequence: { ...base.test?.sequence, sequencer: StageOrder },
    testTimeout: (base.test?.testTimeout ?? 5_000) * SLOW,
    hookTimeout: (base.test?.hookTimeout ?? 5_000) * SLOW,
  },
});
