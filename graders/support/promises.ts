/**
 * Looking at a promise without waiting for it: graders must never hang on a learner's promise that
 * never settles, so they ask for its state after letting pending callbacks run.
 */
export type PromiseState<T> =
  { state: 'pending' } | { state: 'fulfilled'; value: T } | { state: 'rejected'; reason: unknown };

/**
 * The state of `promise` once every already-queued promise callback has run. Marks the promise
 * as handled, so a rejection observed this way is never reported as unhandled.
 */
export async function promiseState<T>(promise: Promise<T>): Promise<PromiseState<T>> {
  let result: PromiseState<T> = { state: 'pending' };
  promise.then(
    (value) => {
      result = { state: 'fulfilled', value };
    },
    (reason: unknown) => {
      result = { state: 'rejected', reason };
    },
  );
  await flushMicrotasks();
  return result;
}

/** Lets queued promise callbacks (and the ones they queue, a few levels deep) run. */
export async function flushMicrotasks(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i += 1) await Promise.resolve();
}

/** A promise with its resolve and reject functions, for operations the grader controls. */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
