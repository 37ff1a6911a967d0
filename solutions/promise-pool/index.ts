// A concurrency-limited map over promises: mapConcurrent, mapConcurrentStream and createLimiter.
/* eslint-disable @typescript-eslint/prefer-promise-reject-errors -- the contract rejects with what the mapper, the input or the caller's signal gave, whatever it is */

export interface PoolOptions {
  /** Most mapper calls running at once: an integer >= 1, or Infinity for no limit. */
  concurrency: number;
  /** Reject with the first error (true) or run everything and aggregate the errors (false). @default true */
  stopOnError?: boolean;
  /** Aborting it rejects with `signal.reason` and aborts the running mappers' signals. */
  signal?: AbortSignal;
}

export interface StreamOptions extends PoolOptions {
  /** Yield in input order (true) or in completion order (false). @default true */
  ordered?: boolean;
}

export interface TaskContext {
  /** The item's 0-based position in the input. */
  index: number;
  /** Aborted when the pool stops early (an error with `stopOnError`, an abort, a closed stream). */
  signal: AbortSignal;
}

export type Mapper<T, R> = (item: T, context: TaskContext) => R | Promise<R>;

export interface Limiter {
  <A extends unknown[], R>(fn: (...args: A) => R | Promise<R>, ...args: A): Promise<R>;
  readonly activeCount: number;
  readonly pendingCount: number;
  clearQueue(reason?: unknown): void;
}

function checkConcurrency(concurrency: unknown): number {
  if (typeof concurrency !== 'number') {
    throw new TypeError(`concurrency must be a number, got ${typeof concurrency}`);
  }
  if (!(Number.isInteger(concurrency) && concurrency >= 1) && concurrency !== Infinity) {
    throw new RangeError(`concurrency must be an integer >= 1 or Infinity, got ${concurrency}`);
  }
  return concurrency;
}

/** One reading of a sync or async iterable: `next()` returns a result, or a promise of one. */
interface Source<T> {
  next(): IteratorResult<T> | Promise<IteratorResult<T>>;
  /** Closes the iterator early (a generator runs its `finally`); errors of `return()` are ignored. */
  close(): void;
  sync: boolean;
}

function openSource<T>(input: Iterable<T> | AsyncIterable<T>): Source<T> {
  const sync = !(Symbol.asyncIterator in input);
  const iterator: Iterator<T> | AsyncIterator<T> =
    Symbol.asyncIterator in input ? input[Symbol.asyncIterator]() : input[Symbol.iterator]();
  return {
    sync,
    next: () => iterator.next(),
    close() {
      // A source that fails to close (a throw, a rejection) has nothing left to tell a pool that
      // has already stopped: both are swallowed alike.
      Promise.resolve()
        .then(() => iterator.return?.())
        .catch(() => undefined);
    },
  };
}

