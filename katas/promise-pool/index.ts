// Concurrency-limited promise pool: implement mapConcurrent, mapConcurrentStream and createLimiter (see README.md).
import { NotImplementedError } from '../not-implemented.ts';

/** Options of {@link mapConcurrent}. */
export interface PoolOptions {
  /**
   * Most mapper calls running at once: an integer >= 1, or `Infinity` for no limit (every item
   * starts at once, so the whole input is read at once).
   * @throws {RangeError} (a rejection, for {@link mapConcurrent}) when not an integer >= 1 nor Infinity
   * @throws {TypeError} when not a number
   */
  concurrency: number;
  /**
   * `true`: reject with the first error as soon as it happens, start nothing more, and abort the
   * running calls' context signals. `false`: map every item, then reject with an `AggregateError`
   * of every error in input order (or fulfil if none failed). @default true
   */
  stopOnError?: boolean;
  /**
   * Aborting it rejects at once with `signal.reason`, starts nothing more and aborts the running
   * calls' context signals. Already aborted: rejects without calling the mapper.
   */
  signal?: AbortSignal;
}

/** Options of {@link mapConcurrentStream}. */
export interface StreamOptions extends PoolOptions {
  /**
   * `true`: yield in input order (a finished result waits for the earlier ones). `false`: yield in
   * completion order. @default true
   */
  ordered?: boolean;
}

/** The second argument of every mapper call. */
export interface TaskContext {
  /** The item's 0-based position in the input. */
  index: number;
  /**
   * Aborted when the pool stops early: a failure with `stopOnError: true`, the caller's signal, or
   * a stream the consumer closed. Never aborted while the pool runs normally.
   */
  signal: AbortSignal;
}

/** Maps one item; may return a value or a promise, and may throw. */
export type Mapper<T, R> = (item: T, context: TaskContext) => R | Promise<R>;

/** A p-limit style limiter: `await limit(fn, ...args)` runs `fn(...args)` when a slot is free. */
export interface Limiter {
  /**
   * Calls `fn(...args)` once fewer than `concurrency` of this limiter's calls run (waiting
   * first-in, first-out otherwise) and settles as it does. A synchronous throw of `fn` rejects the
   * returned promise.
   */
  <A extends unknown[], R>(fn: (...args: A) => R | Promise<R>, ...args: A): Promise<R>;
  /** Calls whose `fn` has started and not settled. */
  readonly activeCount: number;
  /** Calls waiting for a slot. */
  readonly pendingCount: number;
  /**
   * Rejects every waiting call with `reason` (by default an error whose `name` is
   * `'AbortError'`), never calling their `fn`. Running calls go on.
   */
  clearQueue(reason?: unknown): void;
}

/**
 * Maps every item of `input` with `mapper`, at most `options.concurrency` calls at once, starting
 * the next item as soon as any call settles, and fulfils with the results in input order.
 * The input is read lazily: an item is pulled only when a slot is free.
 *
 * @returns the results in input order
 * @throws {RangeError | TypeError} (as a rejection) for an invalid `concurrency`
 * @throws (as a rejection) the first error with `stopOnError: true`; an `AggregateError` of every
 *   error in input order with `false`; the input's own error if its iterator throws;
 *   `signal.reason` when the signal aborts
 */
export async function mapConcurrent<T, R>(
  input: Iterable<T> | AsyncIterable<T>,
  mapper: Mapper<T, R>,
  options: PoolOptions,
): Promise<R[]> {
  // TODO: start up to `concurrency` calls, and start the next item each time one settles.
  throw new NotImplementedError(
    `mapConcurrent(${typeof input}, ${typeof mapper}, ${typeof options})`,
  );
}

/**
 * As {@link mapConcurrent}, but yields each result as soon as it can (in input order, or in
 * completion order with `ordered: false`), with backpressure: while the consumer does not pull, at
 * most `concurrency` calls run and at most `concurrency` finished results wait. Closing it early
 * (`break` in `for await`) aborts the running calls' signals and closes the input.
 *
 * @throws {RangeError | TypeError} at the call or from the first `next()`, for an invalid `concurrency`
 * @throws from `next()`: the first error with `stopOnError: true`; after every result, an
 *   `AggregateError` in input order with `false`; the input's own error; `signal.reason`
 */
export function mapConcurrentStream<T, R>(
  input: Iterable<T> | AsyncIterable<T>,
  mapper: Mapper<T, R>,
  options: StreamOptions,
): AsyncGenerator<R> {
  // TODO: an `async function*` is one way; keep running calls plus waiting results within the limit.
  throw new NotImplementedError(
    `mapConcurrentStream(${typeof input}, ${typeof mapper}, ${typeof options})`,
  );
}

/**
 * Creates a limiter that runs at most `concurrency` of its calls at once.
 *
 * @param concurrency an integer >= 1, or `Infinity`
 * @throws {RangeError} when `concurrency` is not an integer >= 1 nor Infinity
 * @throws {TypeError} when `concurrency` is not a number
 */
export function createLimiter(concurrency: number): Limiter {
  // TODO: a count of running calls and a first-in, first-out queue of waiting ones.
  throw new NotImplementedError(`createLimiter(${concurrency})`);
}
