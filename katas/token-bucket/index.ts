// Token-bucket rate limiter: implement TokenBucket, KeyedRateLimiter and rateLimitHook (see README.md).
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { NotImplementedError } from '../not-implemented.ts';

/** Options of a {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Most tokens the bucket holds: the burst size. An integer >= 1. */
  capacity: number;
  /**
   * Tokens added per second, continuously: after 250 ms at 4 per second, one more token, and after
   * 100 ms, 0.4 of one. Finite and > 0 (0 would be a bucket that never refills).
   */
  refillPerSecond: number;
  /** Tokens at creation, from 0 to `capacity`; may be fractional. Absent means a full bucket. @default capacity */
  initialTokens?: number;
}

/** Options of {@link TokenBucket.take}. */
export interface TakeOptions {
  /**
   * Aborting it while `take()` waits rejects that call with `signal.reason`, takes nothing, and lets
   * the waiters behind it go ahead. Already aborted: `take()` rejects at once with `signal.reason`.
   */
  signal?: AbortSignal;
}

/** What {@link KeyedRateLimiter.check} decided for one request. */
export interface RateLimitDecision {
  /** Whether the request may go ahead; if so, its `cost` has been taken from the key's bucket. */
  allowed: boolean;
  /** The bucket's capacity. */
  limit: number;
  /** Whole tokens left in the key's bucket after this decision (rounded down). */
  remaining: number;
  /** 0 if allowed; else ms until `cost` tokens will be there (`Infinity` if `cost > capacity`). */
  retryAfterMs: number;
  /** ms until the key's bucket is full again (0 if it is full now). */
  resetMs: number;
}

/** Options of a {@link KeyedRateLimiter}: every key's bucket has the same capacity and rate. */
export type KeyedRateLimiterOptions = Omit<TokenBucketOptions, 'initialTokens'> & {
  /**
   * Most buckets held at once; when a new key arrives and this many are held, the least recently
   * used bucket is dropped. An integer >= 1. @default 10_000
   */
  maxKeys?: number;
};

/** Options of {@link rateLimitHook}. */
export type RateLimitHookOptions = KeyedRateLimiterOptions & {
  /** The key a request is counted under. @default (request) => request.ip */
  keyGenerator?: (request: FastifyRequest) => string;
};

/**
 * A bucket of at most `capacity` tokens that refills continuously at `refillPerSecond`.
 * A request takes tokens; when there are not enough, it is refused (`tryTake`) or waits (`take`).
 */
export class TokenBucket {
  /** Most tokens the bucket holds. */
  readonly capacity: number;

  /**
   * @throws {TypeError} when `capacity`, `refillPerSecond` or `initialTokens` is not a number
   * @throws {RangeError} when `capacity` is not an integer >= 1, `refillPerSecond` is not finite
   *   and > 0, or `initialTokens` is outside 0..capacity (the message names the option)
   */
  constructor(options: TokenBucketOptions) {
    // TODO: validate the options and remember the starting tokens and the time.
    this.capacity = options.capacity;
    throw new NotImplementedError('TokenBucket constructor');
  }

  /**
   * Tokens in the bucket now: fractional, within [0, capacity]. Refill is continuous: after `t` ms,
   * `min(capacity, tokens + t * refillPerSecond / 1000)`, however long the bucket sits idle.
   * Reading it changes nothing: how often anyone reads never changes when tokens are there.
   */
  get tokens(): number {
    // TODO: compute the tokens now from the last take and the time since; store nothing.
    throw new NotImplementedError('TokenBucket.tokens');
  }

  /**
   * Takes `count` tokens now if they are there and no `take()` is waiting.
   * @param count tokens to take, an integer >= 1. @default 1
   * @returns true if taken; false if not enough tokens, `count > capacity`, or a `take()` waits
   *   (waiters go first, so small requests cannot starve a large one). A refusal changes nothing.
   * @throws {RangeError} when `count` is not an integer >= 1
   */
  tryTake(count = 1): boolean {
    // TODO: refill, then take the tokens if there are enough and nobody waits.
    throw new NotImplementedError(`TokenBucket.tryTake(${count})`);
  }