/** Calls the mapper; a synchronous throw becomes a rejection like any other. */
function callMapper<T, R>(mapper: Mapper<T, R>, item: T, context: TaskContext): Promise<R> {
  try {
    return Promise.resolve(mapper(item, context));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** The errors of a sparse array indexed by input position, in input order (filter skips holes). */
const inOrder = (errors: unknown[]): unknown[] => errors.filter(() => true);

const aggregate = (errors: unknown[]): AggregateError => new AggregateError(inOrder(errors));

export async function mapConcurrent<T, R>(
  input: Iterable<T> | AsyncIterable<T>,
  mapper: Mapper<T, R>,
  options: PoolOptions,
): Promise<R[]> {
  const concurrency = checkConcurrency(options.concurrency);
  const { stopOnError = true, signal } = options;
  signal?.throwIfAborted();

  return new Promise<R[]>((resolve, reject) => {
    const source = openSource(input);
    const controller = new AbortController();
    const results: R[] = [];
    const errors: unknown[] = [];
    let failed = false;
    let running = 0;
    let started = 0;
    let inputDone = false;
    let pulling = false;
    let finished = false;

    const onAbort = (): void => stop(signal!.reason);
    signal?.addEventListener('abort', onAbort);

    const finish = (): void => {
      finished = true;
      signal?.removeEventListener('abort', onAbort);
    };
    /**
     * Stops early: rejects, aborts the running mappers and closes the input (harmless if it has
     * ended). Calling it again changes nothing: the promise and the signal are already settled.
     */
    const stop = (reason: unknown): void => {
      finish();
      controller.abort(reason);
      source.close();
      reject(reason);
    };

    const settled = (): void => {
      running -= 1;
      if (!finished) void pump();
    };
    const start = (item: T): void => {
      const index = started;
      started += 1;
      running += 1;
      callMapper(mapper, item, { index, signal: controller.signal }).then(
        (value) => {
          results[index] = value;
          settled();
        },
        (error: unknown) => {
          if (stopOnError) stop(error);
          else {
            failed = true;
            errors[index] = error;
          }
          settled();
        },
      );
    };

    // Pulls items while a slot is free. One pull at a time: an async source's next() is awaited
    // before the next one, and a mapper settling meanwhile leaves the refill to the pull under way.
    const pump = async (): Promise<void> => {
      if (pulling) return;
      pulling = true;
      try {
        while (!inputDone && running < concurrency) {
          const step = source.sync ? (source.next() as IteratorResult<T>) : await source.next();
          if (finished) return;
          if (step.done) inputDone = true;
          else start(step.value);
        }
      } catch (error) {
        // The input itself failed: that error, never an aggregate, and nothing more is read.
        stop(error);
        return;
      } finally {
        pulling = false;
      }
      if (inputDone && running === 0 && !finished) {
        finish();
        if (failed) reject(aggregate(errors));
        else resolve(results);
      }
    };
    void pump();
  });
}

/** Marks a failed call in the stream's finished results (with `stopOnError: false`). */
const FAILED = Symbol('failed');

export async function* mapConcurrentStream<T, R>(
  input: Iterable<T> | AsyncIterable<T>,
  mapper: Mapper<T, R>,
  options: StreamOptions,
): AsyncGenerator<R> {
  const concurrency = checkConcurrency(options.concurrency);
  const { stopOnError = true, signal, ordered = true } = options;
  signal?.throwIfAborted();

  const source = openSource(input);
  const controller = new AbortController();
  // A finished call: its result, or FAILED for an error kept for the AggregateError.
  type Outcome = { value: R } | typeof FAILED;
  // Finished results not yet yielded: by index when ordered, in completion order otherwise.
  const byIndex = new Map<number, Outcome>();
  const completed: Outcome[] = [];
  const errors: unknown[] = [];
  let failed = false;
  let waiting = 0;
  let running = 0;
  let started = 0;
  let nextToYield = 0;
  let inputDone = false;
  let pulling = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    wake?.();
    wake = undefined;
  };

  const fail = (error: unknown): void => {
    if (failure) return;
    failure = { error };
    controller.abort(error);
    notify();
  };
  const onAbort = (): void => fail(signal!.reason);
  signal?.addEventListener('abort', onAbort);

  const start = (item: T): void => {
    const index = started;
    started += 1;
    running += 1;
    callMapper(mapper, item, { index, signal: controller.signal }).then(
      (value) => done(index, { value }),
      (error: unknown) => {
        if (stopOnError) fail(error);
        else {
          failed = true;
          errors[index] = error;
        }
        done(index, FAILED);
      },
    );
  };
  const done = (index: number, outcome: Outcome): void => {
    running -= 1;
    waiting += 1;
    if (ordered) byIndex.set(index, outcome);
    else completed.push(outcome);
    notify();
  };
  /** The next finished outcome the consumer may have, if any. */
  const take = (): Outcome | undefined => {
    let outcome: Outcome | undefined;
    if (ordered) {
      outcome = byIndex.get(nextToYield);
      if (outcome === undefined) return undefined;
      byIndex.delete(nextToYield);
      nextToYield += 1;
    } else {
      // At most `concurrency` wait, and V8 shifts a short array cheaply.
      outcome = completed.shift();
      if (outcome === undefined) return undefined;
    }
    waiting -= 1;
    return outcome;
  };

  // Backpressure: running plus waiting results stay within `concurrency`, so even if every
  // running mapper finishes while the consumer is away, at most `concurrency` results wait.
  const pump = async (): Promise<void> => {
    if (pulling) return;
    pulling = true;
    try {
      while (!inputDone && !failure && running + waiting < concurrency) {
        const step = source.sync ? (source.next() as IteratorResult<T>) : await source.next();
        if (failure) return;
        if (step.done) inputDone = true;
        else start(step.value);
      }
    } catch (error) {
      fail(error);
    } finally {
      pulling = false;
      notify();
    }
  };

  let complete = false;
  try {
    for (;;) {
      void pump();
      if (failure) throw failure.error;
      const outcome = take();
      if (outcome) {
        if (outcome !== FAILED) yield outcome.value;
        continue;
      }
      if (inputDone && running === 0 && !pulling) break;
      await new Promise<void>((resolve) => (wake = resolve));
    }
    complete = true;
    if (failed) throw aggregate(errors);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!complete) {
      // Stopped early (an error, an abort, or the consumer's return()): stop the rest.
      controller.abort(failure?.error);
      source.close();
    }
  }
}

/** A first-in, first-out list of waiting calls, O(1) at both ends. */
interface Waiting {
  run: () => void;
  reject: (reason: unknown) => void;
  next: Waiting | undefined;
}

export function createLimiter(concurrency: number): Limiter {
  checkConcurrency(concurrency);
  let active = 0;
  let pending = 0;
  let head: Waiting | undefined;
  let tail: Waiting | undefined;

  const freed = (): void => {
    active -= 1;
    if (head === undefined) return;
    const first = head;
    head = first.next;
    if (head === undefined) tail = undefined;
    pending -= 1;
    first.run();
  };

  const limit = <A extends unknown[], R>(
    fn: (...args: A) => R | Promise<R>,
    ...args: A
  ): Promise<R> =>
    new Promise<R>((resolve, reject) => {
      const run = (): void => {
        active += 1;
        let result: Promise<R>;
        try {
          result = Promise.resolve(fn(...args));
        } catch (error) {
          result = Promise.reject(error);
        }
        // Free the slot before settling, so the caller resuming after `await` is no longer counted.
        result.then(
          (value) => {
            freed();
            resolve(value);
          },
          (error: unknown) => {
            freed();
            reject(error);
          },
        );
      };
      if (active < concurrency) run();
      else {
        const waiting: Waiting = { run, reject, next: undefined };
        if (tail) tail.next = waiting;
        else head = waiting;
        tail = waiting;
        pending += 1;
      }
    });

  return Object.defineProperties(limit, {
    activeCount: { get: () => active, enumerable: true },
    pendingCount: { get: () => pending, enumerable: true },
    clearQueue: {
      value(reason: unknown = new DOMException('The limiter queue was cleared', 'AbortError')) {
        let waiting = head;
        head = tail = undefined;
        pending = 0;
        for (; waiting; waiting = waiting.next) waiting.reject(reason);
      },
    },
  }) as Limiter;
}
