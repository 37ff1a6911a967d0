// In-memory message queue: implement MessageQueue and consume (see README.md).
import { NotImplementedError } from '../not-implemented.ts';

/** Options of a {@link MessageQueue}. */
export interface QueueOptions {
  /**
   * How long a received message stays invisible (in flight) before it becomes ready again, in ms.
   * Finite and > 0. @default 30_000
   */
  visibilityTimeoutMs?: number;
  /**
   * Deliveries a message may have: once it has been delivered this many times, a delivery that
   * ends without an ack dead-letters it. An integer >= 1, or `Infinity` for never. @default 5
   */
  maxReceives?: number;
  /**
   * Most messages held at once (ready + delayed + in flight; dead letters do not count). An
   * integer >= 1, or `Infinity` for no limit. @default Infinity
   */
  maxLength?: number;
}

/** Options of {@link MessageQueue.send}. */
export interface SendOptions {
  /** ms before the message becomes ready; finite >= 0. 0 means ready at once. @default 0 */
  delayMs?: number;
}

/** Options of {@link MessageQueue.receive}. */
export interface ReceiveOptions {
  /** Most messages taken at once; an integer >= 1. @default 1 */
  max?: number;
  /**
   * ms to wait for a message when none is ready; finite >= 0, or `Infinity` to wait until one
   * comes or the queue is closed. 0 resolves `[]` at once. @default 0
   */
  waitMs?: number;
  /**
   * Aborting it while the call waits rejects it with `signal.reason` and takes nothing. Already
   * aborted: the call rejects at once, even if messages are ready.
   */
  signal?: AbortSignal;
}

/** Options of {@link MessageQueue.nack}. */
export interface NackOptions {
  /** ms before the message is ready again; finite >= 0. 0 means ready at once. @default 0 */
  delayMs?: number;
}

/** One delivery of a message. */
export interface ReceivedMessage<T> {
  /** Unique per sent message, the same in every delivery of it. */
  readonly id: string;
  /** The body as sent (the same value). */
  readonly body: T;
  /** 1 on the first delivery, one more on each later one. */
  readonly receiveCount: number;
  /** Names this delivery only: `ack`, `nack` and `extendVisibility` take it. */
  readonly receiptHandle: string;
}

/** A message that was delivered `maxReceives` times without being acknowledged. */
export interface DeadLetter<T> {
  readonly id: string;
  readonly body: T;
  /** Deliveries it had. */
  readonly receiveCount: number;
}

/** What the queue holds now, by state. */
export interface QueueStats {
  /** Receivable now. */
  ready: number;
  /** Sent with a delay, or nacked with one, and not ready yet. */
  delayed: number;
  /** Received, and neither acknowledged nor timed out. */
  inFlight: number;
  /** In the dead-letter list. */
  deadLettered: number;
}

/** Options of {@link consume}. */
export interface ConsumeOptions<T> {
  /** Most handlers running (and messages in flight for this consumer) at once; an integer >= 1. */
  concurrency: number;
  /** Aborting it stops the consumer: nothing more is received, running handlers finish. */
  signal: AbortSignal;
  /** Told about each handler that throws or rejects (its message is nacked). @default console.error */
  onError?: (error: unknown, message: ReceivedMessage<T>) => void;
}

/** Thrown by {@link MessageQueue.send} when the queue already holds `maxLength` messages. */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
}

/** Thrown by {@link MessageQueue.send} once the queue is closed. */
export class QueueClosedError extends Error {
  override readonly name = 'QueueClosedError';
}

/**
 * A queue with at-least-once delivery: a received message is in flight until it is acknowledged
 * with its delivery's receipt handle; unacknowledged, it becomes ready again after the visibility
 * timeout, and after `maxReceives` deliveries it goes to the dead-letter list.
 */
export class MessageQueue<T> {
  /**
   * @throws {TypeError} when an option is not a number
   * @throws {RangeError} when `visibilityTimeoutMs` is not finite and > 0, or `maxReceives` or
   *   `maxLength` is not an integer >= 1 or `Infinity` (the message names the option)
   */
  constructor(options: QueueOptions = {}) {
    // TODO: validate the options and set up the ready, delayed and in-flight messages.
    throw new NotImplementedError(`MessageQueue constructor (${JSON.stringify(options)})`);
  }

