// In-memory message queue with SQS semantics: receipt handles, visibility timeouts, dead letters.

export interface QueueOptions {
  /** How long a received message stays invisible, in ms; finite > 0. @default 30_000 */
  visibilityTimeoutMs?: number;
  /** Deliveries before a message is dead-lettered; an integer >= 1 or Infinity. @default 5 */
  maxReceives?: number;
  /** Most messages held (ready + delayed + in flight); an integer >= 1 or Infinity. @default Infinity */
  maxLength?: number;
}

export interface SendOptions {
  /** ms before the message becomes ready; finite >= 0. @default 0 */
  delayMs?: number;
}

export interface ReceiveOptions {
  /** Most messages taken at once; an integer >= 1. @default 1 */
  max?: number;
  /** ms to wait for a message when none is ready; finite >= 0 or Infinity. @default 0 */
  waitMs?: number;
  /** Aborting it while waiting rejects with `signal.reason` and takes nothing. */
  signal?: AbortSignal;
}

export interface NackOptions {
  /** ms before the message is ready again; finite >= 0. @default 0 */
  delayMs?: number;
}

export interface ReceivedMessage<T> {
  readonly id: string;
  readonly body: T;
  readonly receiveCount: number;
  readonly receiptHandle: string;
}

export interface DeadLetter<T> {
  readonly id: string;
  readonly body: T;
  readonly receiveCount: number;
}

export interface QueueStats {
  ready: number;
  delayed: number;
  inFlight: number;
  deadLettered: number;
}

export interface ConsumeOptions<T> {
  /** Most handlers running at once; an integer >= 1. */
  concurrency: number;
  /** Aborting it stops the consumer gracefully. */
  signal: AbortSignal;
  /** Told about every handler that throws or rejects. @default console.error */
  onError?: (error: unknown, message: ReceivedMessage<T>) => void;
}

export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
}

export class QueueClosedError extends Error {
  override readonly name = 'QueueClosedError';
}

function requireNumber(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number') {
    throw new TypeError(`${name} must be a number, got ${typeof value}`);
  }
}

/** A duration in ms: finite and >= 0 (or > 0), or, where allowed, Infinity. */
function requireMs(
  value: unknown,
  name: string,
  { positive = false, infinite = false } = {},
): void {
  requireNumber(value, name);
  const ok =
    (Number.isFinite(value) || (infinite && value === Infinity)) &&
    (positive ? value > 0 : value >= 0);
  if (!ok) {
    throw new RangeError(
      `${name} must be a number of ms >= 0 (> 0 for the visibility timeout, Infinity only for waitMs), got ${value}`,
    );
  }
}

function requireCount(value: unknown, name: string, { infinite = false } = {}): void {
  requireNumber(value, name);
  if (!((Number.isInteger(value) && value >= 1) || (infinite && value === Infinity))) {
    throw new RangeError(
      `${name} must be an integer >= 1 (or Infinity, for the queue's limits), got ${value}`,
    );
  }
}

/** One sent message, from `send` until it is acknowledged or dead-lettered. */
interface Message<T> {
  readonly id: string;
  /** Send order: breaks ties between messages due at the same instant. */
  readonly seq: number;
  readonly body: T;
  receiveCount: number;
  /**
   * Ready: when it became ready (the ready order). Delayed: when it becomes ready. In flight: when
   * its visibility ends. One field, because each is the key of the heap the message is in.
   */
  at: number;
  /** The current delivery's handle while in flight; undefined otherwise. */
  handle: string | undefined;
  /** Its position in the heap it is in, so it can be removed from the middle in O(log n). */
  index: number;
}

const earlier = (a: Message<unknown>, b: Message<unknown>): boolean =>
  a.at < b.at || (a.at === b.at && a.seq < b.seq);

