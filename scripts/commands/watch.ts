/**
 * `kata watch <slug>`: re-grades the kata on every save, in Vitest's watch mode, redrawing its
 * scoreboard row and first failure each time (scripts/lib/watch-reporter.ts). Vitest cannot stop a
 * test stuck in an endless loop, so this command keeps an eye on each run: past the time limit it
 * says the code may be looping, and the next save of the kata restarts the grader.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, watch } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Command } from 'commander';
import pc from '../lib/colour.ts';
import { slugArgument } from '../lib/cli.ts';
import { requireKata } from '../lib/katas.ts';
import { REPO_ROOT, kataFile, shown } from '../lib/paths.ts';
import { recordActivity } from '../lib/progress.ts';
import { whenParentGone } from '../lib/parent.mjs';
import { timeoutFromEnv } from '../lib/run-grader.ts';

const VITEST = path.join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const REPORTER = path.join(REPO_ROOT, 'scripts', 'lib', 'watch-reporter.ts');

export function watchCommand(): Command {
  return new Command('watch')
    .description('re-grade a kata every time you save it')
    .addArgument(slugArgument())
    .action(async (slug: string) => {
      requireKata(slug);
      recordActivity(slug);
      console.log(pc.dim(`grading ${shown(kataFile(slug))}, then again on every save…`));
      process.exitCode = await watchKata(slug, timeoutFromEnv());
    });
}

/** Runs Vitest's watch mode until Ctrl-C (or until Vitest stops); resolves to the exit code. */
function watchKata(slug: string, limitMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess | undefined;
    let slowTimer: NodeJS.Timeout | undefined;
    let stuck = false;
    let stopping = false;
    let restartTimer: NodeJS.Timeout | undefined;

    const killChild = (): void => {
      // Vitest runs in a process group of its own, so its test workers go with it.
      try {
        if (child?.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };

    const start = (): void => {
      stuck = false;
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        KATA_TARGET: 'katas',
        KATA_WATCH_SLUG: slug,
        KATA_TIMEOUT_MS: String(limitMs),
        KATA_PARENT_FD: '3',
      };
      delete env.KATA_REPORT_FILE;
      const current = spawn(
        process.execPath,
        [VITEST, 'watch', `graders/${slug}/`, `--reporter=${REPORTER}`],
        // No stdin: Ctrl-C and the restarts are this command's job, not Vitest's shortcuts.
        { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', 'inherit', 'inherit', 'pipe'] },
      );
      child = current;
      (current.stdio[3] as Readable).setEncoding('utf8').on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) {
          if (line === 'start') {
            clearTimeout(slowTimer);
            slowTimer = setTimeout(() => {
              stuck = true;
              console.log(
                pc.red(
                  `\nStill grading after ${limitMs / 1000} s: your code may be looping, or a promise never settles.`,
                ) +
                  `\nSave a fix to ${shown(kataFile(slug))} (the grader restarts), or press Ctrl-C.`,
              );
            }, limitMs);
          } else if (line === 'end') {
            clearTimeout(slowTimer);
          }
        }
      });
      current.on('error', reject);
      current.on('exit', (code, signal) => {
        if (current !== child) return; // a grader we stopped to restart
        clearTimeout(slowTimer);
        fileWatcher.close();
        resolve(stopping || signal ? 0 : (code ?? 1));
      });
    };

    // Editors often save by renaming a new file over the old one: watch the folder, not the file.
    // Vitest forgets a file that is deleted and does not see it come back (`rm`, then `cp`): when
    // the kata file reappears, the grader restarts, as it does for a save after a loop.
    const file = kataFile(slug);
    let missing = !existsSync(file);
    const restart = (why: string): void => {
      console.log(pc.dim(`\n${shown(file)} ${why}: restarting the grader…`));
      clearTimeout(slowTimer);
      const old = child;
      killChild();
      child = undefined;
      old?.removeAllListeners('exit');
      start();
    };
    const fileWatcher = watch(path.dirname(file), (_event, name) => {
      if (name !== path.basename(file)) return;
      clearTimeout(restartTimer);
      restartTimer = setTimeout(() => {
        if (!existsSync(file)) {
          if (!missing) {
            console.log(
              pc.yellow(`\n${shown(file)} was deleted.`) +
                ` Waiting for it to come back (${pc.cyan(`npm run kata -- reset ${slug}`)} restores the stub).`,
            );
          }
          missing = true;
          return;
        }
        if (missing) {
          missing = false;
          restart('is back');
        } else if (stuck) {
          restart('changed');
        }
      }, 200);
    });

    const stop = (): void => {
      stopping = true;
      killChild();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    process.once('SIGHUP', stop);
    process.once('exit', killChild);
    // npm killed without a chance to pass anything on: stop too.
    whenParentGone(stop);
    start();
  });
}
