// pub-sub: reference implementation of the in-memory publish/subscribe bus.

export type Handler<T> = (message: T, topic: string) => void | Promise<void>;

export interface ErrorContext {
  topic: string;
  pattern: string;
}

export interface PubSubOptions {
  /** Receives every handler failure during `publish`. @default console.error */
  onError?: (error: unknown, context: ErrorContext) => void;
}

export interface SubscribeOptions {
  /** Remove the subscription before its handler first runs. @default false */
  once?: boolean;
  /** Aborting it removes the subscription; an already-aborted signal subscribes nothing. */
  signal?: AbortSignal;
}

export const OVERFLOW_POLICIES = ['drop-oldest', 'drop-newest', 'error'] as const;
export type OverflowPolicy = (typeof OVERFLOW_POLICIES)[number];

export interface StreamOptions {
  signal?: AbortSignal;
  /** Integer >= 1. @default 1024 */
  bufferSize?: number;
  /** @default 'drop-oldest' */
  overflow?: OverflowPolicy;
}

export class BufferOverflowError extends Error {
  override readonly name = 'BufferOverflowError';
  readonly code = 'ERR_BUFFER_OVERFLOW';

  constructor(readonly bufferSize: number) {
    super(`stream buffer overflowed: more than ${bufferSize} unread messages`);
  }
}

interface Subscription {
  readonly pattern: string;
  readonly segments: readonly string[];
  readonly handler: Handler<unknown>;
  readonly once: boolean;
  /** Set when a `once` subscription is claimed by a dispatch, so no other dispatch runs it. */
  fired: boolean;
  readonly unsubscribe: () => void;
}

const DEFAULT_BUFFER_SIZE = 1024;
const MAX_REMEMBERED_TOPICS = 10_000;

export class PubSub {
  readonly #onError: (error: unknown, context: ErrorContext) => void;
  // A Set keeps insertion (= subscription) order and deletes in O(1); each subscription is its
  // own object, so the same handler subscribed twice is two entries.
  readonly #subscriptions = new Set<Subscription>();
  /**
   * Topic -> the subscriptions matching it, in order: matching every pattern on every publish
   * costs O(subscriptions), so the answer is remembered until the next subscribe or unsubscribe.
   * The arrays are never changed, only dropped, so each one is also a dispatch's snapshot. Only
   * a valid topic is ever a key, so a topic found here needs no validating again.
   */
  readonly #matchesByTopic = new Map<string, readonly Subscription[]>();

  constructor(options: PubSubOptions = {}) {
    const { onError = defaultOnError } = options;
    if (typeof onError !== 'function') {
      throw new TypeError(`onError must be a function, got ${typeof onError}`);
    }
    this.#onError = onError;
  }

