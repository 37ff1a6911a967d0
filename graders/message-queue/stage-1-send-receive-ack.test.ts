/**
 * Grader for message-queue, stage 1: options, send, receive in batches, receipt handles, ack and
 * stats. Time is a fake clock throughout.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { MessageQueue } from '@kata/message-queue';
import { advance, useFakeClock } from '../support/clock.ts';
import {
  bodies,
  expectInvalid,
  expectRejectsInvalid,
  expectStats,
  receiveNow,
  show,
  stateOf,
  callReceive,
} from './fixtures.ts';

beforeEach(() => {
  useFakeClock();
});

describe('stage 1: send, receive and ack with receipt handles', () => {
  it('accepts no options, empty options and every valid option, Infinity included [R1]', () => {
    // Constructed directly: an unexpected error fails the test with that error itself.
    const queues = [
      new MessageQueue(),
      new MessageQueue({}),
      new MessageQueue({ visibilityTimeoutMs: 0.5, maxReceives: Infinity, maxLength: Infinity }),
      new MessageQueue({ visibilityTimeoutMs: 1, maxReceives: 1, maxLength: 1 }),
    ];
    for (const queue of queues) {
      expect(queue.stats, 'a new queue is empty [R1]').toMatchObject({ ready: 0, inFlight: 0 });
    }
  });

  it.each([0, -1, Number.NaN, Infinity])(
    'rejects visibilityTimeoutMs %s with a RangeError naming visibilityTimeoutMs [R1]',
    (visibilityTimeoutMs) => {
      expectInvalid(
        () => new MessageQueue({ visibilityTimeoutMs }),
        RangeError,
        'visibilityTimeoutMs',
        `new MessageQueue({ visibilityTimeoutMs: ${visibilityTimeoutMs} })`,
        '[R1]',
      );
    },
  );

  it.each(['maxReceives', 'maxLength'])(
    'rejects %s that is not an integer >= 1 or Infinity with a RangeError naming it [R1]',
    (option) => {
      for (const value of [0, -1, 1.5, Number.NaN, -Infinity]) {
        expectInvalid(
          () => new MessageQueue({ [option]: value }),
          RangeError,
          option,
          `new MessageQueue({ ${option}: ${value} })`,
          '[R1]',
        );
      }
    },
  );

  it.each(['visibilityTimeoutMs', 'maxReceives', 'maxLength'])(
    'rejects %s that is not a number with a TypeError naming it [R1]',
    (option) => {
      for (const value of ['5', true]) {
        expectInvalid(
          () => new MessageQueue({ [option]: value }),
          TypeError,
          option,
          `new MessageQueue({ ${option}: ${JSON.stringify(value)} })`,
          '[R1]',
        );
      }
    },
  );

  it('returns a different string id for every message sent [R3]', () => {
    const queue = new MessageQueue<number>();
    const ids = Array.from({ length: 50 }, (_, i) => queue.send(i));
    for (const id of ids) expect(typeof id, `send() returned ${String(id)} [R3]`).toBe('string');
    expect(new Set(ids).size, `50 sends returned ${new Set(ids).size} distinct ids [R3]`).toBe(50);
  });

  it('delivers the id send returned and the very body sent, not a copy [R3]', async () => {
    const queue = new MessageQueue<{ order: number }>();
    const body = { order: 7 };
    const id = queue.send(body);
    const [message] = await receiveNow(queue);
    expect(message?.id, 'the delivery of the message whose id send() returned [R3]').toBe(id);
    expect(message?.body, 'the body must be the same object that was sent [R3]').toBe(body);
  });

  it('delivers any body, undefined and null included [R3]', async () => {
    const queue = new MessageQueue<unknown>();
    queue.send(undefined);
    queue.send(null);
    queue.send(0);
    const messages = await receiveNow(queue, { max: 3 });
    expect(
      bodies(messages),
      'send(undefined), send(null), send(0), then receive({ max: 3 }) [R3]',
    ).toEqual([undefined, null, 0]);
  });

  it('receives one message by default, the oldest first [R4]', async () => {
    const queue = new MessageQueue<string>();
    queue.send('a');
    queue.send('b');
    queue.send('c');
    expect(bodies(await receiveNow(queue)), 'receive() after sending a, b, c [R4]').toEqual(['a']);
    expect(bodies(await receiveNow(queue)), 'a second receive() [R4]').toEqual(['b']);
  });

  it('receives up to max messages at once, in send order [R4]', async () => {
    const queue = new MessageQueue<string>();
    for (const body of ['a', 'b', 'c', 'd', 'e']) queue.send(body);
    expect(bodies(await receiveNow(queue, { max: 3 })), 'receive({ max: 3 }) of a..e [R4]').toEqual(
      ['a', 'b', 'c'],
    );
    expect(
      bodies(await receiveNow(queue, { max: 10 })),
      'receive({ max: 10 }) with 2 ready: all that is ready, without waiting for more [R4]',
    ).toEqual(['d', 'e']);
  });

  it('resolves [] at once when nothing is ready and no wait is asked for [R4]', async () => {
    const queue = new MessageQueue<string>();
    expect(await receiveNow(queue), 'receive() on an empty queue [R4]').toEqual([]);
    expect(
      await receiveNow(queue, { waitMs: 0, max: 5 }),
      'receive({ waitMs: 0, max: 5 }) [R4]',
    ).toEqual([]);
    expect(
      await stateOf(callReceive(queue, { max: 2 })),
      'receive({ max: 2 }) must not wait [R4]',
    ).toBe('fulfilled');
  });

  it('starts receiveCount at 1 and gives every delivery its own string receipt handle [R5]', async () => {
    const queue = new MessageQueue<string>();
    const ids = ['a', 'b', 'c'].map((body) => queue.send(body));
    const messages = await receiveNow(queue, { max: 3 });
    for (const message of messages) {
      expect(
        message.receiveCount,
        `receiveCount of ${message.body} on its first delivery [R5]`,
      ).toBe(1);
      expect(typeof message.receiptHandle, 'receiptHandle must be a string [R5]').toBe('string');
      expect(
        ids,
        `receiptHandle ${message.receiptHandle} must not be a message id [R5]`,
      ).not.toContain(message.receiptHandle);
    }
    const handles = new Set(messages.map((message) => message.receiptHandle));
    expect(handles.size, 'three deliveries must have three different receipt handles [R5]').toBe(3);
  });

  it('keeps a received message in flight: no receive returns it again, and stats counts it [R6]', async () => {
    const queue = new MessageQueue<string>({ visibilityTimeoutMs: 1_000 });
    queue.send('a');
    queue.send('b');
    expectStats(queue, { ready: 2 }, 'after sending 2');
    await receiveNow(queue);
    expectStats(queue, { ready: 1, inFlight: 1 }, 'after receiving 1 of 2');
    expect(
      bodies(await receiveNow(queue, { max: 5 })),
      'receive({ max: 5 }) with a in flight [R6]',
    ).toEqual(['b']);
    await advance(500);
    expect(
      await receiveNow(queue, { max: 5 }),
      'receive() 500 ms later: both still in flight [R6]',
    ).toEqual([]);
    expectStats(queue, { inFlight: 2 }, 'with both in flight');
  });

  it('deletes the message for good when ack gets the current handle, and returns true [R7]', async () => {
    const queue = new MessageQueue<string>({ visibilityTimeoutMs: 100 });
    queue.send('a');
    queue.send('b');
    const [a] = await receiveNow(queue);
    expect(queue.ack(a!.receiptHandle), 'ack() with the handle just received [R7]').toBe(true);
    expectStats(queue, { ready: 1 }, 'after acking a (b still ready)', '[R7]');
    await advance(10_000);
    expect(
      bodies(await receiveNow(queue, { max: 5 })),
      'receive() long after the visibility timeout: an acked message never comes back [R7]',
    ).toEqual(['b']);
  });

  it('acks each message of a batch on its own [R7]', async () => {
    const queue = new MessageQueue<string>();
    for (const body of ['a', 'b', 'c']) queue.send(body);
    const batch = await receiveNow(queue, { max: 3 });
    expect(queue.ack(batch[1]!.receiptHandle), 'ack() of the second message of a batch [R7]').toBe(
      true,
    );
    expectStats(queue, { inFlight: 2 }, 'after acking 1 of a batch of 3', '[R7]');
    expect(queue.ack(batch[0]!.receiptHandle), 'ack() of the first [R7]').toBe(true);
    expect(queue.ack(batch[2]!.receiptHandle), 'ack() of the third [R7]').toBe(true);
    expectStats(queue, {}, 'after acking the whole batch', '[R7]');
  });

  it('returns false and changes nothing for a repeated, unknown or non-string handle, or an id [R8]', async () => {
    const queue = new MessageQueue<string>();
    const id = queue.send('a');
    queue.send('b');
    const [a] = await receiveNow(queue);
    const [b] = await receiveNow(queue);
    expect(queue.ack(a!.receiptHandle), 'the first ack() [R8]').toBe(true);
    expect(queue.ack(a!.receiptHandle), 'ack() again with the same handle [R8]').toBe(false);
    expect(queue.ack('no-such-handle'), "ack('no-such-handle') [R8]").toBe(false);
    expect(queue.ack(''), "ack('') [R8]").toBe(false);
    expect(queue.ack(id), "ack(the message's id): an id is not a receipt handle [R8]").toBe(false);
    for (const handle of [undefined, null, 42, {}, Symbol('h')]) {
      expect(
        queue.ack(handle as never),
        `ack(${show(handle)}) must return false, not throw [R8]`,
      ).toBe(false);
    }
    expectStats(queue, { inFlight: 1 }, 'after the failed acks: b still in flight', '[R8]');
    expect(queue.ack(b!.receiptHandle), "b's handle still acks it afterwards [R8]").toBe(true);
  });

  it.each([-1, Number.NaN, Infinity])(
    'rejects send with delayMs %s by a RangeError naming delayMs, sending nothing [R2]',
    (delayMs) => {
      const queue = new MessageQueue<string>();
      expectInvalid(
        () => queue.send('a', { delayMs }),
        RangeError,
        'delayMs',
        `send('a', { delayMs: ${delayMs} })`,
        '[R2]',
      );
      expectStats(queue, {}, `after send('a', { delayMs: ${delayMs} }) threw`, '[R2]');
    },
  );

  it('rejects send with a delayMs that is not a number by a TypeError naming delayMs [R2]', () => {
    const queue = new MessageQueue<string>();
    expectInvalid(
      () => queue.send('a', { delayMs: '5' as never }),
      TypeError,
      'delayMs',
      "send('a', { delayMs: '5' })",
      '[R2]',
    );
    expectStats(queue, {}, "after send('a', { delayMs: '5' }) threw", '[R2]');
  });

  it.each([0, -1, 1.5, Number.NaN, Infinity])(
    'rejects receive with max %s by a RangeError naming max, taking nothing [R2]',
    async (max) => {
      const queue = new MessageQueue<string>();
      queue.send('a');
      await expectRejectsInvalid(
        () => queue.receive({ max }),
        RangeError,
        'max',
        `receive({ max: ${max} })`,
        '[R2]',
      );
      expectStats(queue, { ready: 1 }, `after receive({ max: ${max} }) rejected`, '[R2]');
    },
  );

  it.each([-1, Number.NaN, -Infinity])(
    'rejects receive with waitMs %s by a RangeError naming waitMs [R2]',
    async (waitMs) => {
      const queue = new MessageQueue<string>();
      queue.send('a');
      await expectRejectsInvalid(
        () => queue.receive({ waitMs }),
        RangeError,
        'waitMs',
        `receive({ waitMs: ${waitMs} })`,
        '[R2]',
      );
      expectStats(queue, { ready: 1 }, `after receive({ waitMs: ${waitMs} }) rejected`, '[R2]');
    },
  );

  it('rejects receive with max or waitMs that is not a number by a TypeError naming it [R2]', async () => {
    const queue = new MessageQueue<string>();
    queue.send('a');
    await expectRejectsInvalid(
      () => queue.receive({ max: '2' as never }),
      TypeError,
      'max',
      "receive({ max: '2' })",
      '[R2]',
    );
    await expectRejectsInvalid(
      () => queue.receive({ waitMs: '2' as never }),
      TypeError,
      'waitMs',
      "receive({ waitMs: '2' })",
      '[R2]',
    );
    expectStats(queue, { ready: 1 }, 'after the rejected receives', '[R2]');
  });
});