/** A binary min-heap of messages by (`at`, `seq`) that keeps each message's `index` up to date. */
class MessageHeap<T> {
  #items: Message<T>[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): Message<T> | undefined {
    return this.#items[0];
  }

  push(message: Message<T>): void {
    message.index = this.#items.length;
    this.#items.push(message);
    this.#up(message.index);
  }

  pop(): Message<T> | undefined {
    const top = this.#items[0];
    if (top !== undefined) this.remove(top);
    return top;
  }

  remove(message: Message<T>): void {
    const items = this.#items;
    const last = items.pop()!;
    // An array keeps its capacity when emptied: a drained queue lets it go, so its memory is back
    // to that of an empty queue (nothing is kept for acknowledged messages).
    if (items.length === 0) this.#items = [];
    else if (last !== message) {
      items[message.index] = last;
      last.index = message.index;
      this.#down(last.index);
      this.#up(last.index);
    }
  }

  #up(index: number): void {
    const items = this.#items;
    const item = items[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = items[parentIndex]!;
      if (!earlier(item, parent)) break;
      items[index] = parent;
      parent.index = index;
      index = parentIndex;
    }
    items[index] = item;
    item.index = index;
  }

  #down(index: number): void {
    const items = this.#items;
    const item = items[index]!;
    const half = items.length >> 1;
    while (index < half) {
      let childIndex = 2 * index + 1;
      let child = items[childIndex]!;
      const right = items[childIndex + 1];
      if (right !== undefined && earlier(right, child)) {
        childIndex += 1;
        child = right;
      }
      if (!earlier(child, item)) break;
      items[index] = child;
      child.index = index;
      index = childIndex;
    }
    items[index] = item;
    item.index = index;
  }
}