  /**
   * Milliseconds until `count` tokens will be in the bucket, ignoring waiting `take()` calls.
   * Takes nothing and changes nothing.
   * @param count an integer >= 1. @default 1
   * @returns 0 if they are there now; `Infinity` if `count > capacity` (never); may be fractional
   * @throws {RangeError} when `count` is not an integer >= 1
   */
  msUntil(count = 1): number {
    // TODO: the missing tokens divided by the refill rate, in ms.
    throw new NotImplementedError(`TokenBucket.msUntil(${count})`);
  }

  /**
   * Waits until `count` tokens are there, then takes them (within 1 ms of the moment they are).
   * Waiters are served first-in, first-out, and while any waits, `tryTake()` returns false. Uses at
   * most one timer per bucket, set for when the first waiter's tokens are due (no polling), and
   * leaves no timer or abort listener behind.
   * @param count an integer >= 1. @default 1
   * @returns a promise that fulfils once the tokens are taken
   * @throws {RangeError} (as a rejection) when `count` is not an integer >= 1 or exceeds `capacity`
   * @throws `signal.reason` (as a rejection) when `options.signal` is aborted before the tokens are
   *   taken, even if they are available; an aborted call takes nothing
   */
  take(count = 1, options: TakeOptions = {}): Promise<void> {
    // TODO: take at once if possible; otherwise queue, wake when the head's tokens are there, and
    // TODO: on abort leave the queue and let the next waiter go.
    throw new NotImplementedError(`TokenBucket.take(${count}, ${JSON.stringify(options)})`);
  }
}

/** One token bucket per key (a user, an IP), at most `maxKeys` of them, least recently used dropped first. */
export class KeyedRateLimiter {
  /**
   * A new key's bucket starts full. A bucket that has refilled to capacity may be dropped at any
   * time, since a new bucket for its key would be identical.
   * @throws {TypeError} when an option is not a number
   * @throws {RangeError} when `capacity` or `refillPerSecond` is out of range as for
   *   {@link TokenBucket}, or `maxKeys` is not an integer >= 1 (the message names the option)
   */
  constructor(options: KeyedRateLimiterOptions) {
    // TODO: validate the options and set up the buckets by key, in order of use.
    throw new NotImplementedError(`KeyedRateLimiter constructor (${JSON.stringify(options)})`);
  }

  /** Buckets held now; never more than `maxKeys`. */
  get size(): number {
    // TODO
    throw new NotImplementedError('KeyedRateLimiter.size');
  }

  /**
   * Decides one request for `key`, taking `cost` tokens from its bucket when allowed; a refused
   * check takes nothing and changes no tokens. A check, allowed or not, is a use of the key. O(1)
   * amortized. `cost > capacity` is never allowed: `allowed: false`, `retryAfterMs: Infinity`.
   * @param cost tokens the request costs, an integer >= 1. @default 1
   * @throws {RangeError} when `cost` is not an integer >= 1
   */
  check(key: string, cost = 1): RateLimitDecision {
    // TODO: find or create the key's bucket (dropping the least recently used if full), then decide.
    throw new NotImplementedError(`KeyedRateLimiter.check(${key}, ${cost})`);
  }
}

/**
 * A Fastify `onRequest` hook (`app.addHook('onRequest', rateLimitHook({...}))`) that limits each key
 * to one token per request. Every response carries `RateLimit-Limit` (capacity),
 * `RateLimit-Remaining` (whole tokens left) and `RateLimit-Reset` (whole seconds until the bucket
 * is full, rounded up). A refused request gets status 429, `Retry-After` (whole seconds, rounded
 * up, at least 1) and the JSON body `{ statusCode: 429, error: 'Too Many Requests', message }`;
 * its route handler does not run.
 * @throws {TypeError} when `keyGenerator` is given and is not a function
 * @throws {RangeError} when a limit option is out of range, as for {@link KeyedRateLimiter}
 */
export function rateLimitHook(options: RateLimitHookOptions): onRequestAsyncHookHandler {
  // TODO: one KeyedRateLimiter for the app; per request: check, set headers, maybe answer 429.
  throw new NotImplementedError(`rateLimitHook(${JSON.stringify(options)})`);
}
