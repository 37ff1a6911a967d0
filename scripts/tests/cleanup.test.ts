/**
 * No grader outlives the command that started it (issue 12, item 1). Code that never returns keeps
 * a test worker at 100% of a core; Vitest runs in a process group of its own, so a Ctrl-C, a
 * `kill`, a closed terminal, a crash or the death of our process must each be passed on to it.
 * Every command is started through its real entry point (npm), in its own process group as a shell
 * would, and ended while its grader is busy with `while (true) {}`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  cleanEnv,
  createSandbox,
  gradersIn,
  killGroup,
  processesIn,
  waitUntil,
  type Sandbox,
} from './sandbox.ts';

const slug = 'lru-ttl-cache';

/**
 * A sandbox of its own for each case, so that cases run side by side and each one's processes are
 * told apart by their working directory; the kata's constructor never returns.
 */
function loopingSandbox(): Sandbox {
  const sandbox = createSandbox({ git: false });
  const file = `katas/${slug}/index.ts`;
  const stub = sandbox.read(file);
  const looping = stub.replace(
    /(constructor\(options: LruTtlCacheOptions<K, V>\) \{)/,
    '$1\n    while (options !== undefined) {\n      // never returns\n    }',
  );
  expect(looping).not.toBe(stub);
  sandbox.write(file, looping);
  // Lets a test raise an uncaught exception in the command's own process, when it chooses.
  sandbox.write(
    'throw-on-usr2.mjs',
    "if (/scripts[\\\\/](test\\.mjs|kata\\.ts)$/.test(process.argv[1] ?? ''))\n" +
      "  process.on('SIGUSR2', () => {\n    throw new Error('an exception in the tool');\n  });\n",
  );
  return sandbox;
}

type Ending = 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'parent killed' | 'npm killed' | 'exception';

/** Starts `npm <args>` in a new process group, as an interactive shell starts a job. */
function npm(sandbox: Sandbox, args: string[], input?: string): ChildProcess {
  const child = spawn('npm', args, {
    cwd: sandbox.root,
    env: {
      ...cleanEnv(),
      KATA_TIMEOUT_MS: '60000', // the grader never stops itself during the test
      NODE_OPTIONS: `--import ${path.join(sandbox.root, 'throw-on-usr2.mjs')}`,
    },
    detached: true,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'ignore'],
  });
  if (input !== undefined) child.stdin?.write(input); // left open: an interview waits for more
  return child;
}

/** The node process behind npm (scripts/test.mjs or scripts/kata.ts), not the shell that started it. */
const toolProcess = (sandbox: Sandbox): number | undefined =>
  processesIn(sandbox.root).find((info) =>
    /^\S*node .*scripts\/(test\.mjs|kata\.ts)/.test(info.args),
  )?.pid;

const workers = (sandbox: Sandbox): number =>
  gradersIn(sandbox.root).filter((p) => /workers/.test(p.args)).length;

/** Starts `npm <args>` in a sandbox of its own, ends it while a worker spins, checks nothing is left. */
async function endWhileGrading(args: string[], ending: Ending, input?: string): Promise<void> {
  const sandbox = loopingSandbox();
  const child = npm(sandbox, args, input);
  try {
    await endIt(sandbox, child, ending);
  } finally {
    // A failed case leaves nothing behind.
    killGroup(child.pid);
    for (const left of processesIn(sandbox.root)) killGroup(left.pid);
    sandbox.remove();
  }
}

async function endIt(sandbox: Sandbox, child: ChildProcess, ending: Ending): Promise<void> {
  await waitUntil(() => workers(sandbox) > 0, 'a test worker started', 40_000);
  const group = child.pid!;
  switch (ending) {
    case 'SIGINT': // Ctrl-C: the terminal signals the whole foreground process group
    case 'SIGHUP': // the terminal closed: the same, with SIGHUP
      process.kill(-group, ending);
      break;
    case 'SIGTERM': // `kill <pid of npm>`: npm passes it on to the script
      process.kill(group, 'SIGTERM');
      break;
    case 'parent killed': // npm and our process die at once, with no chance to clean up
      process.kill(-group, 'SIGKILL');
      break;
    case 'npm killed': // npm alone, with no chance to pass anything on: our process is orphaned
      process.kill(group, 'SIGKILL');
      break;
    case 'exception':
      process.kill(toolProcess(sandbox)!, 'SIGUSR2');
      break;
  }
  await waitUntil(
    () => gradersIn(sandbox.root).length === 0,
    `no grader left after ${ending}: ${JSON.stringify(gradersIn(sandbox.root))}`,
  );
  await waitUntil(
    () => processesIn(sandbox.root).length === 0,
    `every command ended: ${JSON.stringify(processesIn(sandbox.root))}`,
  );
}

describe.concurrent('no grader is left running', { timeout: 90_000 }, () => {
  const endings: Ending[] = [
    'SIGINT',
    'SIGTERM',
    'SIGHUP',
    'parent killed',
    'npm killed',
    'exception',
  ];
  for (const ending of endings) {
    it(`npm test -- ${slug}, ended by ${ending}`, async () => {
      await endWhileGrading(['test', '--', slug], ending);
    });
  }

  it('npm test (every kata), ended by Ctrl-C', async () => {
    await endWhileGrading(['test'], 'SIGINT');
  });

  it('npm run hint, ended by a closed terminal', async () => {
    await endWhileGrading(['run', 'hint', '--', slug], 'SIGHUP');
  });

  it('npm run solution --force, ended by SIGTERM', async () => {
    await endWhileGrading(['run', 'solution', '--', slug, '--force', '--yes'], 'SIGTERM');
  });

  it('an interview round grading, ended by Ctrl-C', async () => {
    await endWhileGrading(['run', 'kata', '--', 'interview', slug], 'SIGINT', 'grade\n');
  });

  it('npm run watch, ended by an exception', async () => {
    await endWhileGrading(['run', 'watch', '--', slug], 'exception');
  });

  it('npm run watch, its parent killed', async () => {
    await endWhileGrading(['run', 'watch', '--', slug], 'parent killed');
  });

  it('npm run watch, npm killed', async () => {
    await endWhileGrading(['run', 'watch', '--', slug], 'npm killed');
  });
});
