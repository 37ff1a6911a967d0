/**
 * `mutant rebase`: after the reference changes, each mutant whose patch no longer applies gets the
 * change merged in and keeps its mistake; a change that collides with the mistake is left with
 * conflict markers to resolve by hand, and nothing is saved for it.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, createSandbox, type Sandbox } from './sandbox.ts';

const slug = 'retry-backoff';
const reference = `solutions/${slug}/index.ts`;
const patchOf = (name: string): string => `graders/${slug}/mutants/${name}.patch`;
const scratchOf = (name: string): string => `.kata/mutants/${slug}/${name}/${slug}/index.ts`;

let sandbox: Sandbox;
let original: string;
const mutant = (args: string[]) => sandbox.node('scripts/mutant.ts', args, { timeoutMs: 30_000 });
const commit = (message: string): void => {
  execFileSync('git', ['commit', '--quiet', '--no-verify', '--no-gpg-sign', '-am', message], {
    cwd: sandbox.root,
    env: cleanEnv(),
  });
};

/** Saves a mutant that replaces `from` by `to` in the reference. */
async function saveMutant(name: string, from: string, to: string): Promise<void> {
  expect((await mutant(['edit', slug, name])).code).toBe(0);
  sandbox.write(scratchOf(name), sandbox.read(scratchOf(name)).replace(from, to));
  const saved = await mutant(['save', slug, name, `test mistake ${name}`, '--breaks', 'R1,R2']);
  expect(saved.code, saved.stderr).toBe(0);
}

beforeAll(async () => {
  sandbox = createSandbox();
  original = sandbox.read(reference);
  const lines = original.split('\n');
  // Two mutants, on lines 10 and 40 (what the lines say does not matter: nothing is compiled).
  await saveMutant('far', lines[39]!, `${lines[39]!} // far`);
  await saveMutant('near', lines[9]!, `${lines[9]!} // near`);
  execFileSync('git', ['add', '--all'], { cwd: sandbox.root });
  commit('two mutants');
  // The reference changes: line 37, in the far mutant's context but not next to its mistake, and
  // line 10, the near mutant's own line, are rewritten; a line is inserted near the top.
  const changed = [...lines];
  changed.splice(36, 1, `${lines[36]!} // changed`);
  changed.splice(9, 1, `${lines[9]!} // changed`);
  changed.splice(1, 0, '// a new comment');
  sandbox.write(reference, changed.join('\n'));
}, 60_000);
// Removing a copy of the repository can take seconds on a busy machine.
afterAll(() => sandbox?.remove(), 30_000);

describe('mutant rebase', { timeout: 60_000 }, () => {
  it('merges the change into a mutant it does not touch, and flags the one it collides with', async () => {
    const farBefore = sandbox.read(patchOf('far'));
    const nearBefore = sandbox.read(patchOf('near'));
    const run = await mutant(['rebase', slug]);
    expect(run.code, 'a conflict must make the command fail').toBe(1);
    expect(run.stdout).toMatch(/rebased far/);
    expect(run.stdout).toMatch(
      /conflict near: resolve the markers in .*near.*then: npm run mutant -- save/,
    );

    const far = sandbox.read(patchOf('far'));
    expect(far, 'the rebased patch is rewritten').not.toBe(farBefore);
    expect(far.split('\n')[0]).toBe('# breaks R1, R2: test mistake far');
    expect(far).toContain('+' + original.split('\n')[39]! + ' // far');
    expect(far, 'the rebased patch carries the reference change as context').toContain(
      ' ' + original.split('\n')[36]! + ' // changed',
    );

    expect(sandbox.read(patchOf('near')), 'a conflicted patch is left as it was').toBe(nearBefore);
    expect(sandbox.read(scratchOf('near'))).toMatch(/^<<<<<<< /m);
  });

  it('leaves alone every mutant that still applies', async () => {
    const run = await mutant(['rebase', slug]);
    expect(run.stdout).not.toMatch(/rebased far/);
  });
});
