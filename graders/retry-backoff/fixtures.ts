/**
 * Shared fixtures of the retry-backoff grader (KATAS.md §2), one test file per stage beside it.
 * Delays are checked as data: the fake clock stamps each attempt with the time it started and
 * onRetry reports every delay, so a failure shows the schedule that was expected next to the one
 * that ran. Every failure message names the call, what was expected, what happened and the rule
 * (`[R14]`), the label of the README's sentence to reread.
 */
import { getEventListeners } from 'node:events';
import { expect, vi } from 'vitest';
import { retry, RetryError, type AttemptContext, type RetryOptions } from '@kata/retry-backoff';
import { advance } from '../support/clock.ts';
import { flushMicrotasks, type PromiseState } from '../support/promises.ts';

// Captured before any test fakes the clock: the unhandled-rejection checks need one real
// macrotask hop, because Node reports an unhandled rejection only once the current task ends.
const realSetImmediate = globalThis.setImmediate;

/** Delays are not rounded, but may differ from the formula by floating-point noise. */
export const DIGITS = 6;

/** One attempt of a scripted operation. */
export type Step =
  | { value: unknown }
  | { reject: unknown }
  | { throw: unknown }
  | { settle: Promise<unknown> }
  | { hang: true };

export interface Scripted {
  (context: AttemptContext): unknown;
  /** The context each attempt received. */
  contexts: AttemptContext[];
  /** When each attempt started, in fake ms after the operation was created. */
  times: number[];
}

/** An operation that plays `steps` attempt by attempt (then never settles), recording each call. */
export function scripted(...steps: Step[]): Scripted {
  const createdAt = Date.now();
  const operation = ((context: AttemptContext) => {
    operation.contexts.push(context);
    operation.times.push(Date.now() - createdAt);
    const step = steps[operation.contexts.length - 1] ?? { hang: true };
    if ('value' in step) return Promise.resolve(step.value);
    // Operations may reject with anything, not only Errors: the contract says `unknown`.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    if ('reject' in step) return Promise.reject(step.reject);
    if ('throw' in step) throw step.throw;
    if ('settle' in step) return step.settle;
    return new Promise(() => {});
  }) as Scripted;
  operation.contexts = [];
  operation.times = [];
  return operation;
}

/** `n` distinct errors, `failure 1` ... `failure n`. */
export function failures(n: number): Error[] {
  return Array.from({ length: n }, (_, i) => new Error(`failure ${i + 1}`));
}

/** An error carrying a server's Retry-After, as the contract reads it. */
export function withRetryAfter(message: string, retryAfterMs: unknown): Error {
  return Object.assign(new Error(message), { retryAfterMs });
}

export interface Run<T> {
  readonly state: PromiseState<T>;
}

export function isNotImplemented(error: unknown): boolean {
  return error instanceof Error && error.name === 'NotImplementedError';
}