  subscribe<T>(pattern: string, handler: Handler<T>, options: SubscribeOptions = {}): () => void {
    const segments = parsePattern(pattern);
    if (typeof handler !== 'function') {
      throw new TypeError(`handler must be a function, got ${typeof handler}`);
    }
    const { once = false, signal } = options;
    if (signal?.aborted) return () => {};

    const unsubscribe = (): void => {
      if (this.#subscriptions.delete(subscription)) this.#matchesByTopic.clear();
      signal?.removeEventListener('abort', unsubscribe);
    };
    const subscription: Subscription = {
      pattern,
      segments,
      handler: handler as Handler<unknown>,
      once,
      fired: false,
      unsubscribe,
    };
    this.#subscriptions.add(subscription);
    this.#matchesByTopic.clear();
    // No `{ once: true }` needed: unsubscribe removes this very listener, however it is called.
    signal?.addEventListener('abort', unsubscribe);
    return unsubscribe;
  }

  publish<T>(topic: string, message: T): number {
    // The hot path: nothing here allocates unless a handler fails or returns a promise. That is
    // why publishAsync repeats this loop instead of sharing one that takes a failure callback and
    // returns the promises to wait for: those would be allocated on every publish.
    let called = 0;
    for (const subscription of this.#matching(topic)) {
      if (!claim(subscription)) continue;
      called += 1;
      try {
        const result: unknown = subscription.handler(message, topic);
        if (isThenable(result)) {
          result.then(undefined, (error: unknown) => this.#report(error, topic, subscription));
        }
      } catch (error) {
        this.#report(error, topic, subscription);
      }
    }
    return called;
  }

  async publishAsync<T>(topic: string, message: T): Promise<number> {
    // The same loop as publish, but failures are collected for the caller instead of reported.
    const failures: unknown[] = [];
    const settling: Promise<void>[] = [];
    let called = 0;
    for (const subscription of this.#matching(topic)) {
      if (!claim(subscription)) continue;
      called += 1;
      try {
        const result: unknown = subscription.handler(message, topic);
        if (isThenable(result)) {
          // Always fulfils (the failure is recorded instead), so Promise.all waits for every one.
          settling.push(
            new Promise((settled) => {
              result.then(
                () => settled(),
                (error: unknown) => {
                  failures.push(error);
                  settled();
                },
              );
            }),
          );
        }
      } catch (error) {
        failures.push(error);
      }
    }
    await Promise.all(settling);
    if (failures.length > 0) {
      throw new AggregateError(
        failures,
        `${failures.length} of ${called} handlers failed on ${topic}`,
      );
    }
    return called;
  }

  listenerCount(topic: string): number {
    // The very array publish would iterate, so the two always agree.
    return this.#matching(topic).length;
  }

  stream<T>(pattern: string, options: StreamOptions = {}): AsyncIterableIterator<T> {
    parsePattern(pattern);
    const { signal, bufferSize = DEFAULT_BUFFER_SIZE, overflow = 'drop-oldest' } = options;
    // Number.isInteger is false for anything but a number, NaN and ±Infinity included.
    if (!Number.isInteger(bufferSize) || bufferSize < 1) {
      throw new RangeError(`bufferSize must be an integer >= 1, got ${String(bufferSize)}`);
    }
    if (!OVERFLOW_POLICIES.includes(overflow)) {
      throw new TypeError(
        `overflow must be one of ${JSON.stringify(OVERFLOW_POLICIES)}, got ${String(overflow)}`,
      );
    }

    const buffer: T[] = [];
    const reads: Array<{
      resolve: (result: IteratorResult<T, undefined>) => void;
      reject: (reason: unknown) => void;
    }> = [];
    let ended = false;
    // The error the next read rejects with, once the stream has ended by abort or overflow.
    let failure: { error: unknown } | undefined;
    let unsubscribe = (): void => {};

    const end = (error?: { error: unknown }): void => {
      if (ended) return;
      ended = true;
      unsubscribe();
      signal?.removeEventListener('abort', onAbort);
      buffer.length = 0;
      failure = error;
      // Reads still waiting are settled now: the first gets the failure, if any; the rest are done.
      for (const read of reads.splice(0)) {
        if (failure) {
          read.reject(failure.error);
          failure = undefined;
        } else {
          read.resolve({ value: undefined, done: true });
        }
      }
    };
    // Added to `signal` only, so the event's target is that signal.
    const onAbort = (event: Event): void => end({ error: (event.target as AbortSignal).reason });

    if (signal?.aborted) {
      end({ error: signal.reason });
    } else {
      unsubscribe = this.subscribe<T>(pattern, (message) => {
        // A waiting read takes the message directly: it never occupies buffer room.
        const read = reads.shift();
        if (read) {
          read.resolve({ value: message, done: false });
        } else if (buffer.length < bufferSize) {
          buffer.push(message);
        } else if (overflow === 'drop-oldest') {
          buffer.shift();
          buffer.push(message);
        } else if (overflow === 'error') {
          end({ error: new BufferOverflowError(bufferSize) });
        } // 'drop-newest': the incoming message is the one dropped.
      });
      signal?.addEventListener('abort', onAbort); // end() removes it
    }

    const iterator: AsyncIterableIterator<T> = {
      next: async () => {
        if (buffer.length > 0) return { value: buffer.shift() as T, done: false };
        if (failure) {
          const { error } = failure;
          failure = undefined;
          throw error;
        }
        if (ended) return { value: undefined, done: true };
        return new Promise((resolve, reject) => reads.push({ resolve, reject }));
      },
      return: async () => {
        end();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  #report(error: unknown, topic: string, { pattern }: Subscription): void {
    this.#onError(error, { topic, pattern });
  }

  /**
   * The subscriptions matching `topic`, in subscription order. The array is never changed, only
   * dropped when subscriptions change, so a dispatch can iterate it as its snapshot: subscribing
   * or unsubscribing during the dispatch does not change who gets this message.
   */
  #matching(topic: string): readonly Subscription[] {
    let matching = this.#matchesByTopic.get(topic);
    if (matching === undefined) {
      // Validated on a miss only: a bad topic is never remembered, so it throws on every call.
      const segments = parseTopic(topic);
      matching = [...this.#subscriptions].filter((s) => matches(s.segments, segments));
      // Bounded: a bus publishing to endless distinct topics (ids in them) starts over.
      if (this.#matchesByTopic.size >= MAX_REMEMBERED_TOPICS) this.#matchesByTopic.clear();
      this.#matchesByTopic.set(topic, matching);
    }
    return matching;
  }
}

/**
 * Whether a dispatch may call this subscription. A `once` subscription is claimed and removed
 * before its handler runs, so neither a publish from inside the handler nor an outer dispatch
 * whose snapshot still holds it can run it a second time.
 */
function claim(subscription: Subscription): boolean {
  if (!subscription.once) return true;
  if (subscription.fired) return false;
  subscription.fired = true;
  subscription.unsubscribe();
  return true;
}

function defaultOnError(error: unknown, { topic, pattern }: ErrorContext): void {
  console.error(`pub-sub: a handler subscribed to "${pattern}" failed on "${topic}":`, error);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  // `?.` so that undefined and null (what most handlers return) are not thenables either.
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

function parseTopic(topic: unknown): string[] {
  if (typeof topic !== 'string') throw new TypeError(`topic must be a string, got ${typeof topic}`);
  const segments = topic.split('.');
  for (const segment of segments) {
    if (segment === '' || segment.includes('*') || segment.includes('#')) {
      throw new TypeError(
        `topic "${topic}" is invalid: segments must be non-empty and free of "*" and "#"`,
      );
    }
  }
  return segments;
}

function parsePattern(pattern: unknown): string[] {
  if (typeof pattern !== 'string') {
    throw new TypeError(`pattern must be a string, got ${typeof pattern}`);
  }
  const segments = pattern.split('.');
  for (const segment of segments) {
    const wildcard = segment === '*' || segment === '#';
    if (segment === '' || (!wildcard && (segment.includes('*') || segment.includes('#')))) {
      throw new TypeError(
        `pattern "${pattern}" is invalid: each segment is "*", "#" or a non-empty literal without them`,
      );
    }
  }
  return segments;
}

/**
 * Whether the pattern's segments match the topic's. This is glob matching over segments, with
 * `*` as "any one" and `#` as "any run, possibly empty": walk both, and when a literal fails,
 * backtrack to the last `#` and let it swallow one more topic segment. Only the last `#` needs
 * remembering (an earlier one can never do better), so this is O(pattern × topic) at worst and
 * linear in the usual case, with no recursion to blow up on `#.#.#...`.
 */
function matches(pattern: readonly string[], topic: readonly string[]): boolean {
  let p = 0;
  let t = 0;
  let lastHash = -1; // index in `pattern` of the last `#` seen
  let hashEnd = 0; // where in `topic` the segments that `#` swallows end
  while (t < topic.length) {
    const segment = pattern[p]; // undefined past the pattern's end: neither '*' nor a topic segment
    if (segment === '#') {
      lastHash = p;
      hashEnd = t;
      p += 1; // first try: `#` matches zero segments
    } else if (segment === '*' || segment === topic[t]) {
      p += 1;
      t += 1;
    } else if (lastHash >= 0) {
      p = lastHash + 1;
      hashEnd += 1;
      t = hashEnd;
    } else {
      return false;
    }
  }
  while (pattern[p] === '#') p += 1;
  return p === pattern.length;
}
