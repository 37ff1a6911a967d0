/**
 * Reading and writing what the learner's tools keep in `.kata/` (results, progress, interview
 * history, test lists). Everything read is checked against a schema (valibot): a file that is not
 * JSON, or is JSON of the wrong shape, is never half-used. It is moved to `.kata/backups/state/`
 * first, the learner is told in one line where it went, and the caller rebuilds what it can.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as v from 'valibot';
import { pcErr } from './colour.ts';
import { STATE_DIR, shown } from './paths.ts';

export const STATE_BACKUPS_DIR = path.join(STATE_DIR, 'backups', 'state');

export interface ReadStateOptions {
  /** What happens instead, for the note: e.g. "progress rebuilt from the last grading results". */
  instead?: string;
  /** A cache the tools rebuild by themselves: drop a bad one without a note or a backup. */
  quiet?: boolean;
}

/**
 * The file's content if it matches `schema`; undefined if it is missing or cannot be used (then
 * backed up, with a note on stderr, unless `quiet`).
 */
export function readState<const Schema extends v.GenericSchema>(
  file: string,
  schema: Schema,
  options: ReadStateOptions = {},
): v.InferOutput<Schema> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined; // missing: nothing recorded yet
  }
  let problem: string;
  try {
    const parsed = v.safeParse(schema, JSON.parse(text));
    if (parsed.success) return parsed.output;
    problem = describeIssue(parsed.issues[0]);
  } catch (error) {
    problem = `not JSON (${error instanceof Error ? error.message : String(error)})`;
  }
  if (options.quiet) return undefined;
  const backup = backUp(file);
  console.error(
    pcErr.dim(
      `note: ${shown(file)} could not be used (${problem})` +
        (backup ? `; kept as ${shown(backup)}` : '') +
        (options.instead ? `; ${options.instead}` : ''),
    ),
  );
  return undefined;
}

function describeIssue(issue: v.BaseIssue<unknown> | undefined): string {
  if (!issue) return 'wrong shape';
  const where = v.getDotPath(issue);
  return `${where ? `${where}: ` : ''}${issue.message}`;
}

/** Moves an unusable file aside under a timestamped name; undefined if even that fails. */
function backUp(file: string): string | undefined {
  try {
    mkdirSync(STATE_BACKUPS_DIR, { recursive: true });
    const stamp = new Date().toISOString().replace(/:/g, '-');
    const target = path.join(STATE_BACKUPS_DIR, `${stamp}-${path.basename(file)}`);
    renameSync(file, target);
    return target;
  } catch {
    return undefined;
  }
}

/** Writes JSON atomically: a reader at the same moment never sees half a file. */
export function writeJsonAtomic(file: string, data: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(data, null, 2)}\n`);
  renameSync(temporary, file);
}
