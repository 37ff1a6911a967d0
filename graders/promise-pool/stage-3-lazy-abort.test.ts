/**
 * Grader for promise-pool, stage 3: any iterable or async iterable as input, read only as slots
 * free; closing the input when the pool stops early; the caller's signal; nothing left behind.
 * Every input here is bounded (10,000 items at most), so a pool that reads too far fails a test
 * instead of reading for ever.
 */
import { describe, expect, it, vi } from 'vitest';
import { advance, useFakeClock } from '../support/clock.ts';
import { deferred } from '../support/promises.ts';
import { trackedAsyncIterable, trackedIterable } from '../support/limits.ts';
import {
  abortListeners,
  boom,
  callPool,
  controlled,
  fulfilment,
  rejection,
  settleDown,
  stateNow,
} from './fixtures.ts';

/** More items than a lazy pool ever reads in these tests: "endless", but bounded. */
const ENDLESS = 10_000;
const range = (count: number): number[] => Array.from({ length: count }, (_, i) => i);

function tracked(async: boolean, items: readonly number[]) {
  return async ? trackedAsyncIterable(items) : trackedIterable(items);
}

describe('stage 3: lazy and endless inputs, and abort', () => {
  it('maps a Set, a generator and an async generator [R11]', async () => {
    function* generate(): Generator<number> {
      yield* [1, 2, 3];
    }
    async function* generateAsync(): AsyncGenerator<number> {
      for (const n of [1, 2, 3]) {
        await settleDown(1);
        yield n;
      }
    }
    const inputs: Array<[string, Iterable<number> | AsyncIterable<number>]> = [
      ['a Set', new Set([1, 2, 3])],
      ['a generator', generate()],
      ['an async generator', generateAsync()],
    ];
    for (const [what, input] of inputs) {
      const results = await fulfilment(
        callPool(input, async (n) => n * 2, { concurrency: 2 }),
        `mapConcurrent over ${what}`,
      );
      expect(results, `mapConcurrent over ${what} [R11]`).toEqual([2, 4, 6]);
    }
  });

  it('maps an async input’s items as they arrive, before it ends [R11]', async () => {
    const last = deferred();
    const mapped: number[] = [];
    async function* source(): AsyncGenerator<number> {
      yield 1;
      yield 2;
      await last.promise;
      yield 3;
    }
    const pool = callPool(
      source(),
      (n) => {
        mapped.push(n);
        return n;
      },
      { concurrency: 5 },
    );
    await settleDown();
    expect(mapped, 'items 1 and 2 arrived; item 3 is not there yet: map them now [R11]').toEqual([
      1, 2,
    ]);
    last.resolve();
    expect(await fulfilment(pool, 'mapConcurrent over an async generator'), '[R11]').toEqual([
      1, 2, 3,
    ]);
  });

  for (const async of [false, true]) {
    const kind = async ? 'an async iterable' : 'an iterable';
    it(`pulls ${kind} only as slots free: pulled <= settled + concurrency [R12]`, async () => {
      const { iterable, record } = tracked(async, range(ENDLESS));
      const { mapper, calls } = controlled<number>();
      const pool = callPool(iterable, mapper, { concurrency: 3 });
      let settled = 0;
      for (let step = 0; step < 6; step += 1) {
        await settleDown();
        expect(
          record.pulled,
          `after ${settled} calls settled, with concurrency 3, at most ${settled + 3} items may be pulled from ${kind} of ${ENDLESS} [R12]`,
        ).toBeLessThanOrEqual(settled + 3);
        calls.find((call) => !call.settled)?.resolve();
        settled += 1;
      }
      await settleDown();
      expect(
        calls.length,
        '6 settled, 3 running: the pool keeps going as slots free [R4, R12]',
      ).toBe(9);
      calls.find((call) => !call.settled)?.reject(boom('stop'));
      await rejection(pool, 'the pool stopped by an error');
    });
  }

  for (const async of [false, true]) {
    const kind = async ? 'an async iterable' : 'an iterable';
    it(`closes ${kind} (return()) when a mapper error stops the pool [R13]`, async () => {
      const { iterable, record } = tracked(async, range(ENDLESS));
      const pool = callPool(
        iterable,
        async (n) => {
          await settleDown(1);
          if (n === 5) throw boom(n);
          return n;
        },
        { concurrency: 2 },
      );
      expect(await rejection(pool, `mapConcurrent over ${kind} of ${ENDLESS}`), '[R7]').toEqual(
        boom(5),
      );
      await settleDown();
      expect(record.returned, `the pool stopped early: ${kind} must be closed [R13]`).toBe(true);
      expect(record.pulled, 'and read no further than needed [R12]').toBeLessThan(20);
    });

    it(`closes ${kind} (return()) when the signal aborts [R13, R15]`, async () => {
      const { iterable, record } = tracked(async, range(ENDLESS));
      const controller = new AbortController();
      const { mapper } = controlled<number>();
      const pool = callPool(iterable, mapper, { concurrency: 2, signal: controller.signal });
      await settleDown();
      controller.abort(boom('abort'));
      await rejection(pool, 'mapConcurrent aborted');
      await settleDown();
      expect(record.returned, `the pool was aborted: ${kind} must be closed [R13]`).toBe(true);
    });
  }

  it('runs a generator’s finally when it stops early [R13]', async () => {
    let cleanedUp = false;
    function* endless(): Generator<number> {
      try {
        for (let i = 0; i < ENDLESS; i += 1) yield i;
      } finally {
        cleanedUp = true;
      }
    }
    const pool = callPool(endless(), (n) => (n === 3 ? Promise.reject(boom(3)) : n), {
      concurrency: 2,
    });
    await rejection(pool, 'mapConcurrent over a generator, item 3 failing');
    expect(cleanedUp, 'the generator’s finally must have run (return() called) [R13]').toBe(true);
  });

  it('an already-aborted signal rejects with its reason and calls no mapper [R14]', async () => {
    const reason = boom('already');
    let called = 0;
    const pool = callPool([1, 2, 3], () => (called += 1), {
      concurrency: 2,
      signal: AbortSignal.abort(reason),
    });
    expect(await rejection(pool, 'mapConcurrent with an aborted signal'), '[R14]').toBe(reason);
    expect(called, 'no mapper call with an already-aborted signal [R14]').toBe(0);
  });

  it('a signal aborted later rejects at once with its reason, starts nothing more, aborts running calls [R15]', async () => {
    const controller = new AbortController();
    const { mapper, calls, byItem } = controlled<number>();
    const pool = callPool(range(10), mapper, { concurrency: 3, signal: controller.signal });
    await settleDown();
    byItem(0).resolve();
    await settleDown();
    const reason = boom('later');
    controller.abort(reason);
    await settleDown();
    const state = await stateNow(pool);
    expect(state.state, 'aborted while 1, 2 and 3 run: reject at once, not after them [R15]').toBe(
      'rejected',
    );
    expect((state as { reason: unknown }).reason, 'the rejection is signal.reason [R15]').toBe(
      reason,
    );
    for (const item of [1, 2, 3]) {
      expect(byItem(item).context.signal.aborted, `item ${item} was running: aborted [R15]`).toBe(
        true,
      );
    }
    for (const call of calls) call.resolve();
    await settleDown();
    expect(calls.length, 'no call starts after the abort [R15]').toBe(4);
  });

  for (const how of ['an abort', 'an error'] as const) {
    it(`never maps an item that arrives after ${how} stopped the pool [R15, R7]`, async () => {
      const gate = deferred();
      async function* slow(): AsyncGenerator<number> {
        yield 0;
        yield 1;
        await gate.promise;
        yield 2;
        yield 3;
      }
      const controller = new AbortController();
      const { mapper, calls, byItem } = controlled<number>();
      const pool = callPool(slow(), mapper, { concurrency: 3, signal: controller.signal });
      await settleDown();
      // 0 and 1 run, and the pool waits for item 2 to arrive (a slot is free).
      if (how === 'an abort') controller.abort(boom('stop'));
      else byItem(0).reject(boom(0));
      await rejection(pool, `mapConcurrent stopped by ${how}`);
      gate.resolve();
      await settleDown();
      expect(
        calls.map((call) => call.item),
        `item 2 arrived after ${how} stopped the pool: it must not be mapped [R15, R7]`,
      ).toEqual([0, 1]);
    });
  }

  it('leaves no abort listener on the caller’s signal once settled, however it settled [R16]', async () => {
    const fulfilled = new AbortController();
    await fulfilment(
      callPool([1, 2, 3], async (n) => n, { concurrency: 2, signal: fulfilled.signal }),
      'mapConcurrent',
    );
    expect(abortListeners(fulfilled.signal), 'listeners left after fulfilling [R16]').toBe(0);

    const failed = new AbortController();
    const { mapper, byItem } = controlled<number>();
    const pool = callPool([1, 2, 3], mapper, { concurrency: 3, signal: failed.signal });
    await settleDown();
    byItem(2).reject(boom(2));
    await rejection(pool, 'mapConcurrent with a failing call');
    expect(
      abortListeners(failed.signal),
      'listeners left after rejecting, with calls still running [R16]',
    ).toBe(0);

    const aborted = new AbortController();
    const abortedPool = callPool([1, 2, 3], controlled<number>().mapper, {
      concurrency: 2,
      signal: aborted.signal,
    });
    await settleDown();
    aborted.abort();
    await rejection(abortedPool, 'mapConcurrent aborted');
    expect(abortListeners(aborted.signal), 'listeners left after the abort [R16]').toBe(0);
  });

  it('leaves no timer pending once settled [R16]', async () => {
    useFakeClock();
    const controller = new AbortController();
    const pool = callPool(range(20), async (n) => n, {
      concurrency: 4,
      signal: controller.signal,
    });
    for (let i = 0; i < 5; i += 1) {
      await advance(0);
      await settleDown(1);
    }
    await fulfilment(pool, 'mapConcurrent under a fake clock');
    expect(vi.getTimerCount(), 'timers pending once mapConcurrent has fulfilled [R16]').toBe(0);
  });
});
