/**
 * `kata reset`: the stub comes back from git only after the learner's file is backed up, also when
 * the learner committed their own work; `--list` and `--restore` bring any backup back; without
 * git nothing changes. Nothing a learner wrote is ever lost.
 */
import { renameSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, createSandbox, prepareKata, type Sandbox } from './sandbox.ts';

let sandbox: Sandbox;
let slug: string;
let file: string;
let stub: string;
const backups = (): string[] => {
  try {
    return readdirSync(path.join(sandbox.root, '.kata/backups', slug)).sort();
  } catch {
    return [];
  }
};

beforeAll(() => {
  sandbox = createSandbox();
  slug = prepareKata(sandbox);
  file = `katas/${slug}/index.ts`;
  stub = sandbox.read(file);
}, 30_000);
// Removing a copy of the repository can take seconds on a busy machine.
afterAll(() => sandbox?.remove(), 30_000);

describe('kata reset', { timeout: 30_000 }, () => {
  it('leaves an unchanged stub alone, without a backup', async () => {
    const run = await sandbox.kata(['reset', slug, '--yes']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('is already the stub: nothing to reset');
    expect(backups()).toEqual([]);
  });

  it('asks for --yes when there is no terminal to confirm on, and changes nothing', async () => {
    sandbox.write(file, `${stub}\n// my first attempt\n`);
    const run = await sandbox.kata(['reset', slug]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toMatch(/Standard input is not a terminal: pass --yes to confirm\.$/);
    expect(sandbox.read(file)).toBe(`${stub}\n// my first attempt\n`);
    expect(backups()).toEqual([]);
  });

  it("backs up the learner's file, then restores the committed stub", async () => {
    const run = await sandbox.kata(['reset', slug, '--yes']);
    expect(run.code, run.stderr).toBe(0);
    expect(sandbox.read(file)).toBe(stub);
    const [backup] = backups();
    expect(backup).toMatch(/^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z\.ts$/);
    expect(sandbox.read(`.kata/backups/${slug}/${backup}`)).toBe(`${stub}\n// my first attempt\n`);
    expect(run.stdout).toContain(`Saved your file to .kata/backups/${slug}/${backup}`);
    expect(run.stdout).toContain(`reset ${slug} --restore ${backup}`);
  });

  it('finds the stub behind work the learner committed', async () => {
    sandbox.write(file, 'export const solvedIt = true;\n');
    const git = (...args: string[]): string =>
      execFileSync('git', args, { cwd: sandbox.root, env: cleanEnv(), encoding: 'utf8' });
    git('commit', '--quiet', '--no-gpg-sign', '--no-verify', '-am', 'my solution');
    const run = await sandbox.kata(['reset', slug, '--yes']);
    expect(run.code, run.stderr).toBe(0);
    expect(sandbox.read(file)).toBe(stub);
    expect(backups()).toHaveLength(2);
  });

  it('lists the backups newest first, with how to restore one, and restores after backing up', async () => {
    const list = await sandbox.kata(['reset', '--list']);
    expect(list.code).toBe(0);
    const [older, newer] = backups();
    expect(list.stdout.indexOf(newer!)).toBeLessThan(list.stdout.indexOf(older!));
    expect(list.stdout).toMatch(/\d+(\.\d)? (B|KB)/);
    expect(list.stdout).toContain(`npm run kata -- reset ${slug} --restore ${newer}`);

    sandbox.write(file, `${stub}\n// half-way there\n`);
    const run = await sandbox.kata(['reset', slug, '--restore', older!, '--yes']);
    expect(run.code, run.stderr).toBe(0);
    expect(sandbox.read(file)).toBe(`${stub}\n// my first attempt\n`);
    const saved = backups().filter((name) => name !== older && name !== newer);
    expect(saved).toHaveLength(1);
    expect(sandbox.read(`.kata/backups/${slug}/${saved[0]}`)).toBe(`${stub}\n// half-way there\n`);
  });

  it('names the backups when asked to restore one that does not exist', async () => {
    const run = await sandbox.kata(['reset', slug, '--restore', 'yesterday.ts', '--yes']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(
      `no backup "yesterday.ts" of ${slug}; choose one of: ${backups().reverse().join(', ')}`,
    );
  });

  it('changes nothing when git is not available', async () => {
    const before = sandbox.read(file);
    const count = backups().length;
    renameSync(path.join(sandbox.root, '.git'), path.join(sandbox.root, '.git-away'));
    try {
      const run = await sandbox.kata(['reset', slug, '--yes'], {
        // No repository above the copy either.
        env: { GIT_CEILING_DIRECTORIES: path.dirname(sandbox.root) },
      });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/git is not available here .*Nothing changed\./);
      expect(sandbox.read(file)).toBe(before);
      expect(backups()).toHaveLength(count);
    } finally {
      renameSync(path.join(sandbox.root, '.git-away'), path.join(sandbox.root, '.git'));
    }
  });
});
