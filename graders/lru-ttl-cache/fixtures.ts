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
 * CPU ms after which a timed sample of a complexity check stops early. A correct cache needs
 * 1 or 2 ms per sample; one that scans its entries needs hundreds, and is failed as surely after
 * this much as after all of it, without making the learner wait for every sample.
 */
export const SAMPLE_CAP_MS = 40;

/**
 * A timed sample: `ops` calls of `op(i)`, stopping early once the sample has used
 * {@link SAMPLE_CAP_MS} of CPU (checked every 64 calls, at both sizes alike).
 */
export function cappedSample(ops: number, op: (i: number) => void): () => void {
  return () => {
    const started = cpuMs();
    for (let i = 0; i < ops; i += 1) {
      op(i);
      if ((i & 63) === 63 && cpuMs() - started > SAMPLE_CAP_MS) return;
    }
  };
}
