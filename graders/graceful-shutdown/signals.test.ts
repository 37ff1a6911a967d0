import { describe, expect, it } from 'vitest';
import { createApp } from '@kata/graceful-shutdown';
import { pause, within } from '../support/deadline.ts';
import { addedListeners, get, start, TEST_SIGNAL, useHarness } from './harness.ts';

useHarness();

/** Delivers `signal` to this process's handlers the way a real one would, without the OS default action. */
const deliver = (signal: NodeJS.Signals): boolean => process.emit(signal, signal);

describe('stage 4: signals start the shutdown exactly once', () => {
  it(`installs a handler for each signal in signals (${TEST_SIGNAL}) when createApp is called`, async () => {
    await start({ timeoutMs: 3_000 });
    expect(
      addedListeners(TEST_SIGNAL),
      `createApp({ signals: ['${TEST_SIGNAL}'] }) must install a process handler for ${TEST_SIGNAL}`,
    ).toBeGreaterThanOrEqual(1);
  });

  it('installs handlers for SIGTERM and SIGINT by default and removes them once shutdown has finished', async () => {
    const exits: number[] = [];
    const made = createApp({ exit: (code) => exits.push(code), log: () => undefined });
    try {
      expect(
        addedListeners('SIGTERM'),
        'with no signals option, createApp handles SIGTERM',
      ).toBeGreaterThanOrEqual(1);
      expect(
        addedListeners('SIGINT'),
        'with no signals option, createApp handles SIGINT',
      ).toBeGreaterThanOrEqual(1);
      expect(
        await within(made.shutdown(), 2_000, 'shutdown() to resolve within 2000 ms'),
        'shutdown() resolves to 0',
      ).toBe(0);
      expect(
        [addedListeners('SIGTERM'), addedListeners('SIGINT')],
        'once shutdown has finished its SIGTERM and SIGINT handlers are removed',
      ).toEqual([0, 0]);
    } finally {
      await within(made.app.close(), 2_000, 'app.close()').catch(() => undefined);
    }
  });

  it(`starts the shutdown on ${TEST_SIGNAL}: /readyz fails, the cleanups run and exit(0) is called`, async () => {
    let cleaned = 0;
    const s = await start({ timeoutMs: 3_000, drainDelayMs: 200, cleanup: [() => (cleaned += 1)] });
    deliver(TEST_SIGNAL);
    const ready = await get(s.port, '/readyz');
    expect(ready.status, `after ${TEST_SIGNAL} /readyz answers 503 during the drain delay`).toBe(
      503,
    );
    await s.exited(2_000, `exit to be called within 2000 ms of ${TEST_SIGNAL}`);
    expect(s.exits, 'exit(0) once').toEqual([0]);
    expect(cleaned, 'the cleanup ran once').toBe(1);
  });

  it('returns the same promise object from a second shutdown() call and runs nothing twice', async () => {
    let cleaned = 0;
    const s = await start({ timeoutMs: 3_000, drainDelayMs: 50, cleanup: [() => (cleaned += 1)] });
    const first = s.shutdown('first call');
    const second = s.shutdown('second call');
    expect(second, 'a second shutdown() gets the very promise of the first (===)').toBe(first);
    expect(
      await within(first, 2_000, 'shutdown() to resolve within 2000 ms'),
      'shutdown() resolves to 0',
    ).toBe(0);
    expect(s.shutdown(), 'a call after shutdown finished still gets the same promise').toBe(first);
    await pause(30);
    expect(s.exits, 'exit is called exactly once').toEqual([0]);
    expect(cleaned, 'each cleanup runs exactly once').toBe(1);
  });

  it(`runs nothing twice when ${TEST_SIGNAL} arrives again during shutdown, and shutdown() joins it`, async () => {
    let cleaned = 0;
    const s = await start({ timeoutMs: 3_000, drainDelayMs: 150, cleanup: [() => (cleaned += 1)] });
    deliver(TEST_SIGNAL);
    await pause(20);
    expect(
      addedListeners(TEST_SIGNAL),
      `while shutdown is under way the ${TEST_SIGNAL} handler stays installed: a second signal must not fall back to the default action (killing the process mid-drain)`,
    ).toBeGreaterThanOrEqual(1);
    deliver(TEST_SIGNAL);
    const joined = s.shutdown();
    expect(s.shutdown(), 'every shutdown() call during the shutdown gets the same promise').toBe(
      joined,
    );
    expect(
      await within(joined, 2_000, 'shutdown() to resolve within 2000 ms'),
      "shutdown() after a signal resolves to the code that signal's shutdown used: 0",
    ).toBe(0);
    await pause(30);
    expect(s.exits, 'two signals and a call: exit is called exactly once').toEqual([0]);
    expect(cleaned, 'two signals and a call: the cleanup runs exactly once').toBe(1);
  });

  it(`removes its ${TEST_SIGNAL} handler once shutdown has finished, even when a cleanup failed`, async () => {
    const s = await start({
      timeoutMs: 3_000,
      cleanup: [
        () => {
          throw new Error('cache flush failed');
        },
      ],
    });
    expect(await s.finish(2_000), 'a failed cleanup: shutdown() resolves to 1').toBe(1);
    expect(
      addedListeners(TEST_SIGNAL),
      `once shutdown has finished no ${TEST_SIGNAL} handler of the app may remain on process`,
    ).toBe(0);
  });
});
