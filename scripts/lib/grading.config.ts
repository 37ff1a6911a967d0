/**
 * The Vitest config every grading run uses (npm test, hint, solution, interview): the
 * repository's vitest.config.ts, `@kata/<slug>` resolution and all, plus one thing grading needs.
 * Test files run in the same order every time: largest first (where a kata's files run in
 * parallel, the long one starts at once), then by path. Vitest's default order puts files that
 * failed or ran longest last time first, from a results cache shared by every checkout using this
 * node_modules: a kata whose code loops would name a different hanging test from run to run.
 */
import { statSync } from 'node:fs';
import { mergeConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import base from '../../vitest.config.ts';

const size = (file: string): number => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

class StableOrder extends BaseSequencer {
  override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return Promise.resolve(
      [...files].sort(
        (a, b) => size(b.moduleId) - size(a.moduleId) || a.moduleId.localeCompare(b.moduleId),
      ),
    );
  }
}

export default mergeConfig(base, { test: { sequence: { sequencer: StableOrder } } });
