// Retry with exponential backoff: reference solution (see katas/retry-backoff/README.md).
/* eslint-disable @typescript-eslint/prefer-promise-reject-errors -- the contract rejects with signal.reason, whatever the caller aborted with */

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
  /** Retries after the first attempt; an integer >= 0. @default 3 */
  retries?: number;
  /** Base delay before the first retry, in ms; finite, >= 0. @default 100 */
  minDelayMs?: number;
  /** Cap on any delay, in ms; finite, >= 0. @default 30_000 */
  maxDelayMs?: number;
  /** Growth of the base delay per retry; finite, >= 1. @default 2 */
  factor?: number;
  /** How the base delay is randomized. @default 'full' */
  jitter?: Jitter;
  /** Uniform random numbers in [0, 1). @default Math.random */
  random?: () => number;
  /** Asked only when another attempt remains; false rejects with the error itself. */
  shouldRetry?: (error: unknown, attempt: number) => boolean | Promise<boolean>;
  /** Called before each wait. */
  onRetry?: (info: RetryInfo) => void;
  /** Time limit of each attempt, in ms; finite, > 0. Absent: no limit. */
  attemptTimeoutMs?: number;
  /** Aborting it makes `retry` reject with `signal.reason` at once. */
  signal?: AbortSignal;
}

/** What each call of the operation receives. */
export interface AttemptContext {
  /** This attempt's number, 1-based. */
  attempt: number;
  /** Aborts when this attempt is abandoned (caller's abort or attempt timeout). */
  signal: AbortSignal;
}

/** Rejected by `retry` when every attempt failed. `cause` is the last error. */
export class RetryError extends Error {
  override readonly name = 'RetryError';
  readonly attempts: number;
  readonly errors: unknown[];

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

  constructor(timeoutMs: number) {
    super(`Attempt timed out after ${timeoutMs} ms`);
  }
}

/** `String(error)`: `name: message` for an Error; `[object Object]` for a value with no string form. */
function describe(error: unknown): string {
  try {
    return String(error);
  } catch {
    return Object.prototype.toString.call(error);
  }
}

/** The delay options with defaults applied, validated once per call. */
interface DelaySettings {
  minDelayMs: number;
  maxDelayMs: number;
  factor: number;
  jitter: Jitter;
  random: () => number;
}

function delaySettings(options: RetryOptions): DelaySettings {
  const {
    minDelayMs = 100,
    maxDelayMs = 30_000,
    factor = 2,
    jitter = 'full',
    random = Math.random,
  } = options;
  requireNumber('minDelayMs', minDelayMs, Number.isFinite(minDelayMs) && minDelayMs >= 0);
  requireNumber('maxDelayMs', maxDelayMs, Number.isFinite(maxDelayMs) && maxDelayMs >= 0);
  requireNumber('factor', factor, Number.isFinite(factor) && factor >= 1);
  if (!(JITTERS as readonly unknown[]).includes(jitter)) {
    throw new TypeError(`jitter must be one of ${JSON.stringify(JITTERS)}, got ${String(jitter)}`);
  }
  requireFunction('random', random);
  return { minDelayMs, maxDelayMs, factor, jitter, random };
}

/**
 * `valid` is false for anything that is not a number too (`Number.isFinite('100')` is false), so a
 * number given as a string is a RangeError, which the contract allows as well as a TypeError.
 */
function requireNumber(name: string, value: unknown, valid: boolean): void {
  if (!valid) throw new RangeError(`${name} is out of range: ${String(value)}`);
}

function requireFunction(name: string, value: unknown): void {
  if (typeof value !== 'function') throw new TypeError(`${name} must be a function`);
}

function delayFor(retryNumber: number, s: DelaySettings): number {
  // 0 * Infinity is NaN: once factor ** n overflows, a zero minimum must still give zero.
  const growth = s.factor ** (retryNumber - 1);
  const base = s.minDelayMs === 0 ? 0 : Math.min(s.maxDelayMs, s.minDelayMs * growth);
  // The cap applies to the base, before jitter: capping after jitter would pile every late retry
  // up at exactly maxDelayMs, the synchronized bursts jitter exists to spread out.
  switch (s.jitter) {
    case 'none':
      return base;
    case 'full':
      return s.random() * base;
    case 'equal':
      return base / 2 + (s.random() * base) / 2;
  }
}

export function backoffDelay(retryNumber: number, options: RetryOptions = {}): number {
  requireNumber('retryNumber', retryNumber, Number.isInteger(retryNumber) && retryNumber >= 1);
  return delayFor(retryNumber, delaySettings(options));
}

/** A server's `Retry-After`, when the error carries one as a finite number of ms. */
function retryAfterMsOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('retryAfterMs' in error)) return undefined;
  const { retryAfterMs } = error;
  // Number.isFinite, unlike the global isFinite, is false for anything that is not a number.
  return Number.isFinite(retryAfterMs) ? (retryAfterMs as number) : undefined;
}

