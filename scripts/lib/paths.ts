/** Where things live in the repository; every script takes its paths from here. */
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
