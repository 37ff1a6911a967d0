import { describe, expect, it } from 'vitest';
import { pause, within } from '../support/deadline.ts';
import { get, start, useHarness } from './harness.ts';

useHarness();

const never = (): Promise<never> => new Promise<never>(() => undefined);

describe('stage 3: cleanups and the shutdown timeout', () => {
  it('runs the cleanups one at a time, in the given order, each awaited, then calls exit(0)', async () => {
    const events: string[] = [];
    const s = await start({
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
      'cleanup = [db (async, 40 ms), cache (sync), queue (async, 20 ms)] must run in that order, each finished before the next starts, and exit(0) after the last',
    ).toEqual([
      'db start',
      'db end',
      'cache start',
      'cache end',
      'queue start',
      'queue end',
      'exit 0',
    ]);
    expect(code, 'shutdown() resolves to the exit code: 0').toBe(0);
  });

  it('starts the cleanups only once the server has closed (after the request in flight, GET /work?ms=250)', async () => {
    let cleanupAt: number | undefined;
    let listening: boolean | undefined;
    const s = await start({
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
    expect((await inFlight).status, 'the in-flight request finishes with 200').toBe(200);
    await s.exited(2_000, 'exit to be called within 2000 ms of the last request finishing');
    expect(cleanupAt, 'the cleanup must have run before exit').toBeDefined();
    expect(
      listening,
      'when a cleanup runs the server is closed (app.server.listening is false)',
    ).toBe(false);
    expect(
      (cleanupAt ?? 0) - begun,
      'cleanups close what requests use (databases...): they run only after the in-flight GET /work?ms=250 has finished',
    ).toBeGreaterThanOrEqual(235);
  });

  it('logs a cleanup that throws or rejects, still runs the rest, and calls exit(1)', async () => {
    const ran: string[] = [];
    const s = await start({
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
        },
      ],
    });
    const code = await s.finish(2_000);
    expect(ran, 'a failing cleanup must not stop the next ones: all three run, in order').toEqual([
      'first',
      'second',
      'third',
    ]);
    expect(s.exits, 'exit(1) once when any cleanup failed, and only after all of them ran').toEqual(
      [1],
    );
    expect(code, 'shutdown() resolves to 1').toBe(1);
    for (const message of ['db pool refused to close', 'queue consumer stuck']) {
      expect(
        s.logs.some((line) => line.includes(message)),
        `a failing cleanup is logged with its error's message ("${message}"); log got: ${JSON.stringify(s.logs)}`,
      ).toBe(true);
    }
  });

  it('calls exit(1) at about timeoutMs = 150 while a request hangs (GET /work?ms=900), without waiting for it', async () => {
    const s = await start({ timeoutMs: 150, drainDelayMs: 0 });
    const hanging = get(s.port, '/work?ms=900');
    await s.arrivals(1);
    const begun = performance.now();
    const done = s.shutdown();
    const code = await s.exited(
      700,
      'exit(1) within 700 ms: timeoutMs = 150 must not wait for GET /work?ms=900',
    );
    const took = (s.exitAt() ?? 0) - begun;
    expect(code, 'past timeoutMs the exit code is 1').toBe(1);
    expect(took, 'exit(1) must not come before timeoutMs = 150').toBeGreaterThanOrEqual(140);
    expect(
      await within(done, 500, 'shutdown() to resolve once exit(1) was called'),
      'shutdown() resolves to 1 when the timeout won',
    ).toBe(1);
    await hanging.catch(() => undefined);
    await pause(50);
    expect(
      s.exits,
      'exit is called exactly once, even when the hung request finishes later',
    ).toEqual([1]);
  });

  it('counts timeoutMs = 150 from the start of shutdown, drain delay (600 ms) included', async () => {
    const s = await start({ timeoutMs: 150, drainDelayMs: 600 });
    const begun = performance.now();
    void s.shutdown();
    const code = await s.exited(1_000, 'exit to be called within 1000 ms');
    const took = (s.exitAt() ?? 0) - begun;
    expect(code, 'the 600 ms drain delay alone outlasts timeoutMs = 150: exit code 1').toBe(1);
    expect(
      took,
      'timeoutMs counts from the moment shutdown begins, so exit(1) comes at about 150 ms, before the 600 ms drain delay ends',
    ).toBeLessThan(550);
    expect(took, 'exit(1) must not come before timeoutMs = 150').toBeGreaterThanOrEqual(140);
  });

  it('calls exit(1) at about timeoutMs = 150 when a cleanup never settles, and skips nothing before it', async () => {
    let firstRan = false;
    const s = await start({
      timeoutMs: 150,
      cleanup: [
        () => {
          firstRan = true;
        },
        never,
      ],
    });
    const begun = performance.now();
    const done = s.shutdown();
    const code = await s.exited(
      800,
      'exit(1) within 800 ms: a cleanup that never settles must not block exit past timeoutMs = 150',
    );
    expect(code, 'a cleanup still pending at timeoutMs means exit code 1').toBe(1);
    expect(
      (s.exitAt() ?? 0) - begun,
      'exit(1) must not come before timeoutMs = 150',
    ).toBeGreaterThanOrEqual(140);
    expect(firstRan, 'the cleanups before the hanging one ran').toBe(true);
    expect(
      await within(done, 500, 'shutdown() to resolve once exit(1) was called'),
      'shutdown() resolves to 1',
    ).toBe(1);
  });

  it('calls exit exactly once when shutdown finishes before timeoutMs = 200 (the timer is cleared or ignored)', async () => {
    const s = await start({ timeoutMs: 200 });
    const begun = performance.now();
    expect(await s.finish(2_000), 'nothing in flight: shutdown() resolves to 0').toBe(0);
    await pause(Math.max(0, 260 - (performance.now() - begun)));
    expect(
      s.exits,
      'the timeout timer must not fire exit(1) after a shutdown that already exited with 0',
    ).toEqual([0]);
  });
});