export async function retry<T>(
  operation: (context: AttemptContext) => T | Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  // Validation happens inside the async function, so bad input rejects rather than throws.
  requireFunction('operation', operation);
  const delays = delaySettings(options);
  const { retries = 3, shouldRetry, onRetry, attemptTimeoutMs, signal } = options;
  requireNumber('retries', retries, Number.isInteger(retries) && retries >= 0);
  if (shouldRetry !== undefined) requireFunction('shouldRetry', shouldRetry);
  if (onRetry !== undefined) requireFunction('onRetry', onRetry);
  if (attemptTimeoutMs !== undefined) {
    const valid = Number.isFinite(attemptTimeoutMs) && attemptTimeoutMs > 0;
    requireNumber('attemptTimeoutMs', attemptTimeoutMs, valid);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError('signal must be an AbortSignal');
  }

  const errors: unknown[] = [];
  // The first attempt is not a retry: retries + 1 attempts in all.
  for (let attempt = 1; ; attempt += 1) {
    signal?.throwIfAborted();
    const outcome = await runAttempt(operation, attempt, attemptTimeoutMs, signal);
    if (outcome.ok) return outcome.value;
    const { error } = outcome;
    errors.push(error);
    if (attempt > retries) throw new RetryError(attempt, errors);
    if (shouldRetry !== undefined && !(await shouldRetry(error, attempt))) throw error;
    signal?.throwIfAborted();

    // A server's Retry-After is a floor on the delay, but the cap still holds.
    const retryAfterMs = retryAfterMsOf(error) ?? 0;
    const delayMs = Math.min(delays.maxDelayMs, Math.max(delayFor(attempt, delays), retryAfterMs));
    onRetry?.({ error, attempt, delayMs });
    await sleep(delayMs, signal);
  }
}

/**
 * What an attempt's operation receives, with `signal` created only when it is first read: in
 * Node 20 an AbortSignal costs about 4-6 µs to create (it is an EventTarget), ten times the rest
 * of a call whose first attempt succeeds, and many operations never read it. A class, because a
 * getter in an object literal makes every context a slow dictionary-mode object.
 */
class LazyContext implements AttemptContext {
  readonly attempt: number;
  #controller: AbortController | undefined;

  constructor(attempt: number) {
    this.attempt = attempt;
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  /** Aborts the attempt's signal with `reason`; a signal first read after this is aborted. */
  abandon(reason: unknown): void {
    this.#controller ??= new AbortController();
    this.#controller.abort(reason);
  }
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * Runs one attempt. Resolves with its outcome; rejects only with the caller's abort reason, at
 * once, without waiting for the operation (whose later settlement is still observed, so a late
 * rejection is never unhandled).
 */
function runAttempt<T>(
  operation: (context: AttemptContext) => T | Promise<T>,
  attempt: number,
  attemptTimeoutMs: number | undefined,
  signal: AbortSignal | undefined,
): Promise<Outcome<T>> {
  const context = new LazyContext(attempt);
  // With no signal and no time limit nothing can cut the attempt short, so there is nothing to
  // race: its outcome is all there is, without the timer, listener and extra promise below.
  if (signal === undefined && attemptTimeoutMs === undefined) return outcomeOf(operation, context);

  return new Promise((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    // The first of the outcome, the abort and the timeout settles the attempt, and takes the timer
    // and the listener away with it. A later call (a late value or rejection of an abandoned
    // attempt) changes nothing: a promise settles once, and clearing twice is harmless.
    const settle = (outcome: Outcome<T> | { aborted: unknown }): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if ('aborted' in outcome) reject(outcome.aborted);
      else resolve(outcome);
    };
    // Only ever added to the caller's signal, so `signal` is defined whenever this runs.
    const onAbort = (): void => {
      const reason: unknown = signal!.reason;
      context.abandon(reason);
      settle({ aborted: reason });
    };

    signal?.addEventListener('abort', onAbort);
    if (attemptTimeoutMs !== undefined) {
      timer = setTimeout(() => {
        const error = new TimeoutError(attemptTimeoutMs);
        context.abandon(error);
        settle({ ok: false, error });
      }, attemptTimeoutMs);
    }
    // outcomeOf never rejects: an abandoned attempt's late failure is observed there.
    void outcomeOf(operation, context).then(settle);
  });
}

/**
 * Calls the operation and waits for it: its value, or its error whether it threw synchronously or
 * rejected. Never rejects.
 */
async function outcomeOf<T>(
  operation: (context: AttemptContext) => T | Promise<T>,
  context: AttemptContext,
): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await operation(context) };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Waits `ms`; an abort rejects with the reason at once and clears the timer. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    // An abort from inside onRetry has already fired: a listener added now would never run.
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
