/**
 * The learner's progress, kept in `.kata/progress.json` (git-ignored): per kata, the time spent,
 * the grading runs, when it was first graded and solved, which hints were shown and whether the
 * solution was seen before solving. `npm test`, watch mode and every command on a kata update it.
 * Missing or unusable data is rebuilt from `.kata/results.json` where possible, never a crash.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { pcErr } from './colour.ts';
import { STATE_DIR, kataFile } from './paths.ts';
import * as v from 'valibot';
import { readResults, saveResults, Timestamp, type KataResult } from './results.ts';
import { readState, writeJsonAtomic } from './state.ts';

export const PROGRESS_FILE = path.join(STATE_DIR, 'progress.json');

/** A gap between two moments of activity longer than this counts as this much: a break, not work. */
export const MAX_GAP_MS = 15 * 60_000;

const KataProgressSchema = v.object({
  /** Working time: the gaps between consecutive runs and commands on this kata, each capped. */
  timeSpentMs: v.pipe(v.number(), v.minValue(0)),
  /** Grading runs (npm test, watch, hint, solution, interview). */
  runs: v.pipe(v.number(), v.integer(), v.minValue(0)),
  firstGradedAt: v.optional(Timestamp),
  lastGradedAt: v.optional(Timestamp),
  /** The last grading run or command on this kata: where the next gap is measured from. */
  lastActivityAt: v.optional(Timestamp),
  solvedAt: v.optional(Timestamp),
  /** Per stage number, how many of its hints have been shown. */
  hintsShown: v.record(v.string(), v.pipe(v.number(), v.integer(), v.minValue(0))),
  solutionSeenAt: v.optional(Timestamp),
  /** The solution was seen before the kata was solved (`solution --force`). */
  spoiler: v.optional(v.boolean()),
});
export type KataProgress = v.InferOutput<typeof KataProgressSchema>;

const ProgressFileSchema = v.object({
  version: v.literal(1),
  katas: v.record(v.string(), KataProgressSchema),
});
export type ProgressFile = v.InferOutput<typeof ProgressFileSchema>;

const emptyKata = (): KataProgress => ({ timeSpentMs: 0, runs: 0, hintsShown: {} });

/** Progress rebuilt from the last grading results: one run per graded kata, solved if it was. */
export function rebuildFromResults(results = readResults()): ProgressFile {
  const data: ProgressFile = { version: 1, katas: {} };
  for (const result of Object.values(results.katas)) {
    if (!result || typeof result.slug !== 'string') continue;
    data.katas[result.slug] = {
      ...emptyKata(),
      runs: 1,
      firstGradedAt: result.gradedAt,
      lastGradedAt: result.gradedAt,
      lastActivityAt: result.gradedAt,
      ...(result.status === 'solved' ? { solvedAt: result.gradedAt } : {}),
    };
  }
  return data;
}

/**
 * Reads the progress file. Missing (after some grading): rebuilt from the results, with a one-line
 * note on stderr. A file that cannot be used: backed up, then rebuilt the same way, and the note
 * says where the old one went (scripts/lib/state.ts). Missing with nothing graded yet: a fresh
 * start, silently.
 */
export function readProgress(file = PROGRESS_FILE): ProgressFile {
  if (!existsSync(file)) {
    const rebuilt = rebuildFromResults();
    if (Object.keys(rebuilt.katas).length > 0) {
      note(`no ${path.basename(file)} yet: progress rebuilt from the last grading results`);
    }
    return rebuilt;
  }
  return (
    readState(file, ProgressFileSchema, {
      instead: 'progress rebuilt from the last grading results',
    }) ?? rebuildFromResults()
  );
}

function note(text: string): void {
  console.error(pcErr.dim(`note: ${text}`));
}

/** Writes the progress file atomically: a reader at the same moment never sees half a file. */
export function writeProgress(data: ProgressFile, file = PROGRESS_FILE): void {
  writeJsonAtomic(file, data);
}

/** Reads, changes and writes the progress of one or more katas in one step. */
export function updateProgress(
  change: (kata: (slug: string) => KataProgress) => void,
  file = PROGRESS_FILE,
): ProgressFile {
  const data = readProgress(file);
  change((slug) => (data.katas[slug] ??= emptyKata()));
  writeProgress(data, file);
  return data;
}

/** Adds the time since the kata's last activity (capped) and makes now its last activity. */
export function touch(kata: KataProgress, now = new Date()): void {
  if (kata.lastActivityAt) {
    const gap = now.getTime() - Date.parse(kata.lastActivityAt);
    if (Number.isFinite(gap) && gap > 0) kata.timeSpentMs += Math.min(gap, MAX_GAP_MS);
  }
  kata.lastActivityAt = now.toISOString();
}

export interface RecordOptions {
  /**
   * The katas the learner named (`npm test -- <slug>`, hint, watch…): their time counts whatever
   * happened to their files. Default: every kata recorded. A plain `npm test` names none, and
   * time then counts only for the katas whose file changed since their last activity.
   */
  named?: ReadonlySet<string>;
}

/**
 * Records grading runs everywhere the learner's tools read them: progress first (a missing
 * progress file is rebuilt from the earlier results, so this run must not be in them yet), then
 * `.kata/results.json`.
 */
export function recordGrading(results: KataResult[], options: RecordOptions = {}): void {
  recordRuns(results, options);
  saveResults(results);
}

/**
 * Whether grading a kata the learner did not name is work on it: its file was saved since the
 * kata's last activity (or, never active, it is no longer the untouched stub).
 */
function worked(result: KataResult, progress: KataProgress): boolean {
  let savedMs: number;
  try {
    savedMs = statSync(kataFile(result.slug)).mtimeMs;
  } catch {
    return false; // no file: nothing was worked on
  }
  if (!progress.lastActivityAt) return result.status !== 'not-started';
  return savedMs > Date.parse(progress.lastActivityAt);
}

/** Records grading runs: time spent (see RecordOptions), run counts, first/last graded, solved. */
export function recordRuns(
  results: KataResult[],
  options: RecordOptions = {},
  file = PROGRESS_FILE,
): void {
  updateProgress((kata) => {
    for (const result of results) {
      const progress = kata(result.slug);
      const at = new Date(result.gradedAt);
      const named = options.named === undefined || options.named.has(result.slug);
      if (named || worked(result, progress)) touch(progress, at);
      progress.runs += 1;
      progress.firstGradedAt ??= result.gradedAt;
      progress.lastGradedAt = result.gradedAt;
      if (result.status === 'solved') progress.solvedAt ??= result.gradedAt;
    }
  }, file);
}

/** Records a command on a kata (start, hint, solution...) as activity, for time spent. */
export function recordActivity(slug: string, file = PROGRESS_FILE): void {
  updateProgress((kata) => touch(kata(slug)), file);
}

/** "1 h 05 min", "12 min", "-" */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return ms > 0 ? '<1 min' : '-';
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}
