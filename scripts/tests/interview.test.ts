/**
 * `kata interview`: a timed round on the first unsolved kata, driven through piped commands; it
 * ends on `submit` or when time is up, prints the result and appends it to the history.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableKatas } from '../lib/katas.ts';
import { createSandbox, prepareKata, type Sandbox } from './sandbox.ts';

let sandbox: Sandbox;
let slug: string;

beforeAll(() => {
  sandbox = createSandbox();
  slug = prepareKata(sandbox);
}, 30_000);
// Removing a copy of the repository can take seconds on a busy machine.
afterAll(() => sandbox?.remove(), 30_000);

interface Round {
  slug: string;
  endedBy: string;
  hintsUsed: number;
  gradings: number;
  status: string;
  timeUsedMs: number;
}
const history = (): Round[] =>
  (JSON.parse(sandbox.read('.kata/interviews.json')) as { rounds: Round[] }).rounds;

describe('kata interview', { timeout: 60_000 }, () => {
  it('runs a round on the first unsolved kata: time, grade, hint, submit', async () => {
    const before = sandbox.read(`katas/${slug}/index.ts`);
    const run = await sandbox.kata(['interview', '--minutes', '5'], {
      input: 'time\ngrade\nhint\nsubmit\n',
    });
    expect(run.code, run.stderr).toBe(0);
    const title = availableKatas()[0]!.title;
    expect(run.stdout).toContain(`Mock interview: ${title}`);
    expect(run.stdout).toContain('05:00 on the clock');
    expect(run.stdout).toMatch(/0[45]:\d\d left of 05:00\./);
    expect(run.stdout).toContain('Hint 1 of 3:');
    expect(run.stdout).toContain(`Round over (submitted): ${slug}`);
    expect(run.stdout).toMatch(/result {7}not started/);
    expect(run.stdout).toMatch(/hints used {3}1/);
    expect(sandbox.read(`katas/${slug}/index.ts`), 'the round never changes the file').toBe(before);
    expect(history()).toEqual([
      expect.objectContaining({
        slug,
        endedBy: 'submitted',
        hintsUsed: 1,
        gradings: 2,
        status: 'not-started',
      }),
    ]);
  });

  it('ends by itself when time is up, even with the prompt still open', async () => {
    const run = await sandbox.kata(['interview', slug, '--minutes', '0.05'], {
      keepStdinOpen: true,
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Time is up.');
    expect(run.stdout).toContain(`Round over (time up): ${slug}`);
    expect(run.stdout).toContain('time used    00:03 of 00:03');
    const rounds = history();
    expect(rounds).toHaveLength(2);
    expect(rounds[1]).toMatchObject({ endedBy: 'time up', hintsUsed: 0, timeUsedMs: 3000 });
  });

  it('lists past rounds with --history', async () => {
    const run = await sandbox.kata(['interview', '--history']);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^date\s+kata\s+stages\s+time used\s+hints\s+result$/);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(
      new RegExp(`${slug}\\s+0/\\d+\\s+\\d\\d:\\d\\d/05:00\\s+1\\s+not started \\(submitted\\)`),
    );
    expect(lines[2]).toMatch(
      new RegExp(`${slug}\\s+0/\\d+\\s+00:03/00:03\\s+0\\s+not started \\(time up\\)`),
    );
  });
});
