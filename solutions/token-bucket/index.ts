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

/** Validates the options a bucket and a keyed limiter share. */
function requireLimits(capacity: unknown, refillPerSecond: unknown): void {
  requireCount(capacity, 'capacity');
  requireNumber(refillPerSecond, 'refillPerSecond');
  if (!Number.isFinite(refillPerSecond) || refillPerSecond <= 0) {
    throw new RangeError(`refillPerSecond must be finite and > 0, got ${refillPerSecond}`);
  }
}

/**
 * Tokens after `elapsedMs` of continuous refill, never beyond capacity: the one refill rule.
 * Callers pass the tokens and time of the last *take*, never of the last read: storing a refilled
 * value on every read would add a rounding error per read (ten reads of 0.1 token sum to
 * 0.9999999999999999), so how often someone looked would change when a token is there.
 */
function refilled(
  tokens: number,
  elapsedMs: number,
  refillPerSecond: number,
  capacity: number,
): number {
  // Multiply before dividing: whole ms times a whole rate is exact, leaving one rounding.
  return Math.min(capacity, tokens + (elapsedMs * refillPerSecond) / 1000);
}

interface Waiter {
  count: number;
  resolve: () => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export class TokenBucket {
  readonly capacity: number;
  readonly #refillPerSecond: number;
  /** Tokens left by the last take (or at creation), as of `#updatedAt`. Reads never change it. */
  #tokens: number;
  /** `performance.now()` of the last take (or of creation): monotonic, unlike Date. */
  #updatedAt: number;
  /** Waiting `take()` calls, oldest first. */
  readonly #waiters: Waiter[] = [];
  /** The one timer, set for when the oldest waiter's tokens will be there. */
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: TokenBucketOptions) {
    const { capacity, refillPerSecond, initialTokens = capacity } = options;
    requireLimits(capacity, refillPerSecond);
    requireNumber(initialTokens, 'initialTokens');
    if (!(initialTokens >= 0 && initialTokens <= capacity)) {
      throw new RangeError(
        `initialTokens must be from 0 to capacity (${capacity}), got ${initialTokens}`,
      );
    }
    this.capacity = capacity;
    this.#refillPerSecond = refillPerSecond;
    this.#tokens = initialTokens;
    this.#updatedAt = performance.now();
  }

  get tokens(): number {
    return this.#tokensAt(performance.now());
  }

