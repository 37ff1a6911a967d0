/**
 * Which implementation the graders exercise. Graders import `@kata/<slug>`; the Vitest config
 * resolves it to `<target>/<slug>/index.ts`, where the target is chosen by `KATA_TARGET`:
 *   - unset or `katas`: the learner's code (what `npm test` grades);
 *   - `solutions`: the reference implementations;
 *   - any other path (absolute, or relative to the repository): a folder laid out the same way,
 *     such as a generated mutant under `.kata/mutants/`.
 * One mechanism for every target: the grader suites never change.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The folder that holds `<slug>/index.ts` for the current target. */
export function targetRoot(target = process.env.KATA_TARGET): string {
  if (target === undefined || target === '' || target === 'katas') {
    return path.join(REPO_ROOT, 'katas');
  }
  if (target === 'solutions') return path.join(REPO_ROOT, 'solutions');
  return path.resolve(REPO_ROOT, target);
}

/** Absolute path of the module that `@kata/<slug>` stands for under the current target. */
export function kataModulePath(slug: string, target = process.env.KATA_TARGET): string {
  const file = path.join(targetRoot(target), slug, 'index.ts');
  if (!existsSync(file)) {
    throw new Error(`@kata/${slug}: no implementation at ${path.relative(REPO_ROOT, file)}`);
  }
  return file;
}
