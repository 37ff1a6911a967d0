/**
 * A throw-away copy of the repository for the CLI's tests: the katas, graders, solutions, scripts
 * and configs copied, node_modules linked, and a git repository with one commit (so `reset` finds
 * the stubs). The learner's commands run in it as a learner would run them, spawned and bounded.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { availableKatas } from '../lib/katas.ts';
import { copyRepository } from '../lib/paths.ts';

export interface SpawnOptions {
  /** Written to stdin, which is then closed, unless `keepStdinOpen`. */
  input?: string;
  keepStdinOpen?: boolean;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface BackgroundOptions {
  /**
   * Run it at a terminal: a pseudo-terminal from util-linux `script`, as a learner's shell gives
   * it; what is written with `write` is typed at it.
   */
  terminal?: boolean;
}

export interface Background {
  output(): string;
  /** Types `text` at the command (only with `terminal`). */
  write(text: string): void;
  /** Resolves with the exit code once the command has ended. */
  exited(): Promise<number | null>;
  /** Resolves once the output matches `pattern` `count` times; rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, count?: number, timeoutMs?: number): Promise<void>;
  stop(): void;
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Sandbox {
  root: string;
  /** Runs `node --import tsx scripts/kata.ts ...args`, killed after `timeoutMs`. */
  kata(args: string[], options?: SpawnOptions): Promise<Run>;
  /** Spawns any script of the copy the same way (e.g. scripts/grade.ts). */
  node(script: string, args: string[], options?: SpawnOptions): Promise<Run>;
  /** Runs what `npm test -- ...args` runs: `node scripts/test.mjs ...args`. */
  test(args: string[], options?: SpawnOptions): Promise<Run>;
  /** Starts a long-running command (watch); `output()` so far; `stop()` kills it and its children. */
  background(args: string[], env?: NodeJS.ProcessEnv, options?: BackgroundOptions): Background;
  read(file: string): string;
  write(file: string, text: string): void;
  exists(file: string): boolean;
  remove(): void;
}

