/**
 * `kata watch`: grades at once, re-grades on every save of the kata, says when a run outlasts the
 * time limit (code that loops), and restarts the grader on the next save.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandbox, prepareKata, type Background, type Sandbox } from './sandbox.ts';

let sandbox: Sandbox;
let slug: string;
let watcher: Background | undefined;

beforeAll(() => {
  sandbox = createSandbox();
  slug = prepareKata(sandbox);
}, 30_000);
afterAll(() => {
  watcher?.stop();
  sandbox?.remove();
}, 30_000);

const WAITING = /waiting for changes to katas\/[a-z0-9-]+\/index\.ts \(Ctrl-C to stop\)/;

describe('kata watch', { timeout: 90_000 }, () => {
  it('redraws the board on every save, and restarts a grader stuck in a loop', async () => {
    const file = `katas/${slug}/index.ts`;
    const stub = sandbox.read(file);
    const reference = sandbox.read(`solutions/${slug}/index.ts`);
    watcher = sandbox.background(['watch', slug], { KATA_TIMEOUT_MS: '4000' });

    await watcher.waitFor(WAITING, 1, 40_000);
    expect(watcher.output()).toMatch(new RegExp(`${slug}\\s+0/\\d+\\s+0/\\d+\\s+not started`));
    expect(watcher.output()).toContain('✘ stage 1: ');

    // A loop that never ends, at the top of the module: every test file that imports it hangs.
    sandbox.write(file, `${stub}\nwhile (Date.now() > 0) {\n  // spin\n}\n`);
    await watcher.waitFor(/your code may be looping/, 1, 40_000);
    expect(watcher.output()).toContain(
      `Save a fix to ${file} (the grader restarts), or press Ctrl-C.`,
    );

    sandbox.write(file, reference);
    await watcher.waitFor(/Solved!/, 1, 40_000);
    await watcher.waitFor(WAITING, 2, 10_000);
    expect(watcher.output()).toContain(`${file} changed: restarting the grader`);
    expect(watcher.output()).toMatch(new RegExp(`${slug}\\s+(\\d+)/\\1\\s+(\\d+)/\\2\\s+solved`));

    // Deleted, then copied back: Vitest alone forgot the file and never graded it again [item 5].
    rmSync(path.join(sandbox.root, file));
    await watcher.waitFor(/was deleted\. Waiting for it to come back/, 1, 10_000);
    sandbox.write(file, stub);
    await watcher.waitFor(new RegExp(`${file} is back: restarting the grader`), 1, 10_000);
    await watcher.waitFor(WAITING, 3, 40_000);
    const board = watcher.output().slice(watcher.output().lastIndexOf('is back: restarting'));
    expect(board).toMatch(new RegExp(`${slug}\\s+0/\\d+\\s+0/\\d+\\s+not started`));

    const results = JSON.parse(sandbox.read('.kata/results.json')) as {
      katas: Record<string, { status: string }>;
    };
    expect(results.katas[slug]?.status).toBe('not-started');
    const progress = JSON.parse(sandbox.read('.kata/progress.json')) as {
      katas: Record<string, { runs: number; solvedAt?: string }>;
    };
    expect(progress.katas[slug]?.runs).toBe(3);
    expect(progress.katas[slug]?.solvedAt).toBeDefined();
  });
});
