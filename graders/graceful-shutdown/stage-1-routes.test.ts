import { afterAll, describe, expect, test } from 'vitest';
import { createApp } from '@kata/graceful-shutdown';
import { useFakeClock } from '../support/clock.ts';
import { within } from '../support/deadline.ts';
import {
  advanceWithIo,
  guardSignalHandlers,
  IN_PROCESS_TIMEOUT,
  restoreRealClock,
  harnessed,
  type Made,
} from './fixtures.ts';

guardSignalHandlers('all');

const quiet = { signals: [], exit: () => undefined, log: () => undefined };

/** One app for the route checks, made on first use (so the stub fails each test with its error). */
let shared: Promise<Made> | undefined;
const routesApp = (): Promise<Made> => (shared ??= Promise.resolve().then(() => createApp(quiet)));
afterAll(async () => {
  const made = await shared?.catch(() => undefined);
  if (made) await within(made.app.close(), 2_000, 'app.close()').catch(() => undefined);
});

/** GET `url` through Fastify's inject (no socket needed): the status and the body, parsed if JSON. */
async function inject(app: Made['app'], url: string, ms = 2_000) {
  const response = await within(
    app.inject({ method: 'GET', url }),
    ms,
    `an answer to GET ${url} within ${ms} ms`,
  );
  let body: unknown = response.body;
  try {
    body = response.json();
  } catch {
    // not JSON: keep the text for the message
  }
  return { status: response.statusCode, body, text: response.body };
}

const get = async (url: string) => inject((await routesApp()).app, url);

