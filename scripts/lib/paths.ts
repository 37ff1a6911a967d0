/** Where things live in the repository; every script takes its paths from here. */
import { cpSync, existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../../graders/support/target.ts';

export { REPO_ROOT };
export const KATAS_DIR = path.join(REPO_ROOT, 'katas');
export const GRADERS_DIR = path.join(REPO_ROOT, 'graders');
export const SOLUTIONS_DIR = path.join(REPO_ROOT, 'solutions');
/** Git-ignored: grading results, progress, generated mutants, backups. */
export const STATE_DIR = path.join(REPO_ROOT, '.kata');
export const RESULTS_FILE = path.join(STATE_DIR, 'results.json');
export const MUTANTS_BUILD_DIR = path.join(STATE_DIR, 'mutants');

export const kataFile = (slug: string): string => path.join(KATAS_DIR, slug, 'index.ts');
export const solutionFile = (slug: string): string => path.join(SOLUTIONS_DIR, slug, 'index.ts');
export const mutantsDir = (slug: string): string => path.join(GRADERS_DIR, slug, 'mutants');

/** A path as the learner should see it: relative to the repository root. */
export const shown = (file: string): string => path.relative(REPO_ROOT, file) || '.';

/** What a working copy of the repository needs, besides node_modules. */
const REPOSITORY_ENTRIES = [
  'katas',
  'graders',
  'solutions',
  'scripts',
  'package.json',
  'tsconfig.json',
  'vitest.config.ts',
  '.gitignore',
];

/**
 * A throw-away copy of the repository in a new temporary folder (node_modules linked, not copied),
 * for tools that must run commands as a learner would without touching the learner's files.
 * Scratch files and the mutant patches are left out. Returns the folder; the caller removes it.
 */
export function copyRepository(prefix: string): string {
  const root = mkdtempSync(path.join(os.tmpdir(), prefix));
  for (const entry of REPOSITORY_ENTRIES) {
    const from = path.join(REPO_ROOT, entry);
    if (!existsSync(from)) continue;
    cpSync(from, path.join(root, entry), {
      recursive: true,
      filter: (source) => !/\.tmp$|\/mutants(\/|$)/.test(source),
    });
  }
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  return root;
}
