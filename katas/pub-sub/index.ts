// pub-sub: an in-memory publish/subscribe bus with `*`/`#` topic patterns. Read README.md, then fill in the TODOs.
/* eslint-disable @typescript-eslint/no-unused-vars -- the stub's parameters are yours to use */
import { NotImplementedError } from '../not-implemented.ts';

/**
 * Receives a published message and the concrete topic it was published on. It may be async: a
 * returned promise that rejects counts as the handler failing.
 */
export type Handler<T> = (message: T, topic: string) => void | Promise<void>;

/** Where a handler failure happened: the topic published and the pattern of the subscription. */
export interface ErrorContext {
  topic: string;
  pattern: string;
}

export interface PubSubOptions {
  /**
   * Called with every error a handler throws or rejects with during `publish`, and with the
   * subscription's context. Never called for `publishAsync`, which rejects instead.
   * @default console.error
   * @throws {TypeError} (from the constructor) when present and not a function
   */
  onError?: (error: unknown, context: ErrorContext) => void;
}

export interface SubscribeOptions {
  /** Remove the subscription before its handler first runs, so it runs at most once. @default false */
  once?: boolean;
  /**
   * Aborting it removes the subscription. An already-aborted signal subscribes nothing. The
   * subscription keeps at most one abort listener on it, and removes that listener when it ends
   * for any other reason (unsubscribe, a `once` that has run).
   */
  signal?: AbortSignal;
}

/** What `stream()` does with a message that arrives when its buffer is full. */
export const OVERFLOW_POLICIES = ['drop-oldest', 'drop-newest', 'error'] as const;
export type OverflowPolicy = (typeof OVERFLOW_POLICIES)[number];

export interface StreamOptions {
  /**
   * Aborting it unsubscribes, discards the buffer, and rejects the pending or next read with
   * `signal.reason`. The stream keeps at most one abort listener on it, and none once it has ended.
   */
  signal?: AbortSignal;
  /**
   * Most messages held while the consumer is slow: an integer >= 1 (`Infinity` is not allowed).
   * A message handed straight to a read that is already waiting takes no room; one dropped,
   * discarded or read is no longer referenced.
   * @default 1024
   */
  bufferSize?: number;
  /**
   * When a message arrives and the buffer is full: `'drop-oldest'` drops the oldest buffered
   * message to make room, `'drop-newest'` drops the incoming message, `'error'` ends the stream
   * (the buffer is discarded and the next read rejects with a {@link BufferOverflowError}).
   * @default 'drop-oldest'
   */
  overflow?: OverflowPolicy;
}

/** The error a stream with `overflow: 'error'` rejects its next read with when its buffer overflows. */
export class BufferOverflowError extends Error {
  override readonly name = 'BufferOverflowError';
  readonly code = 'ERR_BUFFER_OVERFLOW';

  /** @param bufferSize the limit that was exceeded */
  constructor(readonly bufferSize: number) {
    super(`stream buffer overflowed: more than ${bufferSize} unread messages`);
  }
}

/**
 * An in-memory message bus. Topics are dot-separated, non-empty segments without `*` or `#`
 * (`orders.eu.created`). Patterns are made of segments that are `*` (exactly one segment), `#`
 * (zero or more segments) or a literal free of both. Matching must be polynomial in the number of
 * segments (see the README's Limits); subscribe and unsubscribe O(1) apart from parsing.
 */
export class PubSub {
  /** @throws {TypeError} when `options.onError` is present and not a function */
  constructor(options: PubSubOptions = {}) {
    // TODO: validate options and set up the subscription list.
    throw new NotImplementedError('PubSub constructor');
  }

  /**
   * Adds a subscription: `handler` gets every message published on a topic matching `pattern`,
   * in subscription order. Every call is its own subscription, even with the same handler.
   * @returns a function that removes this subscription (and only it); calling it again does nothing
   * @throws {TypeError} when `pattern` is malformed (empty segment, `a.#b`, `**`) or `handler` is not a function
   */
  subscribe<T>(pattern: string, handler: Handler<T>, options: SubscribeOptions = {}): () => void {
    // TODO: validate, honour `once` and `signal`, and return the unsubscribe function.
    throw new NotImplementedError('PubSub.subscribe');
  }

  /**
   * Calls every handler whose pattern matches `topic`, synchronously and in subscription order.
   * The handlers are fixed when the call begins: one subscribed meanwhile waits for the next
   * message, one unsubscribed meanwhile still gets this one. A handler's error never escapes: it
   * goes to `onError` (async rejections too, once they happen).
   * @returns how many handlers were called, those that failed included
   * @throws {TypeError} when `topic` is not a valid topic (empty segment, `*` or `#` in it)
   */
  publish<T>(topic: string, message: T): number {
    // TODO: snapshot the matching subscriptions, call each one, route failures to onError.
    throw new NotImplementedError('PubSub.publish');
  }

  /**
   * Like `publish`, but waits until every handler has settled, async ones included.
   * @returns how many handlers were called, when none failed
   * @throws {AggregateError} (as a rejection) of exactly the handlers' errors, once all have
   *   settled, when any failed; those errors are not sent to `onError`
   * @throws {TypeError} (as a rejection) when `topic` is not a valid topic
   */
  async publishAsync<T>(topic: string, message: T): Promise<number> {
    // TODO: dispatch as publish does, then wait for every handler and collect the failures.
    throw new NotImplementedError('PubSub.publishAsync');
  }

  /**
   * How many subscriptions (streams included) match `topic` right now.
   * @throws {TypeError} when `topic` is not a valid topic
   */
  listenerCount(topic: string): number {
    // TODO: count the subscriptions whose pattern matches `topic`.
    throw new NotImplementedError('PubSub.listenerCount');
  }

  /**
   * Subscribes to `pattern` now and returns an async iterator of the matching messages, in
   * publish order. Ending the iteration (`break`, `return()`) or aborting `options.signal`
   * unsubscribes; after an abort the pending or next read rejects with `signal.reason`.
   * @throws {TypeError} when `pattern` is malformed or `overflow` is not one of {@link OVERFLOW_POLICIES}
   * @throws {RangeError} when `bufferSize` is not an integer >= 1
   */
  stream<T>(pattern: string, options: StreamOptions = {}): AsyncIterableIterator<T> {
    // TODO: subscribe with a handler that feeds a waiting read or the buffer; build the iterator.
    throw new NotImplementedError('PubSub.stream');
  }
}
