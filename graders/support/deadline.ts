/**
 * Bounded waits on real time, for graders that must use real sockets or processes: every wait
 * ends, either with the awaited value or with an error that says what did not happen in time.
 */

/** The error `within` rejects with when time runs out first. */
export class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
}

/**
 * Resolves or rejects as `promise` does, or rejects with a {@link DeadlineError} carrying `what`
 * (e.g. "exit to be called within 1000 ms of shutdown()") once `ms` pass first. The timer is
 * cleared either way and never keeps the process alive.
 */
export function within<T>(promise: PromiseLike<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DeadlineError(`expected ${what}`)), ms);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (reason: unknown) => {
        clearTimeout(timer);
        reject(reason instanceof Error ? reason : new Error(String(reason)));
      },
    );
  });
}

/** Resolves after `ms` of real time: only for "nothing more happens" checks, never to wait for work. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
