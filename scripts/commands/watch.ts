/**
 * `kata watch <slug>`: re-grades the kata on every save, in Vitest's watch mode, redrawing its
 * scoreboard row and first failure each time (scripts/lib/watch-reporter.ts).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Command } from 'commander';
import pc from 'picocolors';
import { slugArgument, timeoutMs } from '../lib/cli.ts';
import { requireKata } from '../lib/katas.ts';
import { REPO_ROOT, kataFile, shown } from '../lib/paths.ts';
import { recordActivity } from '../lib/progress.ts';

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
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        KATA_TARGET: 'katas',
        KATA_WATCH_SLUG: slug,
        KATA_TIMEOUT_MS: String(timeoutMs()),
      };
      delete env.KATA_REPORT_FILE;
      const child = spawn(
        process.execPath,
        [VITEST, 'watch', `graders/${slug}/`, `--reporter=${REPORTER}`],
        { cwd: REPO_ROOT, env, stdio: 'inherit' },
      );
      // Ctrl-C reaches Vitest too (same process group); a plain kill of this process stops it as well.
      const stop = (): void => {
        child.kill('SIGTERM');
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
      const code = await new Promise<number>((resolve, reject) => {
        child.on('error', reject);
        child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 0 : 1)));
      });
      process.exitCode = code;
    });
}
