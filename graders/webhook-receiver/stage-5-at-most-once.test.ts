/**
 * Grader for webhook-receiver, stage 5: each event at most once. Repeats, repeats that arrive while
 * the first is still being handled, failed handlers, the dedupe window, and the limits (timers,
 * memory). Requests go through inject(); the clock fakes Date, performance, timeouts and intervals
 * (inject() needs the real setImmediate), and time moves with vi.advanceTimersByTimeAsync, so an
 * implementation may forget ids by a timer as well as by reading Date.now().
 */
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { webhookPlugin } from '@kata/webhook-receiver';
import { useFastifyApps } from '../support/http.ts';
import { heapUsedBytes } from '../support/limits.ts';
import { deferred, promiseState } from '../support/promises.ts';
import {
  delivery,
  describeResponse,
  nowSeconds,
  post,
  recordingHandler,
  SECRET,
  usePluginClock,
} from './fixtures.ts';

vi.mock('node:crypto', async (importOriginal) =>
  (await import('./crypto-spy.ts')).spiedCrypto(await importOriginal()),
);

const makeApp = useFastifyApps();

beforeEach(() => {
  usePluginClock();
});

const HOUR_MS = 60 * 60 * 1000;

/** Lets I/O callbacks and the promise callbacks they queue run, `rounds` times over. */
async function flushIo(rounds = 30): Promise<void> {
  for (let i = 0; i < rounds; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A delivery of `id` signed now (the sender signs every retry afresh). */
const signedNow = (id: string) => delivery({ id, timestamp: nowSeconds() });

async function appWith(
  handler: (event: unknown, meta: { id: string; timestamp: number }) => unknown,
  options: { dedupeTtlMs?: number } = {},
) {
  const app = makeApp();
  // Counts deliveries as they reach the plugin's route (hooks of the parent apply inside it).
  const arrived: string[] = [];
  app.addHook('preHandler', async (request) => {
    arrived.push(String(request.headers['webhook-id']));
  });
  await app.register(webhookPlugin({ secrets: SECRET, handler, ...options }));
  return { app, arrived };
}

describe('stage 5: each event at most once', () => {
  it('answers 200 to a repeat of a handled id without calling the handler again [R18]', async () => {
    const recorder = recordingHandler();
    const { app } = await appWith(recorder.handler);
    const first = await post(app, signedNow('msg_once'));
    expect(first.statusCode, `first delivery: ${describeResponse(first)} [R18]`).toBe(200);
    await vi.advanceTimersByTimeAsync(60_000);
    for (const contentType of ['application/json', 'text/plain']) {
      const repeat = await post(app, signedNow('msg_once'), { contentType });
      expect(
        repeat.statusCode,
        `the same id re-signed a minute later (${contentType}): ${describeResponse(repeat)} [R18]`,
      ).toBe(200);
    }
    expect(recorder.calls.length, 'the handler ran once for msg_once [R18]').toBe(1);
    const other = await post(app, signedNow('msg_other'));
    expect(other.statusCode, `another id: ${describeResponse(other)} [R18]`).toBe(200);
    expect(
      recorder.calls.map((call) => call.meta.id),
      'each id is handled once [R18]',
    ).toEqual(['msg_once', 'msg_other']);
  });

  it('does not count a delivery that failed verification as handled [R18]', async () => {
    const recorder = recordingHandler();
    const { app } = await appWith(recorder.handler);
    const forged = await post(app, {
      ...signedNow('msg_x'),
      headers: { ...signedNow('msg_x').headers, 'webhook-signature': 'v1,AAAA' },
    });
    expect(forged.statusCode, `a forged delivery: ${describeResponse(forged)} [R18]`).toBe(401);
    const genuine = await post(app, signedNow('msg_x'));
    expect(genuine.statusCode, `then the genuine one: ${describeResponse(genuine)} [R18]`).toBe(
      200,
    );
    expect(recorder.calls.length, 'the genuine delivery is handled [R18]').toBe(1);
  });

  it.each([
    ['succeeds', 200],
    ['fails', 500],
  ] as const)(
    'makes a repeat arriving mid-handling wait for the first, and answers both alike when it %s [R19]',
    async (outcome, status) => {
      const gate = deferred();
      const recorder = recordingHandler(() => gate.promise);
      const { app, arrived } = await appWith(recorder.handler);
      const first = post(app, signedNow('msg_busy'));
      const second = post(app, signedNow('msg_busy'));
      for (let i = 0; i < 200 && arrived.length < 2; i += 1) await flushIo(1);
      expect(arrived.length, 'both deliveries reached the route').toBe(2);
      await flushIo();
      expect(
        recorder.calls.length,
        'the handler must run once for two concurrent deliveries of one id [R19]',
      ).toBe(1);
      const early = await promiseState(second);
      expect(
        early.state,
        `the repeat must wait while the first delivery is being handled; it was answered ${
          early.state === 'fulfilled'
            ? describeResponse((early as { value: Awaited<typeof second> }).value)
            : early.state
        } [R19]`,
      ).toBe('pending');
      if (outcome === 'succeeds') gate.resolve();
      else gate.reject(new Error('database down'));
      const [a, b] = await Promise.all([first, second]);
      expect(
        a.statusCode,
        `the first delivery, handler ${outcome}: ${describeResponse(a)} [R19]`,
      ).toBe(status);
      expect(
        b.statusCode,
        `the repeat that waited, handler ${outcome}: ${describeResponse(b)} [R19]`,
      ).toBe(status);
      expect(recorder.calls.length, 'still one call [R19]').toBe(1);
    },
  );

  it.each([
    [
      'throws',
      () => {
        throw new Error('boom');
      },
    ],
    ['rejects', () => Promise.reject(new Error('boom'))],
  ] as const)(
    'answers 500 when the handler %s, and handles the retry afresh [R20]',
    async (_how, fail) => {
      let failing = true;
      const recorder = recordingHandler(() => (failing ? fail() : undefined));
      const { app } = await appWith(recorder.handler);
      const first = await post(app, signedNow('msg_flaky'));
      expect(first.statusCode, `handler fails: ${describeResponse(first)} [R20]`).toBe(500);
      const again = await post(app, signedNow('msg_flaky'));
      expect(
        again.statusCode,
        `the retry while it still fails: ${describeResponse(again)} [R20]`,
      ).toBe(500);
      failing = false;
      await vi.advanceTimersByTimeAsync(30_000);
      const retry = await post(app, signedNow('msg_flaky'));
      expect(
        retry.statusCode,
        `the retry once the handler succeeds: ${describeResponse(retry)} [R20]`,
      ).toBe(200);
      expect(
        recorder.calls.length,
        'a failed id is forgotten: each retry calls the handler [R20]',
      ).toBe(3);
      const after = await post(app, signedNow('msg_flaky'));
      expect(after.statusCode, `a repeat after the success: ${describeResponse(after)} [R20]`).toBe(
        200,
      );
      expect(recorder.calls.length, 'and once it succeeded, it is remembered [R20]').toBe(3);
    },
  );

  it('remembers an id at least dedupeTtlMs and at most twice that [R21]', async () => {
    const recorder = recordingHandler();
    const { app } = await appWith(recorder.handler, { dedupeTtlMs: 60_000 });
    const start = Date.now();
    expect((await post(app, signedNow('msg_ttl'))).statusCode, 'first delivery [R21]').toBe(200);
    await vi.advanceTimersByTimeAsync(start + 59_999 - Date.now());
    const soon = await post(app, signedNow('msg_ttl'));
    expect(soon.statusCode, `a repeat 59 999 ms later: ${describeResponse(soon)} [R21]`).toBe(200);
    expect(
      recorder.calls.length,
      'a repeat within dedupeTtlMs (60 000) is not handled again [R21]',
    ).toBe(1);
    await vi.advanceTimersByTimeAsync(start + 120_001 - Date.now());
    const late = await post(app, signedNow('msg_ttl'));
    expect(late.statusCode, `a repeat 120 001 ms later: ${describeResponse(late)} [R21]`).toBe(200);
    expect(recorder.calls.length, 'a repeat after 2 × dedupeTtlMs is handled again [R21]').toBe(2);
  });

  it('remembers an id for 24 hours by default, and not for 48 [R21]', async () => {
    const recorder = recordingHandler();
    const { app } = await appWith(recorder.handler);
    const start = Date.now();
    await post(app, signedNow('msg_day'));
    await vi.advanceTimersByTimeAsync(start + 24 * HOUR_MS - 1 - Date.now());
    await post(app, signedNow('msg_day'));
    expect(recorder.calls.length, 'a repeat 24 h − 1 ms later is not handled again [R21]').toBe(1);
    await vi.advanceTimersByTimeAsync(start + 48 * HOUR_MS + 1 - Date.now());
    const late = await post(app, signedNow('msg_day'));
    expect(late.statusCode, `48 h + 1 ms later: ${describeResponse(late)} [R21]`).toBe(200);
    expect(recorder.calls.length, 'a repeat 48 h + 1 ms later is handled again [R21]').toBe(2);
  });

  it('holds at most one timer however many ids it remembers, and none once closed [R22]', async () => {
    const { app } = await appWith(() => undefined, { dedupeTtlMs: 10_000 });
    const before = vi.getTimerCount();
    for (let i = 0; i < 200; i += 1) {
      const response = await post(app, signedNow(`msg_timer_${i}`));
      expect(response.statusCode, `delivery ${i}: ${describeResponse(response)}`).toBe(200);
    }
    expect(
      vi.getTimerCount() - before,
      '200 ids remembered: timers pending (a timer per id grows with the ids) [R22]',
    ).toBeLessThanOrEqual(1);
    await vi.advanceTimersByTimeAsync(25_000);
    await post(app, signedNow('msg_timer_last'));
    await app.close();
    expect(vi.getTimerCount(), 'timers pending once the app is closed [R22]').toBe(0);
  }, 30_000);

  it('drops expired ids: the heap goes back down once 2 × dedupeTtlMs have passed [R23]', async () => {
    // No hook recording arrivals here: it would keep the ids alive itself.
    const app = makeApp();
    await app.register(
      webhookPlugin({ secrets: SECRET, handler: () => undefined, dedupeTtlMs: 1_000 }),
    );
    const ID_CHARS = 8_000;
    const COUNT = 400;
    await post(app, signedNow('msg_warm_up'));
    const before = heapUsedBytes();
    for (let i = 0; i < COUNT; i += 1) {
      // A flat string of its own each time: a repeated string shares its pieces and weighs nothing.
      const response = await post(app, signedNow(randomBytes(ID_CHARS / 2).toString('hex')));
      expect(response.statusCode, `delivery ${i}: ${describeResponse(response)}`).toBe(200);
    }
    const peak = heapUsedBytes() - before;
    await vi.advanceTimersByTimeAsync(2_001);
    await post(app, signedNow('msg_after'));
    const after = heapUsedBytes() - before;
    const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;
    expect(
      peak,
      `${COUNT} ids of ${ID_CHARS} characters remembered grew the heap by only ${mb(peak)} [R23]`,
    ).toBeGreaterThan((COUNT * ID_CHARS) / 2);
    expect(
      after,
      `${COUNT} ids of ${ID_CHARS} characters grew the heap by ${mb(peak)}; 2 001 ms later ` +
        `(dedupeTtlMs 1 000) and one more delivery, it is still ${mb(after)} above the start: ` +
        'expired ids must be dropped, not only ignored [R23]',
    ).toBeLessThan(peak / 3);
  }, 60_000);
});
