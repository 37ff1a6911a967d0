/**
 * The Vitest config of a verify run (run.ts): the repository's own test settings, over every copy
 * of the graders under `.kata/verify/` instead of `graders/`. Each copy's `@kata/<slug>` resolves
 * to the target its `target.json` names, so one Vitest process grades references, stubs and
 * mutants side by side, each in files of its own.
 */
import path from 'node:path';
import { defineConfig } from 'vitest/config';
import { gradersRootOf, readCopyManifest } from '../../../graders/support/target.ts';
import base from '../../../vitest.config.ts';

const dir = process.env.KATA_VERIFY_DIR;
if (!dir)
  throw new Error(
    'KATA_VERIFY_DIR is not set: this config is started by scripts/lib/verify/run.ts',
  );

export default defineConfig({
  plugins: [
    {
      name: 'kata-target-by-copy',
      enforce: 'pre',
      resolveId(id, importer) {
        const match = /^@kata\/([a-z0-9-]+)$/.exec(id);
        if (!match || !importer) return null;
        const root = gradersRootOf(importer);
        const copy = root ? readCopyManifest(root) : undefined;
        if (!copy)
          throw new Error(`@kata/${match[1]} imported from ${importer}, outside a verify copy`);
        return path.join(copy.target, match[1]!, 'index.ts');
      },
    },
  ],
  test: {
    ...base.test,
    include: [`${path.relative(process.cwd(), dir)}/*/graders/**/*.test.ts`],
    // Not the repository's own tests: those run on their own in verify.
    exclude: ['**/node_modules/**'],
  },
});
