import { describe, expect, it } from 'vitest';
import { createApp } from '@kata/graceful-shutdown';
import { within } from '../support/deadline.ts';
import { start, useHarness } from './harness.ts';

useHarness();

async function inject(app: Awaited<ReturnType<typeof start>>['app'], url: string, ms = 2_000) {
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
  return { status: response.statusCode, body };
}

describe('stage 1: routes and option validation', () => {
  describe('routes', () => {
    it('answers GET /healthz with 200 {"status":"ok"}', async () => {
      const { app } = await start();
      const answer = await inject(app, '/healthz');
      expect(answer, 'GET /healthz is the liveness probe: 200 {"status":"ok"}').toEqual({
        status: 200,
        body: { status: 'ok' },
      });
    });

    it('answers GET /readyz with 200 {"status":"ready"} before shutdown', async () => {
      const { app } = await start();
      const answer = await inject(app, '/readyz');
      expect(
        answer,
        'GET /readyz is the readiness probe: 200 {"status":"ready"} while serving',
      ).toEqual({
        status: 200,
        body: { status: 'ready' },
      });
    });

    it('answers GET /work?ms=0 with 200 {"ok":true,"ms":0}', async () => {
      const { app } = await start();
      const answer = await inject(app, '/work?ms=0');
      expect(
        answer,
        'GET /work?ms=0 waits 0 ms, then answers 200 {"ok":true,"ms":0} (ms as a number)',
      ).toEqual({
        status: 200,
        body: { ok: true, ms: 0 },
      });
    });

    it('waits at least 120 ms before answering GET /work?ms=120', async () => {
      const { app } = await start();
      const begun = performance.now();
      const answer = await inject(app, '/work?ms=120');
      const took = performance.now() - begun;
      expect(answer, 'GET /work?ms=120 answers 200 {"ok":true,"ms":120}').toEqual({
        status: 200,
        body: { ok: true, ms: 120 },
      });
      expect(took, 'GET /work?ms=120 must wait 120 ms before answering').toBeGreaterThanOrEqual(
        115,
      );
    });

    it('accepts the upper bound GET /work?ms=60000 (still waiting after 150 ms, no 400)', async () => {
      const { app } = await start();
      const answered = inject(app, '/work?ms=60000', 150).then(
        (answer) => `answered ${answer.status} ${JSON.stringify(answer.body)}`,
        () => 'still waiting',
      );
      expect(
        await answered,
        '60000 is a valid ms: the request must wait, not be rejected with 400',
      ).toBe('still waiting');
    });

    const bad: Array<[string, string]> = [
      ['missing', '/work'],
      ['empty', '/work?ms='],
      ['negative', '/work?ms=-1'],
      ['fractional', '/work?ms=1.5'],
      ['non-numeric', '/work?ms=abc'],
      ['above 60000', '/work?ms=60001'],
      ['far above 60000', '/work?ms=9999999'],
      ['in exponent notation', '/work?ms=1e3'],
      ['with a leading space', '/work?ms=%205'],
      ['hexadecimal', '/work?ms=0x10'],
      ['with a unit', '/work?ms=5ms'],
    ];
    it.each(bad)('answers 400 when ms is %s (GET %s)', async (_what, url) => {
      const { app } = await start();
      const answer = await inject(app, url);
      expect(
        answer.status,
        `GET ${url} must be 400: ms is a whole number 0..60000 in decimal digits (got ${answer.status} ${JSON.stringify(answer.body)})`,
      ).toBe(400);
    });
  });

  describe('option validation', () => {
    const exit = (): void => undefined;
    const log = (): void => undefined;
    for (const name of ['timeoutMs', 'drainDelayMs'] as const) {
      it.each([
        ['"100"', '100'],
        ['null', null],
        ['true', true],
      ])(`rejects ${name} = %s with a TypeError naming ${name}`, (shown, value) => {
        expect(
          () => createApp({ [name]: value as unknown as number, signals: [], exit, log }),
          `${name} must be a number: ${shown} is a TypeError whose message names ${name}`,
        ).toThrow(TypeError);
        expect(() =>
          createApp({ [name]: value as unknown as number, signals: [], exit, log }),
        ).toThrow(new RegExp(name));
      });
      it.each([
        ['-1', -1],
        ['2**31', 2 ** 31],
        ['NaN', NaN],
        ['Infinity', Infinity],
      ])(`rejects ${name} = %s with a RangeError naming ${name}`, (_shown, value) => {
        expect(
          () => createApp({ [name]: value, signals: [], exit, log }),
          `${name} must be from 0 to 2**31-1: ${value} is a RangeError whose message names ${name}`,
        ).toThrow(RangeError);
        expect(() => createApp({ [name]: value, signals: [], exit, log })).toThrow(
          new RegExp(name),
        );
      });
      it(`accepts ${name} = 0 and ${name} = 2**31-1`, async () => {
        for (const value of [0, 2 ** 31 - 1]) {
          let made: ReturnType<typeof createApp> | undefined;
          expect(() => {
            made = createApp({ [name]: value, signals: [], exit, log });
          }, `${name} = ${value} is within 0..2**31-1 and must be accepted`).not.toThrow();
          if (made) await within(made.app.close(), 2_000, 'app.close() to finish');
        }
      });
    }
  });
});
