/**
 * Colour follows the usual rule: only for a terminal, or when FORCE_COLOR asks; NO_COLOR wins;
 * GitHub Actions' log keeps it. `CI=1` alone writes plain text into a redirected file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { colourWanted } from '../lib/colour.ts';
import { createSandbox, type Sandbox } from './sandbox.ts';

const ESC = '\u001b[';

describe('colourWanted', () => {
  const tty = { isTTY: true };
  const file = { isTTY: false };
  it.each([
    ['a terminal', tty, {}, true],
    ['a file', file, {}, false],
    ['a file with CI=1', file, { CI: '1' }, false],
    [
      'a file with CI=true and GITHUB_ACTIONS=true',
      file,
      { CI: 'true', GITHUB_ACTIONS: 'true' },
      true,
    ],
    ['a file with FORCE_COLOR=1', file, { FORCE_COLOR: '1' }, true],
    ['a file with FORCE_COLOR empty', file, { FORCE_COLOR: '' }, true],
    ['a terminal with FORCE_COLOR=0', tty, { FORCE_COLOR: '0' }, false],
    ['a terminal with NO_COLOR=1', tty, { NO_COLOR: '1' }, false],
    ['a file with NO_COLOR=1 and FORCE_COLOR=1', file, { NO_COLOR: '1', FORCE_COLOR: '1' }, false],
    ['GitHub Actions with NO_COLOR=1', file, { GITHUB_ACTIONS: 'true', NO_COLOR: '1' }, false],
    ['a terminal with NO_COLOR empty', tty, { NO_COLOR: '' }, true],
    ['a dumb terminal', tty, { TERM: 'dumb' }, false],
  ])('%s: %s', (_name, stream, env, expected) => {
    expect(colourWanted(stream, env)).toBe(expected);
  });
});

let sandbox: Sandbox;
beforeAll(() => {
  sandbox = createSandbox();
}, 30_000);
// Removing a copy of the repository can take seconds on a busy machine.
afterAll(() => sandbox?.remove(), 30_000);

describe.concurrent('the tools, with output redirected', { timeout: 30_000 }, () => {
  const list = (env: NodeJS.ProcessEnv) =>
    sandbox.kata(['list'], { env: { NO_COLOR: undefined, ...env } });

  it('write no colour codes with CI=1 [issue 12 item 10]', async () => {
    const run = await list({ CI: '1' });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('katas solved');
    expect(run.stdout).not.toContain(ESC);
  });

  it('colour when FORCE_COLOR asks, and in the GitHub Actions log', async () => {
    const [forced, actions] = await Promise.all([
      list({ FORCE_COLOR: '1' }),
      list({ CI: 'true', GITHUB_ACTIONS: 'true' }),
    ]);
    expect(forced.stdout).toContain(ESC);
    expect(actions.stdout).toContain(ESC);
  });

  it('never colour with NO_COLOR, even when FORCE_COLOR asks', async () => {
    const run = await list({ NO_COLOR: '1', FORCE_COLOR: '1', GITHUB_ACTIONS: 'true' });
    expect(run.stdout).not.toContain(ESC);
  });
});
