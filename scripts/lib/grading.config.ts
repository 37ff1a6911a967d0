/**
 * The Vitest config every grading run uses (npm test, hint, solution, interview, watch): the
 * repository's vitest.config.ts, `@kata/<slug>` resolution and all, plus one thing grading needs.
 * Test files run in path order, every time. Vitest's default order puts files that failed or ran
 * longest last time first, from a results cache shared by every checkout using this node_modules:
 * a kata whose code loops would name a different hanging test from one run to the next.
 */
import { mergeConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import base from '../../vitest.config.ts';

class PathOrder extends BaseSequencer {
  override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return Promise.resolve([...files].sort((a, b) => a.moduleId.localeCompare(b.moduleId)));
  }
}

export default mergeConfig(base, { test: { sequence: { sequencer: PathOrder } } });