  tryTake(count = 1): boolean {
    requireCount(count, 'count');
    // Waiters are served first: taking here would let small requests starve a large waiter.
    if (count > this.capacity || this.#waiters.length > 0) return false;
    return this.#takeIfThere(count, performance.now());
  }

  msUntil(count = 1): number {
    requireCount(count, 'count');
    if (count > this.capacity) return Infinity;
    const missing = count - this.#tokensAt(performance.now());
    return Math.max(0, (missing * 1000) / this.#refillPerSecond);
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

  /** The tokens at `now`, computed from the last take: a read, which changes nothing. */
  #tokensAt(now: number): number {
    return refilled(this.#tokens, now - this.#updatedAt, this.#refillPerSecond, this.capacity);
  }

  /** Takes `count` tokens at `now` if they are there: the only write to the bucket's state. */
  #takeIfThere(count: number, now: number): boolean {
    const tokens = this.#tokensAt(now);
    if (tokens < count) return false;
    this.#tokens = tokens - count;
    this.#updatedAt = now;
    return true;
  }

  /** Serves waiters in order while their tokens are there, then sleeps until the next one's are. */
  #serve(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const now = performance.now();
    let head = this.#waiters[0];
    while (head !== undefined && this.#takeIfThere(head.count, now)) {
      this.#waiters.shift();
      head.signal?.removeEventListener('abort', head.onAbort);
      head.resolve();
      head = this.#waiters[0];
    }
    if (head === undefined) return;
    // Rounded up so the tokens are there when the timer fires; if float error leaves them a hair
    // short, the next round waits one more millisecond.
    const missing = head.count - this.#tokensAt(now);
    const waitMs = Math.ceil((missing * 1000) / this.#refillPerSecond);
    this.#timer = setTimeout(() => this.#serve(), waitMs);
  }
}

/**
 * One key's bucket in a keyed limiter: just the two numbers a bucket needs (a key never waits, so
 * no queue or timer), and its place in the list of keys from most to least recently used.
 */
interface KeyBucket {
  readonly key: string;
  tokens: number;
  updatedAt: number;
  /** The key used just after this one (toward the newest end), if any. */
  newer: KeyBucket | undefined;
  /** The key used just before this one (toward the oldest end), if any. */
  older: KeyBucket | undefined;
}

export class KeyedRateLimiter {
  readonly #capacity: number;
  readonly #refillPerSecond: number;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, KeyBucket>();
  /**
   * Both ends of a doubly linked list through the buckets, in order of use: moving a bucket to the
   * newest end is a few pointer writes, and the oldest end is the one to evict.
   */
  #newest: KeyBucket | undefined;
  #oldest: KeyBucket | undefined;

  constructor(options: KeyedRateLimiterOptions) {
    const { capacity, refillPerSecond, maxKeys = 10_000 } = options;
    requireLimits(capacity, refillPerSecond);
    requireCount(maxKeys, 'maxKeys');
    this.#capacity = capacity;
    this.#refillPerSecond = refillPerSecond;
    this.#maxKeys = maxKeys;
  }

  get size(): number {
    return this.#buckets.size;
  }

  check(key: string, cost = 1): RateLimitDecision {
    requireCount(cost, 'cost');
    // One clock read: every number in the decision describes the same instant.
    const now = performance.now();
    const bucket = this.#use(key, now);
    const elapsedMs = now - bucket.updatedAt;
    const tokens = refilled(bucket.tokens, elapsedMs, this.#refillPerSecond, this.#capacity);
    const allowed = tokens >= cost;
    const left = allowed ? tokens - cost : tokens;
    // Only a take is written back: a refused check is a read, and reads must not round.
    if (allowed) {
      bucket.tokens = left;
      bucket.updatedAt = now;
    }
    const msFor = (missing: number): number => (missing * 1000) / this.#refillPerSecond;
    let retryAfterMs = 0;
    if (!allowed) {
      // A cost above capacity is never allowed (a bucket never holds more): no wait will help.
      retryAfterMs = cost > this.#capacity ? Infinity : msFor(cost - left);
    }
    return {
      allowed,
      limit: this.#capacity,
      remaining: Math.floor(left),
      retryAfterMs,
      resetMs: msFor(this.#capacity - left),
    };
  }

  /**
   * The key's bucket, moved to the newest end. A new key gets a full bucket; if `maxKeys` are
   * held, the least recently used one makes room.
   */
  #use(key: string, now: number): KeyBucket {
    let bucket = this.#buckets.get(key);
    if (bucket !== undefined) {
      this.#unlink(bucket);
    } else {
      const oldest = this.#oldest;
      if (this.#buckets.size >= this.#maxKeys && oldest !== undefined) {
        this.#unlink(oldest);
        this.#buckets.delete(oldest.key);
      }
      bucket = { key, tokens: this.#capacity, updatedAt: now, newer: undefined, older: undefined };
      this.#buckets.set(key, bucket);
    }
    // Link in as the newest.
    bucket.older = this.#newest;
    bucket.newer = undefined;
    if (this.#newest !== undefined) this.#newest.newer = bucket;
    else this.#oldest = bucket;
    this.#newest = bucket;
    return bucket;
  }

  /** Takes a bucket out of the list, joining its neighbours (or moving an end). */
  #unlink(bucket: KeyBucket): void {
    if (bucket.newer !== undefined) bucket.newer.older = bucket.older;
    else this.#newest = bucket.older;
    if (bucket.older !== undefined) bucket.older.newer = bucket.newer;
    else this.#oldest = bucket.newer;
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
