import { describe, expect, test } from 'vitest';
import { pause, within } from '../support/deadline.ts';
import {
  addedListeners,
  advance,
  get,
  guardSignalHandlers,
  IN_PROCESS_TIMEOUT,
  never,
  restoreRealClock,
  settle,
  harnessed,
  TEST_SIGNAL,
  tracked,
  useFakeClock,
} from './fixtures.ts';

// Signal handlers live on `process`: these tests run one at a time, each checked against the
// handlers present when it started.
guardSignalHandlers('each');

/** Delivers `signal` to this process's handlers the way a real one would, without the OS default action. */
const deliver = (signal: NodeJS.Signals): boolean => process.emit(signal, signal);
const signals = [TEST_SIGNAL];

describe('stage 4: signals start the shutdown exactly once', IN_PROCESS_TIMEOUT, () => {
  test(
    `installs a handler for each signal in signals (${TEST_SIGNAL}) when createApp is called [R11]`,
    harnessed(async (harness) => {
      await harness.start({ signals, timeoutMs: 3_000 });
      expect(
        addedListeners(TEST_SIGNAL),
        `createApp({ signals: ['${TEST_SIGNAL}'] }) must install a process handler for ${TEST_SIGNAL} [R11]`,
      ).toBeGreaterThanOrEqual(1);
    }),
  );

  test(
    'installs handlers for SIGTERM and SIGINT by default and removes them once shutdown has finished [R11, R29]',
    harnessed(async (harness) => {
      const exits: number[] = [];
      const made = harness.make({ exit: (code) => exits.push(code), log: () => undefined });
      expect(
        [addedListeners('SIGTERM'), addedListeners('SIGINT')].map((n) => n >= 1),
        'with no signals option, createApp handles both SIGTERM and SIGINT: [SIGTERM handled, SIGINT handled] [R11]',
      ).toEqual([true, true]);
      expect(
        await within(made.shutdown(), 2_000, 'shutdown() to resolve within 2000 ms'),
        'shutdown() resolves to 0',
      ).toBe(0);
      expect(
        [addedListeners('SIGTERM'), addedListeners('SIGINT')],
        'once shutdown has finished its SIGTERM and SIGINT handlers are removed: [SIGTERM, SIGINT] handlers left [R29]',
      ).toEqual([0, 0]);
    }),
  );

  test(
    'installs no handler at all with signals: [] [R12]',
    harnessed(async (harness) => {
      await harness.start({ signals: [], timeoutMs: 3_000 });
      expect(
        [addedListeners('SIGTERM'), addedListeners('SIGINT'), addedListeners(TEST_SIGNAL)],
        'signals: [] means no handler: [SIGTERM, SIGINT, SIGUSR2] handlers added by createApp [R12]',
      ).toEqual([0, 0, 0]);
    }),
  );

  test(
    `starts the shutdown on ${TEST_SIGNAL}: /readyz fails, the signal is logged, the cleanups run and exit(0) is called [R11, R14]`,
    harnessed(async (harness) => {
      let cleaned = 0;
      const s = await harness.start({
        signals,
        timeoutMs: 3_000,
        drainDelayMs: 100,
        cleanup: [() => (cleaned += 1)],
      });
      deliver(TEST_SIGNAL);
      const ready = await get(s.port, '/readyz');
      expect(ready.status, `after ${TEST_SIGNAL} /readyz answers 503 [R11]`).toBe(503);
      await s.exited(5_000, `exit to be called within 5000 ms of ${TEST_SIGNAL} [R11]`);
      expect(s.exits, 'exit(0) once [R11]').toEqual([0]);
      expect(cleaned, 'the cleanup ran once [R11]').toBe(1);
      expect(
        s.logs.some((line) => line.includes(TEST_SIGNAL)),
        `a shutdown started by ${TEST_SIGNAL} is logged naming the signal; log got ${JSON.stringify(s.logs)} [R14]`,
      ).toBe(true);
    }),
  );

  test(
    'returns the same promise object from a second shutdown() call and runs nothing twice [R13]',
    harnessed(async (harness) => {
      let cleaned = 0;
      const s = await harness.start({
        signals,
        timeoutMs: 3_000,
        drainDelayMs: 50,
        cleanup: [() => (cleaned += 1)],
      });
      const first = s.shutdown('first call');
      const second = s.shutdown('second call');
      expect(second, 'a second shutdown() gets the very promise of the first (===) [R13]').toBe(
        first,
      );
      expect(
        await within(first, 2_000, 'shutdown() to resolve within 2000 ms'),
        'shutdown() resolves to 0',
      ).toBe(0);
      expect(s.shutdown(), 'a call after shutdown finished still gets the same promise [R13]').toBe(
        first,
      );
      await pause(30);
      expect(s.exits, 'exit is called exactly once [R13]').toEqual([0]);
      expect(cleaned, 'each cleanup runs exactly once [R13]').toBe(1);
    }),
  );

  test(
    `runs nothing twice when ${TEST_SIGNAL} arrives again during shutdown, its handler still installed, and shutdown() joins it [R13, R28]`,
    harnessed(async (harness) => {
      let cleaned = 0;
      const s = await harness.start({
        signals,
        timeoutMs: 3_000,
        drainDelayMs: 100,
        cleanup: [() => (cleaned += 1)],
      });
      try {
        // On a fake clock, "during the shutdown" lasts as long as the test needs.
        useFakeClock();
        deliver(TEST_SIGNAL);
        await advance(20);
        expect(
          addedListeners(TEST_SIGNAL),
          `while shutdown is under way the ${TEST_SIGNAL} handler stays installed: a second signal must not fall back to the default action (killing the process mid-drain) [R28]`,
        ).toBeGreaterThanOrEqual(1);
        deliver(TEST_SIGNAL);
        const joined = s.shutdown();
        expect(
          s.shutdown(),
          'every shutdown() call during the shutdown gets the same promise [R13]',
        ).toBe(joined);
        const done = tracked(joined);
        await advance(100);
        expect(
          await settle(done.settled),
          'shutdown() resolves once the drain delay has passed',
        ).toBe(true);
        expect(
          await joined,
          "shutdown() after a signal resolves to the code that signal's shutdown used: 0 [R13]",
        ).toBe(0);
        await advance(3_000);
        expect(s.exits, 'two signals and a call: exit is called exactly once [R13]').toEqual([0]);
        expect(cleaned, 'two signals and a call: the cleanup runs exactly once [R13]').toBe(1);
      } finally {
        restoreRealClock();
      }
    }),
  );

  test(
    `removes its ${TEST_SIGNAL} handler once shutdown has finished, after a failed cleanup or a timeout too [R29]`,
    harnessed(async (harness) => {
      const failed = await harness.start({
        signals,
        timeoutMs: 3_000,
        cleanup: [
          () => {
            throw new Error('cache flush failed');
          },
        ],
      });
      const timedOut = await harness.start({ signals, timeoutMs: 50, cleanup: [never] });
      expect(
        [await failed.finish(2_000), await timedOut.finish(2_000)],
        'a failed cleanup and a timeout: shutdown() resolves to 1 both times',
      ).toEqual([1, 1]);
      expect(
        addedListeners(TEST_SIGNAL),
        `once shutdown has finished (one after a failed cleanup, one after a timeout) no ${TEST_SIGNAL} handler of the app may remain on process [R29]`,
      ).toBe(0);
    }),
  );
});