describe('stage 1: routes and option validation', IN_PROCESS_TIMEOUT, () => {
  // The fake clock is the whole process's: these run alone, before the concurrent tests.
  describe('GET /work waits ms, on a fake clock (run one at a time)', () => {
    for (const ms of [120, 60_000]) {
      test(
        `answers GET /work?ms=${ms} with 200 {"ok":true,"ms":${ms}} after exactly ${ms} ms [R3]`,
        harnessed(async (harness) => {
          const { app } = await harness.start({}, { listen: false });
          await within(app.ready(), 3_000, 'app.ready() to finish');
          try {
            useFakeClock();
            let answer: Awaited<ReturnType<typeof inject>> | undefined;
            const settled = () => answer !== undefined;
            const pending = inject(app, `/work?ms=${ms}`, 600_000).then((a) => (answer = a));
            await advanceWithIo(settled, ms - 1, 1_000, 50);
            expect(
              answer,
              `GET /work?ms=${ms} must still be waiting after ${ms - 1} ms (fake clock), not answered${answer ? ` (got ${answer.status} ${answer.text})` : ''} [R3]`,
            ).toBeUndefined();
            await advanceWithIo(settled, 1, 1, 2_000);
            await within(
              pending,
              2_000,
              `an answer to GET /work?ms=${ms} once ${ms} ms have passed`,
            );
            expect(
              { status: answer?.status, body: answer?.body },
              `once ${ms} ms have passed, GET /work?ms=${ms} answers 200 {"ok":true,"ms":${ms}}, ms as a number [R3]`,
            ).toEqual({ status: 200, body: { ok: true, ms } });
          } finally {
            restoreRealClock();
          }
        }),
      );
    }
  });

  describe.concurrent('routes', IN_PROCESS_TIMEOUT, () => {
    test('answers GET /healthz with 200 {"status":"ok"} [R1]', async () => {
      const answer = await get('/healthz');
      expect(
        { status: answer.status, body: answer.body },
        'GET /healthz is the liveness probe: 200 {"status":"ok"} [R1]',
      ).toEqual({ status: 200, body: { status: 'ok' } });
    });

    test('answers GET /readyz with 200 {"status":"ready"} before shutdown [R2]', async () => {
      const answer = await get('/readyz');
      expect(
        { status: answer.status, body: answer.body },
        'GET /readyz is the readiness probe: 200 {"status":"ready"} while serving [R2]',
      ).toEqual({ status: 200, body: { status: 'ready' } });
    });

    test('answers GET /work?ms=0 with 200 {"ok":true,"ms":0} [R3]', async () => {
      const answer = await get('/work?ms=0');
      expect(
        { status: answer.status, body: answer.body },
        'GET /work?ms=0 waits 0 ms, then answers 200 {"ok":true,"ms":0}, ms as a number [R3]',
      ).toEqual({ status: 200, body: { ok: true, ms: 0 } });
    });

    const bad: Array<[string, string]> = [
      ['missing', '/work'],
      ['empty', '/work?ms='],
      ['negative', '/work?ms=-1'],
      ['fractional', '/work?ms=1.5'],
      ['not a number', '/work?ms=abc'],
      ['a number with a unit', '/work?ms=5ms'],
      ['just above 60000', '/work?ms=60001'],
      ['far above 60000', '/work?ms=9999999'],
    ];
    test.for(bad)('answers 400 when ms is %s (GET %s) [R4]', async ([what, url]) => {
      const answer = await get(url);
      expect(
        answer.status,
        `GET ${url} (ms ${what}) must be 400: ms is a whole number from 0 to 60000 (got ${answer.status} ${answer.text}) [R4]`,
      ).toBe(400);
    });

    test('names the parameter ms in the body of every 400 [R5]', async () => {
      for (const [what, url] of bad) {
        const answer = await get(url);
        expect(
          /\bms\b/.test(answer.text),
          `the 400 for GET ${url} (ms ${what}) must say what to fix, naming the parameter "ms"; its body was ${JSON.stringify(answer.text)} [R5]`,
        ).toBe(true);
      }
    });

    // Other spellings of a number are left open: 400, or 200 with the number they spell.
    const spellings: Array<[string, number]> = [
      ['1e1', 10],
      ['0x10', 16],
      ['%205', 5],
      ['+5', 5],
      ['007', 7],
      ['5.0', 5],
    ];
    test.for(spellings)(
      'answers GET /work?ms=%s with 400 or with 200 and the number it spells (%d) [R3, R4]',
      async ([raw, value]) => {
        const answer = await get(`/work?ms=${raw}`);
        const allowed = [
          { status: 400, ok: true },
          {
            status: 200,
            ok: JSON.stringify(answer.body) === JSON.stringify({ ok: true, ms: value }),
          },
        ];
        expect(
          allowed.some((a) => a.status === answer.status && a.ok),
          `GET /work?ms=${raw}: either 400, or 200 {"ok":true,"ms":${value}} (the number it spells, as a number); got ${answer.status} ${answer.text} [R3, R4]`,
        ).toBe(true);
      },
    );
  });

  describe.concurrent('option validation', () => {
    const exit = (): void => undefined;
    const log = (): void => undefined;
    for (const name of ['timeoutMs', 'drainDelayMs'] as const) {
      test.each([
        ['"100"', '100'],
        ['null', null],
        ['true', true],
      ])(`rejects ${name} = %s with a TypeError naming ${name} [R7]`, (shown, value) => {
        let thrown: unknown;
        try {
          const made = createApp({ [name]: value as unknown as number, signals: [], exit, log });
          void made.app.close();
        } catch (error) {
          thrown = error;
        }
        expect(
          thrown instanceof TypeError,
          `createApp({ ${name}: ${shown} }) must throw a TypeError (a non-number); it threw ${String(thrown)} [R7]`,
        ).toBe(true);
        expect(
          (thrown as Error).message,
          `the TypeError's message must name ${name} [R7]`,
        ).toContain(name);
      });
      test.each([
        ['-1', -1],
        ['2**31', 2 ** 31],
        ['NaN', NaN],
        ['Infinity', Infinity],
        ['-Infinity', -Infinity],
      ])(`rejects ${name} = %s with a RangeError naming ${name} [R8]`, (shown, value) => {
        let thrown: unknown;
        try {
          const made = createApp({ [name]: value, signals: [], exit, log });
          void made.app.close();
        } catch (error) {
          thrown = error;
        }
        expect(
          thrown instanceof RangeError,
          `createApp({ ${name}: ${shown} }) must throw a RangeError (outside 0..2**31-1); it threw ${String(thrown)} [R8]`,
        ).toBe(true);
        expect(
          (thrown as Error).message,
          `the RangeError's message must name ${name} [R8]`,
        ).toContain(name);
      });
      test(
        `accepts ${name} = 0, 1.5 and 2**31-1, and leaving it out [R6]`,
        harnessed(async (harness) => {
          for (const value of [0, 1.5, 2 ** 31 - 1, undefined]) {
            expect(
              () => harness.make({ [name]: value, signals: [], exit, log }),
              `${name} = ${value} is within 0..2**31-1 (or absent: the default) and must be accepted [R6]`,
            ).not.toThrow();
          }
        }),
      );
    }
  });
});
