/**
 * Shared by the circuit-breaker grader's stages: calling the breaker so that a synchronous throw
 * is reported as the mistake it is, running calls that settle at once, reading state and stats
 * with messages that say what was expected, and recording state changes. Not a test file.
 */
import { getEventListeners } from 'node:events';
import { expect } from 'vitest';
import {
  CircuitBreaker,
  CircuitOpenError,
  type CircuitBreakerOptions,
  type CircuitState,
} from '@kata/circuit-breaker';
import { promiseState, type PromiseState } from '../support/promises.ts';
import { expectInvalid, isNotImplemented, show, thrown } from '../support/errors.ts';
export { expectInvalid, show, thrown };

/** `breaker.call(fn)`; a synchronous throw fails the test (call reports by rejecting). */
export function callOf<T>(
  breaker: CircuitBreaker,
  fn: (signal: AbortSignal) => T | Promise<T>,
  what = 'call(fn)',
): Promise<T> {
  let promise: Promise<T>;
  try {
    promise = breaker.call(fn);
  } catch (error) {
    if (isNotImplemented(error)) throw error;
    expect.fail(
      `${what} threw synchronously (${show(error)}); call returns a promise, so every outcome, ` +
        'a refusal or a synchronous throw from fn included, must be a rejection [R2, R4, R8]',
    );
  }
  expect(
    promise instanceof Promise || typeof (promise as { then?: unknown })?.then === 'function',
    `${what} must return a promise, got ${show(promise)} [R3]`,
  ).toBe(true);
  // Observed by the tests that care; never reported as unhandled.
  Promise.resolve(promise).catch(() => undefined);
  return promise;
}

/** The error a successful fn never throws: each failing fn throws a new one. */
export class Boom extends Error {
  override readonly name = 'Boom';
}

/** A fn that succeeds at once (synchronously) with `value`. */
export const ok =
  <T = string>(value: T = 'ok' as T) =>
  (): T =>
    value;

/** A fn that fails at once (a rejected promise). */
export const fails =
  (message = 'boom') =>
  (): Promise<never> =>
    Promise.reject(new Boom(message));

/** Calls `fn` through the breaker; the call must settle at once (fn settles at once). */
export async function settleNow<T>(
  breaker: CircuitBreaker,
  fn: (signal: AbortSignal) => T | Promise<T>,
  what = 'call(fn)',
): Promise<PromiseState<T>> {
  const settled = await promiseState(callOf(breaker, fn, what));
  if (settled.state === 'rejected' && isNotImplemented(settled.reason)) throw settled.reason;
  expect(
    settled.state,
    `${what} with a fn that settles at once must settle at once, but it is still pending [R3]`,
  ).not.toBe('pending');
  return settled;
}

/**
 * Runs one call per letter of `pattern` in turn, each settling at once: `S` succeeds, `F` fails.
 * Returns how many times fn was called.
 */
export async function runPattern(breaker: CircuitBreaker, pattern: string): Promise<number> {
  let called = 0;
  for (const letter of pattern) {
    await settleNow(
      breaker,
      () => {
        called += 1;
        return letter === 'S' ? 'ok' : Promise.reject(new Boom());
      },
      `call #${called + 1} (${letter === 'S' ? 'succeeds' : 'fails'}) of "${pattern}"`,
    );
  }
  return called;
}

/** Checks `breaker.stats` against the counts given. */
export function expectStats(
  breaker: CircuitBreaker,
  expected: { calls: number; failures: number },
  why: string,
  rules: string,
): void {
  const stats = breaker.stats;
  expect({ calls: stats?.calls, failures: stats?.failures }, `stats ${why} ${rules}`).toEqual(
    expected,
  );
}

/** Checks `breaker.state`. */
export function expectState(
  breaker: CircuitBreaker,
  expected: CircuitState,
  why: string,
  rules: string,
): void {
  expect(breaker.state, `state ${why} ${rules}`).toBe(expected);
}

/** A call that must be refused: rejects with CircuitOpenError at once, without calling fn. */
export async function expectRefused(
  breaker: CircuitBreaker,
  retryAfterMs: number | undefined,
  why: string,
  rules: string,
): Promise<CircuitOpenError> {
  let called = false;
  const settled = await promiseState(
    callOf(
      breaker,
      () => {
        called = true;
        return 'ran';
      },
      `call(fn) ${why}`,
    ),
  );
  expect(called, `call(fn) ${why}: fn must not be called while the circuit refuses ${rules}`).toBe(
    false,
  );
  expect(
    settled.state,
    `call(fn) ${why} must reject at once with CircuitOpenError, got ${settled.state === 'fulfilled' ? `fulfilled with ${show(settled.value)}` : settled.state} ${rules}`,
  ).toBe('rejected');
  const reason = (settled as { reason: unknown }).reason;
  if (isNotImplemented(reason)) throw reason;
  expect(
    reason instanceof CircuitOpenError,
    `call(fn) ${why} must reject with a CircuitOpenError, got ${show(reason)} ${rules}`,
  ).toBe(true);
  const error = reason as CircuitOpenError;
  if (retryAfterMs !== undefined) {
    expect(error.retryAfterMs, `retryAfterMs of the CircuitOpenError ${why} ${rules}`).toBe(
      retryAfterMs,
    );
  }
  return error;
}

/** A breaker whose state changes are recorded as `from->to` strings. */
export function recordingBreaker(options: CircuitBreakerOptions = {}): {
  breaker: CircuitBreaker;
  changes: string[];
} {
  const changes: string[] = [];
  const breaker = new CircuitBreaker({
    ...options,
    onStateChange: (from, to) => {
      changes.push(`${from}->${to}`);
      options.onStateChange?.(from, to);
    },
  });
  return { breaker, changes };
}

/** Opens a closed breaker with `minimumCalls` failing calls (options must say minimumCalls). */
export async function openIt(breaker: CircuitBreaker, minimumCalls: number): Promise<void> {
  await runPattern(breaker, 'F'.repeat(minimumCalls));
  expect(
    breaker.state,
    `state after ${minimumCalls} failed calls with minimumCalls ${minimumCalls} [R5]`,
  ).toBe('open');
}

export const abortListeners = (signal: AbortSignal): number =>
  getEventListeners(signal, 'abort').length;

/** A promise with its settle functions, for a fn the test settles when it chooses. */
export function controlled<T = string>(): {
  fn: (signal: AbortSignal) => Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
  signal: () => AbortSignal | undefined;
  calls: () => number;
} {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  let seen: AbortSignal | undefined;
  let calls = 0;
  return {
    fn: (signal) => {
      calls += 1;
      seen = signal;
      return promise;
    },
    resolve,
    reject,
    signal: () => seen,
    calls: () => calls,
  };
}