  /**
   * Adds a message, ready at once or after `delayMs`.
   * @returns the message's id, unique in this queue
   * @throws {QueueClosedError} once `close()` has been called
   * @throws {QueueFullError} when `maxLength` messages are held
   * @throws {TypeError} / {RangeError} when `delayMs` is not a number / not finite and >= 0
   */
  send(body: T, options: SendOptions = {}): string {
    // TODO: give it an id and a place among the ready (or delayed) messages.
    throw new NotImplementedError(
      `MessageQueue.send(${JSON.stringify(body)}, ${JSON.stringify(options)})`,
    );
  }

  /**
   * Takes up to `max` ready messages, oldest-ready first, and makes them in flight for
   * `visibilityTimeoutMs`. With none ready, waits up to `waitMs` for one (waiting receivers are
   * served first-in, first-out, one batch each), then resolves `[]`. After `close()`, resolves `[]`.
   * @throws {TypeError} / {RangeError} (as a rejection) when `max` or `waitMs` is invalid
   * @throws `signal.reason` (as a rejection) when `signal` is aborted before messages are taken
   */
  receive(options: ReceiveOptions = {}): Promise<ReceivedMessage<T>[]> {
    // TODO: take what is ready, or wait (with a timer for waitMs) until a message is ready for you.
    throw new NotImplementedError(`MessageQueue.receive(${JSON.stringify(options)})`);
  }

  /**
   * Deletes the message for good if `receiptHandle` names its current delivery.
   * @returns true if deleted; false (changing nothing) for a stale, unknown, used or non-string handle
   */
  ack(receiptHandle: string): boolean {
    // TODO
    throw new NotImplementedError(`MessageQueue.ack(${receiptHandle})`);
  }

  /**
   * Ends the current delivery: the message is ready again after `delayMs` (delayed until then),
   * or dead-lettered at once if it has had `maxReceives` deliveries.
   * @returns true, or false (changing nothing) for a handle that is not the current delivery's
   * @throws {TypeError} / {RangeError} when `delayMs` is not a number / not finite and >= 0
   */
  nack(receiptHandle: string, options: NackOptions = {}): boolean {
    // TODO
    throw new NotImplementedError(
      `MessageQueue.nack(${receiptHandle}, ${JSON.stringify(options)})`,
    );
  }

  /**
   * Sets the current delivery's invisibility to end `visibilityTimeoutMs` from now (a heartbeat);
   * 0 ends the delivery during the call (the message is then ready, or dead-lettered).
   * @returns true, or false (changing nothing) for a handle that is not the current delivery's
   * @throws {TypeError} / {RangeError} when `visibilityTimeoutMs` is not a number / not finite and >= 0
   */
  extendVisibility(receiptHandle: string, visibilityTimeoutMs: number): boolean {
    // TODO
    throw new NotImplementedError(
      `MessageQueue.extendVisibility(${receiptHandle}, ${visibilityTimeoutMs})`,
    );
  }

  /** The messages held now, by state, and the dead letters. */
  get stats(): QueueStats {
    // TODO
    throw new NotImplementedError('MessageQueue.stats');
  }

  /** A new array of the dead letters, oldest dead-lettered first. */
  deadLetters(): DeadLetter<T>[] {
    // TODO
    throw new NotImplementedError('MessageQueue.deadLetters');
  }

  /**
   * Closes the queue (again: no effect): `send` throws `QueueClosedError`, waiting and later
   * `receive` calls resolve `[]`; `ack`, `nack` and `extendVisibility` still work.
   */
  close(): void {
    // TODO
    throw new NotImplementedError('MessageQueue.close');
  }
}

/**
 * Runs `handler` on the queue's messages, at most `concurrency` at once, receiving by long
 * polling as slots free up. A handler that fulfils acks its message; one that throws or rejects
 * nacks it and is reported to `onError`. Fulfils once `signal` has aborted (or the queue is
 * closed) and the running handlers have finished; at once if `signal` is already aborted.
 * @throws {TypeError} / {RangeError} (as a rejection) when `concurrency` is not a number / not an
 *   integer >= 1
 */
export function consume<T>(
  queue: MessageQueue<T>,
  handler: (message: ReceivedMessage<T>) => unknown,
  options: ConsumeOptions<T>,
): Promise<void> {
  // TODO: receive up to the free slots, run each handler, ack or nack, and stop gracefully.
  throw new NotImplementedError(
    `consume(${queue.constructor.name}, ${handler.name || 'handler'}, ${JSON.stringify(options)})`,
  );
}