/** The environment a learner's shell would have: no colour, none of the test runner's own variables. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(VITEST|TEST|KATA_|FORCE_COLOR|NODE_OPTIONS|DEBUG)/.test(key)) continue;
    env[key] = value;
  }
  return {
    ...env,
    NO_COLOR: '1',
    // Fewer random cases per property: the same graders, graded faster; the outcome does not change.
    FC_RUNS: '5',
    GIT_AUTHOR_NAME: 'Learner',
    GIT_AUTHOR_EMAIL: 'learner@example.com',
    GIT_COMMITTER_NAME: 'Learner',
    GIT_COMMITTER_EMAIL: 'learner@example.com',
  };
}

/** `git: false` skips the repository (a second or so): for tests that never run `reset`. */
export function createSandbox(options: { git?: boolean } = {}): Sandbox {
  const root = copyRepository('kata-cli-');
  const git = (...args: string[]): void => {
    execFileSync('git', args, { cwd: root, env: cleanEnv(), stdio: 'ignore' });
  };
  if (options.git !== false) {
    git('init', '--quiet');
    git('add', '--all');
    git('commit', '--quiet', '--no-gpg-sign', '--no-verify', '-m', 'the katas as cloned');
  }

  const node = (script: string, args: string[], options: SpawnOptions = {}): Promise<Run> =>
    new Promise((resolve, reject) => {
      // Plain JavaScript entry points (scripts/test.mjs, `npm test`) load TypeScript support themselves.
      const loader = script.endsWith('.mjs') ? [] : ['--import', 'tsx'];
      const child = spawn(process.execPath, [...loader, script, ...args], {
        cwd: root,
        env: { ...cleanEnv(), ...options.env },
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const timer = setTimeout(() => {
        killGroup(child.pid);
        reject(new Error(`timed out: kata ${args.join(' ')}\n${stdout}\n${stderr}`));
      }, options.timeoutMs ?? 30_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      if (options.keepStdinOpen) child.stdin.write(options.input ?? '');
      else child.stdin.end(options.input ?? '');
    });

  const background = (
    args: string[],
    env: NodeJS.ProcessEnv = {},
    options: BackgroundOptions = {},
  ): Background => {
    const command = [process.execPath, '--import', 'tsx', 'scripts/kata.ts', ...args];
    const quoted = command.map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
    const [file, ...rest] = options.terminal
      ? ['script', '--quiet', '--return', '--flush', '--command', quoted, '/dev/null']
      : command;
    const child = spawn(file!, rest, {
      cwd: root,
      env: { ...cleanEnv(), COLUMNS: '120', LINES: '40', ...env },
      detached: true,
      stdio: [options.terminal ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: string): void => {
      output += chunk;
    };
    child.stdout!.setEncoding('utf8').on('data', collect);
    child.stderr!.setEncoding('utf8').on('data', collect);
    return {
      output: () => output,
      write: (text) => child.stdin?.write(text),
      exited: () =>
        child.exitCode !== null
          ? Promise.resolve(child.exitCode)
          : new Promise((resolve) => child.once('exit', resolve)),
      waitFor: (pattern, count = 1, timeoutMs = 30_000) =>
        new Promise((resolve, reject) => {
          const global = new RegExp(pattern.source, `${pattern.flags.replace('g', '')}g`);
          const started = Date.now();
          const check = setInterval(() => {
            if ((output.match(global)?.length ?? 0) >= count) {
              clearInterval(check);
              resolve();
            } else if (Date.now() - started > timeoutMs || child.exitCode !== null) {
              clearInterval(check);
              reject(
                new Error(`never saw ${count} × ${pattern} (exit ${child.exitCode}):\n${output}`),
              );
            }
          }, 100);
        }),
      stop: () => {
        // As Ctrl-C would; then make sure.
        child.kill('SIGINT');
        setTimeout(() => killGroup(child.pid), 2000).unref();
      },
    };
  };

  return {
    root,
    node,
    background,
    kata: (args, options) => node('scripts/kata.ts', args, options),
    test: (args, options) => node('scripts/test.mjs', args, options),
    read: (file) => readFileSync(path.join(root, file), 'utf8'),
    write: (file, text) => {
      mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      writeFileSync(path.join(root, file), text);
    },
    exists: (file) => existsSync(path.join(root, file)),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/**
 * The first kata of the catalog, with a README, hints and notes: the real ones, or while a kata
 * is being written, stand-ins (hints for up to eight stages) so the tools have something to show.
 */
export function prepareKata(sandbox: Sandbox): string {
  const slug = availableKatas()[0]!.slug;
  const ensure = (file: string, text: string): void => {
    if (!sandbox.exists(file)) sandbox.write(file, text);
  };
  ensure(`katas/${slug}/README.md`, `# ${slug}\n\nThe statement of the kata.\n`);
  ensure(`solutions/${slug}/NOTES.md`, `# Notes: ${slug}\n\nHow the reference works.\n`);
  const stages = Array.from(
    { length: 8 },
    (_, i) =>
      `## Stage ${i + 1}: stage ${i + 1}\n\n${[1, 2, 3].map((n) => `${n}. Stand-in hint ${i + 1}.${n}.`).join('\n')}\n`,
  );
  ensure(`katas/${slug}/HINTS.md`, `# Hints: ${slug}\n\n${stages.join('\n')}`);
  return slug;
}

/** Kills a detached child and everything it started. */
export function killGroup(pid: number | undefined): void {
  try {
    if (pid !== undefined) process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

export interface ProcessInfo {
  pid: number;
  args: string;
}

/**
 * Every process whose working directory is `root` (Linux: from /proc): the commands a test started
 * there, and any grader they left behind. Graders are the ones running Vitest.
 */
export function processesIn(root: string): ProcessInfo[] {
  const real = realpathSync(root);
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readlinkSync(`/proc/${entry}/cwd`) !== real) continue;
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      found.push({ pid: Number(entry), args });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

export const gradersIn = (root: string): ProcessInfo[] =>
  processesIn(root).filter((info) => info.args.includes('vitest'));

/** Polls `check` every 50 ms until it returns true; rejects with `what` after `timeoutMs`. */
export async function waitUntil(
  check: () => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`never happened: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
