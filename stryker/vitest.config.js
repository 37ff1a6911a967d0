// Vitest config for mutation testing (scripts/mutation.ts): the repository's own config, grading
// one kata's reference (KATA_TARGET=solutions) with that kata's grader only (STRYKER_KATA).
// Stryker runs it inside its sandbox, so `@kata/<slug>` resolves (graders/support/target.ts, from
// the sandbox's copy) to the sandbox's solutions/<slug>/index.ts: the mutated file.
import process from 'node:process';
import { defineConfig } from 'vitest/config';
import base from '../vitest.config.ts';

const slug = process.env.STRYKER_KATA;
if (!slug) throw new Error('stryker/vitest.config.js: set STRYKER_KATA to the kata to grade');
process.env.KATA_TARGET = 'solutions';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [`graders/${slug}/**/*.test.ts`],
  },
});
