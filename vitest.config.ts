import { defineConfig } from 'vitest/config';
import { kataModulePath } from './graders/support/target.ts';

export default defineConfig({
  plugins: [
    {
      // `@kata/<slug>` is the implementation under test: the learner's, the reference, or a
      // mutant, as KATA_TARGET says (see graders/support/target.ts).
      name: 'kata-target',
      enforce: 'pre',
      resolveId(id) {
        const match = /^@kata\/([a-z0-9-]+)$/.exec(id);
        return match ? kataModulePath(match[1]!) : null;
      },
    },
  ],
  test: {
    include: ['graders/*/**/*.test.ts', 'scripts/**/*.test.ts'],
    setupFiles: ['graders/support/setup.ts'],
    pool: 'forks',
    testTimeout: 5_000,
    hookTimeout: 5_000,
    // Graders pass or fail the same way every run: no retries that would hide flakiness.
    retry: 0,
    restoreMocks: true,
    unstubEnvs: true,
  },
});
