// Circuit breaker with a time-based sliding window, and a Fastify route wrapper.
/* eslint-disable @typescript-eslint/prefer-promise-reject-errors -- the contract: a call rejects with whatever fn threw, Error or not */
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  failureRateThreshold?: number;
  minimumCalls?: number;
  windowMs?: number;
  openMs?: number;
  halfOpenCalls?: number;
  callTimeoutMs?: number;
  isFailure?: (error: unknown) => boolean;
  onStateChange?: (from: CircuitState, to: CircuitState) => void;
}

export interface CircuitStats {
  calls: number;
  failures: number;
}

export class CircuitOpenError extends Error {
  override readonly name = 'CircuitOpenError';
  readonly retryAfterMs: number;

  constructor(retryAfterMs: number, message = `circuit is open, retry in ${retryAfterMs} ms`) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';

  constructor(timeoutMs: number, message = `call timed out after ${timeoutMs} ms`) {
    super(message);
  }
}

function requireNumber(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number') {
    throw new TypeError(`${name} must be a number, got ${typeof value}`);
  }
}

function requireCount(value: unknown, name: string): number {
  requireNumber(value, name);
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be an integer >= 1, got ${value}`);
  }
  return value;
}

function requireMs(value: unknown, name: string): number {
  requireNumber(value, name);
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be finite and > 0, got ${value}`);
  }
  return value;
}

function requireFunction<F>(value: unknown, name: string): F | undefined {
  if (value !== undefined && typeof value !== 'function') {
    throw new TypeError(`${name} must be a function, got ${typeof value}`);
  }
  return value as F | undefined;
}

/** One signal for every call of a breaker without a timeout: nothing can abort it. */
const NEVER_ABORTED = new AbortController().signal;

export class CircuitBreaker {
  readonly #threshold: number;
  readonly #minimumCalls: number;
  readonly #windowMs: number;
  readonly #openMs: number;
  readonly #halfOpenCalls: number;
  readonly #callTimeoutMs: number | undefined;
  readonly #isFailure: ((error: unknown) => boolean) | undefined;
  readonly #onStateChange: ((from: CircuitState, to: CircuitState) => void) | undefined;

  #state: CircuitState = 'closed';
  /** A new token at every change of state: a call counts only if its epoch is still current. */
  #epoch: object = {};
  #openedAt = 0;
  #trialsStarted = 0;
  #trialsSucceeded = 0;

  // The window: a ring buffer of settle times and outcomes (1: failed), oldest first at #head;
  // #size is the calls in it, and the failures are counted alongside, so nothing is ever summed.
  // It doubles when full and keeps its largest size.
  #times = new Float64Array(16);
  #outcomes = new Uint8Array(16);
  #head = 0;
  #size = 0;
  #failures = 0;

  constructor(options: CircuitBreakerOptions = {}) {
    const {
      failureRateThreshold = 0.5,
      minimumCalls = 10,
      windowMs = 10_000,
      openMs = 30_000,
      halfOpenCalls = 1,
      callTimeoutMs,
      isFailure,
      onStateChange,
    } = options;
    requireNumber(failureRateThreshold, 'failureRateThreshold');
    if (!(failureRateThreshold > 0 && failureRateThreshold <= 1)) {
      throw new RangeError(
        `failureRateThreshold must be > 0 and <= 1, got ${failureRateThreshold}`,
      );
    }
    this.#threshold = failureRateThreshold;
    this.#minimumCalls = requireCount(minimumCalls, 'minimumCalls');
    this.#windowMs = requireMs(windowMs, 'windowMs');
    this.#openMs = requireMs(openMs, 'openMs');
    this.#halfOpenCalls = requireCount(halfOpenCalls, 'halfOpenCalls');
    this.#callTimeoutMs =
      callTimeoutMs === undefined ? undefined : requireMs(callTimeoutMs, 'callTimeoutMs');
    this.#isFailure = requireFunction(isFailure, 'isFailure');
    this.#onStateChange = requireFunction(onStateChange, 'onStateChange');
  }

  get state(): CircuitState {
    this.#observe(performance.now());
    return this.#state;
  }