/** A `receive()` waiting for messages. */
interface Waiter<T> {
  readonly max: number;
  readonly resolve: (messages: ReceivedMessage<T>[]) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class MessageQueue<T> {
  readonly #visibilityTimeoutMs: number;
  readonly #maxReceives: number;
  readonly #maxLength: number;
  /** Ready messages, oldest-ready first. */
  readonly #ready = new MessageHeap<T>();
  /** Delayed and in-flight messages, by the moment something happens to them. */
  readonly #pending = new MessageHeap<T>();
  /** In-flight messages by their current receipt handle. */
  readonly #inFlight = new Map<string, Message<T>>();
  readonly #deadLetters: DeadLetter<T>[] = [];
  /** Waiting receivers, first come first served. */
  readonly #waiters: Waiter<T>[] = [];
  /** The one timer for the messages: set only while receivers wait, for the next pending moment. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #sent = 0;
  #closed = false;

  constructor(options: QueueOptions = {}) {
    const { visibilityTimeoutMs = 30_000, maxReceives = 5, maxLength = Infinity } = options;
    requireMs(visibilityTimeoutMs, 'visibilityTimeoutMs', { positive: true });
    requireCount(maxReceives, 'maxReceives', { infinite: true });
    requireCount(maxLength, 'maxLength', { infinite: true });
    this.#visibilityTimeoutMs = visibilityTimeoutMs;
    this.#maxReceives = maxReceives;
    this.#maxLength = maxLength;
  }

  send(body: T, options: SendOptions = {}): string {
    const { delayMs = 0 } = options;
    requireMs(delayMs, 'delayMs');
    if (this.#closed) throw new QueueClosedError('send() refused: the queue is closed');
    const now = this.#settle();
    if (this.#ready.size + this.#pending.size >= this.#maxLength) {
      throw new QueueFullError(`the queue holds maxLength (${this.#maxLength}) messages`);
    }
    this.#sent += 1;
    const message: Message<T> = {
      id: `m${this.#sent}`,
      seq: this.#sent,
      body,
      receiveCount: 0,
      at: now + delayMs,
      handle: undefined,
      index: 0, // set when it is pushed into a heap
    };
    if (delayMs > 0) this.#pending.push(message);
    else this.#ready.push(message);
    this.#serve(now);
    return message.id;
  }

  async receive(options: ReceiveOptions = {}): Promise<ReceivedMessage<T>[]> {
    const { max = 1, waitMs = 0, signal } = options;
    requireCount(max, 'max');
    requireMs(waitMs, 'waitMs', { infinite: true });
    signal?.throwIfAborted();
    if (this.#closed) return [];
    const now = this.#settle();
    // Waiters are served whenever messages become ready, so if any message is ready, nobody waits.
    if (this.#ready.size > 0) return this.#take(max, now);
    if (waitMs === 0) return [];

    return new Promise((resolve, reject) => {
      const waiter: Waiter<T> = {
        max,
        resolve,
        signal,
        onAbort: () => {
          this.#dismiss(waiter);
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the contract: reject with whatever the caller aborted with
          reject(signal!.reason);
        },
        timer: undefined,
      };
      if (waitMs !== Infinity) {
        waiter.timer = setTimeout(() => {
          // A message due at this very moment is delivered, whichever timer fires first.
          this.#settle();
          if (this.#waiters.includes(waiter)) {
            this.#dismiss(waiter);
            resolve([]);
          }
        }, waitMs);
      }
      // No { once: true }: #dismiss removes the listener whichever way the waiter leaves.
      signal?.addEventListener('abort', waiter.onAbort);
      this.#waiters.push(waiter);
      this.#arm();
    });
  }

  ack(receiptHandle: string): boolean {
    this.#settle();
    const message = this.#inFlight.get(receiptHandle);
    if (message === undefined) return false;
    this.#inFlight.delete(receiptHandle);
    this.#pending.remove(message);
    this.#arm();
    return true;
  }

  nack(receiptHandle: string, options: NackOptions = {}): boolean {
    const { delayMs = 0 } = options;
    requireMs(delayMs, 'delayMs');
    const now = this.#settle();
    const message = this.#inFlight.get(receiptHandle);
    if (message === undefined) return false;
    this.#pending.remove(message);
    this.#endDelivery(message, now + delayMs, now);
    this.#serve(now);
    return true;
  }

  extendVisibility(receiptHandle: string, visibilityTimeoutMs: number): boolean {
    requireMs(visibilityTimeoutMs, 'visibilityTimeoutMs');
    const now = this.#settle();
    const message = this.#inFlight.get(receiptHandle);
    if (message === undefined) return false;
    this.#pending.remove(message);
    if (visibilityTimeoutMs === 0) {
      this.#endDelivery(message, now, now);
    } else {
      message.at = now + visibilityTimeoutMs;
      this.#pending.push(message);
    }
    this.#serve(now);
    return true;
  }

  get stats(): QueueStats {
    this.#settle();
    const inFlight = this.#inFlight.size;
    return {
      ready: this.#ready.size,
      delayed: this.#pending.size - inFlight,
      inFlight,
      deadLettered: this.#deadLetters.length,
    };
  }

  deadLetters(): DeadLetter<T>[] {
    this.#settle();
    return [...this.#deadLetters];
  }

  close(): void {
    this.#closed = true;
    for (const waiter of [...this.#waiters]) {
      this.#dismiss(waiter);
      waiter.resolve([]);
    }
  }

  /**
   * Brings the queue up to now: every delayed message whose delay has ended becomes ready, every
   * delivery whose visibility has ended becomes ready or dead-lettered, in the order they fell due.
   * Done lazily at every call, so no timer is needed unless a receiver waits. Returns now.
   */
  #settle(): number {
    const now = performance.now();
    let next = this.#pending.peek();
    if (next === undefined || next.at > now) return now;
    do {
      this.#pending.pop();
      if (next.handle === undefined) this.#ready.push(next);
      else this.#endDelivery(next, next.at, now);
      next = this.#pending.peek();
    } while (next !== undefined && next.at <= now);
    // Whoever waits gets the messages that just became ready before any later caller does.
    this.#serve(now);
    return now;
  }

