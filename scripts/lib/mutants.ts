/**
 * Mutants: known-wrong implementations that a grader must reject. Each is stored as a unified
 * diff against the reference, `graders/<slug>/mutants/<name>.patch`, whose first line names the
 * rules of the kata's README it breaks and the mistake, in one line:
 * `# breaks R4, R7: <the mistake>` (see ledger.ts). Storing the mistake rather than a full copy keeps each
 * mutant reviewable at a glance and in step with the reference: when the reference changes so that
 * a patch no longer applies, verify says so instead of testing stale code.
 */
import { spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { applyPatch, createTwoFilesPatch } from 'diff';
import { parseBreaksLine } from './ledger.ts';
import { MUTANTS_BUILD_DIR, REPO_ROOT, mutantsDir, shown, solutionFile } from './paths.ts';

export interface Mutant {
  slug: string;
  name: string;
  /** The one-line description of the mistake. */
  mistake: string;
  /** The README's rules it breaks (`['R4']`). */
  rules: string[];
  patchFile: string;
}

export function listMutants(slug: string): Mutant[] {
  const dir = mutantsDir(slug);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith('.patch'))
    .sort()
    .map((file) => {
      const patchFile = path.join(dir, file);
      const firstLine = readFileSync(patchFile, 'utf8').split('\n', 1)[0] ?? '';
      const header = parseBreaksLine(firstLine);
      if (!header) {
        throw new Error(
          `${shown(patchFile)} must start with "# breaks R<n>[, R<m>]: <the mistake>"`,
        );
      }
      return { slug, name: file.slice(0, -'.patch'.length), ...header, patchFile };
    });
}

/** The folder a materialized mutant lives in: a target root holding `<slug>/index.ts`. */
export const mutantTargetRoot = (slug: string, name: string): string =>
  path.join(MUTANTS_BUILD_DIR, slug, name);

export const mutantSourceFile = (slug: string, name: string): string =>
  path.join(mutantTargetRoot(slug, name), slug, 'index.ts');

/**
 * Writes the mutant's code (reference + patch) where KATA_TARGET can point at it, and returns
 * that target root: by default the scratch folder `npm run mutant -- edit` uses; verify passes a
 * root of its own, so that grading never overwrites a mutant being edited. Throws if the patch no
 * longer applies to the reference.
 */
export function materializeMutant(
  mutant: Mutant,
  root = mutantTargetRoot(mutant.slug, mutant.name),
): string {
  const reference = readFileSync(solutionFile(mutant.slug), 'utf8');
  const patched = applyPatch(reference, readFileSync(mutant.patchFile, 'utf8'));
  if (patched === false) {
    throw new Error(
      `${shown(mutant.patchFile)} no longer applies to ${shown(solutionFile(mutant.slug))}: ` +
        `recreate it with "npm run mutant -- edit ${mutant.slug} ${mutant.name}"`,
    );
  }
  if (patched === reference) {
    throw new Error(
      `${shown(mutant.patchFile)} changes nothing: a mutant must differ from the reference`,
    );
  }
  const file = path.join(root, mutant.slug, 'index.ts');
  rmSync(path.dirname(file), { recursive: true, force: true });
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, patched);
  return root;
}

/**
 * Starts editing a mutant: writes its current code (or the reference, for a new one) to the
 * materialized file and returns that file's path.
 */
export function beginEdit(slug: string, name: string): string {
  const existing = listMutants(slug).find((mutant) => mutant.name === name);
  if (existing) {
    materializeMutant(existing);
  } else {
    const file = mutantSourceFile(slug, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, readFileSync(solutionFile(slug), 'utf8'));
  }
  return mutantSourceFile(slug, name);
}

/** Saves the edited mutant as a patch against the reference, headed by the rules it breaks and its mistake. */
export function saveMutant(slug: string, name: string, mistake: string, rules: string[]): string {
  if (rules.length === 0) {
    throw new Error(
      `${name}: name the rules of the README the mistake breaks (--breaks R4[,R7]); a mutant must break at least one`,
    );
  }
  const edited = readFileSync(mutantSourceFile(slug, name), 'utf8');
  const reference = readFileSync(solutionFile(slug), 'utf8');
  if (edited === reference) {
    throw new Error(
      `${shown(mutantSourceFile(slug, name))} is identical to the reference: edit it first`,
    );
  }
  const from = `solutions/${slug}/index.ts`;
  const patch = createTwoFilesPatch(
    from,
    `mutant ${name}`,
    reference,
    edited,
    undefined,
    undefined,
    {
      context: 3,
    },
  );
  // Drop jsdiff's "Index:"/"====" preamble: the mistake line is the patch's header.
  const body = patch.slice(patch.indexOf('--- '));
  const patchFile = path.join(mutantsDir(slug), `${name}.patch`);
  mkdirSync(path.dirname(patchFile), { recursive: true });
  writeFileSync(patchFile, `# breaks ${rules.join(', ')}: ${mistake.trim()}\n${body}`);
  return patchFile;
}

/** What `rebaseMutant` did with one mutant. */
export type RebaseOutcome = 'applies' | 'rebased' | 'conflict';

/**
 * Carries a mutant whose patch no longer applies over to the current reference. The patch is
 * applied to the reference as it was at `revision` (a git revision where the patch still applied),
 * and the reference's changes since then are merged into that old mutant (`git merge-file`).
 * A clean merge is saved as the new patch, same mistake; a conflict is left, with markers, in the
 * file `npm run mutant -- edit` would open, to resolve by hand and `save`.
 */
export function rebaseMutant(mutant: Mutant, revision: string): RebaseOutcome {
  const reference = readFileSync(solutionFile(mutant.slug), 'utf8');
  const patch = readFileSync(mutant.patchFile, 'utf8');
  if (applyPatch(reference, patch) !== false) return 'applies';

  const relative = `solutions/${mutant.slug}/index.ts`;
  const gitShow = spawnSync('git', ['show', `${revision}:${relative}`], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  if (gitShow.status !== 0) {
    throw new Error(`git show ${revision}:${relative} failed: ${gitShow.stderr.trim()}`);
  }
  const oldReference = gitShow.stdout;
  const oldMutant = applyPatch(oldReference, patch);
  if (oldMutant === false) {
    throw new Error(
      `${mutant.name}.patch does not apply to ${relative} at ${revision} either: ` +
        `name a revision where it did (--from <revision>)`,
    );
  }

  const scratch = mkdtempSync(path.join(os.tmpdir(), 'mutant-rebase-'));
  try {
    const files = { mutant: 'mutant.ts', base: 'old-reference.ts', reference: 'reference.ts' };
    writeFileSync(path.join(scratch, files.mutant), oldMutant);
    writeFileSync(path.join(scratch, files.base), oldReference);
    writeFileSync(path.join(scratch, files.reference), reference);
    // Exit status: 0 merged cleanly, >0 the number of conflicts, <0 (255 here) an error.
    const merge = spawnSync(
      'git',
      ['merge-file', '-p', files.mutant, files.base, files.reference],
      {
        cwd: scratch,
        encoding: 'utf8',
      },
    );
    if (merge.status === null || merge.status >= 128) {
      throw new Error(`git merge-file failed for ${mutant.name}: ${merge.stderr.trim()}`);
    }
    const file = mutantSourceFile(mutant.slug, mutant.name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, merge.stdout);
    if (merge.status !== 0) return 'conflict';
    saveMutant(mutant.slug, mutant.name, mutant.mistake, mutant.rules);
    return 'rebased';
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
