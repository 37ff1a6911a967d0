// Token-bucket rate limiter: a bucket, a keyed limiter over many buckets, and a Fastify hook.
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';

export interface TokenBucketOptions {
  /** Most tokens the bucket holds: the burst size. An integer >= 1. */
  capacity: number;
  /** Tokens added per second, continuously (not in steps). Finite and > 0. */
  refillPerSecond: number;
  /** Tokens at creation, from 0 to `capacity`; may be fractional. @default capacity */
  initialTokens?: number;
}

export interface TakeOptions {
  /** Aborting it rejects the waiting `take()` with `signal.reason` and takes nothing. */
  signal?: AbortSignal;
}

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  retryAfterMs: number;
  resetMs: number;
}

export type KeyedRateLimiterOptions = Omit<TokenBucketOptions, 'initialTokens'> & {
  maxKeys?: number;
};

export type RateLimitHookOptions = KeyedRateLimiterOptions & {
  keyGenerator?: (request: FastifyRequest) => string;
};

function requireNumber(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number') {
    throw new TypeError(`${name} must be a number, got ${typeof value}`);
  }
}

function requireCount(value: unknown, name: string): asserts value is number {
  requireNumber(value, name);
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be an integer >= 1, got ${value}`);
  }
}

interface Waiter {
  count: number;
  resolve: () => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export class TokenBucket {
  readonly capacity: number;
  readonly #refillPerMs: number;
  #tokens: number;
  /** `performance.now()` when `#tokens` was last brought up to date: monotonic, unlike Date. */
  #updatedAt: number;
  /** Waiting `take()` calls, oldest first. */
  readonly #waiters: Waiter[] = [];
  /** The one timer, set for when the oldest waiter's tokens will be there. */
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: TokenBucketOptions) {
    const { capacity, refillPerSecond, initialTokens = capacity } = options;
    requireCount(capacity, 'capacity');
    requireNumber(refillPerSecond, 'refillPerSecond');
    if (!Number.isFinite(refillPerSecond) || refillPerSecond <= 0) {
      throw new RangeError(`refillPerSecond must be finite and > 0, got ${refillPerSecond}`);
    }
    requireNumber(initialTokens, 'initialTokens');
    if (!(initialTokens >= 0 && initialTokens <= capacity)) {
      throw new RangeError(
        `initialTokens must be from 0 to capacity (${capacity}), got ${initialTokens}`,
      );
    }
    this.capacity = capacity;
    this.#refillPerMs = refillPerSecond / 1000;
    this.#tokens = initialTokens;
    this.#updatedAt = performance.now();
  }

  get tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  tryTake(count = 1): boolean {
    requireCount(count, 'count');
    // Waiters are served first: taking here would let small requests starve a large waiter.
    if (count > this.capacity || this.#waiters.length > 0) return false;
    this.#refill();
    if (this.#tokens < count) return false;
    this.#tokens -= count;
    return true;
  }

  msUntil(count = 1): number {
    requireCount(count, 'count');
    if (count > this.capacity) return Infinity;
    this.#refill();
    return Math.max(0, (count - this.#tokens) / this.#refillPerMs);
  }

  // async, so that invalid arguments and an aborted signal reject rather than throw.
  async take(count = 1, options: TakeOptions = {}): Promise<void> {
    const { signal } = options;
    requireCount(count, 'count');
    if (count > this.capacity) {
      throw new RangeError(`count (${count}) exceeds capacity (${this.capacity}): never available`);
    }
    signal?.throwIfAborted();
    if (this.tryTake(count)) return;

    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        count,
        resolve,
        signal,
        onAbort: () => {
          const index = this.#waiters.indexOf(waiter);
          if (index === -1) return;
          this.#waiters.splice(index, 1);
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the contract: reject with whatever the caller aborted with
          reject(signal?.reason);
          // The aborted waiter may have been the head that the timer was set for.
          this.#serve();
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#serve();
    });
  }

  /** Adds the tokens earned since the last update, never beyond capacity. */
  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(
      this.capacity,
      this.#tokens + (now - this.#updatedAt) * this.#refillPerMs,
    );
    this.#updatedAt = now;
  }

  /** Serves waiters in order while their tokens are there, then sleeps until the next one's are. */
  #serve(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#refill();
    let head = this.#waiters[0];
    while (head !== undefined && this.#tokens >= head.count) {
      this.#tokens -= head.count;
      this.#waiters.shift();
      head.signal?.removeEventListener('abort', head.onAbort);
      head.resolve();
      head = this.#waiters[0];
    }
    if (head === undefined) return;
    // Rounded up so the tokens are there when the timer fires; if float error leaves them a hair
    // short, the next round waits one more millisecond.
    const waitMs = Math.ceil((head.count - this.#tokens) / this.#refillPerMs);
    this.#timer = setTimeout(() => this.#serve(), waitMs);
  }
}

export class KeyedRateLimiter {
  readonly #options: { capacity: number; refillPerSecond: number };
  readonly #maxKeys: number;
  /** Buckets by key; a Map iterates in insertion order, so re-inserting on use makes it an LRU. */
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(options: KeyedRateLimiterOptions) {
    const { capacity, refillPerSecond, maxKeys = 10_000 } = options;
    // Validates capacity and refillPerSecond once, up front, rather than on the first check.
    new TokenBucket({ capacity, refillPerSecond });
    requireCount(maxKeys, 'maxKeys');
    this.#options = { capacity, refillPerSecond };
    this.#maxKeys = maxKeys;
  }

  get size(): number {
    return this.#buckets.size;
  }

  check(key: string, cost = 1): RateLimitDecision {
    requireCount(cost, 'cost');
    const bucket = this.#bucketFor(key);
    const allowed = bucket.tryTake(cost);
    return {
      allowed,
      limit: bucket.capacity,
      remaining: Math.floor(bucket.tokens),
      retryAfterMs: allowed ? 0 : bucket.msUntil(cost),
      resetMs: bucket.msUntil(bucket.capacity),
    };
  }

  #bucketFor(key: string): TokenBucket {
    let bucket = this.#buckets.get(key);
    if (bucket !== undefined) {
      this.#buckets.delete(key);
    } else {
      if (this.#buckets.size >= this.#maxKeys) {
        // The first key in iteration order is the least recently used.
        const oldest = this.#buckets.keys().next();
        if (oldest.done !== true) this.#buckets.delete(oldest.value);
      }
      bucket = new TokenBucket(this.#options);
    }
    this.#buckets.set(key, bucket);
    return bucket;
  }
}

export function rateLimitHook(options: RateLimitHookOptions): onRequestAsyncHookHandler {
  const { keyGenerator = (request: FastifyRequest) => request.ip, ...limits } = options;
  if (typeof keyGenerator !== 'function') {
    throw new TypeError(`keyGenerator must be a function, got ${typeof keyGenerator}`);
  }
  const limiter = new KeyedRateLimiter(limits);

  return async (request, reply) => {
    const decision = limiter.check(keyGenerator(request));
    // Header names and meanings from the IETF RateLimit header fields draft; seconds, rounded up.
    // (`void`: a reply is thenable, and here it is only being configured, not awaited.)
    void reply.headers({
      'RateLimit-Limit': decision.limit,
      'RateLimit-Remaining': decision.remaining,
      'RateLimit-Reset': Math.ceil(decision.resetMs / 1000),
    });
    if (decision.allowed) return;
    // At least 1: "Retry-After: 0" invites an immediate retry that is sure to fail again.
    const retryAfterSeconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
    // Returning the reply after send() tells Fastify the hook answered: the handler never runs.
    return reply
      .code(429)
      .header('Retry-After', retryAfterSeconds)
      .send({
        statusCode: 429,
        error: 'Too Many Requests',
        message: `Rate limit exceeded, retry in ${retryAfterSeconds} seconds`,
      });
  };
}
