/**
 * Grader for promise-pool, stage 4: a p-limit style limiter. Calls settle as their function does,
 * at most `concurrency` run, the rest wait first-in first-out, the counts, and clearQueue.
 * Counts are read after pending promise callbacks have run: a function may start synchronously or
 * in a microtask.
 */
import { describe, expect, it } from 'vitest';
import { createLimiter, type Limiter } from '@kata/promise-pool';
import { deferred } from '../support/promises.ts';
import {
  boom,
  fulfilment,
  isNotImplemented,
  microtasks,
  rejection,
  settleDown,
  show,
  stateNow,
} from './fixtures.ts';

/** Calls `limit(fn)`; a synchronous throw fails the test (limit reports by rejecting). */
function call<R>(limit: Limiter, fn: () => R | Promise<R>): Promise<R> {
  try {
    const result = limit(fn);
    result.catch(() => undefined);
    return result;
  } catch (error) {
    if (isNotImplemented(error)) throw error;
    expect.fail(`limit(fn) threw synchronously (${show(error)}); it must reject instead [R17]`);
  }
}

/** A limiter of `concurrency` and `count` calls whose functions wait until the test settles them. */
function queued(concurrency: number, count: number) {
  const limit = createLimiter(concurrency);
  const started: number[] = [];
  const gates = Array.from({ length: count }, () => deferred<string>());
  const results = gates.map((gate, i) =>
    call(limit, () => {
      started.push(i);
      return gate.promise;
    }),
  );
  return { limit, started, gates, results };
}

const counts = (limit: Limiter) => ({ active: limit.activeCount, pending: limit.pendingCount });

