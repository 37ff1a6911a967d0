/**
 * The message-queue contract written as plainly as possible, for the stage 5 model-based check:
 * an array of messages scanned in full at every step, with time kept by hand. It knows nothing of
 * how the code under test is built; the runner compares what the contract pins down.
 */

export interface ModelOptions {
  visibilityTimeoutMs: number;
  maxReceives: number;
  maxLength: number;
}

interface ModelMessage {
  id: string;
  /** Send order. */
  seq: number;
  body: number;
  state: 'ready' | 'delayed' | 'inFlight';
  /** Ready: when it became ready. Delayed: when it becomes ready. In flight: when visibility ends. */
  at: number;
  receiveCount: number;
  /** The current delivery's handle, as the code under test made it. */
  handle: string | undefined;
}

export interface ModelDeadLetter {
  id: string;
  body: number;
  receiveCount: number;
  /** When it was dead-lettered: letters of the same moment may be listed in any order. */
  at: number;
}

const byTime = (a: { at: number; seq: number }, b: { at: number; seq: number }): number =>
  a.at - b.at || a.seq - b.seq;

export class QueueModel {
  messages: ModelMessage[] = [];
  dead: ModelDeadLetter[] = [];
  now = 0;
  #sent = 0;

  constructor(readonly options: ModelOptions) {}

  /** Brings every delay and visibility timeout that has ended up to now, in the order they ended. */
  settle(): void {
    const due = this.messages
      .filter((message) => message.state !== 'ready' && message.at <= this.now)
      .sort(byTime);
    for (const message of due) {
      if (message.state === 'inFlight') this.endDelivery(message, message.at, message.at);
      else message.state = 'ready';
    }
  }

  endDelivery(message: ModelMessage, readyAt: number, now: number): void {
    message.handle = undefined;
    if (message.receiveCount >= this.options.maxReceives) {
      this.messages = this.messages.filter((other) => other !== message);
      const { id, body, receiveCount } = message;
      this.dead.push({ id, body, receiveCount, at: now });
      return;
    }
    message.at = readyAt;
    message.state = readyAt > now ? 'delayed' : 'ready';
  }

  /** Whether a send now is refused as full. */
  full(): boolean {
    this.settle();
    return this.messages.length >= this.options.maxLength;
  }

  send(id: string, body: number, delayMs: number): void {
    this.#sent += 1;
    this.messages.push({
      id,
      seq: this.#sent,
      body,
      state: delayMs > 0 ? 'delayed' : 'ready',
      at: this.now + delayMs,
      receiveCount: 0,
      handle: undefined,
    });
  }

  /** The messages a receive({ max }) takes now, oldest-ready first; they are not yet in flight. */
  peekReady(max: number): ModelMessage[] {
    this.settle();
    return this.messages
      .filter((message) => message.state === 'ready')
      .sort(byTime)
      .slice(0, max);
  }

  /** Records the delivery of `message` under the handle the code under test gave it. */
  deliver(message: ModelMessage, handle: string): void {
    message.receiveCount += 1;
    message.state = 'inFlight';
    message.at = this.now + this.options.visibilityTimeoutMs;
    message.handle = handle;
  }

  current(handle: string): ModelMessage | undefined {
    this.settle();
    return this.messages.find(
      (message) => message.state === 'inFlight' && message.handle === handle,
    );
  }

  ack(handle: string): boolean {
    const message = this.current(handle);
    if (message === undefined) return false;
    this.messages = this.messages.filter((other) => other !== message);
    return true;
  }

  nack(handle: string, delayMs: number): boolean {
    const message = this.current(handle);
    if (message === undefined) return false;
    this.endDelivery(message, this.now + delayMs, this.now);
    return true;
  }

  extendVisibility(handle: string, ms: number): boolean {
    const message = this.current(handle);
    if (message === undefined) return false;
    if (ms === 0) this.endDelivery(message, this.now, this.now);
    else message.at = this.now + ms;
    return true;
  }

  stats(): { ready: number; delayed: number; inFlight: number; deadLettered: number } {
    this.settle();
    const count = (state: ModelMessage['state']): number =>
      this.messages.filter((message) => message.state === state).length;
    return {
      ready: count('ready'),
      delayed: count('delayed'),
      inFlight: count('inFlight'),
      deadLettered: this.dead.length,
    };
  }
}
