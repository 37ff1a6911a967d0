/**
 * The complete list of a kata's tests, whatever the learner's code does. A run cut short (code
 * that loops, a file that does not load) only reports the tests it reached, and totals must never
 * come from those: `0/2 tests` for a kata of 86 misleads. Every complete run leaves its list in
 * `.kata/tests/<slug>.json`, keyed by the grader files it came from; when a run is cut short and
 * no list matches the graders as they are, one is collected from the reference, with every test
 * filtered out so none runs.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import * as v from 'valibot';
import { GRADERS_DIR, STATE_DIR } from './paths.ts';
import type { GradingEvent } from './reporter.ts';
import { readState, writeJsonAtomic } from './state.ts';
import { startVitest } from './start-vitest.mjs';

export interface ListedTest {
  id: string;
  stage: string;
  name: string;
}

const ListFile = v.object({
  version: v.literal(1),
  key: v.string(),
  tests: v.array(v.object({ id: v.string(), stage: v.string(), name: v.string() })),
});

const listFile = (slug: string): string => path.join(STATE_DIR, 'tests', `${slug}.json`);

/** What the list depends on: the grader's test files, by name and content. */
export function graderKey(slug: string): string {
  const hash = createHash('sha1');
  const dir = path.join(GRADERS_DIR, slug);
  for (const name of readdirSync(dir)
    .filter((file) => file.endsWith('.ts'))
    .sort()) {
    hash
      .update(`${name}\0`)
      .update(readFileSync(path.join(dir, name)))
      .update('\0');
  }
  return hash.digest('hex');
}

/** The tests the events list, in order, each once. */
export function collectedTests(events: GradingEvent[]): ListedTest[] {
  const seen = new Map<string, ListedTest>();
  for (const event of events) {
    if (event.type !== 'collected') continue;
    for (const test of event.tests) if (!seen.has(test.id)) seen.set(test.id, test);
  }
  return [...seen.values()];
}

/** Keeps the list of a run that reached every test file, for runs that will not. */
export function rememberTestList(slug: string, tests: ListedTest[]): void {
  const key = graderKey(slug);
  const known = readState(listFile(slug), ListFile, { quiet: true });
  if (known?.key === key && known.tests.length === tests.length) return;
  writeJsonAtomic(listFile(slug), { version: 1, key, tests });
}

/**
 * The kata's complete test list: remembered, or collected now from the reference (a few seconds,
 * bounded by `timeoutMs`). Undefined if neither works (a grader that does not load).
 */
export async function testList(
  slug: string,
  timeoutMs = 30_000,
): Promise<ListedTest[] | undefined> {
  const key = graderKey(slug);
  const known = readState(listFile(slug), ListFile, { quiet: true });
  if (known?.key === key) return known.tests;

  const vitest = startVitest({ slug, target: 'solutions', listOnly: true });
  const timer = setTimeout(vitest.kill, timeoutMs);
  try {
    await vitest.exited;
    const events = readFileSync(vitest.reportFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as GradingEvent);
    const tests = collectedTests(events);
    if (tests.length === 0) return undefined;
    writeJsonAtomic(listFile(slug), { version: 1, key, tests });
    return tests;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
    rmSync(vitest.scratch, { recursive: true, force: true });
  }
}