/** A short readable form of any value, for failure messages. */
export function describeValue(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

export function describeState(state: PromiseState<unknown>): string {
  if (state.state === 'pending') return 'it is still pending';
  if (state.state === 'fulfilled') return `it resolved with ${describeValue(state.value)}`;
  return `it rejected with ${describeValue(state.reason)}`;
}

/** `{ retries: -1, signal: 'abort' }`: options as a learner would read them in a message. */
export function describeOptions(options: RetryOptions | undefined): string {
  if (options === undefined) return '';
  const entries = Object.entries(options).map(([key, value]) => {
    if (typeof value === 'function') return `${key}: [function]`;
    if (value instanceof AbortSignal) return `${key}: <AbortSignal>`;
    if (typeof value === 'string') return `${key}: '${value}'`;
    if (typeof value === 'object' && value !== null) return `${key}: ${JSON.stringify(value)}`;
    return `${key}: ${String(value)}`;
  });
  return entries.length === 0 ? '{}' : `{ ${entries.join(', ')} }`;
}

/**
 * Calls `retry` and watches its promise from the first moment (so a rejection is never reported
 * as unhandled) without ever awaiting it: a promise that never settles must not hang the grader.
 */
export async function start<T>(
  operation: (context: AttemptContext) => T | Promise<T>,
  options?: RetryOptions,
): Promise<Run<T>> {
  let state: PromiseState<T> = { state: 'pending' };
  let promise: Promise<T>;
  try {
    promise = retry(operation, options);
  } catch (error) {
    if (isNotImplemented(error)) throw error;
    throw new Error(
      `retry(operation, ${describeOptions(options)}) threw ${describeValue(error)} synchronously: ` +
        'retry returns a promise and reports everything by settling it [R29]',
      { cause: error },
    );
  }
  promise.then(
    (value) => {
      state = { state: 'fulfilled', value };
    },
    (reason: unknown) => {
      state = { state: 'rejected', reason };
    },
  );
  await flushMicrotasks();
  // An implementation may defer its first attempt to a zero-delay timer; run those too.
  if (vi.isFakeTimers()) await advance(0);
  const now = state as PromiseState<T>; // assigned by the callbacks above
  if (now.state === 'rejected' && isNotImplemented(now.reason)) throw now.reason;
  return {
    get state() {
      return state;
    },
  };
}

/** The value `run` resolved with; fails with `why` (which names the rule) and what happened instead. */
export function resolvedValue<T>(run: Run<T>, why: string): T {
  const { state } = run;
  if (state.state === 'rejected' && isNotImplemented(state.reason)) throw state.reason;
  expect(state.state, `${why}, but ${describeState(state)}`).toBe('fulfilled');
  return (state as { value: T }).value;
}

/** The reason `run` rejected with; fails with `why` (which names the rule) and what happened instead. */
export function rejection(run: Run<unknown>, why: string): unknown {
  const { state } = run;
  if (state.state === 'rejected' && isNotImplemented(state.reason)) throw state.reason;
  expect(state.state, `${why}, but ${describeState(state)}`).toBe('rejected');
  return (state as { reason: unknown }).reason;
}

/** The RetryError `run` rejected with; fails with `why` (which names the rule) and what happened instead. */
export function retryErrorOf(run: Run<unknown>, why: string): RetryError {
  const reason = rejection(run, why);
  expect(
    reason instanceof RetryError,
    `${why}, but it rejected with ${describeValue(reason)}`,
  ).toBe(true);
  return reason as RetryError;
}

/**
 * Runs the fake clock one timer at a time until `run` settles, so that what it still holds is
 * counted at the moment it settled, before a timer it left behind could fire and vanish. Stops
 * after `limitMs` of fake time, when no timer is left, or after `maxTimers` timers (a poll).
 */
export async function runUntilSettled(
  run: Run<unknown>,
  { limitMs = 60_000, maxTimers = 1000 } = {},
): Promise<void> {
  const end = Date.now() + limitMs;
  await flushMicrotasks();
  for (let fired = 0; fired < maxTimers; fired += 1) {
    if (run.state.state !== 'pending' || Date.now() >= end || vi.getTimerCount() === 0) return;
    await vi.advanceTimersToNextTimerAsync();
    await flushMicrotasks();
  }
}

/** Abort listeners currently registered on `signal`, however they were added. */
export function abortListeners(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}

/**
 * Checks what `retry` holds at one moment: at most one pending timer [R34] and at most one abort
 * listener on the caller's signal [R35] while it runs; none of either once it settled [R36, R37].
 */
export function expectHeld(
  moment: string,
  signal: AbortSignal | undefined,
  limits: { timers: number; listeners?: number },
): void {
  const timers = vi.getTimerCount();
  expect(
    timers <= limits.timers,
    `${moment}: ${timers} timers pending, expected at most ${limits.timers} ` +
      (limits.timers === 0
        ? '(once retry settled, none of its timers is left) [R36]'
        : '(one at a time per call: the wait, or the running attempt’s time limit) [R34]'),
  ).toBe(true);
  if (signal === undefined || limits.listeners === undefined) return;
  const listeners = abortListeners(signal);
  expect(
    listeners <= limits.listeners,
    `${moment}: ${listeners} abort listeners on the caller's signal, expected at most ${limits.listeners} ` +
      (limits.listeners === 0
        ? '(once retry settled, none of its listeners is left on the caller’s signal) [R37]'
        : '(one at a time: a listener added for an attempt or a wait goes when it ends, not when retry settles) [R35]'),
  ).toBe(true);
}

/** Runs `body`, then lets Node report unhandled rejections, and returns the ones it reported. */
export async function unhandledRejectionsDuring(body: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => {
    seen.push(reason);
  };
  process.on('unhandledRejection', listener);
  try {
    await body();
    await new Promise((resolve) => realSetImmediate(resolve));
    await new Promise((resolve) => realSetImmediate(resolve));
  } finally {
    process.off('unhandledRejection', listener);
  }
  return seen;
}

/** What a synchronous call threw, or `{ returned }` when it did not throw. */
export function thrownBy(call: () => unknown): { thrown: unknown } | { returned: unknown } {
  try {
    return { returned: call() };
  } catch (error) {
    if (isNotImplemented(error)) throw error;
    return { thrown: error };
  }
}

type ErrorClass = typeof RangeError | typeof TypeError;

/**
 * Checks that `error` is one of `classes` and that its message names `option`; `what` is the call
 * and `rule` the label, both for the failure message.
 */
export function expectOptionError(
  error: unknown,
  classes: readonly ErrorClass[],
  option: string,
  what: string,
  rule: string,
): void {
  const expected = classes.map((c) => c.name).join(' or ');
  expect(
    classes.some((c) => error instanceof c),
    `${what}: expected a ${expected} naming ${option} ${rule}, got ${describeValue(error)}`,
  ).toBe(true);
  const message = error instanceof Error ? error.message : '';
  expect(
    message.includes(option),
    `${what}: the ${expected}'s message must name the option "${option}" ${rule}; it says ${JSON.stringify(message)}`,
  ).toBe(true);
}

/**
 * Calls `backoffDelay`-like `call` and checks it throws one of `classes` naming `option`,
 * synchronously.
 */
export function expectThrows(
  call: () => unknown,
  classes: readonly ErrorClass[],
  option: string,
  what: string,
  rule: string,
): void {
  const outcome = thrownBy(call);
  if ('returned' in outcome) {
    expect.fail(
      `${what}: expected it to throw a ${classes.map((c) => c.name).join(' or ')} naming ${option} ${rule}, ` +
        `but it returned ${describeValue(outcome.returned)}`,
    );
  }
  expectOptionError(outcome.thrown, classes, option, what, rule);
}

/**
 * Calls `retry` with invalid options and returns why it rejected. Fails, naming the rule, if it
 * threw synchronously [R29], resolved or stayed pending, or called the operation [R28].
 */
export async function invalidRetry(
  operation: unknown,
  options: RetryOptions | undefined,
  what: string,
): Promise<unknown> {
  const calls = { count: 0 };
  const counted =
    typeof operation === 'function'
      ? (context: AttemptContext): unknown => {
          calls.count += 1;
          return (operation as (context: AttemptContext) => unknown)(context);
        }
      : operation;
  let promise: Promise<unknown>;
  try {
    promise = retry(counted as () => unknown, options);
  } catch (error) {
    if (isNotImplemented(error)) throw error;
    expect.fail(
      `${what} threw ${describeValue(error)} synchronously: retry reports bad input by rejecting ` +
        'the promise it returns, never by throwing [R29]',
    );
  }
  let state: PromiseState<unknown> = { state: 'pending' };
  promise.then(
    (value) => {
      state = { state: 'fulfilled', value };
    },
    (reason: unknown) => {
      state = { state: 'rejected', reason };
    },
  );
  await flushMicrotasks();
  if (vi.isFakeTimers()) await advance(0);
  const settled = state as PromiseState<unknown>;
  if (settled.state === 'rejected' && isNotImplemented(settled.reason)) throw settled.reason;
  expect(
    calls.count,
    `${what}: invalid options, yet the operation was called ${calls.count} time(s); ` +
      'retry validates every option before calling it [R28]',
  ).toBe(0);
  expect(
    settled.state,
    `${what}: expected a rejection for invalid options, but ${describeState(settled)}`,
  ).toBe('rejected');
  return (settled as { reason: unknown }).reason;
}
