/**
 * What the token-bucket grader files share: tolerant comparisons for refilled tokens and waits,
 * promise-state and error checks whose failures name the call, what was expected, what happened
 * and the rule, and the "clean" refill cases the reads-change-nothing rule (R4) is graded on.
 */
import { getEventListeners } from 'node:events';
import { expect } from 'vitest';
import type { TokenBucket } from '@kata/token-bucket';
import { promiseState } from '../support/promises.ts';

/**
 * Tolerance for refilled tokens. Implementations may do the arithmetic in any order, and one that
 * stores a timestamp (`Date.now()` is about 1.8e12 ms, whose float resolution is 2.4e-4 ms) is a
 * few millionths of a token off at high rates: correct, and accepted. A real mistake is off by at
 * least a whole ms of refill.
 */
export const TOKEN_TOLERANCE = 1e-5;

export const closeTo = (actual: number, expected: number): boolean =>
  Math.abs(actual - expected) <= TOKEN_TOLERANCE * Math.max(1, Math.abs(expected));

/** `bucket.tokens` is `expected`, within float error. `what` names the call and the situation. */
export function expectTokens(
  bucket: TokenBucket,
  expected: number,
  what: string,
  rule: string,
): void {
  const actual = bucket.tokens;
  expect(
    closeTo(actual, expected),
    `tokens ${what}: expected ≈ ${expected}, got ${actual} [${rule}]`,
  ).toBe(true);
}

/**
 * A wait in ms may be exact (fractional) or rounded up to a whole ms, and float error (up to
 * 1e-3 ms, for an implementation that stores timestamps) may push it a hair either way, so
 * anything from just under `exactMs` up to the next whole ms is accepted.
 */
export function expectWaitMs(actual: number, exactMs: number, what: string, rule: string): void {
  const ok = actual >= exactMs - 1e-3 && actual <= Math.ceil(exactMs + 1e-3);
  expect(
    ok,
    `${what}: expected ${exactMs} ms (or rounded up to a whole ms), got ${actual} [${rule}]`,
  ).toBe(true);
}

/** A waiter resolves within this many ms of its tokens being there (timers fire on whole ms). */
export const SLACK_MS = 1;

/**
 * Calls `take()` and fails with a clear message if it throws instead of returning a promise
 * (R11: `take` reports every error by rejecting).
 */
export function callTake(call: () => Promise<void>, input: string): Promise<void> {
  let result: unknown;
  try {
    result = call();
  } catch (error) {
    if (error instanceof Error && error.name === 'NotImplementedError') throw error;
    expect.fail(
      `${input} threw synchronously (${String(error)}); take() returns a promise, so it must ` +
        'reject instead, or callers who write `.catch()` never see the error [R11]',
    );
  }
  expect(
    result instanceof Promise,
    `${input} must return a promise, got ${typeof result} [R11]`,
  ).toBe(true);
  return result as Promise<void>;
}

/**
 * Checks a promise's state without waiting for it; `why` names the call, the situation and the
 * rule. Returns the rejection reason, if any.
 */
export async function expectState(
  promise: Promise<unknown>,
  expected: 'pending' | 'fulfilled' | 'rejected',
  why: string,
): Promise<unknown> {
  const settled = await promiseState(promise);
  const detail = settled.state === 'rejected' ? ` with ${String(settled.reason)}` : '';
  expect(settled.state, `${why}: expected ${expected}, but it is ${settled.state}${detail}`).toBe(
    expected,
  );
  return settled.state === 'rejected' ? settled.reason : undefined;
}

export const abortListeners = (signal: AbortSignal): number =>
  getEventListeners(signal, 'abort').length;

type ErrorClass = new (...args: never[]) => Error;

/** "a RangeError" / "a RangeError or a TypeError". */
const describeClasses = (classes: readonly ErrorClass[]): string =>
  classes.map((type) => `a ${type.name}`).join(' or ');

/** What a call did instead of throwing the right error, for a failure message. */
function describeOutcome(outcome: { threw: boolean; value: unknown }): string {
  if (!outcome.threw) {
    const value = outcome.value;
    const shown = typeof value === 'function' ? 'a function' : String(value);
    return `it threw nothing (returned ${shown})`;
  }
  const error = outcome.value;
  if (error instanceof Error) return `it threw ${error.name}: ${error.message}`;
  return `it threw ${String(error)}, which is not an Error`;
}

/**
 * Expects `action` to throw an error of one of `classes` whose message names `names` (an option
 * or argument). `call` is how the learner would write the call, e.g.
 * `new TokenBucket({ capacity: 0, refillPerSecond: 1 })`.
 */
export function expectThrows(
  action: () => unknown,
  call: string,
  expected: { classes: readonly ErrorClass[]; names: string; rule: string },
): void {
  let outcome: { threw: boolean; value: unknown };
  try {
    outcome = { threw: false, value: action() };
  } catch (error) {
    if (error instanceof Error && error.name === 'NotImplementedError') throw error;
    outcome = { threw: true, value: error };
  }
  expectError(outcome, call, expected);
}

/** {@link expectThrows} for a rejection already observed (`reason`), or a fulfilment. */
export function expectError(
  outcome: { threw: boolean; value: unknown },
  call: string,
  { classes, names, rule }: { classes: readonly ErrorClass[]; names: string; rule: string },
): void {
  const error = outcome.value;
  const right =
    outcome.threw &&
    classes.some((type) => error instanceof type) &&
    new RegExp(`\\b${names}\\b`).test((error as Error).message);
  expect(
    right,
    `${call}: expected ${describeClasses(classes)} whose message names ${names}, but ` +
      `${describeOutcome(outcome)} [${rule}]`,
  ).toBe(true);
}

/**
 * A refill case in which `count` tokens, from an empty bucket, are there at a whole ms (`dueMs`),
 * and every reasonable way to do the arithmetic agrees: at `dueMs` the tokens are exactly `count`
 * (so `tryTake(count)` must succeed) and one ms earlier they are short. Grading R4 on these cases
 * asks nothing of an implementation but that reads change nothing.
 */
export interface CleanCase {
  refillPerSecond: number;
  count: number;
  dueMs: number;
}

/** The ways an implementation may compute the tokens earned in `ms`, or the ms until `count`. */
const earned = [
  (ms: number, rate: number) => (ms * rate) / 1000,
  (ms: number, rate: number) => ms * (rate / 1000),
  (ms: number, rate: number) => (ms / 1000) * rate,
  (ms: number, rate: number) => ms / (1000 / rate),
];
const dueAt = [
  (count: number, rate: number) => (count * 1000) / rate,
  (count: number, rate: number) => count / (rate / 1000),
  (count: number, rate: number) => (count / rate) * 1000,
];

export const CLEAN_CASES: readonly CleanCase[] = (() => {
  const cases: CleanCase[] = [];
  for (const refillPerSecond of [0.25, 0.5, 0.8, 1, 2, 2.5, 4, 5, 8, 10, 20, 25, 40]) {
    for (const count of [1, 2, 3, 5]) {
      const dueMs = (count * 1000) / refillPerSecond;
      if (!Number.isInteger(dueMs) || dueMs < 50 || dueMs > 20_000) continue;
      const exact =
        earned.every((f) => f(dueMs, refillPerSecond) === count) &&
        earned.every((f) => f(dueMs - 1, refillPerSecond) < count) &&
        dueAt.every((f) => f(count, refillPerSecond) === dueMs);
      if (exact) cases.push({ refillPerSecond, count, dueMs });
    }
  }
  return cases;
})();
