/**
 * What the lru-ttl-cache grader files share: caches whose onEviction calls are recorded, error
 * checks whose failures name the call, what was expected, what happened and the rule, and the
 * CPU-time budget of the complexity checks.
 */
import { expect } from 'vitest';
import { LruTtlCache, type EvictionReason } from '@kata/lru-ttl-cache';
import { cpuMs } from '../support/limits.ts';
import { promiseState } from '../support/promises.ts';

export type Event = [key: string, value: string, reason: EvictionReason];

/** A cache of string keys and values whose onEviction calls are recorded in `events`. */
export function recorded(options: { maxEntries: number; ttlMs?: number }): {
  cache: LruTtlCache<string, string>;
  events: Event[];
} {
  const events: Event[] = [];
  const cache = new LruTtlCache<string, string>({
    ...options,
    onEviction: (key, value, reason) => {
      events.push([key, value, reason]);
    },
  });
  return { cache, events };
}

/** A cache of `maxEntries` holding `keys` set in that order, each with value `<key>1`. */
export function filled(
  maxEntries: number,
  keys: string[],
  ttlMs?: number,
): { cache: LruTtlCache<string, string>; events: Event[] } {
  const result = recorded(ttlMs === undefined ? { maxEntries } : { maxEntries, ttlMs });
  for (const key of keys) result.cache.set(key, `${key}1`);
  return result;
}

/** Events in a fixed order, for operations whose order of calls is free (`clear`, `prune`). */
export const sortEvents = (events: Event[]): Event[] =>
  [...events].sort((a, b) => (a.join('|') < b.join('|') ? -1 : 1));

type ErrorClass = new (...args: never[]) => Error;

/** What a call did instead of failing with the right error, for a failure message. */
function describeOutcome(outcome: { threw: boolean; value: unknown }, verb: string): string {
  if (!outcome.threw) {
    const value = outcome.value;
    const shown = typeof value === 'object' && value !== null ? 'an object' : String(value);
    return `it ${verb} nothing (${verb === 'threw' ? 'returned' : 'fulfilled with'} ${shown})`;
  }
  const error = outcome.value;
  if (error instanceof Error) return `it ${verb} ${error.name}: ${error.message}`;
  return `it ${verb} ${String(error)}, which is not an Error`;
}

/** Whether `outcome` is an error of `type` whose message names `names`; fails with a lesson if not. */
function expectError(
  outcome: { threw: boolean; value: unknown },
  call: string,
  { type, names, rule }: { type: ErrorClass; names: string; rule: string },
  verb: 'threw' | 'rejected',
): void {
  const error = outcome.value;
  const right =
    outcome.threw && error instanceof type && new RegExp(`\\b${names}\\b`).test(error.message);
  const expected = verb === 'threw' ? 'to throw' : 'to reject with';
  expect(
    right,
    `${call}: expected ${expected} a ${type.name} whose message names ${names}, but ` +
      `${describeOutcome(outcome, verb)} [${rule}]`,
  ).toBe(true);
}

/** Expects `action` to throw a `type` whose message names `names`. */
export function expectThrows(
  action: () => unknown,
  call: string,
  expected: { type: ErrorClass; names: string; rule: string },
): void {
  let outcome: { threw: boolean; value: unknown };
  try {
    outcome = { threw: false, value: action() };
  } catch (error) {
    if (error instanceof Error && error.name === 'NotImplementedError') throw error;
    outcome = { threw: true, value: error };
  }
  expectError(outcome, call, expected, 'threw');
}

/**
 * Calls `getOrLoad` through `call` and fails with a clear message if it throws instead of
 * returning a promise (R26: `getOrLoad` reports bad arguments by rejecting).
 */
export function callGetOrLoad<T>(call: () => Promise<T>, shown: string): Promise<T> {
  let result: unknown;
  try {
    result = call();
  } catch (error) {
    if (error instanceof Error && error.name === 'NotImplementedError') throw error;
    expect.fail(
      `${shown} threw synchronously (${String(error)}); getOrLoad returns a promise, so it must ` +
        'reject instead, or a caller who writes `.catch()` never sees the error [R26]',
    );
  }
  expect(
    result instanceof Promise,
    `${shown} must return a promise, got ${typeof result} [R26]`,
  ).toBe(true);
  return result as Promise<T>;
}

/** Expects the promise of `shown` to reject with a `type` whose message names `names`. */
export async function expectRejects(
  promise: Promise<unknown>,
  shown: string,
  expected: { type: ErrorClass; names: string; rule: string },
): Promise<void> {
  const settled = await promiseState(promise);
  if (settled.state === 'pending') {
    expect.fail(`${shown}: expected to reject at once, but it is still pending [${expected.rule}]`);
  }
  const outcome =
    settled.state === 'rejected'
      ? { threw: true, value: settled.reason }
      : { threw: false, value: settled.value };
  expectError(outcome, shown, expected, 'rejected');
}

/**
 * A large-size sample of a complexity check stops early once it has cost this many times the
 * median small-size sample so far: a correct cache measures about 1 time, so only an
 * implementation that fails the check anyway is stopped, as surely failed as after every call,
 * without making the learner wait for all of them.
 */
export const CAP_FACTOR = 30;

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

/**
 * Makes the samples of one `sizeRatio` check: `sampler(size, ops, op)` is a sample of `ops` calls
 * of `op(i)`. Samples at `smallSize` run in full and record their CPU time; samples at any other
 * size stop early (checked every 64 calls) once they have cost {@link CAP_FACTOR} times the median
 * small-size sample so far. `sizeRatio` runs a small sample before each large one, so there
 * always is one to compare with.
 */
export function cappedSampler(
  smallSize: number,
): (size: number, ops: number, op: (i: number) => void) => () => void {
  const smallTimes: number[] = [];
  return (size, ops, op) => () => {
    const started = cpuMs();
    const cap = size === smallSize ? Infinity : CAP_FACTOR * Math.max(median(smallTimes), 0.05);
    for (let i = 0; i < ops; i += 1) {
      op(i);
      if ((i & 63) === 63 && cpuMs() - started > cap) break;
    }
    if (size === smallSize) smallTimes.push(cpuMs() - started);
  };
}
