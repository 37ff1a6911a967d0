/**
 * Grader for message-queue, stage 3: dead letters after maxReceives (on a visibility timeout, a
 * zero heartbeat or a nack), delayed sends, and maxLength. Time is a fake clock throughout.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { MessageQueue, QueueFullError } from '@kata/message-queue';
import { advance, useFakeClock } from '../support/clock.ts';
import { bodies, expectStats, receiveNow, thrown } from './fixtures.ts';

beforeEach(() => {
  useFakeClock();
});

/** Receives `queue`'s next message and lets its visibility timeout run out; returns the delivery. */
async function receiveAndTimeOut(queue: MessageQueue<string>, visibilityTimeoutMs: number) {
  const [message] = await receiveNow(queue);
  await advance(visibilityTimeoutMs);
  return message;
}

describe('stage 3: dead letters, delayed sends and maxLength', () => {
  it('dead-letters a message after 5 deliveries by default [R1, R14]', async () => {
    const queue = new MessageQueue<string>({ visibilityTimeoutMs: 10 });
    const id = queue.send('a');
    for (let delivery = 1; delivery <= 5; delivery += 1) {
      const message = await receiveAndTimeOut(queue, 10);
      expect(
        message?.receiveCount,
        `delivery ${delivery} with the default maxReceives (5) [R1, R14]`,
      ).toBe(delivery);
    }
    expectStats(
      queue,
      { deadLettered: 1 },
      'after 5 deliveries timed out, default maxReceives 5',
      '[R1, R14]',
    );
    expect(queue.deadLetters(), 'deadLetters() [R1, R14]').toEqual([
      { id, body: 'a', receiveCount: 5 },
    ]);
  });

  it('dead-letters at the moment the last allowed delivery times out, not before [R14]', async () => {
    const queue = new MessageQueue<string>({ visibilityTimeoutMs: 100, maxReceives: 2 });
    const id = queue.send('a');
    await receiveAndTimeOut(queue, 100);
    await receiveNow(queue);
    await advance(99);
    expectStats(
      queue,
      { inFlight: 1 },
      'at 199 ms: the second delivery runs until 200 ms',
      '[R14]',
    );
    expect(
      queue.deadLetters(),
      'deadLetters() before the last delivery has timed out [R14]',
    ).toEqual([]);
    await advance(1);
    expectStats(
      queue,
      { deadLettered: 1 },
      'at 200 ms, the second of maxReceives 2 deliveries timed out',
      '[R14]',
    );
    expect(await receiveNow(queue), 'receive() after the message was dead-lettered [R14]').toEqual(
      [],
    );
    expect(queue.deadLetters(), 'deadLetters() at 200 ms [R14]').toMatchObject([
      { id, body: 'a', receiveCount: 2 },
    ]);
  });

  it('dead-letters on the first timeout with maxReceives 1 [R14]', async () => {
    const queue = new MessageQueue<string>({ visibilityTimeoutMs: 10, maxReceives: 1 });
    queue.send('a');
    await receiveAndTimeOut(queue, 10);
    expectStats(queue, { deadLettered: 1 }, 'maxReceives 1, after one timed-out delivery', '[R14]');
  });

  it('dead-letters during extendVisibility(handle, 0) on the last allowed delivery [R14, R12]', async () => {
    const queue = new MessageQueue<string>({ visibilityTimeoutMs: 1_000, maxReceives: 1 });
    queue.send('a');
    const [message] = await receiveNow(queue);
    expect(
      queue.extendVisibility(message!.receiptHandle, 0),
      'extendVisibility(handle, 0) [R14]',
    ).toBe(true);
    expectStats(
      queue,
      { deadLettered: 1 },
      'right after extendVisibility(handle, 0) with maxReceives 1',
      '[R14]',
    );
  });

  it('does not dead-letter a message that is acknowledged on its last allowed delivery [R14]', async () => {
    const queue = new MessageQueue<string>({ visibilityTimeoutMs: 10, maxReceives: 2 });
    queue.send('a');
    await receiveAndTimeOut(queue, 10);
    const [last] = await receiveNow(queue);
    expect(queue.ack(last!.receiptHandle), 'ack() on the last allowed delivery [R14]').toBe(true);
    await advance(100);
    expectStats(queue, {}, 'after acking on the last allowed delivery', '[R14]');
  });

  it('dead-letters at once a message nacked on its last allowed delivery, whatever the delay [R15]', async () => {
    const queue = new MessageQueue<string>({ visibilityTimeoutMs: 10_000, maxReceives: 2 });
    const id = queue.send('a');
    const [first] = await receiveNow(queue);
    expect(queue.nack(first!.receiptHandle), 'nack() of delivery 1 of 2 [R15]').toBe(true);
    expectStats(
      queue,
      { ready: 1 },
      'after nacking delivery 1 of maxReceives 2: not dead yet',
      '[R15]',
    );
    const [second] = await receiveNow(queue);
    expect(
      queue.nack(second!.receiptHandle, { delayMs: 5_000 }),
      'nack(handle, { delayMs: 5000 }) of delivery 2 of 2 [R15]',
    ).toBe(true);
    expectStats(
      queue,
      { deadLettered: 1 },
      'right after nacking the last allowed delivery with a delay',
      '[R15]',
    );
    expect(queue.deadLetters(), 'deadLetters() [R15]').toMatchObject([
      { id, body: 'a', receiveCount: 2 },
    ]);
  });

  it('lists dead letters oldest dead-lettered first, as a new array each time [R16]', async () => {
    const queue = new MessageQueue<string>({ visibilityTimeoutMs: 100, maxReceives: 1 });
    const idA = queue.send('a');
    const idB = queue.send('b');
    const idC = queue.send('c');
    const [a, b, c] = await receiveNow(queue, { max: 3 });
    queue.extendVisibility(a!.receiptHandle, 50); // a dead at 50 ms
    queue.nack(c!.receiptHandle); // c dead at 0 ms
    await advance(100); // b dead at 100 ms
    expect(b?.body).toBe('b');
    const letters = queue.deadLetters();
    expect(letters, 'dead-lettered: c at 0 ms, a at 50 ms, b at 100 ms [R16]').toMatchObject([
      { id: idC, body: 'c', receiveCount: 1 },
      { id: idA, body: 'a', receiveCount: 1 },
      { id: idB, body: 'b', receiveCount: 1 },
    ]);
    letters.length = 0;
    expect(
      queue.deadLetters().length,
      'emptying the array deadLetters() returned must not change the queue [R16]',
    ).toBe(3);
    expectStats(queue, { deadLettered: 3 }, 'with 3 dead letters', '[R16]');
  });

  it('lists many dead letters in the order their visibility ended [R16]', async () => {
    const queue = new MessageQueue<number>({ visibilityTimeoutMs: 1_000, maxReceives: 1 });
    for (let i = 0; i < 200; i += 1) queue.send(i);
    const messages = await receiveNow(queue, { max: 200 });
    // Heartbeats give each delivery its own end, in a scrambled order (a fixed permutation).
    for (const message of messages) {
      queue.extendVisibility(message.receiptHandle, ((message.body * 73) % 200) + 1);
    }
    await advance(500);
    const order = queue.deadLetters().map((letter) => (letter.body * 73) % 200);
    expect(order, 'dead letters, by the moment each visibility ended [R16]').toEqual(
      Array.from({ length: 200 }, (_, i) => i),
    );
  });

  it('never dead-letters with maxReceives Infinity [R16]', async () => {
    const queue = new MessageQueue<string>({ visibilityTimeoutMs: 10, maxReceives: Infinity });
    queue.send('a');
    for (let delivery = 1; delivery <= 40; delivery += 1) {
      const [message] = await receiveNow(queue);
      expect(message?.receiveCount, `delivery ${delivery} with maxReceives Infinity [R16]`).toBe(
        delivery,
      );
      if (delivery % 2 === 0) queue.nack(message!.receiptHandle);
      else await advance(10);
    }
    expectStats(
      queue,
      { ready: 1 },
      'after 40 deliveries with maxReceives Infinity, the last nacked',
      '[R16]',
    );
  });

  it('keeps a message sent with delayMs delayed until exactly delayMs later [R17]', async () => {
    const queue = new MessageQueue<string>();
    queue.send('a', { delayMs: 100 });
    expectStats(queue, { delayed: 1 }, "after send('a', { delayMs: 100 })", '[R17]');
    await advance(99);
    expect(await receiveNow(queue), 'receive() at 99 ms [R17]').toEqual([]);
    expectStats(queue, { delayed: 1 }, 'at 99 ms', '[R17]');
    await advance(1);
    expectStats(queue, { ready: 1 }, 'at exactly 100 ms', '[R17]');
    expect(bodies(await receiveNow(queue)), 'receive() at 100 ms [R17]').toEqual(['a']);
  });

  it('makes a message sent with delayMs 0 ready at once [R17]', async () => {
    const queue = new MessageQueue<string>();
    queue.send('a', { delayMs: 0 });
    expectStats(queue, { ready: 1 }, "after send('a', { delayMs: 0 })", '[R17]');
    expect(bodies(await receiveNow(queue)), 'receive() at once [R17]').toEqual(['a']);
  });

  it('lets messages sent later overtake a delayed one, and orders by the end of the delays [R17, R13]', async () => {
    const queue = new MessageQueue<string>();
    queue.send('slow', { delayMs: 100 });
    queue.send('fast', { delayMs: 50 });
    queue.send('now');
    expect(
      bodies(await receiveNow(queue, { max: 3 })),
      'receive({ max: 3 }) at 0 ms [R17]',
    ).toEqual(['now']);
    await advance(200);
    expect(
      bodies(await receiveNow(queue, { max: 3 })),
      'at 200 ms: fast (ready at 50 ms) before slow (ready at 100 ms) [R17, R13]',
    ).toEqual(['fast', 'slow']);
  });

  it('delivers many messages in the order their delays end, however they were sent [R17, R13]', async () => {
    const queue = new MessageQueue<number>({ visibilityTimeoutMs: 1_000 });
    // 200 distinct delays in a scrambled order (a fixed permutation), some heartbeats moved around.
    const delays = Array.from({ length: 200 }, (_, i) => ((i * 73) % 200) + 1);
    for (const delay of delays) queue.send(delay, { delayMs: delay });
    await advance(250);
    const received = (await receiveNow(queue, { max: 200 })).map((message) => message.body);
    expect(received, 'bodies (each its own delay) received at 250 ms [R17, R13]').toEqual(
      [...delays].sort((a, b) => a - b),
    );
    const again = await receiveNow(queue, { max: 200 });
    expect(again, 'nothing more is ready [R17]').toEqual([]);
  });

  it('throws QueueFullError when maxLength messages are held, ready, delayed and in flight alike [R18]', async () => {
    const queue = new MessageQueue<string>({ maxLength: 3 });
    queue.send('ready');
    queue.send('delayed', { delayMs: 1_000 });
    queue.send('in flight');
    await receiveNow(queue, { max: 1 });
    const error = thrown(() => queue.send('one too many'));
    expect(
      error instanceof QueueFullError,
      `send() with 3 held and maxLength 3 must throw QueueFullError, got ${String(error)} [R18]`,
    ).toBe(true);
    expect(error instanceof Error, 'QueueFullError is an Error [R18]').toBe(true);
    expect((error as Error).name, "a QueueFullError's name [R18]").toBe('QueueFullError');
    expect((error as Error).message, 'the QueueFullError message names maxLength [R18]').toContain(
      'maxLength',
    );
    expectStats(queue, { ready: 1, delayed: 1, inFlight: 1 }, 'after the refused send', '[R18]');
  });

  it('frees a place when a message is acknowledged [R18]', async () => {
    const queue = new MessageQueue<string>({ maxLength: 1 });
    queue.send('a');
    expect(
      thrown(() => queue.send('b')) instanceof QueueFullError,
      'a second send with maxLength 1 [R18]',
    ).toBe(true);
    const [a] = await receiveNow(queue);
    queue.ack(a!.receiptHandle);
    expect(
      thrown(() => queue.send('b')),
      'send() after the only message was acknowledged [R18]',
    ).toBeUndefined();
  });

  it('frees a place the moment a message is dead-lettered, and never counts dead letters [R18]', async () => {
    const queue = new MessageQueue<string>({
      maxLength: 1,
      maxReceives: 1,
      visibilityTimeoutMs: 100,
    });
    queue.send('a');
    await receiveNow(queue);
    await advance(99);
    expect(
      thrown(() => queue.send('b')) instanceof QueueFullError,
      'send() at 99 ms with a in flight [R18]',
    ).toBe(true);
    await advance(1);
    expect(
      thrown(() => queue.send('b')),
      'send() at 100 ms, when a has just been dead-lettered [R18]',
    ).toBeUndefined();
    const [b] = await receiveNow(queue);
    queue.nack(b!.receiptHandle);
    expect(
      thrown(() => queue.send('c')),
      'send() with 2 dead letters and nothing held [R18]',
    ).toBeUndefined();
    expectStats(queue, { ready: 1, deadLettered: 2 }, 'at the end', '[R18]');
  });
});