describe('stage 4: a p-limit style limiter', () => {
  it('calls fn with the arguments given and settles as it does [R17]', async () => {
    const limit = createLimiter(2);
    const sum = await fulfilment(
      limit((a: number, b: number) => a + b, 2, 3),
      'limit(fn, 2, 3)',
    );
    expect(sum, 'limit((a, b) => a + b, 2, 3) [R17]').toBe(5);
    const asyncValue = await fulfilment(
      call(limit, async () => 'async'),
      'limit(async fn)',
    );
    expect(asyncValue, 'limit(async () => "async") [R17]').toBe('async');
    const error = boom('rejects');
    expect(
      await rejection(
        call(limit, () => Promise.reject(error)),
        'limit(fn rejecting)',
      ),
      'limit(fn) rejects with fn’s rejection [R17]',
    ).toBe(error);
  });

  it('a fn that throws synchronously rejects the call; limit itself never throws [R17]', async () => {
    const limit = createLimiter(1);
    const error = boom('throws');
    const thrown = call(limit, () => {
      throw error;
    });
    expect(await rejection(thrown, 'limit(fn throwing)'), 'the thrown error [R17]').toBe(error);
    expect(
      await fulfilment(
        call(limit, () => 'next'),
        'the call after a throwing one',
      ),
      'the slot of the throwing call is free again [R17, R18]',
    ).toBe('next');
  });

  it('runs at most concurrency calls, the rest first-in first-out as slots free [R18]', async () => {
    const { started, gates, results } = queued(2, 6);
    await microtasks();
    expect(started, 'with concurrency 2, calls 0 and 1 start [R18]').toEqual([0, 1]);
    gates[1]!.resolve('one');
    await microtasks();
    expect(started, 'call 1 settled: call 2, the oldest waiting, starts at once [R18]').toEqual([
      0, 1, 2,
    ]);
    gates[0]!.reject(boom(0));
    await microtasks();
    expect(started, 'call 0 rejected: its slot frees too, call 3 starts [R18]').toEqual([
      0, 1, 2, 3,
    ]);
    for (const gate of gates) gate.resolve('done');
    await settleDown();
    expect(started, 'every call ran, in call order [R18]').toEqual([0, 1, 2, 3, 4, 5]);
    expect(await fulfilment(results[1]!, 'call 1'), '[R17]').toBe('one');
  });

  it('keeps first-in first-out order for calls made while others wait, and after the queue empties [R18]', async () => {
    const limit = createLimiter(1);
    const started: string[] = [];
    const gates = new Map<string, ReturnType<typeof deferred<void>>>();
    const enqueue = (name: string): Promise<void> => {
      const gate = deferred<void>();
      gates.set(name, gate);
      return call(limit, () => {
        started.push(name);
        return gate.promise;
      });
    };
    const calls = [enqueue('a'), enqueue('b'), enqueue('c')];
    await microtasks();
    gates.get('a')!.resolve();
    await microtasks();
    calls.push(enqueue('d')); // b runs, c waits: d goes behind c
    gates.get('b')!.resolve();
    await microtasks();
    expect(started, 'd was called after c: c starts first [R18]').toEqual(['a', 'b', 'c']);
    gates.get('c')!.resolve();
    await microtasks();
    gates.get('d')!.resolve();
    await settleDown();
    expect(started, 'then d [R18]').toEqual(['a', 'b', 'c', 'd']);
    calls.push(enqueue('e'), enqueue('f')); // the queue was empty: it works as before
    await microtasks();
    expect(started, 'after the queue emptied, e starts and f waits [R18]').toEqual([
      'a',
      'b',
      'c',
      'd',
      'e',
    ]);
    gates.get('e')!.resolve();
    await microtasks();
    expect(started, 'and f when e settles [R18]').toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    gates.get('f')!.resolve();
    await Promise.all(calls);
  });

  it('Infinity runs every call at once [R18]', async () => {
    const { started, gates } = queued(Infinity, 5);
    await microtasks();
    expect(started, 'createLimiter(Infinity): every call starts [R18]').toEqual([0, 1, 2, 3, 4]);
    for (const gate of gates) gate.resolve('');
  });

  it('activeCount and pendingCount count running and waiting calls [R19]', async () => {
    const { limit, gates, results } = queued(2, 5);
    await microtasks();
    expect(counts(limit), '5 calls, concurrency 2 [R19]').toEqual({ active: 2, pending: 3 });
    gates[0]!.resolve('a');
    await microtasks();
    expect(counts(limit), 'one settled, the next started [R19]').toEqual({ active: 2, pending: 2 });
    for (const gate of gates) gate.resolve('b');
    await settleDown();
    expect(counts(limit), 'all settled [R19]').toEqual({ active: 0, pending: 0 });
    await Promise.all(results);
  });

  it('a call is no longer counted once await limit(fn) resumes [R19]', async () => {
    const limit = createLimiter(1);
    const seen: Array<{ active: number; pending: number }> = [];
    const run = async (): Promise<void> => {
      await limit(async () => 'x');
      seen.push(counts(limit));
    };
    const done = run();
    await settleDown();
    await done;
    expect(seen, 'counts read right after await limit(fn) resumed [R19]').toEqual([
      { active: 0, pending: 0 },
    ]);
  });

  it('clearQueue(reason) rejects every waiting call with reason, never running it [R20]', async () => {
    const { limit, started, gates, results } = queued(1, 4);
    await microtasks();
    const reason = boom('cleared');
    limit.clearQueue(reason);
    expect(limit.pendingCount, 'pendingCount after clearQueue [R19, R20]').toBe(0);
    for (const i of [1, 2, 3]) {
      expect(await rejection(results[i]!, `waiting call ${i}`), `call ${i} [R20]`).toBe(reason);
    }
    expect((await stateNow(results[0]!)).state, 'the running call goes on [R20]').toBe('pending');
    gates[0]!.resolve('first');
    expect(await fulfilment(results[0]!, 'the running call'), '[R20]').toBe('first');
    await settleDown();
    expect(started, 'the cleared calls never ran [R20]').toEqual([0]);
    for (const gate of gates) gate.resolve('');
  });

  it('clearQueue() rejects with an AbortError by default, and the limiter goes on [R20]', async () => {
    const { limit, gates, results } = queued(1, 3);
    await microtasks();
    limit.clearQueue();
    const reason = await rejection(results[2]!, 'a waiting call after clearQueue()');
    expect(
      (reason as Error | undefined)?.name,
      `clearQueue() rejects with an error named AbortError, got ${show(reason)} [R20]`,
    ).toBe('AbortError');
    gates[0]!.resolve('');
    await settleDown();
    const { started, gates: later } = { started: [] as number[], gates: [deferred(), deferred()] };
    const next = later.map((gate, i) =>
      call(limit, () => {
        started.push(i);
        return gate.promise;
      }),
    );
    await microtasks();
    expect(started, 'after clearQueue, the limiter still limits: one at a time [R20]').toEqual([0]);
    later[0]!.resolve();
    await microtasks();
    expect(started, 'and starts the next when a slot frees [R20]').toEqual([0, 1]);
    later[1]!.resolve();
    await Promise.all(next);
  });
});
