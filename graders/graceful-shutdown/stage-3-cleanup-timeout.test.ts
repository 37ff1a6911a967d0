import { describe, expect, vi, test } from 'vitest';
import { useFakeClock } from '../support/clock.ts';
import { pause } from '../support/deadline.ts';
import { countTimers } from '../support/limits.ts';
import {
  advance,
  advanceWithIo,
  get,
  guardSignalHandlers,
  IN_PROCESS_TIMEOUT,
  never,
  restoreRealClock,
  settle,
  harnessed,
  tracked,
  type Started,
} from './fixtures.ts';

guardSignalHandlers('all');

const exited = (s: Started) => (): boolean => s.exits.length > 0;

describe('stage 3: cleanups and the shutdown timeout', IN_PROCESS_TIMEOUT, () => {
  // These fake the clock for the whole process, so they run alone, before the concurrent tests.
  describe('timers, on a fake clock (run one at a time)', () => {
    test(
      'waits on timers, not polling loops: a 10 s drain delay and a 15 s request in flight fire a handful of timer callbacks, and none is left pending after shutdown [R30, R31]',
      harnessed(async (harness) => {
        const s = await harness.start({ drainDelayMs: 10_000, timeoutMs: 60_000 });
        try {
          useFakeClock();
          const timers = countTimers();
          const inFlight = get(s.port, '/work?ms=15000', { ms: 600_000 });
          await s.arrivals(1);
          void s.shutdown();
          await advanceWithIo(exited(s), 30_000);
          expect(
            (await inFlight).status,
            'GET /work?ms=15000, in flight during the drain delay, finishes with 200 once its 15 s have passed on the fake clock [R17]',
          ).toBe(200);
          expect(
            s.exits,
            'exit(0) once the request finished (15 s of fake time), well before timeoutMs = 60000',
          ).toEqual([0]);
          // What is due at once (an immediate scheduled on the way out) may still run; nothing may wait.
          await vi.advanceTimersByTimeAsync(10);
          const { fired, pending } = timers();
          expect(
            fired,
            `over 15 s of drain delay and request (fake clock) ${fired} timer callbacks ran: the drain delay and the request are one timer each, and closing waits on the server, not on a polling loop (setInterval or a setTimeout loop checking the clock or the connections) [R30]`,
          ).toBeLessThanOrEqual(20);
          expect(
            pending,
            `once shutdown() has settled ${pending} timer(s) are still pending (timeoutMs = 60000): clear the timeout timer when shutdown finishes, and leave no other [R31]`,
          ).toBe(0);
        } finally {
          restoreRealClock();
        }
      }),
    );

    test(
      'calls exit(1) at the default timeoutMs = 10000 when a cleanup never settles, not before [R6, R24]',
      harnessed(async (harness) => {
        const s = await harness.start({ cleanup: [never] });
        try {
          useFakeClock();
          void s.shutdown();
          await advanceWithIo(exited(s), 9_990, 250, 0);
          expect(
            s.exits,
            'timeoutMs defaults to 10000: at 9990 ms (fake clock) a hung cleanup must still be awaited, exit not called yet [R6, R24]',
          ).toEqual([]);
          await advanceWithIo(exited(s), 20, 10, 1_000);
          expect(
            s.exits,
            'timeoutMs defaults to 10000: by 10010 ms (fake clock), with a cleanup that never settles, exit(1) must have been called [R6, R24]',
          ).toEqual([1]);
        } finally {
          restoreRealClock();
        }
      }),
    );
  });

  // The timeout, on a fake clock: "at about timeoutMs" is exact, whatever the machine's load.
  describe('the timeout, on a fake clock (run one at a time)', () => {
    const exitedNow = (s: Started) => settle(() => s.exits.length > 0, 2_000);

    test(
      'calls exit(1) at timeoutMs = 150, not before, when a cleanup never settles; logs it with its ms; runs the cleanups before it [R21, R24, R25]',
      harnessed(async (harness) => {
        let firstRan = false;
        const s = await harness.start({
          timeoutMs: 150,
          cleanup: [
            () => {
              firstRan = true;
            },
            never,
          ],
        });
        try {
          useFakeClock();
          const done = tracked(s.shutdown());
          await advance(149);
          await settle(() => s.exits.length > 0, 50);
          expect(
            s.exits,
            'at 149 ms (fake clock) exit must not have been called yet [R24]',
          ).toEqual([]);
          await advance(1);
          expect(
            await exitedNow(s),
            'at timeoutMs = 150 (fake clock) exit(1) must be called at once: a cleanup that never settles must not hold the shutdown [R24]',
          ).toBe(true);
          expect(
            s.exits,
            'a cleanup still pending at timeoutMs means exit code 1, once [R24]',
          ).toEqual([1]);
          expect(firstRan, 'the cleanups before the hanging one ran [R21]').toBe(true);
          await settle(done.settled, 1_000);
          expect(await done.promise, 'shutdown() resolves to 1 [R23, R24]').toBe(1);
          expect(
            s.logs.some((line) => line.includes('150')),
            `the timeout must be logged, with its number of ms (150), so an exit code of 1 can be told from a failed cleanup; log got ${JSON.stringify(s.logs)} [R25]`,
          ).toBe(true);
        } finally {
          restoreRealClock();
        }
      }),
    );

    test(
      'calls exit(1) at timeoutMs = 150 while GET /work?ms=500 hangs, and never again once it finishes [R24, R27]',
      harnessed(async (harness) => {
        const s = await harness.start({ timeoutMs: 150, drainDelayMs: 0 });
        try {
          useFakeClock();
          const hanging = tracked(get(s.port, '/work?ms=500', { ms: 600_000 }));
          await s.arrivals(1);
          void s.shutdown();
          await advance(149);
          await settle(() => s.exits.length > 0, 50);
          expect(
            s.exits,
            'at 149 ms (fake clock) exit must not have been called yet [R24]',
          ).toEqual([]);
          await advance(1);
          expect(
            await exitedNow(s),
            'at timeoutMs = 150 (fake clock) exit(1) must be called at once, without waiting for GET /work?ms=500 [R24]',
          ).toBe(true);
          expect(s.exits, 'past timeoutMs the exit code is 1 [R24]').toEqual([1]);
          await advance(400);
          await settle(hanging.settled);
          await settle(() => false, 50);
          expect(
            s.exits,
            'exit is called exactly once, even when the hung request finishes later (at 500 ms) [R27]',
          ).toEqual([1]);
        } finally {
          restoreRealClock();
        }
      }),
    );

    test(
      'counts timeoutMs = 150 from the start of shutdown, drain delay (1000 ms) included [R24]',
      harnessed(async (harness) => {
        const s = await harness.start({ timeoutMs: 150, drainDelayMs: 1_000 });
        try {
          useFakeClock();
          void s.shutdown();
          await advance(149);
          await settle(() => s.exits.length > 0, 50);
          expect(
            s.exits,
            'at 149 ms (fake clock) exit must not have been called yet [R24]',
          ).toEqual([]);
          await advance(1);
          expect(
            await exitedNow(s),
            'timeoutMs counts from the moment shutdown begins, drain delay included: exit(1) at 150 ms (fake clock), before the 1000 ms drain delay ends [R24]',
          ).toBe(true);
          expect(s.exits, 'the drain delay alone outlasts timeoutMs: exit code 1 [R24]').toEqual([
            1,
          ]);
        } finally {
          restoreRealClock();
        }
      }),
    );

    test(
      'gives up at once with timeoutMs = 0: exit(1) right away while a cleanup never settles [R26]',
      harnessed(async (harness) => {
        const s = await harness.start({ timeoutMs: 0, cleanup: [never] });
        try {
          useFakeClock();
          const done = tracked(s.shutdown());
          await advance(0);
          expect(
            await exitedNow(s),
            'timeoutMs = 0 is a deadline of 0 ms ("give up at once"), not "no limit": with a cleanup that never settles, exit(1) must come with no time passing (fake clock) [R26]',
          ).toBe(true);
          expect(s.exits, 'timeoutMs = 0 with a cleanup still pending: exit code 1 [R26]').toEqual([
            1,
          ]);
          await settle(done.settled, 1_000);
          expect(await done.promise, 'shutdown() resolves to 1 [R23]').toBe(1);
        } finally {
          restoreRealClock();
        }
      }),
    );

    test(
      'calls exit exactly once when shutdown finishes before timeoutMs = 200 (the timer is cleared) [R27]',
      harnessed(async (harness) => {
        const s = await harness.start({ timeoutMs: 200 });
        try {
          useFakeClock();
          void s.shutdown();
          await advance(0);
          expect(await exitedNow(s), 'nothing in flight: exit(0) with no time passing').toBe(true);
          await advance(300);
          expect(
            s.exits,
            'the timeout timer must not fire exit(1) after a shutdown that already exited with 0 [R27]',
          ).toEqual([0]);
        } finally {
          restoreRealClock();
        }
      }),
    );
  });

  describe.concurrent('cleanups and the timeout on a real server', IN_PROCESS_TIMEOUT, () => {
    describe('cleanups', () => {
      test(
        'runs the cleanups one at a time, in the given order, each awaited, then calls exit(0) [R21, R23]',
        harnessed(async (harness) => {
          const events: string[] = [];
          const s = await harness.start({
            timeoutMs: 3_000,
            cleanup: [
              async () => {
                events.push('db start');
                await pause(40);
                events.push('db end');
              },
              () => {
                events.push('cache start');
                events.push('cache end');
              },
              async () => {
                events.push('queue start');
                await pause(20);
                events.push('queue end');
              },
            ],
            exit: (code) => events.push(`exit ${code}`),
          });
          const code = await s.finish(2_000);
          expect(
            events,
            'cleanup = [db (async, 40 ms), cache (sync), queue (async, 20 ms)] must run in that order, each finished before the next starts, and exit(0) after the last [R21, R23]',
          ).toEqual([
            'db start',
            'db end',
            'cache start',
            'cache end',
            'queue start',
            'queue end',
            'exit 0',
          ]);
          expect(code, 'shutdown() resolves to the exit code: 0 [R23]').toBe(0);
        }),
      );

      test(
        'starts the cleanups only once the server has closed (after the request in flight, GET /work?ms=250) [R20]',
        harnessed(async (harness) => {
          let cleanupAt: number | undefined;
          let listening: boolean | undefined;
          const s: Started = await harness.start({
            timeoutMs: 3_000,
            cleanup: [
              () => {
                cleanupAt = performance.now();
                listening = s.app.server.listening;
              },
            ],
          });
          const inFlight = get(s.port, '/work?ms=250');
          await s.arrivals(1);
          const begun = performance.now();
          void s.shutdown();
          expect((await inFlight).status, 'the in-flight request finishes with 200 [R17]').toBe(
            200,
          );
          await s.exited(2_000, 'exit to be called within 2000 ms of the last request finishing');
          expect(cleanupAt, 'the cleanup must have run before exit [R20]').toBeDefined();
          expect(
            listening,
            'when a cleanup runs the listener is closed (app.server.listening is false) [R20]',
          ).toBe(false);
          expect(
            (cleanupAt ?? 0) - begun,
            'cleanups close what requests use (databases...): they run only after the in-flight GET /work?ms=250 has finished [R20]',
          ).toBeGreaterThanOrEqual(235);
        }),
      );

      test(
        'logs a cleanup that throws or rejects (an Error or not), still runs the rest, and calls exit(1) [R22, R23]',
        harnessed(async (harness) => {
          const ran: string[] = [];
          const s = await harness.start({
            timeoutMs: 3_000,
            cleanup: [
              () => {
                ran.push('first');
                throw new Error('db pool refused to close');
              },
              async () => {
                ran.push('second');
                throw new Error('queue consumer stuck');
              },
              () => {
                ran.push('third');
                // A rejection with a plain string, as some libraries do.
                // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
                return Promise.reject('cache flush timed out');
              },
              () => {
                ran.push('fourth');
              },
            ],
          });
          const code = await s.finish(2_000);
          expect(
            ran,
            'a failing cleanup must not stop the next ones: all four run, in order [R22]',
          ).toEqual(['first', 'second', 'third', 'fourth']);
          expect(
            s.exits,
            'exit(1) once when any cleanup failed, and only after all of them ran [R23]',
          ).toEqual([1]);
          expect(code, 'shutdown() resolves to 1 [R23]').toBe(1);
          for (const message of [
            'db pool refused to close',
            'queue consumer stuck',
            'cache flush timed out',
          ]) {
            expect(
              s.logs.some((line) => line.includes(message)),
              `a failing cleanup is logged with its error's message (or the value it threw or rejected with): "${message}"; log got ${JSON.stringify(s.logs)} [R22]`,
            ).toBe(true);
          }
        }),
      );
    });
  });
});
