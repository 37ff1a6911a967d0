/**
 * What the learner's commands share: grading a kata now (results and progress recorded), the latest
 * result unless the code changed since, markdown in the terminal, and confirmation prompts.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { stripVTControlCharacters } from 'node:util';
import { Argument } from 'commander';
import pc from './colour.ts';
import { availableKatas, UsageError } from './katas.ts';
import { kataFile, shown } from './paths.ts';
import { recordGrading } from './progress.ts';
import { readResults, type KataResult } from './results.ts';
import { gradeKata, timeoutFromEnv } from './run-grader.ts';

/** A `<slug>` argument whose valid values are the katas in this checkout. */
export function slugArgument(name = 'slug', required = true): Argument {
  const argument = new Argument(required ? `<${name}>` : `[${name}]`, 'a kata, e.g. token-bucket');
  return argument.choices(availableKatas().map((kata) => kata.slug));
}

/**
 * Grades the learner's file now and records the run in results.json and progress.json.
 * `maxDurationMs` caps the whole run (the no-progress limit never exceeds it either).
 */
export async function gradeNow(
  slug: string,
  quiet = false,
  options: { maxDurationMs?: number } = {},
): Promise<KataResult> {
  if (!quiet) console.log(pc.dim(`grading ${shown(kataFile(slug))}…`));
  const { maxDurationMs } = options;
  const result = await gradeKata({
    slug,
    timeoutMs: Math.min(timeoutFromEnv(), maxDurationMs ?? Infinity),
    ...(maxDurationMs === undefined ? {} : { maxDurationMs }),
  });
  recordGrading([result]);
  return result;
}

/** The kata's last result if the learner's file has not changed since, else a fresh one. */
export async function currentResult(slug: string): Promise<KataResult> {
  const last = readResults().katas[slug];
  if (last && !isStale(last)) return last;
  return gradeNow(slug);
}

/** The kata file was saved after the result was recorded (or the result is unreadable). */
export function isStale(result: KataResult): boolean {
  const gradedAt = Date.parse(result.gradedAt);
  if (!Number.isFinite(gradedAt)) return true;
  try {
    return statSync(kataFile(result.slug)).mtimeMs > gradedAt;
  } catch {
    return true;
  }
}

let markdown: ((text: string) => string) | undefined;

/** Markdown rendered for the terminal; plain text when colour is off (NO_COLOR, not a TTY). */
export async function renderMarkdown(text: string): Promise<string> {
  if (!markdown) {
    // Loaded on first use: most commands print no markdown, and these are slow to load.
    const [{ Marked }, { markedTerminal }] = await Promise.all([
      import('marked'),
      import('marked-terminal'),
    ]);
    const width = Math.min(process.stdout.columns || 100, 100);
    // marked-terminal's types lag behind marked's extension type.
    const marked = new Marked(
      markedTerminal({ reflowText: true, width, tab: 2 }) as ConstructorParameters<
        typeof Marked
      >[0],
    );
    markdown = (source) => marked.parse(source, { async: false }) as string;
  }
  const rendered = markdown(text).trimEnd();
  return pc.isColorSupported ? rendered : stripVTControlCharacters(rendered);
}

/** A markdown file rendered, or a one-line note that it is not there yet. */
export async function renderMarkdownFile(file: string): Promise<string> {
  if (!existsSync(file)) return pc.yellow(`(${shown(file)} is not written yet)`);
  return renderMarkdown(readFileSync(file, 'utf8'));
}

/**
 * Asks the learner to confirm, unless `--yes` was given. With no terminal to ask on, `--yes` is
 * required: a usage error says so.
 */
export async function confirmed(question: string, yes: boolean | undefined): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY) {
    throw new UsageError(`${question} Standard input is not a terminal: pass --yes to confirm.`);
  }
  const { confirm } = await import('@inquirer/prompts');
  return confirm({ message: question, default: false });
}

/** "2 of 5 stages" style numbers for a result. */
export function stagesLine(result: KataResult): string {
  const full = result.stages.filter((stage) => stage.total > 0 && stage.passed === stage.total);
  return `${full.length}/${result.stages.length} stages, ${result.passed}/${result.total} tests`;
}
