// Circuit breaker: implement CircuitBreaker and protect (see README.md).
import type { RouteHandlerMethod } from 'fastify';
import { NotImplementedError } from '../not-implemented.ts';

/** Where a breaker is: calls go through (closed), are refused (open), or a few are tried (half-open). */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** Options of a {@link CircuitBreaker}. */
export interface CircuitBreakerOptions {
  /**
   * The circuit opens when failures / calls in the window reaches this (`>=`), once the window
   * holds `minimumCalls` calls. A number with 0 < x <= 1 (1: only when every call failed).
   * @default 0.5
   */
  failureRateThreshold?: number;
  /** Calls the window must hold before the failure rate is judged; an integer >= 1. @default 10 */
  minimumCalls?: number;
  /**
   * Length of the sliding window, in ms: a call that settled at `t` counts while
   * `now - t < windowMs`. Finite and > 0. @default 10_000
   */
  windowMs?: number;
  /** How long the circuit stays open before trial calls are allowed, in ms; finite and > 0. @default 30_000 */
  openMs?: number;
  /** Trial calls admitted in one half-open period; an integer >= 1. @default 1 */
  halfOpenCalls?: number;
  /**
   * A call still running this many ms after it started rejects with {@link TimeoutError}, its
   * signal aborts, and it counts as a failure. Finite and > 0; absent (the default): no timeout.
   */
  callTimeoutMs?: number;
  /**
   * Whether an error counts as a failure; one for which it returns false counts as a success
   * (the call still rejects with it). Not consulted for a timeout. @default every error is a failure
   */
  isFailure?: (error: unknown) => boolean;
  /** Called once for every change of state, after it changed. */
  onStateChange?: (from: CircuitState, to: CircuitState) => void;
}

/** The calls counted in the current window. */
export interface CircuitStats {
  /** Calls that settled within the last `windowMs` and count (successes and failures). */
  calls: number;
  /** Of those, the failures. */
  failures: number;
}

/** Rejection of a call the breaker refused: the circuit is open, or half-open with no trial left. */
export class CircuitOpenError extends Error {
  override readonly name = 'CircuitOpenError';
  /** ms until trial calls are allowed: 0 when half-open and every trial is taken. */
  readonly retryAfterMs: number;

  constructor(retryAfterMs: number, message = `circuit is open, retry in ${retryAfterMs} ms`) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

/** Rejection of a call still running `callTimeoutMs` after it started; also its signal's reason. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';

  constructor(timeoutMs: number, message = `call timed out after ${timeoutMs} ms`) {
    super(message);
  }
}

/**
 * A circuit breaker with a time-based sliding window: closed, it counts outcomes and opens on the
 * failure rate; open, it refuses calls for `openMs`; half-open, it lets `halfOpenCalls` trials
 * through, closing if they all succeed and opening again if one fails.
 */
export class CircuitBreaker {
  /**
   * @throws {TypeError} when an option is not a number (or `isFailure` / `onStateChange` not a
   *   function)
   * @throws {RangeError} when `failureRateThreshold` is not in (0, 1], `minimumCalls` or
   *   `halfOpenCalls` not an integer >= 1, or `windowMs`, `openMs` or `callTimeoutMs` not finite
   *   and > 0 (the message names the option)
   */
  constructor(options: CircuitBreakerOptions = {}) {
    // TODO: validate the options, start closed with an empty window.
    throw new NotImplementedError(`CircuitBreaker constructor (${JSON.stringify(options)})`);
  }

  /** The state now; `'half-open'` as soon as `openMs` has passed since opening (no timer needed). */
  get state(): CircuitState {
    // TODO
    throw new NotImplementedError('CircuitBreaker.state');
  }

  /**
   * Runs `fn` through the breaker. Closed: calls it and counts its outcome when it settles. Open:
   * rejects at once. Half-open: admits up to `halfOpenCalls` trials.
   * @param fn called with a signal that aborts (with a {@link TimeoutError}) when `callTimeoutMs`
   *   passes; may return a value or a promise, or throw
   * @returns a promise that settles as `fn` does
   * @throws {CircuitOpenError} (as a rejection) when the call is refused; `fn` is not called
   * @throws {TimeoutError} (as a rejection) when `fn` is still running after `callTimeoutMs`
   * @throws {TypeError} (as a rejection) when `fn` is not a function
   */
  call<T>(fn: (signal: AbortSignal) => T | Promise<T>): Promise<T> {
    // TODO: refuse, or run fn (with a timeout), and count its outcome if its state is still current.
    throw new NotImplementedError(`CircuitBreaker.call(${typeof fn})`);
  }

  /** The calls counted in the current window (empty right after the circuit opens or closes). */
  get stats(): CircuitStats {
    // TODO
    throw new NotImplementedError('CircuitBreaker.stats');
  }
}

/**
 * Wraps a Fastify route handler in `breaker`. A refused call answers 503 with `Retry-After`
 * (whole seconds, rounded up, at least 1) and `{ statusCode: 503, error: "Service Unavailable",
 * message }` without running `handler`; otherwise `handler` runs through `breaker.call` and
 * answers as it would alone. A thrown error counts as a failure unless its `statusCode` is 400 to
 * 499; an answer sent with a status >= 500 counts as a failure; anything else as a success.
 */
export function protect(breaker: CircuitBreaker, handler: RouteHandlerMethod): RouteHandlerMethod {
  // TODO: return a handler that calls `handler` through `breaker.call`.
  throw new NotImplementedError(
    `protect(${breaker.constructor.name}, ${handler.name || 'handler'})`,
  );
}
