/**
 * Grader for promise-pool, stage 2: errors. A mapper that throws synchronously, the two error
 * policies (stop at the first error, or run everything and aggregate), and an input that fails.
 */
import { describe, expect, it } from 'vitest';
import {
  boom,
  callPool,
  controlled,
  failingInput,
  fulfilment,
  rejection,
  settleDown,
  show,
  stateNow,
  unhandledRejectionsDuring,
} from './fixtures.ts';

const letters = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];

/** Settles every call still open (resolving it), one at a time, until the pool stops calling. */
async function finishAll(calls: Array<{ settled: boolean; resolve(): void }>): Promise<void> {
  for (;;) {
    const open = calls.find((call) => !call.settled);
    if (!open) return;
    open.resolve();
    await settleDown(1);
  }
}

describe('stage 2: errors', () => {
  it('a mapper that throws synchronously rejects the pool with that error, even on a refill [R6, R7]', async () => {
    const error = boom('sync');
    // A plain function that throws before returning any promise, on the fourth item: with
    // concurrency 2 that call is a refill, started after an earlier one settled.
    let calls = 0;
    const thrower = callPool(
      letters,
      (item) => {
        calls += 1;
        if (item === 'd') throw error;
        return new Promise((resolve) => setImmediate(() => resolve(item)));
      },
      { concurrency: 2 },
    );
    const reason = await rejection(
      thrower,
      'mapConcurrent whose mapper throws synchronously for item d (a refill)',
    );
    expect(reason, 'the rejection is the thrown error itself [R6, R7]').toBe(error);
    expect(calls, 'no item starts after the throw of item d [R7]').toBe(4);
  });

  it('a synchronous throw counts as a rejection under stopOnError: false too [R6, R9]', async () => {
    const error = boom('b');
    const mapped: string[] = [];
    const pool = callPool(
      letters,
      (item) => {
        mapped.push(item);
        if (item === 'b' || item === 'e') throw item === 'b' ? error : boom('e');
        return item;
      },
      { concurrency: 2, stopOnError: false },
    );
    const reason = await rejection(pool, 'mapConcurrent with stopOnError: false, b and e throwing');
    expect(
      reason instanceof AggregateError,
      `expected an AggregateError, got ${show(reason)} [R6, R9]`,
    ).toBe(true);
    expect((reason as AggregateError).errors, 'the thrown errors, in input order [R6, R9]').toEqual(
      [error, boom('e')],
    );
    expect(mapped, 'every item is still mapped [R6, R9]').toEqual(letters);
  });

  it('stopOnError (the default) rejects with the first error at once and calls the mapper for nothing more [R7]', async () => {
    const { mapper, calls, byItem } = controlled<string>();
    const pool = callPool(letters, mapper, { concurrency: 3 });
    await settleDown();
    const error = boom('b');
    byItem('b').reject(error);
    await settleDown();
    const state = await stateNow(pool);
    expect(
      state.state,
      'b rejected while a and c still run: the pool must reject at once, not wait for them [R7]',
    ).toBe('rejected');
    expect((state as { reason: unknown }).reason, 'the rejection is the error itself [R7]').toBe(
      error,
    );
    byItem('a').resolve();
    byItem('c').resolve();
    await settleDown();
    expect(
      calls.map((call) => call.item),
      'no item may start after the first error, not even when a and c settle [R7]',
    ).toEqual(['a', 'b', 'c']);
  });

  it('on stopping, aborts the running calls’ signals and leaves their later rejections handled [R8]', async () => {
    const { mapper, byItem } = controlled<string>();
    let pool!: Promise<unknown>;
    const unhandled = await unhandledRejectionsDuring(async () => {
      pool = callPool(letters, mapper, { concurrency: 3 });
      pool.catch(() => undefined);
      await settleDown();
      byItem('a').reject(boom('a'));
      await settleDown();
      expect(byItem('b').context.signal.aborted, 'b was running: its signal must abort [R8]').toBe(
        true,
      );
      expect(byItem('c').context.signal.aborted, 'c was running: its signal must abort [R8]').toBe(
        true,
      );
      byItem('b').reject(boom('b'));
      byItem('c').reject(boom('c'));
    });
    expect(
      unhandled.map(show),
      'rejections of calls still running when the pool stopped must be handled by the pool [R8]',
    ).toEqual([]);
    expect(await rejection(pool, 'the pool'), 'the pool keeps its first error [R7]').toEqual(
      boom('a'),
    );
  });

  it('stopOnError: false maps everything, then rejects with an AggregateError in input order [R9]', async () => {
    const { mapper, calls, byItem } = controlled<string>();
    const pool = callPool(letters, mapper, { concurrency: 3, stopOnError: false });
    await settleDown();
    byItem('c').reject(boom('c'));
    await settleDown();
    byItem('a').resolve();
    await settleDown();
    byItem('b').reject(boom('b')); // later than c, earlier in the input
    await settleDown();
    expect((await stateNow(pool)).state, 'items remain: the pool must go on [R9]').toBe('pending');
    await finishAll(calls);
    const reason = await rejection(pool, 'mapConcurrent with stopOnError: false, b and c failing');
    expect(
      calls.map((call) => call.item),
      'every item was mapped [R9]',
    ).toEqual(letters);
    expect(
      reason instanceof AggregateError,
      `expected an AggregateError, got ${show(reason)} [R9]`,
    ).toBe(true);
    expect(
      (reason as AggregateError).errors.map(show),
      'errors in input order (b before c), not in the order they happened [R9]',
    ).toEqual([show(boom('b')), show(boom('c'))]);
    for (const call of calls) {
      expect(call.context.signal.aborted, `no signal aborts with stopOnError: false [R3, R9]`).toBe(
        false,
      );
    }
  });

  it('stopOnError: false fulfils as usual when nothing fails [R9]', async () => {
    const results = await fulfilment(
      callPool(letters, async (item) => item, { concurrency: 2, stopOnError: false }),
      'mapConcurrent with stopOnError: false and no failure',
    );
    expect(results, 'the results in input order [R9]').toEqual(letters);
  });

  for (const async of [false, true]) {
    const kind = async ? 'an async generator' : 'a generator';
    it(`an input that throws (${kind}) rejects with that error at once under stopOnError [R10]`, async () => {
      const error = boom('input');
      const { mapper, calls, byItem } = controlled<number>();
      const pool = callPool(failingInput([0, 1, 2], error, async), mapper, { concurrency: 2 });
      await settleDown();
      byItem(0).resolve();
      await settleDown();
      byItem(1).resolve(); // the pool now pulls, and the input throws
      await settleDown();
      const state = await stateNow(pool);
      expect(state.state, 'the input threw while item 2 still runs: reject at once [R10]').toBe(
        'rejected',
      );
      expect(
        (state as { reason: unknown }).reason,
        `the rejection is the input's error itself, got ${show((state as { reason: unknown }).reason)} [R10]`,
      ).toBe(error);
      byItem(2).resolve();
      await settleDown();
      expect(calls.length, 'no mapper call after the input failed [R10]').toBe(3);
    });

    it(`an input that throws (${kind}) rejects with that error itself under stopOnError: false [R10]`, async () => {
      const error = boom('input');
      const { mapper, calls, byItem } = controlled<number>();
      const pool = callPool(failingInput([0, 1, 2], error, async), mapper, {
        concurrency: 2,
        stopOnError: false,
      });
      await settleDown();
      byItem(0).reject(boom(0));
      await settleDown();
      byItem(1).resolve();
      await settleDown();
      await finishAll(calls);
      const reason = await rejection(pool, 'mapConcurrent over an input that throws');
      expect(
        reason,
        `the input's error itself (never an AggregateError), got ${show(reason)} [R10]`,
      ).toBe(error);
      expect(calls.length, 'no mapper call after the input failed [R10]').toBe(3);
    });
  }
});