  /**
   * Ends the current delivery of an in-flight message (already out of `#pending`): dead-lettered
   * if it has had its `maxReceives` deliveries, otherwise ready (or delayed) from `readyAt`.
   */
  #endDelivery(message: Message<T>, readyAt: number, now: number): void {
    this.#inFlight.delete(message.handle!);
    message.handle = undefined;
    if (message.receiveCount >= this.#maxReceives) {
      const { id, body, receiveCount } = message;
      this.#deadLetters.push({ id, body, receiveCount });
      return;
    }
    message.at = readyAt;
    if (readyAt > now) this.#pending.push(message);
    else this.#ready.push(message);
  }

  /** Hands up to `max` ready messages over as new deliveries. */
  #take(max: number, now: number): ReceivedMessage<T>[] {
    const taken: ReceivedMessage<T>[] = [];
    while (taken.length < max) {
      const message = this.#ready.pop();
      if (message === undefined) break;
      message.receiveCount += 1;
      message.handle = `${message.id}:${message.receiveCount}`;
      message.at = now + this.#visibilityTimeoutMs;
      this.#inFlight.set(message.handle, message);
      this.#pending.push(message);
      const { id, body, receiveCount, handle: receiptHandle } = message;
      taken.push({ id, body, receiveCount, receiptHandle });
    }
    return taken;
  }

  /** Serves waiting receivers in order while messages are ready, then re-arms the timer. */
  #serve(now: number): void {
    while (this.#waiters.length > 0 && this.#ready.size > 0) {
      const waiter = this.#waiters[0]!;
      this.#dismiss(waiter);
      waiter.resolve(this.#take(waiter.max, now));
    }
    this.#arm();
  }

  /** Takes a waiter out of the queue with its timer and abort listener. */
  #dismiss(waiter: Waiter<T>): void {
    const index = this.#waiters.indexOf(waiter);
    if (index !== -1) this.#waiters.splice(index, 1);
    clearTimeout(waiter.timer);
    waiter.signal?.removeEventListener('abort', waiter.onAbort);
    this.#arm();
  }

  /** Keeps the one timer set for the next pending moment while anyone waits, and off otherwise. */
  #arm(): void {
    const at = this.#waiters.length > 0 ? (this.#pending.peek()?.at ?? Infinity) : Infinity;
    if (at === this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = at;
    if (at === Infinity) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Infinity;
        this.#settle();
        this.#arm();
      },
      Math.max(0, at - performance.now()),
    );
  }
}

export async function consume<T>(
  queue: MessageQueue<T>,
  handler: (message: ReceivedMessage<T>) => unknown,
  options: ConsumeOptions<T>,
): Promise<void> {
  const { concurrency, signal, onError = console.error } = options;
  requireCount(concurrency, 'concurrency');

  let running = 0;
  /** Wakes the loop when a handler finishes (a free slot, or the last one done). */
  let wake: (() => void) | undefined;
  const run = async (message: ReceivedMessage<T>): Promise<void> => {
    try {
      await handler(message);
      queue.ack(message.receiptHandle);
    } catch (error) {
      queue.nack(message.receiptHandle);
      onError(error, message);
    } finally {
      running -= 1;
      wake?.();
    }
  };
  const slotFreed = (): Promise<void> => new Promise((resolve) => (wake = resolve));

  while (!signal.aborted) {
    if (running === concurrency) {
      await slotFreed();
      continue;
    }
    let messages: ReceivedMessage<T>[];
    try {
      // Waiting with no time limit: only closing the queue (or aborting) ends it empty-handed.
      messages = await queue.receive({ max: concurrency - running, waitMs: Infinity, signal });
    } catch {
      break; // receive() rejects only when the signal aborts: stop gracefully
    }
    if (messages.length === 0) break;
    running += messages.length;
    for (const message of messages) void run(message);
  }
  while (running > 0) await slotFreed();
}
