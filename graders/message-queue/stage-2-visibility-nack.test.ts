/**
 * Grader for message-queue, stage 2: the visibility timeout, stale receipt handles, nack with and
 * without a delay, extendVisibility, and the oldest-ready order. Time is a fake clock throughout.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { MessageQueue } from '@kata/message-queue';
import { advance, useFakeClock } from '../support/clock.ts';
import { bodies, expectInvalid, expectStats, receiveNow } from './fixtures.ts';

beforeEach(() => {
  useFakeClock();
});

/** A queue with `a` received at 0 ms: the queue, the delivery and the message's id. */
async function oneInFlight(visibilityTimeoutMs = 100, maxReceives = Infinity) {
  const queue = new MessageQueue<string>({ visibilityTimeoutMs, maxReceives });
  const id = queue.send('a');
  const [message] = await receiveNow(queue);
  return { queue, id, message: message! };
}

describe('stage 2: visibility timeout, heartbeat and nack', () => {
  it('keeps a message invisible for 30 000 ms by default [R1, R9]', async () => {
    const fresh = new MessageQueue<string>();
    fresh.send('x');
    await receiveNow(fresh);
    await advance(29_999);
    expect(
      await receiveNow(fresh),
      'receive() 29 999 ms after, with the default visibility timeout [R1, R9]',
    ).toEqual([]);
    await advance(1);
    expect(
      bodies(await receiveNow(fresh)),
      'receive() 30 000 ms after: the default visibilityTimeoutMs is 30 000 [R1, R9]',
    ).toEqual(['x']);
  });

  it('makes an unacknowledged message ready again exactly visibilityTimeoutMs after it was received [R9]', async () => {
    const { queue, id, message } = await oneInFlight(100);
    await advance(99);
    expect(await receiveNow(queue), 'receive() at 99 ms, visibility timeout 100 ms [R9]').toEqual(
      [],
    );
    expectStats(queue, { inFlight: 1 }, 'at 99 ms', '[R9]');
    await advance(1);
    expectStats(queue, { ready: 1 }, 'at exactly 100 ms: the visibility timeout has ended', '[R9]');
    const [again] = await receiveNow(queue);
    expect(again?.id, 'the redelivered message has the same id [R9, R3]').toBe(id);
    expect(again?.body, 'and the same body [R9, R3]').toBe('a');
    expect(again?.receiveCount, 'receiveCount on the second delivery [R9, R5]').toBe(2);
    expect(again?.receiptHandle, 'a new delivery has a new receipt handle [R9, R5]').not.toBe(
      message.receiptHandle,
    );
  });

  it('counts the visibility timeout from each delivery [R9]', async () => {
    const { queue } = await oneInFlight(100);
    await advance(150);
    const [second] = await receiveNow(queue);
    expect(second?.receiveCount, 'received again at 150 ms [R9]').toBe(2);
    await advance(99);
    expect(await receiveNow(queue), 'at 249 ms, 99 ms into the second delivery [R9]').toEqual([]);
    await advance(1);
    expect((await receiveNow(queue))[0]?.receiveCount, 'at 250 ms: the third delivery [R9]').toBe(
      3,
    );
  });

  it('makes a handle stale when the visibility timeout ends, even before the message is received again [R10]', async () => {
    const { queue, message } = await oneInFlight(100);
    await advance(100);
    const handle = message.receiptHandle;
    expect(
      queue.ack(handle),
      'ack() at 100 ms of a delivery whose timeout ended at 100 ms [R10]',
    ).toBe(false);
    expect(queue.nack(handle), 'nack() of that stale handle [R10]').toBe(false);
    expect(
      queue.extendVisibility(handle, 1_000),
      'extendVisibility() of that stale handle [R10]',
    ).toBe(false);
    expectStats(
      queue,
      { ready: 1 },
      'after the stale calls: the message is ready, not deleted',
      '[R10]',
    );
  });

  it('accepts only the newest delivery handle once a message is redelivered [R10]', async () => {
    const { queue, message } = await oneInFlight(100);
    await advance(100);
    const [again] = await receiveNow(queue);
    expect(queue.ack(message.receiptHandle), 'ack() with the first delivery handle [R10]').toBe(
      false,
    );
    expectStats(queue, { inFlight: 1 }, 'after the stale ack', '[R10]');
    expect(queue.ack(again!.receiptHandle), 'ack() with the second delivery handle [R10]').toBe(
      true,
    );
    expectStats(queue, {}, 'after acking with the current handle', '[R10]');
  });

  it('makes a nacked message ready again at once, and nack returns true [R11]', async () => {
    const { queue, id, message } = await oneInFlight(10_000);
    expect(queue.nack(message.receiptHandle), 'nack() of the current delivery [R11]').toBe(true);
    expectStats(queue, { ready: 1 }, 'right after nack() without a delay', '[R11]');
    const [again] = await receiveNow(queue);
    expect(again?.id, 'receive() right after the nack gets the message back [R11]').toBe(id);
    expect(again?.receiveCount, 'receiveCount after a nack and a new delivery [R11, R5]').toBe(2);
  });

  it('makes a message nacked with delayMs delayed, and ready exactly delayMs later [R11]', async () => {
    const { queue, message } = await oneInFlight(10_000);
    expect(
      queue.nack(message.receiptHandle, { delayMs: 50 }),
      'nack(handle, { delayMs: 50 }) [R11]',
    ).toBe(true);
    expectStats(queue, { delayed: 1 }, 'right after nack with delayMs 50: delayed', '[R11]');
    await advance(49);
    expect(await receiveNow(queue), 'receive() 49 ms after nack with delayMs 50 [R11]').toEqual([]);
    await advance(1);
    expect(bodies(await receiveNow(queue)), 'receive() exactly 50 ms after the nack [R11]').toEqual(
      ['a'],
    );
  });

  it('makes a nacked handle stale [R10, R11]', async () => {
    const { queue, message } = await oneInFlight(10_000);
    queue.nack(message.receiptHandle, { delayMs: 1_000 });
    expect(queue.ack(message.receiptHandle), 'ack() after nack() of the same delivery [R10]').toBe(
      false,
    );
    expect(queue.nack(message.receiptHandle), 'nack() twice [R10]').toBe(false);
    expect(
      queue.extendVisibility(message.receiptHandle, 0),
      'extendVisibility() after nack() [R10]',
    ).toBe(false);
    expectStats(
      queue,
      { delayed: 1 },
      'after the stale calls: still delayed by the first nack',
      '[R10]',
    );
  });

  it('returns false from nack and extendVisibility for an unknown or non-string handle [R10]', async () => {
    const { queue, id } = await oneInFlight(10_000);
    for (const handle of ['nope', id, undefined, 42]) {
      expect(queue.nack(handle as never), `nack(${String(handle)}) [R10]`).toBe(false);
      expect(
        queue.extendVisibility(handle as never, 10),
        `extendVisibility(${String(handle)}, 10) [R10]`,
      ).toBe(false);
    }
    expectStats(queue, { inFlight: 1 }, 'after the failed calls', '[R10]');
  });

  it.each([-1, Number.NaN, Infinity])(
    'rejects nack with delayMs %s by a RangeError naming delayMs, leaving the delivery as it was [R2]',
    async (delayMs) => {
      const { queue, message } = await oneInFlight(10_000);
      expectInvalid(
        () => queue.nack(message.receiptHandle, { delayMs }),
        RangeError,
        'delayMs',
        `nack(handle, { delayMs: ${delayMs} })`,
        '[R2]',
      );
      expectStats(queue, { inFlight: 1 }, 'after the invalid nack', '[R2]');
      expect(
        queue.ack(message.receiptHandle),
        'the handle still acks after the invalid nack [R2]',
      ).toBe(true);
    },
  );

  it('rejects nack and extendVisibility with a duration that is not a number by a TypeError [R2]', async () => {
    const { queue, message } = await oneInFlight(10_000);
    expectInvalid(
      () => queue.nack(message.receiptHandle, { delayMs: '5' as never }),
      TypeError,
      'delayMs',
      "nack(handle, { delayMs: '5' })",
      '[R2]',
    );
    expectInvalid(
      () => queue.extendVisibility(message.receiptHandle, '5' as never),
      TypeError,
      'visibilityTimeoutMs',
      "extendVisibility(handle, '5')",
      '[R2]',
    );
    expect(queue.ack(message.receiptHandle), 'the handle still acks afterwards [R2]').toBe(true);
  });

  it.each([-1, Number.NaN, Infinity])(
    'rejects extendVisibility(handle, %s) by a RangeError naming visibilityTimeoutMs, changing nothing [R2]',
    async (ms) => {
      const { queue, message } = await oneInFlight(100);
      expectInvalid(
        () => queue.extendVisibility(message.receiptHandle, ms),
        RangeError,
        'visibilityTimeoutMs',
        `extendVisibility(handle, ${ms})`,
        '[R2]',
      );
      await advance(99);
      expectStats(queue, { inFlight: 1 }, 'at 99 ms, after the invalid extendVisibility', '[R2]');
      await advance(1);
      expectStats(queue, { ready: 1 }, 'at 100 ms: the original timeout still holds', '[R2]');
    },
  );

  it('extends the invisibility to ms from now and returns true [R12]', async () => {
    const { queue, message } = await oneInFlight(100);
    await advance(50);
    expect(
      queue.extendVisibility(message.receiptHandle, 200),
      'extendVisibility(handle, 200) at 50 ms [R12]',
    ).toBe(true);
    await advance(199);
    expect(await receiveNow(queue), 'at 249 ms, 1 ms before the extended end [R12]').toEqual([]);
    expectStats(queue, { inFlight: 1 }, 'at 249 ms', '[R12]');
    await advance(1);
    expect(bodies(await receiveNow(queue)), 'at 250 ms: 200 ms after the heartbeat [R12]').toEqual([
      'a',
    ]);
  });

  it('keeps the handle valid after a heartbeat, for further heartbeats and the ack [R12]', async () => {
    const { queue, message } = await oneInFlight(100);
    for (let beat = 1; beat <= 5; beat += 1) {
      await advance(90);
      expect(
        queue.extendVisibility(message.receiptHandle, 100),
        `heartbeat ${beat} at ${beat * 90} ms [R12]`,
      ).toBe(true);
    }
    expectStats(queue, { inFlight: 1 }, 'after 5 heartbeats, 450 ms in', '[R12]');
    expect(queue.ack(message.receiptHandle), 'ack() after the heartbeats [R12]').toBe(true);
  });

  it('shortens the invisibility when ms is less than what was left [R12]', async () => {
    const { queue, message } = await oneInFlight(10_000);
    await advance(10);
    expect(
      queue.extendVisibility(message.receiptHandle, 20),
      'extendVisibility(handle, 20) at 10 ms [R12]',
    ).toBe(true);
    await advance(19);
    expect(await receiveNow(queue), 'at 29 ms [R12]').toEqual([]);
    await advance(1);
    expect(bodies(await receiveNow(queue)), 'at 30 ms, not at 10 000 ms [R12]').toEqual(['a']);
  });

  it('ends the delivery during the call with extendVisibility(handle, 0) [R12, R10]', async () => {
    const { queue, message } = await oneInFlight(10_000);
    expect(
      queue.extendVisibility(message.receiptHandle, 0),
      'extendVisibility(handle, 0) [R12]',
    ).toBe(true);
    expectStats(queue, { ready: 1 }, 'right after extendVisibility(handle, 0)', '[R12]');
    expect(
      queue.ack(message.receiptHandle),
      'ack() of the delivery that extendVisibility(handle, 0) ended [R10]',
    ).toBe(false);
    expect((await receiveNow(queue))[0]?.receiveCount, 'received again at once [R12]').toBe(2);
  });

  it('delivers the oldest-ready message first, ties in send order [R13]', async () => {
    // a and b sent at 0; a received, then nacked at 5 ms, when c is sent: b became ready at 0,
    // a and c at 5 ms (a sent first).
    const queue = new MessageQueue<string>({ visibilityTimeoutMs: 10_000 });
    queue.send('a');
    queue.send('b');
    const [a] = await receiveNow(queue);
    await advance(5);
    queue.send('c');
    queue.nack(a!.receiptHandle);
    expect(
      bodies(await receiveNow(queue, { max: 3 })),
      'b ready since 0, then a (nacked at 5 ms) and c (sent at 5 ms) in send order [R13]',
    ).toEqual(['b', 'a', 'c']);
  });

  it('counts a timed-out message as ready from the moment its timeout ended, not when it is noticed [R13, R9]', async () => {
    const queue = new MessageQueue<string>({ visibilityTimeoutMs: 100 });
    queue.send('a');
    await receiveNow(queue);
    queue.send('b', { delayMs: 150 });
    await advance(200);
    expect(
      bodies(await receiveNow(queue, { max: 2 })),
      'a ready again since 100 ms, b ready since 150 ms (sent at 0 with delayMs 150); received at 200 ms [R13]',
    ).toEqual(['a', 'b']);
  });

  it('counts a nacked message as ready from the end of its delay [R13, R11]', async () => {
    const queue = new MessageQueue<string>({ visibilityTimeoutMs: 10_000 });
    queue.send('a');
    const [a] = await receiveNow(queue);
    queue.nack(a!.receiptHandle, { delayMs: 100 });
    await advance(150);
    queue.send('b');
    await advance(50);
    expect(
      bodies(await receiveNow(queue, { max: 2 })),
      'a nacked at 0 with delayMs 100, b sent at 150 ms; received at 200 ms [R13]',
    ).toEqual(['a', 'b']);
  });

  it('puts messages whose visibility ends at the same moment back in send order [R13]', async () => {
    const queue = new MessageQueue<string>({ visibilityTimeoutMs: 10_000 });
    queue.send('a');
    queue.send('b');
    const [a, b] = await receiveNow(queue, { max: 2 });
    queue.extendVisibility(b!.receiptHandle, 50);
    queue.extendVisibility(a!.receiptHandle, 50);
    await advance(50);
    expect(
      bodies(await receiveNow(queue, { max: 2 })),
      'a and b both visible again at 50 ms (b extended first): send order [R13]',
    ).toEqual(['a', 'b']);
  });
});
