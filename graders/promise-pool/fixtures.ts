/**
 * Shared by the promise-pool grader's stages: a mapper whose calls the test settles one by one
 * (recording how many run at once), letting the pool react, looking at a promise without waiting
 * for it, and checking errors. Not a test file.
 */
import { getEventListeners } from 'node:events';
import { expect } from 'vitest';
import { mapConcurrent, type PoolOptions, type TaskContext } from '@kata/promise-pool';
import { deferred, flushMicrotasks, promiseState } from '../support/promises.ts';

// Captured when the grader loads, before any test fakes the clock: letting the pool react takes
// real turns of the event loop, and Node reports unhandled rejections only once a task ends.
const realSetImmediate = globalThis.setImmediate;

/** One turn of the event loop: every promise callback queued before it has run. */
export const turn = (): Promise<void> => new Promise((resolve) => realSetImmediate(resolve));

// A stub's mapConcurrent rejects with NotImplementedError: noticed here, so that the test fails
// with it (and the kata reads "not started") rather than with whatever it checks next.
let notImplemented: unknown;
const rethrowNotImplemented = (): void => {
  if (notImplemented !== undefined) throw notImplemented;
};

/** Lets the pool react to what just happened: a few turns of the event loop. */
export async function settleDown(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i += 1) await turn();
  rethrowNotImplemented();
}

/** Promise callbacks only, no timer or turn of the event loop: "at once". */
export async function microtasks(): Promise<void> {
  await flushMicrotasks(100);
  rethrowNotImplemented();
}

export function isNotImplemented(error: unknown): boolean {
  return error instanceof Error && error.name === 'NotImplementedError';
}

/** One call of a {@link controlled} mapper. */
export interface Call<T> {
  item: T;
  context: TaskContext;
  /** Whether the test has settled it. */
  settled: boolean;
  resolve(value?: unknown): void;
  reject(error: unknown): void;
}

/**
 * A mapper whose calls wait until the test settles them. `calls` lists them in call order;
 * `running` is how many the test has not settled yet, `peak` the most at once.
 */
export function controlled<T>() {
  const calls: Call<T>[] = [];
  const state = { running: 0, peak: 0 };
  const mapper = (item: T, context: TaskContext): Promise<unknown> => {
    const call = deferred<unknown>();
    state.running += 1;
    state.peak = Math.max(state.peak, state.running);
    const entry: Call<T> = {
      item,
      context,
      settled: false,
      resolve(value = `r${String(item)}`) {
        if (entry.settled) return;
        entry.settled = true;
        state.running -= 1;
        call.resolve(value);
      },
      reject(error) {
        if (entry.settled) return;
        entry.settled = true;
        state.running -= 1;
        call.reject(error);
      },
    };
    calls.push(entry);
    return call.promise;
  };
  const byItem = (item: T): Call<T> => {
    rethrowNotImplemented();
    const call = calls.find((entry) => entry.item === item);
    if (!call) expect.fail(`the mapper was never called for item ${String(item)}`);
    return call;
  };
  return {
    mapper,
    calls,
    state,
    byItem,
    started: (): T[] => calls.map((call) => call.item),
  };
}

/** Calls `mapConcurrent`; a synchronous throw fails the test (it reports by rejecting) [R1, R6]. */
export function callPool<T, R>(
  input: Iterable<T> | AsyncIterable<T>,
  mapper: (item: T, context: TaskContext) => R | Promise<R>,
  options: PoolOptions,
  rule = '[R6]',
): Promise<R[]> {
  notImplemented = undefined;
  try {
    const result = mapConcurrent(input, mapper, options);
    // Observed at once, so that a rejection the test looks at later is never "unhandled".
    result.catch((error: unknown) => {
      if (isNotImplemented(error)) notImplemented = error;
    });
    return result;
  } catch (error) {
    if (isNotImplemented(error)) throw error;
    expect.fail(
      `mapConcurrent threw synchronously (${show(error)}); it returns a promise, so it must ` +
        `reject instead ${rule}`,
    );
  }
}

/** The state of a promise once pending callbacks have run, without waiting for it. */
export async function stateNow<T>(promise: Promise<T>) {
  const state = await promiseState(promise);
  if (state.state === 'rejected' && isNotImplemented(state.reason)) throw state.reason;
  return state;
}

/** Waits until `promise` settles, at most `turns` turns of the event loop; its state then. */
async function settled<T>(promise: Promise<T>, turns = 200) {
  let state = await stateNow(promise);
  for (let i = 0; i < turns && state.state === 'pending'; i += 1) {
    await turn();
    state = await stateNow(promise);
  }
  return state;
}

/** The reason `promise` rejected with, failing the test if it does not reject within a few hundred turns. */
export async function rejection(promise: Promise<unknown>, what: string): Promise<unknown> {
  const state = await settled(promise);
  expect(state.state, `${what}: expected a rejection, the promise is ${state.state}`).toBe(
    'rejected',
  );
  return (state as { reason: unknown }).reason;
}

/** The value `promise` fulfilled with, failing the test if it does not fulfil within a few hundred turns. */
export async function fulfilment<T>(promise: Promise<T>, what: string): Promise<T> {
  const state = await settled(promise);
  if (state.state === 'rejected') {
    expect.fail(`${what}: expected to fulfil, it rejected with ${show(state.reason)}`);
  }
  expect(state.state, `${what}: expected to fulfil, it is still pending`).toBe('fulfilled');
  return (state as { value: T }).value;
}

/** Any value as text for a failure message. */
export function show(value: unknown): string {
  if (value instanceof AggregateError) {
    return `AggregateError [${value.errors.map(show).join(', ')}]`;
  }
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (typeof value === 'symbol' || typeof value === 'function') return value.toString();
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

export const abortListeners = (signal: AbortSignal): number =>
  getEventListeners(signal, 'abort').length;

/** Runs `body`, then lets Node report unhandled rejections, and returns the ones it reported. */
export async function unhandledRejectionsDuring(body: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => {
    seen.push(reason);
  };
  process.on('unhandledRejection', listener);
  try {
    await body();
    await settleDown();
  } finally {
    process.off('unhandledRejection', listener);
  }
  return seen;
}

/** Checks that `error` is a `type` whose message names `concurrency`. */
export function expectInvalidConcurrency(
  error: unknown,
  type: typeof RangeError | typeof TypeError,
  what: string,
): void {
  if (isNotImplemented(error)) throw error;
  expect(
    error instanceof type,
    `${what} must give a ${type.name}, got ${error === undefined ? 'nothing' : show(error)} [R1]`,
  ).toBe(true);
  expect((error as Error).message, `${what}: the message must name concurrency [R1]`).toContain(
    'concurrency',
  );
}

/** Values of `concurrency` out of range, and of the wrong type. */
export const OUT_OF_RANGE = [0, -1, 1.5, Number.NaN, -Infinity];
export const NOT_A_NUMBER: unknown[] = ['2', true, null];

/** Errors the tests make mappers fail with, told apart by message. */
export const boom = (what: string | number): Error => new Error(`boom ${String(what)}`);

/** An input that yields `items`, then fails with `error` (an async generator when `async`). */
export function failingInput<T>(
  items: readonly T[],
  error: unknown,
  async = false,
): Iterable<T> | AsyncIterable<T> {
  function* sync(): Generator<T> {
    yield* items;
    throw error;
  }
  async function* asynchronous(): AsyncGenerator<T> {
    yield* items;
    throw error;
  }
  return async ? asynchronous() : sync();
}
