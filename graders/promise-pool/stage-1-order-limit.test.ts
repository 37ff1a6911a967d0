/**
 * Grader for promise-pool, stage 1: the classic interview answer. Options, results in input order,
 * the mapper's context, never more than `concurrency` calls at once, and a slot refilled as soon as
 * a call settles. Mappers here wait until the test settles them.
 */
import { describe, expect, it } from 'vitest';
import { createLimiter, mapConcurrentStream } from '@kata/promise-pool';
import {
  NOT_A_NUMBER,
  OUT_OF_RANGE,
  callPool,
  controlled,
  expectInvalidConcurrency,
  fulfilment,
  isNotImplemented,
  microtasks,
  rejection,
  settleDown,
  show,
} from './fixtures.ts';

const letters = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];

describe('stage 1: order and the limit', () => {
  it('rejects a concurrency out of range with a RangeError naming concurrency, calling no mapper [R1]', async () => {
    for (const concurrency of OUT_OF_RANGE) {
      let called = 0;
      const pool = callPool([1, 2], () => (called += 1), { concurrency }, '[R1]');
      const error = await rejection(pool, `mapConcurrent(…, { concurrency: ${concurrency} })`);
      expectInvalidConcurrency(error, RangeError, `mapConcurrent with concurrency ${concurrency}`);
      expect(called, `concurrency ${concurrency}: the mapper must not be called [R1]`).toBe(0);
    }
  });

  it('rejects a concurrency that is not a number with a TypeError naming concurrency [R1]', async () => {
    for (const concurrency of NOT_A_NUMBER) {
      let called = 0;
      const pool = callPool(
        [1, 2],
        () => (called += 1),
        { concurrency: concurrency as number },
        '[R1]',
      );
      const error = await rejection(
        pool,
        `mapConcurrent(…, { concurrency: ${show(concurrency)} })`,
      );
      expectInvalidConcurrency(
        error,
        TypeError,
        `mapConcurrent with concurrency ${show(concurrency)}`,
      );
      expect(called, `concurrency ${show(concurrency)}: the mapper must not be called [R1]`).toBe(
        0,
      );
    }
  });

  it('createLimiter throws for an invalid concurrency, and accepts 1 and Infinity [R1]', () => {
    const cases: Array<[unknown, typeof RangeError | typeof TypeError]> = [
      ...OUT_OF_RANGE.map((value): [unknown, typeof RangeError] => [value, RangeError]),
      ...NOT_A_NUMBER.map((value): [unknown, typeof TypeError] => [value, TypeError]),
    ];
    for (const [concurrency, type] of cases) {
      let thrown: unknown;
      try {
        createLimiter(concurrency as number);
      } catch (error) {
        thrown = error;
      }
      expectInvalidConcurrency(thrown, type, `createLimiter(${show(concurrency)})`);
    }
    expect(() => createLimiter(1), 'createLimiter(1) is valid [R1]').not.toThrow();
    expect(() => createLimiter(Infinity), 'createLimiter(Infinity) is valid [R1]').not.toThrow();
  });

  it('mapConcurrentStream reports an invalid concurrency at the call or from its first next() [R1]', async () => {
    const cases: Array<[unknown, typeof RangeError | typeof TypeError]> = [
      [0, RangeError],
      [1.5, RangeError],
      ['2', TypeError],
    ];
    for (const [concurrency, type] of cases) {
      let called = 0;
      let error: unknown;
      try {
        const stream = mapConcurrentStream([1, 2], () => (called += 1), {
          concurrency: concurrency as number,
        });
        const first = stream.next();
        first.catch(() => undefined);
        error = await rejection(
          first,
          `mapConcurrentStream(…, { concurrency: ${show(concurrency)} }).next()`,
        );
      } catch (thrown) {
        if (isNotImplemented(thrown)) throw thrown;
        error = thrown;
      }
      expectInvalidConcurrency(
        error,
        type,
        `mapConcurrentStream with concurrency ${show(concurrency)}`,
      );
      expect(called, 'the mapper must not be called [R1]').toBe(0);
    }
  });

  it('fulfils with the results in input order, whatever order the calls finish in [R2]', async () => {
    const { mapper, byItem } = controlled<string>();
    const pool = callPool(letters, mapper, { concurrency: 8 });
    await settleDown();
    for (const item of ['h', 'c', 'a', 'g', 'b', 'f', 'e', 'd']) {
      byItem(item).resolve(item.toUpperCase());
      await settleDown(1);
    }
    const results = await fulfilment(
      pool,
      'mapConcurrent of 8 items, finished in a shuffled order',
    );
    expect(results, 'results of mapConcurrent, in input order [R2]').toEqual(
      letters.map((item) => item.toUpperCase()),
    );
  });

  it('accepts mappers that return plain values, including undefined, and an empty input [R2]', async () => {
    const plain = await fulfilment(
      callPool([1, 2, 3, 4], (n) => (n === 3 ? undefined : n * 10), { concurrency: 2 }),
      'mapConcurrent with a synchronous mapper',
    );
    expect(plain, 'a synchronous mapper: one result per item, in order [R2]').toEqual([
      10,
      20,
      undefined,
      40,
    ]);
    expect(plain.length, 'one entry per item, even for an undefined result [R2]').toBe(4);
    const empty = await fulfilment(
      callPool([], () => 1, { concurrency: 3 }),
      'mapConcurrent of an empty input',
    );
    expect(empty, 'mapConcurrent([]) fulfils with [] [R2]').toEqual([]);
  });

  it('calls the mapper once per item with its index and an unaborted signal [R3]', async () => {
    const seen: Array<{ item: string; index: number; aborted: boolean; signal: boolean }> = [];
    const results = await fulfilment(
      callPool(
        letters,
        async (item, context) => {
          seen.push({
            item,
            index: context.index,
            signal: context.signal instanceof AbortSignal,
            aborted: context.signal.aborted,
          });
          await Promise.resolve();
          return context.index;
        },
        { concurrency: 3 },
      ),
      'mapConcurrent of 8 items',
    );
    expect(seen.map((call) => call.item).sort(), 'one call per item [R3]').toEqual(letters);
    for (const call of seen) {
      expect(call.index, `the index given with item ${call.item} [R3]`).toBe(
        letters.indexOf(call.item),
      );
      expect(call.signal, 'context.signal is an AbortSignal [R3]').toBe(true);
      expect(call.aborted, 'context.signal is not aborted while the pool runs normally [R3]').toBe(
        false,
      );
    }
    expect(results, 'results are the indexes, in order [R2, R3]').toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('starts exactly concurrency calls before any settles, and never more at once [R4]', async () => {
    for (const concurrency of [1, 3]) {
      const { mapper, calls, state } = controlled<string>();
      const pool = callPool(letters, mapper, { concurrency });
      await settleDown();
      expect(
        calls.length,
        `concurrency ${concurrency}: calls started before any settled (expected ${concurrency}) [R4]`,
      ).toBe(concurrency);
      while (calls.some((call) => !call.settled)) {
        calls.find((call) => !call.settled)!.resolve();
        await settleDown(1);
      }
      await fulfilment(pool, `mapConcurrent with concurrency ${concurrency}`);
      expect(calls.length, 'every item mapped [R4]').toBe(letters.length);
      expect(state.peak, `most calls running at once with concurrency ${concurrency} [R4]`).toBe(
        concurrency,
      );
    }
  });

  it('concurrency Infinity, or above the input length, starts every item at once [R4]', async () => {
    for (const concurrency of [Infinity, 100]) {
      const { mapper, calls } = controlled<string>();
      const pool = callPool(letters, mapper, { concurrency });
      await settleDown();
      expect(calls.length, `concurrency ${concurrency}: calls started at once [R4]`).toBe(8);
      for (const call of calls) call.resolve();
      await fulfilment(pool, `mapConcurrent with concurrency ${concurrency}`);
    }
  });

  it('starts the next item as soon as any call settles, not when a batch is done [R5]', async () => {
    const { mapper, calls, started, byItem } = controlled<string>();
    const pool = callPool(letters, mapper, { concurrency: 3 });
    await settleDown();
    expect(started(), 'the first three items start [R4]').toEqual(['a', 'b', 'c']);
    byItem('b').resolve();
    await microtasks();
    expect(
      started(),
      'after b settled, with a and c still running, d must start at once (promise callbacks only, no timer): a slot waited for the batch [R5]',
    ).toEqual(['a', 'b', 'c', 'd']);
    byItem('d').resolve();
    await microtasks();
    expect(started(), 'after d settled: e starts [R5]').toEqual(['a', 'b', 'c', 'd', 'e']);
    for (;;) {
      const open = calls.find((call) => !call.settled);
      if (!open) break;
      open.resolve();
      await settleDown(1);
    }
    await fulfilment(pool, 'mapConcurrent');
  });
});
