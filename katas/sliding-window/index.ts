// Sliding-window rate limiters: implement FixedWindowLimiter, SlidingLogLimiter and SlidingCounterLimiter (see README.md).
import { NotImplementedError } from '../not-implemented.ts';

/** The limit every window limiter enforces. */
export interface WindowOptions {
  /** Most cost allowed per window (`limit: 100` with `windowMs: 60_000`: 100 per minute). An integer >= 1. */
  limit: number;
  /** The window's length in ms. An integer >= 1. */
  windowMs: number;
}

/** Options of every window limiter's constructor. */
export type WindowLimiterOptions = WindowOptions & {
  /**
   * Most keys held at once; when a new key arrives and this many are held, the least recently used
   * key is dropped. An integer >= 1. @default 10_000
   */
  maxKeys?: number;
};

/** What {@link WindowLimiter.check} decided for one request. */
export interface WindowDecision {
  /** Whether the request may go ahead; if so, its `cost` now counts against its key. */
  allowed: boolean;
  /** The limit. */
  limit: number;
  /**
   * `limit` minus what counts now for the key, after this decision (an allowed check's cost
   * included, a refused one's not), rounded down, never below 0.
   */
  remaining: number;
  /**
   * 0 if allowed; else ms until a check of the same `cost` would be allowed, if nothing else is
   * allowed meanwhile: a whole number > 0, or `Infinity` when `cost > limit`.
   */
  retryAfterMs: number;
}

/** A rate limiter that keeps counts per key. */
export interface WindowLimiter {
  /**
   * Decides whether a request of `cost` by `key` may go ahead now (`Date.now()`), and counts it if
   * so. A refused check counts nothing. Every check makes its key the most recently used.
   *
   * @param key whom the request is counted against (a client id, an API key, an IP address)
   * @param cost what the request counts for; an integer >= 1. @default 1
   * @throws {TypeError} when `key` is not a string
   * @throws {RangeError} when `cost` is not an integer >= 1 (the message names `cost`)
   */
  check(key: string, cost?: number): WindowDecision;
  /** Keys held now: never more than `maxKeys`. */
  readonly size: number;
}

/**
 * Counts per fixed window, aligned to the epoch: window `w` is `[w × windowMs, (w + 1) × windowMs)`.
 * Allows while the current window's count + cost <= limit; a refused check's `retryAfterMs` is the
 * time to the next window.
 */
export class FixedWindowLimiter implements WindowLimiter {
  /**
   * @throws {TypeError} when `limit`, `windowMs` or `maxKeys` is not a number
   * @throws {RangeError} when `limit`, `windowMs` or `maxKeys` is not an integer >= 1 (the message
   *   names the option)
   */
  constructor(options: WindowLimiterOptions) {
    // TODO: validate the options and keep a count per key.
    void options;
    throw new NotImplementedError('FixedWindowLimiter constructor');
  }

  get size(): number {
    throw new NotImplementedError('FixedWindowLimiter.size');
  }

  check(key: string, cost?: number): WindowDecision {
    void key;
    void cost;
    throw new NotImplementedError('FixedWindowLimiter.check');
  }
}

/**
 * Exact: allows when the costs allowed in `(now − windowMs, now]` plus `cost` are <= limit. A
 * refused check's `retryAfterMs` is the earliest time at which enough of them will have left the
 * window. Memory per key is O(limit).
 */
export class SlidingLogLimiter implements WindowLimiter {
  /**
   * @throws {TypeError} when `limit`, `windowMs` or `maxKeys` is not a number
   * @throws {RangeError} when `limit`, `windowMs` or `maxKeys` is not an integer >= 1 (the message
   *   names the option)
   */
  constructor(options: WindowLimiterOptions) {
    // TODO: validate the options and keep a log of allowed requests per key.
    void options;
    throw new NotImplementedError('SlidingLogLimiter constructor');
  }

  get size(): number {
    throw new NotImplementedError('SlidingLogLimiter.size');
  }

  check(key: string, cost?: number): WindowDecision {
    void key;
    void cost;
    throw new NotImplementedError('SlidingLogLimiter.check');
  }
}

/**
 * The sliding-window counter: allows when
 * `previous × (windowMs − elapsed) + (current + cost) × windowMs <= limit × windowMs`, where
 * `current` and `previous` are the counts of the current and the previous fixed window and
 * `elapsed` is how far into the current window now is. A refused check's `retryAfterMs` is the time
 * to the earliest whole ms at which that holds. Two counters per key.
 */
export class SlidingCounterLimiter implements WindowLimiter {
  /**
   * @throws {TypeError} when `limit`, `windowMs` or `maxKeys` is not a number
   * @throws {RangeError} when `limit`, `windowMs` or `maxKeys` is not an integer >= 1 (the message
   *   names the option)
   */
  constructor(options: WindowLimiterOptions) {
    // TODO: validate the options and keep two window counts per key.
    void options;
    throw new NotImplementedError('SlidingCounterLimiter constructor');
  }

  get size(): number {
    throw new NotImplementedError('SlidingCounterLimiter.size');
  }

  check(key: string, cost?: number): WindowDecision {
    void key;
    void cost;
    throw new NotImplementedError('SlidingCounterLimiter.check');
  }
}
