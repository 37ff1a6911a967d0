/**
 * Grader for chunked-upload, stage 4: the client's retries, backoff and abort, against a tus server
 * written by the grader. `setTimeout` and `clearTimeout` are faked (sockets and streams need the
 * rest of the real clock); each wait is checked by its effect: nothing is sent 1 ms before it
 * ends, a HEAD goes out when it ends. The delays passed to setTimeout are only shown in messages.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { uploadFile } from '@kata/chunked-upload';
import {
  bounded,
  caught,
  eventually,
  NET_TIMEOUT,
  pattern,
  realPause,
  realTurns,
  scriptServer,
  tempDir,
  type Fault,
  type Recorded,
  type Script,
} from './fixtures.ts';

/** Fakes setTimeout and clearTimeout, and records every delay passed to setTimeout. */
function fakeTimeouts(): { delays: number[] } {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  const delays: number[] = [];
  type Scheduler = (callback: () => void, ms?: number, ...rest: unknown[]) => unknown;
  const globals = globalThis as unknown as { setTimeout: Scheduler };
  const original = globals.setTimeout;
  const recording: Scheduler = (callback, ms, ...rest) => {
    delays.push(Number(ms ?? 0));
    return original(callback, ms, ...rest);
  };
  // Carries the fake clock's marks over, so that uninstalling it still recognises the global.
  Object.assign(recording, original);
  globals.setTimeout = recording;
  onTestFinished(() => {
    if (globals.setTimeout === recording) globals.setTimeout = original;
  });
  return { delays };
}

/** Faults by method: the n-th PATCH (from 0) gets `patch[n]`, the n-th HEAD `head[n]`. */
function plan(faults: { patch?: Array<Fault | undefined>; head?: Array<Fault | undefined> }) {
  const seen = { PATCH: 0, HEAD: 0 };
  return (request: Recorded): Fault | undefined => {
    if (request.method === 'PATCH') return faults.patch?.[seen.PATCH++];
    if (request.method === 'HEAD') return faults.head?.[seen.HEAD++];
    return undefined;
  };
}

async function sourceFile(bytes: Buffer): Promise<string> {
  const file = path.join(await tempDir(), 'source.bin');
  await writeFile(file, bytes);
  return file;
}

type Step = 'POST' | 'PATCH' | 'HEAD' | { wait: number };

/**
 * Walks the client through `steps`: each method must be the next request to arrive; each wait
 * must send nothing until 1 ms before it ends, and a HEAD when it ends (the HEAD is the next step).
 */
async function expectSteps(
  script: Script,
  clock: { delays: number[] },
  steps: Step[],
): Promise<void> {
  let index = 0;
  let waits = 0;
  for (const step of steps) {
    const done = `so far: ${script.log()}`;
    if (typeof step === 'string') {
      await script.arrived(index + 1);
      expect(
        script.requests[index]!.method,
        `request ${index + 1} must be a ${step} (${done}) [R19]`,
      ).toBe(step);
      index += 1;
      continue;
    }
    waits += 1;
    const ms = step.wait;
    // Let the client read the failure and start its wait before time moves.
    await eventually(() => clock.delays.includes(ms), 3_000);
    await realTurns();
    await vi.advanceTimersByTimeAsync(ms - 1);
    await realPause(60);
    expect(
      script.requests.length,
      `wait ${waits} after a failure must be ${ms} ms: nothing may be sent ${ms - 1} ms into it (${script.log()}; delays passed to setTimeout: ${clock.delays.join(', ') || 'none'}) [R19]`,
    ).toBe(index);
    await vi.advanceTimersByTimeAsync(1);
    clock.delays.splice(0, clock.delays.indexOf(ms) + 1);
    await script.arrived(index + 1).catch(() => undefined);
    expect(
      script.requests.length,
      `wait ${waits} after a failure must be ${ms} ms, then a HEAD: nothing was sent when it ended (${script.log()}; delays passed to setTimeout: ${clock.delays.join(', ') || 'none'}) [R19]`,
    ).toBeGreaterThan(index);
  }
}

/** uploadFile, bounded, with its outcome recorded as it settles. */
function run(url: string, file: string, options: Parameters<typeof uploadFile>[2]) {
  const pending = uploadFile(url, file, options);
  pending.catch(() => undefined);
  return pending;
}

async function outcome(pending: Promise<unknown>, ms = 3_000): Promise<'resolved' | Error> {
  return bounded(
    pending.then(() => 'resolved' as const, caught),
    ms,
    'uploadFile to settle',
  );
}

/** Lets fake time run far ahead, then checks nothing more was sent. */
async function expectNothingMore(script: Script, count: number, rule: string): Promise<void> {
  await vi.advanceTimersByTimeAsync(60_000);
  await realPause(100);
  expect(script.log(), `nothing more may be sent, even 60 s later [${rule}]`).toBe(
    script.log().split(', ').slice(0, count).join(', '),
  );
}

