/**
 * Grader for promise-pool, stage 5 (first part): mapConcurrentStream. Results as soon as they
 * can be yielded, in input or completion order; backpressure; closing early; errors; abort. The
 * limits are in stage-5-limits.test.ts. Every input is bounded (10,000 items at most), so a stream
 * that reads without backpressure fails a test instead of reading for ever.
 */
import { describe, expect, it } from 'vitest';
import { mapConcurrentStream, type StreamOptions, type TaskContext } from '@kata/promise-pool';
import { trackedAsyncIterable, trackedIterable } from '../support/limits.ts';
import { deferred } from '../support/promises.ts';
import {
  abortListeners,
  boom,
  controlled,
  failingInput,
  fulfilment,
  isNotImplemented,
  rejection,
  settleDown,
  show,
  stateNow,
} from './fixtures.ts';

const ENDLESS = 10_000;
const range = (count: number): number[] => Array.from({ length: count }, (_, i) => i);
const letters = ['a', 'b', 'c', 'd', 'e', 'f'];

/** Opens a stream; a synchronous throw fails the test unless `allowThrow`. */
function open<T, R>(
  input: Iterable<T> | AsyncIterable<T>,
  mapper: (item: T, context: TaskContext) => R | Promise<R>,
  options: StreamOptions,
): AsyncGenerator<R> {
  try {
    return mapConcurrentStream(input, mapper, options);
  } catch (error) {
    if (isNotImplemented(error)) throw error;
    expect.fail(`mapConcurrentStream threw at the call: ${show(error)}`);
  }
}

/** `stream.next()`, observed at once so that a rejection looked at later is never unhandled. */
function pull<R>(stream: AsyncGenerator<R>): Promise<IteratorResult<R>> {
  const next = stream.next();
  next.catch(() => undefined);
  return next;
}

/** The value of the next result, which must come (within a few hundred turns). */
async function nextValue<R>(stream: AsyncGenerator<R>, what: string): Promise<R> {
  const result = await fulfilment(pull(stream), what);
  expect(result.done, `${what}: expected a result, the stream ended [R21]`).toBe(false);
  return result.value as R;
}

/** Every result until the end, and the error the stream ended with (if any). */
async function drain<R>(stream: AsyncGenerator<R>): Promise<{ values: R[]; error?: unknown }> {
  const values: R[] = [];
  for (let i = 0; i < ENDLESS; i += 1) {
    const state = await fulfilmentOrRejection(pull(stream));
    if ('error' in state) return { values, error: state.error };
    if (state.value.done) return { values };
    values.push(state.value.value);
  }
  return expect.fail('the stream never ended');
}

async function fulfilmentOrRejection<T>(
  promise: Promise<T>,
): Promise<{ value: T } | { error: unknown }> {
  try {
    return { value: await fulfilment(promise, 'next()') };
  } catch (error) {
    const state = await stateNow(promise);
    if (state.state === 'rejected') return { error: state.reason };
    throw error;
  }
}

