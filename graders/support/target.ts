/**
 * Which implementation the graders exercise. Graders import `@kata/<slug>`; the Vitest config
 * resolves it to `<target>/<slug>/index.ts`, where the target is chosen by `KATA_TARGET`:
 *   - unset or `katas`: the learner's code (what `npm test` grades);
 *   - `solutions`: the reference implementations;
 *   - any other path (absolute, or relative to the repository): a folder laid out the same way,
 *     such as a generated mutant.
 * One mechanism for every target: the grader suites never change.
 *
 * `npm run verify` grades many targets in one Vitest run: each gets a copy of the graders, in a
 * folder whose `target.json` names the repository and the target (scripts/lib/verify-run.ts).
 * Graders read both from here, never from their own location, so a copy grades its own target.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** What verify writes beside a copy's `graders/` folder. */
export interface CopyManifest {
  /** The repository the copy was made from. */
  repoRoot: string;
  /** The folder holding `<slug>/index.ts` that this copy grades. */
  target: string;
  /** Skip the rest of this target's tests after its first failure (a mutant's verdict needs one). */
  bail: boolean;
}

/** The manifest of the verify copy rooted at `root` (the folder holding `graders/`), if it is one. */
export function readCopyManifest(root: string): CopyManifest | undefined {
  const file = path.join(root, 'target.json');
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as CopyManifest;
}

/** The folder holding `graders/` for a file inside it: the repository, or a verify copy. */
export function gradersRootOf(file: string): string | undefined {
  const parts = path.resolve(file).split(path.sep);
  const index = parts.lastIndexOf('graders');
  return index > 0 ? parts.slice(0, index).join(path.sep) : undefined;
}

const ownRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const copy = readCopyManifest(ownRoot);

export const REPO_ROOT = copy?.repoRoot ?? ownRoot;

/** The folder that holds `<slug>/index.ts` for the current target. */
export function targetRoot(target = copy?.target ?? process.env.KATA_TARGET): string {
  if (target === undefined || target === '' || target === 'katas') {
    return path.join(REPO_ROOT, 'katas');
  }
  if (target === 'solutions') return path.join(REPO_ROOT, 'solutions');
  return path.resolve(REPO_ROOT, target);
}

/** Absolute path of the module that `@kata/<slug>` stands for under the current target. */
export function kataModulePath(slug: string, target?: string): string {
  const file = path.join(targetRoot(target), slug, 'index.ts');
  if (!existsSync(file)) {
    throw new Error(`@kata/${slug}: no implementation at ${path.relative(REPO_ROOT, file)}`);
  }
  return file;
}