describe('stage 4: the client retries with backoff, and aborts', NET_TIMEOUT, () => {
  it('waits 100, 200, 400, 800 ms after a 503, a network error, a 460 and a 409, then HEADs and resumes [R19]', async () => {
    const clock = fakeTimeouts();
    const script = await scriptServer(plan({ patch: [503, 'reset', 460, 409] }));
    const data = pattern(100, 31);
    const pending = run(script.url, await sourceFile(data), { retries: 5 });
    await expectSteps(script, clock, [
      'POST',
      'PATCH',
      { wait: 100 },
      'HEAD',
      'PATCH',
      { wait: 200 },
      'HEAD',
      'PATCH',
      { wait: 400 },
      'HEAD',
      'PATCH',
      { wait: 800 },
      'HEAD',
      'PATCH',
    ]);
    expect(
      await outcome(pending),
      `uploadFile after four failures with retries 5 (${script.log()}) [R19]`,
    ).toBe('resolved');
    expect(script.data().equals(data), 'the file, byte for byte [R15]').toBe(true);
  });

  it('resumes from the offset HEAD reports, not from its own [R19]', async () => {
    const clock = fakeTimeouts();
    const script = await scriptServer(plan({ patch: [{ keep: 30 }] }));
    const data = pattern(100, 33);
    const pending = run(script.url, await sourceFile(data), {});
    await expectSteps(script, clock, ['POST', 'PATCH', { wait: 100 }, 'HEAD', 'PATCH']);
    const resumed = script.requests[3]!;
    expect(
      { offset: resumed.headers['upload-offset'], bytes: resumed.body.length },
      `the PATCH after a HEAD that reported 30 (${script.log()}) [R19]`,
    ).toEqual({ offset: '30', bytes: 70 });
    expect(await outcome(pending), 'uploadFile [R19]').toBe('resolved');
    expect(script.data().equals(data), 'the file, byte for byte [R19]').toBe(true);
  });

  it('doubles the wait up to 5000 ms: 100, 200, 400, 800, 1600, 3200, 5000, 5000 [R19]', async () => {
    const clock = fakeTimeouts();
    const script = await scriptServer(plan({ patch: Array.from({ length: 8 }, () => 500) }));
    const pending = run(script.url, await sourceFile(pattern(50, 35)), { retries: 8 });
    const steps: Step[] = ['POST', 'PATCH'];
    for (const wait of [100, 200, 400, 800, 1600, 3200, 5000, 5000])
      steps.push({ wait }, 'HEAD', 'PATCH');
    await expectSteps(script, clock, steps);
    expect(
      await outcome(pending),
      `uploadFile after eight 500s with retries 8 (${script.log()}) [R19]`,
    ).toBe('resolved');
  });

  it('rejects after retries + 1 failed PATCHes with an Error naming the status [R20]', async () => {
    const clock = fakeTimeouts();
    const script = await scriptServer(plan({ patch: [503, 503, 503, 503] }));
    const pending = run(script.url, await sourceFile(pattern(50, 37)), { retries: 2 });
    await expectSteps(script, clock, [
      'POST',
      'PATCH',
      { wait: 100 },
      'HEAD',
      'PATCH',
      { wait: 200 },
      'HEAD',
      'PATCH',
    ]);
    const result = await outcome(pending);
    expect(
      result,
      `uploadFile with retries 2 after three 503s in a row (${script.log()}) [R20]`,
    ).toBeInstanceOf(Error);
    expect((result as Error).message, 'the error names the last status [R20]').toContain('503');
    await expectNothingMore(script, 6, 'R20');
  });

  it('rejects at the first network error with retries 0 [R20]', async () => {
    fakeTimeouts();
    const script = await scriptServer(plan({ patch: ['reset'] }));
    const result = await outcome(
      run(script.url, await sourceFile(pattern(50, 39)), { retries: 0 }),
    );
    expect(
      result,
      `uploadFile with retries 0 when the first PATCH loses its connection (${script.log()}) [R20]`,
    ).toBeInstanceOf(Error);
    expect(
      script.log(),
      'retries 0 is valid: the POST and one PATCH are sent, and the connection reset ends it [R20]',
    ).toBe('POST → 201, PATCH 0+50 → (connection reset)');
    await expectNothingMore(script, 2, 'R20');
  });

  it('counts failed HEADs too, and a successful HEAD does not reset the count [R20]', async () => {
    for (const [retries, resolves] of [
      [3, true],
      [2, false],
    ] as const) {
      const clock = fakeTimeouts();
      const script = await scriptServer(plan({ patch: [503], head: [503, 502] }));
      const pending = run(script.url, await sourceFile(pattern(50, 41)), { retries });
      await expectSteps(script, clock, [
        'POST',
        'PATCH',
        { wait: 100 },
        'HEAD',
        { wait: 200 },
        'HEAD',
        ...(resolves ? ([{ wait: 400 }, 'HEAD', 'PATCH'] as Step[]) : []),
      ]);
      const result = await outcome(pending);
      if (resolves) {
        expect(
          result,
          `retries 3: a 503 PATCH and two failed HEADs are three failures (${script.log()}) [R20]`,
        ).toBe('resolved');
      } else {
        expect(
          result,
          `retries 2: a 503 PATCH and two failed HEADs are three failures in a row (${script.log()}) [R20]`,
        ).toBeInstanceOf(Error);
        expect((result as Error).message, 'the error names the last status, 502 [R20]').toContain(
          '502',
        );
      }
      vi.useRealTimers();
    }
  });

  it('starts counting again after an acknowledged PATCH, not after a successful HEAD [R20]', async () => {
    const clock = fakeTimeouts();
    // Chunks of 20: the 1st PATCH fails, the 2nd succeeds, the 3rd and 4th fail, the rest succeed.
    const script = await scriptServer(plan({ patch: [503, undefined, 503, 503] }));
    const data = pattern(60, 43);
    const pending = run(script.url, await sourceFile(data), { chunkSize: 20, retries: 2 });
    await expectSteps(script, clock, [
      'POST',
      'PATCH',
      { wait: 100 },
      'HEAD',
      'PATCH',
      'PATCH',
      { wait: 100 },
      'HEAD',
      'PATCH',
      { wait: 200 },
      'HEAD',
      'PATCH',
      'PATCH',
    ]);
    expect(await outcome(pending), `uploadFile (${script.log()}) [R20]`).toBe('resolved');
    expect(script.data().equals(data), 'the file, byte for byte [R15]').toBe(true);
  });

  for (const status of [400, 403, 404, 410, 413, 415]) {
    it(`rejects at once, without waiting or retrying, when a PATCH answers ${status} [R21]`, async () => {
      fakeTimeouts();
      const script = await scriptServer(plan({ patch: [status] }));
      const result = await outcome(
        run(script.url, await sourceFile(pattern(50, 45)), { retries: 5 }),
      );
      expect(
        result,
        `uploadFile when the PATCH answers ${status} (${script.log()}) [R21]`,
      ).toBeInstanceOf(Error);
      expect((result as Error).message, `the error names the status ${status} [R21]`).toContain(
        String(status),
      );
      await expectNothingMore(script, 2, 'R21');
    });
  }

  it('rejects at once when the HEAD after a failure answers 404 [R21]', async () => {
    const clock = fakeTimeouts();
    const script = await scriptServer(plan({ patch: [503], head: [404] }));
    const pending = run(script.url, await sourceFile(pattern(50, 47)), { retries: 5 });
    await expectSteps(script, clock, ['POST', 'PATCH', { wait: 100 }, 'HEAD']);
    const result = await outcome(pending);
    expect(result, `uploadFile when the HEAD answers 404 (${script.log()}) [R21]`).toBeInstanceOf(
      Error,
    );
    expect((result as Error).message, 'the error names the status 404 [R21]').toContain('404');
    await expectNothingMore(script, 3, 'R21');
  });

  it('rejects with signal.reason at once when aborted during a wait, and sends nothing more [R22]', async () => {
    const clock = fakeTimeouts();
    const script = await scriptServer(plan({ patch: [503] }));
    const controller = new AbortController();
    const pending = run(script.url, await sourceFile(pattern(50, 49)), {
      signal: controller.signal,
    });
    await expectSteps(script, clock, ['POST', 'PATCH']);
    await eventually(() => clock.delays.includes(100), 3_000);
    await vi.advanceTimersByTimeAsync(50);
    const reason = new Error('user cancelled');
    controller.abort(reason);
    // Real time only (closing a file takes a moment): the fake clock stays 50 ms into the wait.
    const result = await outcome(pending, 2_000).catch(caught);
    expect(
      result,
      `uploadFile, aborted 50 ms into its 100 ms wait: rejected with signal.reason before the wait ends (${script.log()}) [R22]`,
    ).toBe(reason);
    await expectNothingMore(script, 2, 'R22');
  });

  it('rejects with signal.reason when aborted while a PATCH is in flight [R22]', async () => {
    fakeTimeouts();
    const script = await scriptServer(plan({ patch: ['hold'] }));
    const controller = new AbortController();
    const pending = run(script.url, await sourceFile(pattern(50, 51)), {
      signal: controller.signal,
    });
    await script.arrived(2);
    await realPause(50);
    const reason = new Error('user cancelled');
    controller.abort(reason);
    const result = await outcome(pending, 2_000).catch(caught);
    expect(
      result,
      `uploadFile aborted while its PATCH waits for an answer (${script.log()}) [R22]`,
    ).toBe(reason);
    await expectNothingMore(script, 2, 'R22');
  });

  it('rejects with signal.reason and sends nothing when the signal is already aborted [R22]', async () => {
    const script = await scriptServer();
    const reason = new Error('too late');
    const result = await outcome(
      run(script.url, await sourceFile(pattern(50, 53)), { signal: AbortSignal.abort(reason) }),
    );
    expect(result, 'uploadFile with a signal already aborted [R22]').toBe(reason);
    await realPause(100);
    expect(script.log(), 'nothing may be sent [R22]').toBe('no request');
  });
});
