// Retry with exponential backoff: implement `backoffDelay` and `retry` (see README.md).
/* eslint-disable @typescript-eslint/no-unused-vars -- the stub's parameters are yours to use */
import { NotImplementedError } from '../not-implemented.ts';

/** The jitter strategies, as in "Exponential Backoff And Jitter" (AWS Architecture Blog, 2015). */
export const JITTERS = ['full', 'equal', 'none'] as const;
/** `'full'`: `random() * base`; `'equal'`: `base / 2 + random() * base / 2`; `'none'`: `base`. */
export type Jitter = (typeof JITTERS)[number];

/** What `onRetry` is told before each wait. */
export interface RetryInfo {
  /** The error the failed attempt threw or rejected with. */
  error: unknown;
  /** The failed attempt's number, 1-based (the first attempt is 1). */
  attempt: number;
  /** The delay about to be waited, in ms: after the `retryAfterMs` floor and the `maxDelayMs` cap. */
  delayMs: number;
}

/** Options of `retry` (all of them) and `backoffDelay` (the delay ones). */
export interface RetryOptions {
  /**
   * Retries after the first attempt, so at most `retries + 1` attempts. `0` means one attempt and
   * no retry. An integer >= 0 (`Infinity` is not an integer). @default 3
   */
  retries?: number;
  /** Base delay before the first retry, in ms. Finite, >= 0; `0` retries without waiting. @default 100 */
  minDelayMs?: number;
  /**
   * Cap on any delay, in ms, applied to the exponential base before jitter and to a
   * `retryAfterMs` floor. Finite, >= 0. @default 30_000
   */
  maxDelayMs?: number;
  /** Growth of the base delay from one retry to the next. Finite, >= 1; `1` keeps it constant. @default 2 */
  factor?: number;
  /** How the base delay is randomized. @default 'full' */
  jitter?: Jitter;
  /** Uniform random numbers in [0, 1) for the jitter. @default Math.random */
  random?: () => number;
  /**
   * Asked after a failed attempt, only when another attempt remains, with that attempt's error and
   * 1-based number. `false` (or a promise of `false`) stops and rejects with that error itself.
   * @default always retry
   */
  shouldRetry?: (error: unknown, attempt: number) => boolean | Promise<boolean>;
  /** Called before each wait (never after the last attempt). */
  onRetry?: (info: RetryInfo) => void;
  /**
   * Time limit of each attempt, in ms: an attempt still running after that long fails with a
   * `TimeoutError` (its `context.signal` aborts with it) and is retried like any failure.
   * Finite, > 0. Absent: attempts may run for ever.
   */
  attemptTimeoutMs?: number;
  /** Aborting it stops everything at once: `retry` rejects with `signal.reason`. An `AbortSignal`. */
  signal?: AbortSignal;
}

/** What each call of the operation receives. */
export interface AttemptContext {
  /** This attempt's number, 1-based. */
  attempt: number;
  /** Aborts when this attempt is abandoned: the caller's signal aborted, or `attemptTimeoutMs` passed. */
  signal: AbortSignal;
}

/** Rejected by `retry` when every attempt failed. `cause` is the last error. */
export class RetryError extends Error {
  override readonly name = 'RetryError';
  /** How many attempts were made (`retries + 1`). */
  readonly attempts: number;
  /** Every attempt's error, in order: `errors[0]` is the first attempt's. */
  readonly errors: unknown[];

  /** @param errors every attempt's error, in order (copied) */
  constructor(attempts: number, errors: readonly unknown[]) {
    const last = errors[errors.length - 1];
    super(`Failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${describe(last)}`, {
      cause: last,
    });
    this.attempts = attempts;
    this.errors = [...errors];
  }
}

/** The error of an attempt that ran longer than `attemptTimeoutMs`. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';

  /** @param timeoutMs the `attemptTimeoutMs` that ran out */
  constructor(timeoutMs: number) {
    super(`Attempt timed out after ${timeoutMs} ms`);
  }
}

/** `String(error)` (`name: message` for an Error), or `[object Object]` for a value with no string form. */
function describe(error: unknown): string {
  try {
    return String(error);
  } catch {
    return Object.prototype.toString.call(error);
  }
}

/**
 * The delay before retry number `retryNumber` (1 = the first retry), in ms, not rounded:
 * `base = min(maxDelayMs, minDelayMs * factor ** (retryNumber - 1))`, then `'none'` gives `base`,
 * `'full'` gives `random() * base` and `'equal'` gives `base / 2 + random() * base / 2`.
 * O(1) time whatever `retryNumber`.
 *
 * @throws {RangeError} when `retryNumber` is not an integer >= 1, or a numeric option is out of
 *   range (the message names it).
 * @throws {TypeError} when `jitter` is not one of `JITTERS` or `random` is not a function.
 */
export function backoffDelay(retryNumber: number, options: RetryOptions = {}): number {
  // TODO: validate, compute the capped exponential base, then apply the jitter.
  throw new NotImplementedError('backoffDelay');
}

/**
 * Calls `operation` until it succeeds, at most `retries + 1` times, waiting `backoffDelay(n)`
 * (raised to the failed attempt's error's finite numeric `retryAfterMs`, then capped by
 * `maxDelayMs`) before retry `n`. A returned value or resolved promise ends it at once; a
 * synchronous throw counts as a failure.
 *
 * @returns the first successful attempt's value.
 * @throws {RetryError} (rejects) when every attempt failed.
 * @throws the failed attempt's error itself (rejects) when `shouldRetry` returned false.
 * @throws `signal.reason` (rejects) when `signal` is or becomes aborted: at once, even in the middle
 *   of an attempt or a wait.
 * @throws {RangeError} (rejects) when a numeric option is out of range (the message names it).
 * @throws {TypeError} (rejects) when `operation` or a callback option is not a function,
 *   `jitter` is not one of `JITTERS`, or `signal` is not an `AbortSignal`.
 */
export async function retry<T>(
  operation: (context: AttemptContext) => T | Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  // TODO: attempts in a loop; backoff waits that abort; per-attempt signal and timeout.
  throw new NotImplementedError('retry');
}