  get stats(): CircuitStats {
    const now = performance.now();
    this.#observe(now);
    this.#expire(now);
    return { calls: this.#size, failures: this.#failures };
  }

  call<T>(fn: (signal: AbortSignal) => T | Promise<T>): Promise<T> {
    if (typeof fn !== 'function') {
      return Promise.reject(new TypeError(`fn must be a function, got ${typeof fn}`));
    }
    const now = performance.now();
    this.#observe(now);
    if (this.#state === 'open') {
      return Promise.reject(new CircuitOpenError(this.#openedAt + this.#openMs - now));
    }
    if (this.#state === 'half-open') {
      if (this.#trialsStarted >= this.#halfOpenCalls) {
        return Promise.reject(new CircuitOpenError(0));
      }
      this.#trialsStarted += 1;
    }
    const epoch = this.#epoch;
    return this.#callTimeoutMs === undefined
      ? this.#run(fn, epoch)
      : this.#runWithTimeout(fn, epoch, this.#callTimeoutMs);
  }

  /** Without a timeout nothing can abort the call: no controller, no timer, no closure per call. */
  #run<T>(fn: (signal: AbortSignal) => T | Promise<T>, epoch: object): Promise<T> {
    let result: T | Promise<T>;
    try {
      result = fn(NEVER_ABORTED);
    } catch (error) {
      this.#settled(epoch, this.#failed(error));
      return Promise.reject(error);
    }
    return Promise.resolve(result).then(
      (value) => {
        this.#settled(epoch, false);
        return value;
      },
      (error: unknown) => {
        this.#settled(epoch, this.#failed(error));
        throw error;
      },
    );
  }

  #runWithTimeout<T>(
    fn: (signal: AbortSignal) => T | Promise<T>,
    epoch: object,
    timeoutMs: number,
  ): Promise<T> {
    const controller = new AbortController();
    return new Promise<T>((resolve, reject) => {
      let done = false;
      // The timer first: fn might block, and its time counts from the start of the call.
      const timer = setTimeout(() => {
        done = true;
        const error = new TimeoutError(timeoutMs);
        reject(error);
        this.#settled(epoch, true); // a timeout is a failure, whatever isFailure says
        controller.abort(error);
      }, timeoutMs);
      const finish = (failed: boolean, settle: () => void): void => {
        if (done) return; // settled by the timeout: a late outcome changes nothing
        clearTimeout(timer);
        this.#settled(epoch, failed);
        settle();
      };
      let result: T | Promise<T>;
      try {
        result = fn(controller.signal);
      } catch (error) {
        finish(this.#failed(error), () => reject(error));
        return;
      }
      Promise.resolve(result).then(
        (value) => finish(false, () => resolve(value)),
        (error: unknown) => finish(this.#failed(error), () => reject(error)),
      );
    });
  }

  #failed(error: unknown): boolean {
    return this.#isFailure === undefined || this.#isFailure(error);
  }

  /** Counts a settled call admitted in epoch `epoch`, and judges the state it leaves. */
  #settled(epoch: object, failed: boolean): void {
    if (epoch !== this.#epoch) return; // admitted in a state that is over
    const now = performance.now();
    if (this.#state === 'half-open') {
      if (failed) this.#open(now);
      else if (++this.#trialsSucceeded === this.#halfOpenCalls) this.#change('closed');
      return;
    }
    this.#record(now, failed);
    this.#expire(now);
    if (this.#size >= this.#minimumCalls && this.#failures / this.#size >= this.#threshold) {
      this.#open(now);
    }
  }

  /** Open → half-open once `openMs` has passed: noticed by whoever looks first, no timer. */
  #observe(now: number): void {
    if (this.#state === 'open' && now - this.#openedAt >= this.#openMs) {
      this.#trialsStarted = 0;
      this.#trialsSucceeded = 0;
      this.#change('half-open');
    }
  }

  #open(now: number): void {
    this.#openedAt = now;
    this.#change('open');
  }

  #change(to: CircuitState): void {
    const from = this.#state;
    this.#state = to;
    this.#epoch = {};
    // Every change starts from an empty window: opening drops it, trials are never in it.
    this.#size = 0;
    this.#failures = 0;
    this.#onStateChange?.(from, to);
  }

  #record(now: number, failed: boolean): void {
    if (this.#size === this.#times.length) this.#grow();
    const slot = (this.#head + this.#size) % this.#times.length;
    this.#times[slot] = now;
    this.#outcomes[slot] = failed ? 1 : 0;
    this.#size += 1;
    if (failed) this.#failures += 1;
  }

  /** Drops the calls that left the window: each call is dropped once, so O(1) amortized. */
  #expire(now: number): void {
    while (this.#size > 0 && now - this.#times[this.#head]! >= this.#windowMs) {
      this.#failures -= this.#outcomes[this.#head]!;
      this.#head = (this.#head + 1) % this.#times.length;
      this.#size -= 1;
    }
  }

  /** Doubles the full ring, unrolled: the calls from #head to the end, then those before it. */
  #grow(): void {
    const capacity = this.#times.length;
    const times = new Float64Array(capacity * 2);
    const outcomes = new Uint8Array(capacity * 2);
    times.set(this.#times.subarray(this.#head));
    times.set(this.#times.subarray(0, this.#head), capacity - this.#head);
    outcomes.set(this.#outcomes.subarray(this.#head));
    outcomes.set(this.#outcomes.subarray(0, this.#head), capacity - this.#head);
    this.#times = times;
    this.#outcomes = outcomes;
    this.#head = 0;
  }
}

/** Carries a handler's answer out of `breaker.call` when it must count as a failure (status >= 500). */
class FailedAnswer {
  constructor(readonly result: unknown) {}
}

/** Carries a handler's 4xx error out of `breaker.call` as a success: the dependency answered. */
class ClientError {
  constructor(readonly error: unknown) {}
}

function isClientError(error: unknown): boolean {
  const statusCode = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof statusCode === 'number' && statusCode >= 400 && statusCode <= 499;
}

export function protect(breaker: CircuitBreaker, handler: RouteHandlerMethod): RouteHandlerMethod {
  return async function protectedHandler(
    this: FastifyInstance,
    request: FastifyRequest,
    reply: FastifyReply,
  ) {
    let outcome: unknown;
    try {
      outcome = await breaker.call(async () => {
        let result: unknown;
        try {
          result = await handler.call(this, request, reply);
        } catch (error) {
          if (isClientError(error)) return new ClientError(error);
          throw error;
        }
        if (reply.statusCode >= 500) throw new FailedAnswer(result);
        return result;
      });
    } catch (error) {
      if (error instanceof FailedAnswer) return error.result;
      if (!(error instanceof CircuitOpenError)) throw error;
      // At least 1: "Retry-After: 0" invites an immediate retry that is sure to be refused again.
      const seconds = Math.max(1, Math.ceil(error.retryAfterMs / 1000));
      return reply
        .code(503)
        .header('Retry-After', seconds)
        .send({
          statusCode: 503,
          error: 'Service Unavailable',
          message: `${error.message}; retry after ${seconds} s`,
        });
    }
    if (outcome instanceof ClientError) throw outcome.error;
    return outcome;
  };
}
