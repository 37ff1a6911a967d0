/**
 * `kata reset <slug>`: restores the kata's stub after confirmation, first saving the learner's file
 * to `.kata/backups/<slug>/<timestamp>.ts`. `reset --list` shows the backups, `reset <slug>
 * --restore <backup>` brings one back (backing up the current file first). Nothing a learner wrote
 * is ever lost.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import pc, { pcErr } from '../lib/colour.ts';
import { confirmed, slugArgument } from '../lib/cli.ts';
import { availableKatas, requireKata, UsageError } from '../lib/katas.ts';
import { REPO_ROOT, STATE_DIR, kataFile, shown } from '../lib/paths.ts';
import { recordActivity } from '../lib/progress.ts';

export const BACKUPS_DIR = path.join(STATE_DIR, 'backups');
const backupsOf = (slug: string): string => path.join(BACKUPS_DIR, slug);

interface ResetOptions {
  yes?: boolean;
  list?: boolean;
  restore?: string;
}

export function resetCommand(): Command {
  return new Command('reset')
    .description('restore the stub (your file is backed up first); --list shows the backups')
    .addArgument(slugArgument('slug', false))
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--list', 'list the backups (of every kata, or of the one named), newest first')
    .option(
      '--restore <backup>',
      'bring back a backup listed by --list (your current file is backed up first)',
    )
    .action(async (slug: string | undefined, options: ResetOptions) => {
      if (options.list) {
        console.log(listBackups(slug));
        return;
      }
      if (!slug) {
        throw new UsageError(
          `name a kata; choose one of: ${availableKatas()
            .map((kata) => kata.slug)
            .join(', ')}`,
        );
      }
      requireKata(slug);
      if (options.restore) await restore(slug, options.restore, options.yes);
      else await reset(slug, options.yes);
      recordActivity(slug);
    });
}

async function reset(slug: string, yes: boolean | undefined): Promise<void> {
  const file = kataFile(slug);
  const stub = committedStub(slug);
  if (!stub) return;
  const current = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  if (current === stub.text) {
    console.log(`${shown(file)} is already the stub: nothing to reset.`);
    return;
  }
  const question = `Replace ${shown(file)} with the stub? Your file is saved to ${shown(backupsOf(slug))}/ first.`;
  if (!(await confirmed(question, yes))) {
    console.log(pc.dim('Nothing changed.'));
    return;
  }
  const backup = current === undefined ? undefined : saveBackup(slug, current);
  writeAtomic(file, stub.text);
  if (backup) console.log(`Saved your file to ${pc.cyan(shown(backup))}.`);
  console.log(
    `${pc.green('Reset')} ${shown(file)} to the stub from commit ${stub.commit.slice(0, 7)}.`,
  );
  if (backup) {
    console.log(pc.dim(`Undo: npm run kata -- reset ${slug} --restore ${path.basename(backup)}`));
  }
}

async function restore(slug: string, name: string, yes: boolean | undefined): Promise<void> {
  const available = backupNames(slug);
  const chosen = path.basename(name);
  if (!available.includes(chosen)) {
    throw new UsageError(
      available.length > 0
        ? `no backup "${name}" of ${slug}; choose one of: ${available.join(', ')}`
        : `${slug} has no backups yet (npm run kata -- reset --list)`,
    );
  }
  const file = kataFile(slug);
  const text = readFileSync(path.join(backupsOf(slug), chosen), 'utf8');
  const current = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  if (current === text) {
    console.log(`${shown(file)} is already the same as ${chosen}: nothing to restore.`);
    return;
  }
  const question = `Replace ${shown(file)} with the backup ${chosen}? Your current file is saved first.`;
  if (!(await confirmed(question, yes))) {
    console.log(pc.dim('Nothing changed.'));
    return;
  }
  const backup = current === undefined ? undefined : saveBackup(slug, current);
  writeAtomic(file, text);
  if (backup) console.log(`Saved your current file to ${pc.cyan(shown(backup))}.`);
  console.log(`${pc.green('Restored')} ${shown(file)} from ${chosen}.`);
}

/** The newest committed version of the kata file that is still the stub (it throws NotImplementedError). */
function committedStub(slug: string): { commit: string; text: string } | undefined {
  const relative = `./${path.relative(REPO_ROOT, kataFile(slug)).split(path.sep).join('/')}`;
  const git = (...args: string[]): string =>
    execFileSync('git', args, {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 16 * 1024 * 1024,
    });
  let commits: string[];
  try {
    commits = git('log', '--format=%H', '--', relative).split('\n').filter(Boolean);
  } catch (error) {
    const reason = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
    console.error(
      pcErr.red(
        `reset needs git to find the stub, and git is not available here (${reason}). Nothing changed.`,
      ),
    );
    process.exitCode = 1;
    return undefined;
  }
  for (const commit of commits) {
    try {
      const text = git('show', `${commit}:${relative}`);
      if (text.includes('NotImplementedError')) return { commit, text };
    } catch {
      // Not in this commit (e.g. deleted there): look further back.
    }
  }
  console.error(
    pcErr.red(`No committed stub of ${shown(kataFile(slug))} in git history. Nothing changed.`),
  );
  process.exitCode = 1;
  return undefined;
}

/** Saves a copy of the learner's file under a timestamped name, before anything overwrites it. */
function saveBackup(slug: string, text: string): string {
  const dir = backupsOf(slug);
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/:/g, '-');
  let file = path.join(dir, `${stamp}.ts`);
  for (let n = 1; existsSync(file); n += 1) file = path.join(dir, `${stamp}-${n}.ts`);
  writeFileSync(file, text, { flag: 'wx' });
  if (readFileSync(file, 'utf8') !== text)
    throw new Error(`could not save a backup to ${shown(file)}`);
  return file;
}

function writeAtomic(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}

function backupNames(slug: string): string[] {
  const dir = backupsOf(slug);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.ts'))
    .sort()
    .reverse();
}

function listBackups(slug: string | undefined): string {
  const slugs = slug ? [requireKata(slug).slug] : availableKatas().map((kata) => kata.slug);
  const rows = slugs.flatMap((kata) =>
    backupNames(kata).map((name) => {
      const file = path.join(backupsOf(kata), name);
      const stat = statSync(file);
      return { kata, name, file, time: stat.mtime, size: stat.size };
    }),
  );
  if (rows.length === 0) {
    return `No backups${slug ? ` of ${slug}` : ''} yet: ${pc.cyan('npm run kata -- reset <slug>')} makes one before it restores a stub.`;
  }
  rows.sort((a, b) => b.name.localeCompare(a.name));
  const width = Math.max(4, ...rows.map((row) => row.kata.length));
  const nameWidth = Math.max(6, ...rows.map((row) => row.name.length));
  const lines = [
    pc.bold(`${'kata'.padEnd(width)}  ${'backup'.padEnd(nameWidth)}  ${'saved'.padEnd(20)}size`),
  ];
  for (const row of rows) {
    lines.push(
      `${row.kata.padEnd(width)}  ${row.name.padEnd(nameWidth)}  ${formatTime(row.time).padEnd(20)}${formatSize(row.size)}`,
    );
  }
  const newest = rows[0]!;
  lines.push(
    '',
    `Files are in ${shown(BACKUPS_DIR)}/<kata>/. Restore one (your current file is backed up first):`,
    `  ${pc.cyan(`npm run kata -- reset ${newest.kata} --restore ${newest.name}`)}`,
  );
  return lines.join('\n');
}

const formatTime = (date: Date): string => {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
};

const formatSize = (bytes: number): string =>
  bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KB`;