describe('stage 5: the stream, and the limits', () => {
  it('ordered (the default): yields in input order, each result as soon as the earlier ones are done [R21]', async () => {
    const { mapper, calls, byItem } = controlled<string>();
    const stream = open(letters, mapper, { concurrency: 3 });
    const first = pull(stream);
    await settleDown();
    byItem('b').resolve('B');
    await settleDown();
    expect((await stateNow(first)).state, 'b is done but a is not: nothing yielded yet [R21]').toBe(
      'pending',
    );
    byItem('a').resolve('A');
    expect(
      await fulfilment(first, 'next() once a is done'),
      'a yielded while c runs [R21]',
    ).toEqual({ value: 'A', done: false });
    expect(await nextValue(stream, 'next() with b done'), 'then b, waiting already [R21]').toBe(
      'B',
    );
    const third = pull(stream);
    await settleDown();
    byItem('d').resolve('D');
    byItem('c').resolve('C');
    expect((await fulfilment(third, 'next()')).value, '[R21]').toBe('C');
    for (const expected of ['D', 'E', 'F']) {
      const next = pull(stream);
      await settleDown();
      for (const call of calls) if (!call.settled) call.resolve(call.item.toUpperCase());
      expect((await fulfilment(next, 'next()')).value, 'the rest, in input order [R21]').toBe(
        expected,
      );
    }
    expect(await drain(stream), 'then the end [R21]').toEqual({ values: [] });
  });

  it('ordered: false yields in completion order, as soon as each is done [R21]', async () => {
    const { mapper, byItem } = controlled<string>();
    const stream = open(letters, mapper, { concurrency: 3, ordered: false });
    const first = pull(stream);
    await settleDown();
    byItem('c').resolve('C');
    expect(
      await fulfilment(first, 'next() once c is done'),
      'c first: it finished first [R21]',
    ).toEqual({ value: 'C', done: false });
    const second = pull(stream);
    await settleDown();
    byItem('d').resolve('D');
    expect((await fulfilment(second, 'next()')).value, 'd finished next [R21]').toBe('D');
    for (const item of ['a', 'f', 'e', 'b']) {
      const next = pull(stream);
      await settleDown();
      byItem(item).resolve(item.toUpperCase());
      expect((await fulfilment(next, 'next()')).value, `${item} finished next [R21]`).toBe(
        item.toUpperCase(),
      );
    }
    expect(await drain(stream), 'then the end [R21]').toEqual({ values: [] });
  });

  it('gives mappers the index and a signal, limits them, and reads async inputs [R21, R3, R4, R11]', async () => {
    for (const ordered of [true, false]) {
      const { iterable } = trackedAsyncIterable(range(12));
      let running = 0;
      let peak = 0;
      const seen: Array<[number, number]> = [];
      const stream = open(
        iterable,
        async (item, { index, signal }) => {
          seen.push([item, index]);
          expect(signal.aborted, 'context.signal while the stream runs [R3]').toBe(false);
          running += 1;
          peak = Math.max(peak, running);
          await settleDown(1 + (item % 3));
          running -= 1;
          return item * 10;
        },
        { concurrency: 4, ordered },
      );
      const { values, error } = await drain(stream);
      expect(error, `ordered ${ordered}: no error expected [R21]`).toBeUndefined();
      expect(
        [...values].sort((a, b) => a - b),
        `ordered ${ordered}: every result once [R21]`,
      ).toEqual(range(12).map((n) => n * 10));
      if (ordered)
        expect(values, 'ordered: input order [R21]').toEqual(range(12).map((n) => n * 10));
      for (const [item, index] of seen) expect(index, `index of item ${item} [R3]`).toBe(item);
      expect(
        peak,
        `ordered ${ordered}: most mappers at once with concurrency 4 [R4]`,
      ).toBeLessThanOrEqual(4);
    }
  });

  for (const ordered of [true, false]) {
    it(`has backpressure (ordered ${ordered}): reads no further while the consumer does not pull [R22]`, async () => {
      const concurrency = 4;
      const { iterable, record } = trackedIterable(range(ENDLESS));
      let started = 0;
      const stream = open(
        iterable,
        async (n) => {
          started += 1;
          await settleDown(1);
          return n;
        },
        { concurrency, ordered },
      );
      let yielded = 0;
      for (let round = 0; round < 5; round += 1) {
        await nextValue(stream, `next() number ${yielded + 1}`);
        yielded += 1;
        await settleDown(10); // the consumer is busy: it does not pull
        expect(
          started - yielded,
          `${yielded} yielded, consumer not pulling: calls started but not yielded (running, or finished and waiting) must stay within 2 × concurrency = ${2 * concurrency} [R22]`,
        ).toBeLessThanOrEqual(2 * concurrency);
        expect(
          record.pulled,
          `${yielded} yielded, consumer not pulling: items pulled from an input of ${ENDLESS} [R22]`,
        ).toBeLessThanOrEqual(yielded + 2 * concurrency + 1);
      }
      await stream.return(undefined);
    });
  }

  it('has backpressure on finished results: at most concurrency wait while the consumer does not pull [R22]', async () => {
    for (const ordered of [true, false]) {
      const concurrency = 3;
      const { mapper, calls, state, byItem } = controlled<number>();
      const stream = open(range(ENDLESS), mapper, { concurrency, ordered });
      const first = pull(stream);
      await settleDown();
      byItem(0).resolve();
      await fulfilment(first, 'the first next()');
      // Now the consumer is away. Finish every call as soon as it starts; with ordered output,
      // item 1 (the next to yield) is held back, so results pile up unless the stream stops.
      for (let round = 0; round < 20; round += 1) {
        for (const call of calls) if (!call.settled && call.item !== 1) call.resolve();
        await settleDown(1);
      }
      const finished = calls.filter((call) => call.settled).length - 1;
      expect(
        finished,
        `ordered ${ordered}: finished results waiting for a consumer that does not pull (concurrency ${concurrency}) [R22]`,
      ).toBeLessThanOrEqual(concurrency);
      expect(state.peak, `ordered ${ordered}: most calls at once [R22]`).toBeLessThanOrEqual(
        concurrency,
      );
      await stream.return(undefined);
      for (const call of calls) call.resolve();
    }
  });

  it('consumes an endless input, and breaking out closes it [R22, R23]', async () => {
    const { iterable, record } = trackedIterable(range(ENDLESS));
    const taken: number[] = [];
    for await (const value of open(iterable, async (n) => n * 2, { concurrency: 4 })) {
      taken.push(value);
      if (taken.length === 50) break;
    }
    expect(taken, 'the first 50 results, in order [R21]').toEqual(range(50).map((n) => n * 2));
    expect(
      record.pulled,
      `items read from an input of ${ENDLESS} for 50 results [R22]`,
    ).toBeLessThanOrEqual(50 + 2 * 4 + 1);
    expect(record.returned, 'break closes the input [R23]').toBe(true);
  });

  it('return() aborts the running calls, closes the input and starts nothing more [R23, R16]', async () => {
    const { iterable, record } = trackedAsyncIterable(range(ENDLESS));
    const { mapper, calls, byItem } = controlled<number>();
    const controller = new AbortController();
    const stream = open(iterable, mapper, { concurrency: 3, signal: controller.signal });
    const first = pull(stream);
    await settleDown();
    byItem(0).resolve();
    await fulfilment(first, 'the first next()');
    await settleDown();
    const running = calls.filter((call) => !call.settled);
    expect(running.length, 'calls running when the consumer breaks out').toBeGreaterThan(0);
    const closed = await fulfilment(stream.return(undefined), 'return()');
    expect(closed.done, 'return() ends the stream [R23]').toBe(true);
    await settleDown();
    for (const call of running) {
      expect(call.context.signal.aborted, `item ${call.item} was running: aborted [R23]`).toBe(
        true,
      );
    }
    expect(record.returned, 'the input is closed [R23]').toBe(true);
    const count = calls.length;
    for (const call of calls) call.resolve();
    await settleDown();
    expect(calls.length, 'no call starts after return() [R23]').toBe(count);
    expect(abortListeners(controller.signal), 'listeners left on the caller’s signal [R16]').toBe(
      0,
    );
  });

  it('stopOnError: throws the first error at once, aborts running calls, closes the input [R24, R16]', async () => {
    const { iterable, record } = trackedIterable(range(ENDLESS));
    const { mapper, byItem } = controlled<number>();
    const controller = new AbortController();
    const stream = open(iterable, mapper, { concurrency: 3, signal: controller.signal });
    const first = pull(stream);
    await settleDown();
    const error = boom(1);
    byItem(1).reject(error);
    expect(
      await rejection(first, 'next() pending while item 1 failed and item 0 still runs'),
      'the first error, at once [R24]',
    ).toBe(error);
    expect(byItem(0).context.signal.aborted, 'item 0 was running: aborted [R24]').toBe(true);
    expect(record.returned, 'the input is closed [R24]').toBe(true);
    expect((await fulfilment(pull(stream), 'next() after the error')).done, '[R24]').toBe(true);
    expect(abortListeners(controller.signal), 'listeners left after the error [R16]').toBe(0);
    byItem(0).resolve();
  });

  for (const ordered of [true, false]) {
    it(`stopOnError: false yields every result, then an AggregateError in input order (ordered ${ordered}) [R24]`, async () => {
      const { values, error } = await drain(
        open(
          letters,
          async (item) => {
            await settleDown(item === 'b' ? 4 : 1);
            if (item === 'b' || item === 'd') throw boom(item);
            return item.toUpperCase();
          },
          { concurrency: 2, ordered, stopOnError: false },
        ),
      );
      expect([...values].sort(), 'every result that did not fail [R24]').toEqual([
        'A',
        'C',
        'E',
        'F',
      ]);
      expect(
        error instanceof AggregateError,
        `then an AggregateError, got ${show(error)} [R24]`,
      ).toBe(true);
      expect(
        (error as AggregateError).errors.map(show),
        'errors in input order (b failed after d) [R24]',
      ).toEqual([show(boom('b')), show(boom('d'))]);
    });
  }

  for (const stopOnError of [true, false]) {
    it(`an input that throws ends the stream with that error (stopOnError ${stopOnError}) [R24]`, async () => {
      const error = boom('input');
      const { values, error: thrown } = await drain(
        open(failingInput([1, 2, 3], error, true), async (n) => n, { concurrency: 2, stopOnError }),
      );
      expect(thrown, `the input's error itself, got ${show(thrown)} [R24]`).toBe(error);
      expect(
        values.every((value) => [1, 2, 3].includes(value)),
        '[R21]',
      ).toBe(true);
    });
  }

  it('stopOnError: of two errors in a row, throws the first [R24]', async () => {
    const { mapper, byItem } = controlled<number>();
    const stream = open(range(10), mapper, { concurrency: 3 });
    const first = pull(stream);
    await settleDown();
    const error = boom(1);
    byItem(1).reject(error);
    byItem(2).reject(boom(2));
    expect(
      await rejection(first, 'next() after items 1 then 2 failed'),
      'the first error [R24]',
    ).toBe(error);
    byItem(0).resolve();
  });

  it('never maps an item that arrives after an abort stopped the stream [R25]', async () => {
    const gate = deferred();
    async function* slow(): AsyncGenerator<number> {
      yield 0;
      yield 1;
      await gate.promise;
      yield 2;
      yield 3;
    }
    const controller = new AbortController();
    const { mapper, calls } = controlled<number>();
    const stream = open(slow(), mapper, { concurrency: 3, signal: controller.signal });
    const first = pull(stream);
    await settleDown();
    // 0 and 1 run, and the stream waits for item 2 to arrive (a slot is free).
    controller.abort(boom('stop'));
    await rejection(first, 'next() pending when the signal aborted');
    gate.resolve();
    await settleDown();
    expect(
      calls.map((call) => call.item),
      'item 2 arrived after the abort: it must not be mapped [R25]',
    ).toEqual([0, 1]);
  });

  it('an already-aborted signal throws its reason at the call or from the first next(), calling no mapper [R25]', async () => {
    const reason = boom('already');
    let called = 0;
    let error: unknown;
    try {
      const stream = mapConcurrentStream([1, 2], () => (called += 1), {
        concurrency: 2,
        signal: AbortSignal.abort(reason),
      });
      error = await rejection(pull(stream), 'next() of a stream with an aborted signal');
    } catch (thrown) {
      if (isNotImplemented(thrown)) throw thrown;
      error = thrown;
    }
    expect(error, 'signal.reason [R25]').toBe(reason);
    expect(called, 'no mapper call [R25]').toBe(0);
  });

  it('a signal aborted later aborts the running calls at once and the stream throws its reason [R25, R16]', async () => {
    const controller = new AbortController();
    const { mapper, calls, byItem } = controlled<number>();
    const stream = open(range(ENDLESS), mapper, { concurrency: 2, signal: controller.signal });
    const first = pull(stream);
    await settleDown();
    byItem(0).resolve();
    await fulfilment(first, 'the first next()');
    await settleDown();
    const reason = boom('later');
    controller.abort(reason); // the consumer is not pulling now
    await settleDown();
    const running = calls.filter((call) => !call.settled);
    for (const call of running) {
      expect(
        call.context.signal.aborted,
        `item ${call.item} was running: aborted at once [R25]`,
      ).toBe(true);
    }
    expect(
      await rejection(pull(stream), 'the next next() after the abort'),
      'signal.reason [R25]',
    ).toBe(reason);
    const count = calls.length;
    for (const call of calls) call.resolve();
    await settleDown();
    expect(calls.length, 'no call starts after the abort [R25]').toBe(count);
    expect(abortListeners(controller.signal), 'listeners left after the abort [R16]').toBe(0);

    const pending = new AbortController();
    const second = controlled<number>();
    const waiting = pull(
      open(range(10), second.mapper, { concurrency: 2, signal: pending.signal }),
    );
    await settleDown();
    pending.abort(reason);
    expect(
      await rejection(waiting, 'a pending next() when the signal aborts'),
      'signal.reason [R25]',
    ).toBe(reason);
  });

  it('leaves no abort listener once the stream has finished [R16]', async () => {
    const controller = new AbortController();
    const { values } = await drain(
      open([1, 2, 3], (n) => n, { concurrency: 2, signal: controller.signal }),
    );
    expect(values, '[R21]').toEqual([1, 2, 3]);
    expect(abortListeners(controller.signal), 'listeners left once the stream finished [R16]').toBe(
      0,
    );
  });
});
