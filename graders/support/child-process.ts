/**
 * Child processes for graders that need a real one (a real signal, a real exit code): start it,
 * read a line it prints, wait for it to exit, each bounded, and never leave one behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface Child {
  process: ChildProcess;
  /** Everything the child has written to stderr so far, for failure messages. */
  stderr(): string;
  /** Resolves with the first match of `pattern` in a stdout line; rejects if the child exits first or `ms` pass. */
  line(pattern: RegExp, ms: number): Promise<RegExpExecArray>;
  /** Resolves with how the child ended; rejects once `ms` pass first. */
  exited(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Kills the child (SIGKILL) if it still runs, and waits for it to be gone. */
  kill(): Promise<void>;
}

/** Starts `process.execPath` with `args` (e.g. `['--import', 'tsx', file]`). */
export function startNode(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Child {
  const child = spawn(process.execPath, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const lineWaiters = new Set<() => void>();
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    for (const check of lineWaiters) check();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  const tail = (): string => (err.trim() === '' ? '(nothing on stderr)' : err.trim().slice(-2000));

  return {
    process: child,
    stderr: () => err,
    line(pattern, ms) {
      return new Promise((resolve, reject) => {
        const finish = (error?: Error, match?: RegExpExecArray): void => {
          clearTimeout(timer);
          lineWaiters.delete(check);
          if (match) resolve(match);
          else reject(error ?? new Error('no match'));
        };
        const check = (): void => {
          for (const line of out.split('\n')) {
            const match = pattern.exec(line);
            if (match) return finish(undefined, match);
          }
        };
        const timer = setTimeout(
          () =>
            finish(
              new Error(
                `the child printed no line matching ${pattern} within ${ms} ms; stderr:\n${tail()}`,
              ),
            ),
          ms,
        );
        lineWaiters.add(check);
        check();
        void ended.then(({ code, signal }) =>
          finish(
            new Error(
              `the child exited (code ${code}, signal ${signal}) before printing a line matching ${pattern}; stderr:\n${tail()}`,
            ),
          ),
        );
      });
    },
    exited(ms) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`the child was still running ${ms} ms later; stderr:\n${tail()}`)),
          ms,
        );
        void ended.then((how) => {
          clearTimeout(timer);
          resolve(how);
        });
      });
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await ended;
    },
  };
}
