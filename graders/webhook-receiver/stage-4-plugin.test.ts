/**
 * Grader for webhook-receiver, stage 4: the Fastify plugin. Requests go through Fastify's
 * inject() (one test uses a real socket on 127.0.0.1). inject() needs a real setImmediate, so the
 * clock fakes Date, performance and the timeouts and intervals only.
 */
import { request as httpRequest } from 'node:http';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { webhookPlugin } from '@kata/webhook-receiver';
import { listenOnLoopback, useFastifyApps } from '../support/http.ts';
import { withTimingSafeEqualAnswering } from './crypto-spy.ts';
import {
  delivery,
  describeResponse,
  EVENT,
  expectInvalid,
  jsonOf,
  post,
  recordingHandler,
  SECRET,
  show,
  T0,
  usePluginClock,
} from './fixtures.ts';

vi.mock('node:crypto', async (importOriginal) =>
  (await import('./crypto-spy.ts')).spiedCrypto(await importOriginal()),
);

const makeApp = useFastifyApps();

beforeEach(() => {
  usePluginClock();
});

async function appWith(
  options: Partial<Parameters<typeof webhookPlugin>[0]> = {},
  fastifyOptions: Parameters<typeof makeApp>[0] = {},
) {
  const recorder = recordingHandler();
  const app = makeApp(fastifyOptions);
  await app.register(webhookPlugin({ secrets: SECRET, handler: recorder.handler, ...options }));
  return { app, calls: recorder.calls };
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/octet-stream',
  'application/vnd.acme+json',
  'application/x-www-form-urlencoded',
  null,
];

describe('stage 4: the Fastify plugin', () => {
  it('throws a TypeError naming secrets for invalid secrets, at the call [R13]', () => {
    for (const secrets of ['', [], [''], 42, undefined]) {
      expectInvalid(
        () => webhookPlugin({ secrets: secrets as unknown as string, handler: () => undefined }),
        TypeError,
        'secret',
        `webhookPlugin({ secrets: ${show(secrets)}, handler })`,
        '[R13]',
      );
    }
  });

  it('throws a TypeError naming handler when it is not a function, at the call [R13]', () => {
    for (const handler of [undefined, 'handler', {}]) {
      expectInvalid(
        () => webhookPlugin({ secrets: SECRET, handler: handler as unknown as () => void }),
        TypeError,
        'handler',
        `webhookPlugin({ secrets, handler: ${show(handler)} })`,
        '[R13]',
      );
    }
  });

  it.each(['toleranceMs', 'dedupeTtlMs'])(
    'checks %s: a TypeError for a non-number, a RangeError for a negative or NaN [R13]',
    (name) => {
      const call = (value: unknown) => () =>
        webhookPlugin({ secrets: SECRET, handler: () => undefined, [name]: value });
      expectInvalid(call('1000'), TypeError, name, `webhookPlugin({ ${name}: '1000' })`, '[R13]');
      for (const value of [-1, Number.NaN]) {
        expectInvalid(
          call(value),
          RangeError,
          name,
          `webhookPlugin({ ${name}: ${value} })`,
          '[R13]',
        );
      }
    },
  );

  it('accepts every valid option [R13]', () => {
    for (const options of [
      { secrets: SECRET, handler: () => undefined },
      { secrets: [SECRET, SECRET], handler: async () => undefined, toleranceMs: 0 },
      { secrets: SECRET, handler: () => undefined, toleranceMs: 1000, dedupeTtlMs: 1 },
    ]) {
      expect(
        typeof webhookPlugin(options),
        'webhookPlugin(...) returns a plugin function [R13]',
      ).toBe('function');
    }
  });

  it.each(CONTENT_TYPES)(
    'verifies the raw body and hands the parsed event to the handler, content type %s [R14]',
    async (contentType) => {
      const { app, calls } = await appWith();
      const d = delivery({ id: `msg_${String(contentType)}` });
      const response = await post(app, d, { contentType });
      expect(
        response.statusCode,
        `POST /webhooks, content-type ${String(contentType)}, a valid delivery: got ${describeResponse(response)} [R14]`,
      ).toBe(200);
      expect(
        calls,
        'the handler is called once, with the parsed JSON and { id, timestamp } [R14]',
      ).toEqual([{ event: EVENT, meta: { id: d.id, timestamp: T0 } }]);
    },
  );

  it('verifies the bytes received, which a re-serialized JSON would change [R14]', async () => {
    const { app, calls } = await appWith();
    const bodies: Array<[string | Buffer, unknown]> = [
      ['{ "b" : [1, 2.50],\n  "a": "Zo\\u00e9" }', { b: [1, 2.5], a: 'Zoé' }],
      [Buffer.from('{"note":"caf\u00e9 \u{1f4b8}"}'), { note: 'café 💸' }],
      [
        Buffer.concat([Buffer.from('{"raw":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
        { raw: '\ufffd\ufffd' },
      ],
    ];
    for (const [index, [payload, event]] of bodies.entries()) {
      for (const contentType of ['application/json', 'text/plain']) {
        const d = delivery({ id: `msg_bytes_${index}_${contentType}`, payload });
        const response = await post(app, d, { contentType });
        expect(
          response.statusCode,
          `body ${show(payload)} as ${contentType}: the signature covers these exact bytes; got ${describeResponse(response)} [R14]`,
        ).toBe(200);
        expect(calls.at(-1)?.event, `the handler gets ${show(event)} [R14]`).toEqual(event);
      }
    }
  });

  it('answers a real HTTP request on 127.0.0.1 [R14]', async () => {
    vi.useRealTimers();
    const { app, calls } = await appWith();
    const base = await listenOnLoopback(app);
    const d = delivery({ timestamp: Math.floor(Date.now() / 1000) });
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        `${base}/webhooks`,
        {
          method: 'POST',
          headers: { ...d.headers, 'content-type': 'application/json' },
          timeout: 4000,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer within 4 s')));
      req.on('error', reject);
      req.end(d.payload);
    });
    expect(status, 'a real POST /webhooks with a valid delivery [R14]').toBe(200);
    expect(calls.length, 'the handler is called once [R14]').toBe(1);
  });

  it.each([
    [
      'MISSING_HEADER',
      400,
      (d: ReturnType<typeof delivery>) => ({ ...d.headers, 'webhook-signature': '' }),
    ],
    [
      'INVALID_TIMESTAMP',
      400,
      (d: ReturnType<typeof delivery>) => ({ ...d.headers, 'webhook-timestamp': '1.5' }),
    ],
    [
      'NO_MATCHING_SIGNATURE',
      401,
      (d: ReturnType<typeof delivery>) => ({ ...d.headers, 'webhook-signature': 'v1,AAAA' }),
    ],
  ] as const)(
    'answers %s with %i and a JSON body carrying the code [R15]',
    async (code, status, headersOf) => {
      const { app, calls } = await appWith();
      const d = delivery();
      const response = await post(app, { ...d, headers: headersOf(d) });
      expect(
        response.statusCode,
        `a delivery failing with ${code}: got ${describeResponse(response)} [R15]`,
      ).toBe(status);
      expect(
        jsonOf(response),
        `the body must be a JSON object with code ${code} [R15]`,
      ).toMatchObject({ code });
      expect(calls.length, 'the handler must not be called for a refused delivery [R15]').toBe(0);
    },
  );

  it('answers a delivery outside the tolerance with 401 and TIMESTAMP_TOO_OLD or _NEW [R15]', async () => {
    const { app, calls } = await appWith();
    for (const [timestamp, code] of [
      [T0 - 301, 'TIMESTAMP_TOO_OLD'],
      [T0 + 301, 'TIMESTAMP_TOO_NEW'],
    ] as const) {
      const response = await post(app, delivery({ timestamp }));
      expect(
        response.statusCode,
        `timestamp ${timestamp - T0} s from now: ${describeResponse(response)} [R15]`,
      ).toBe(401);
      expect(jsonOf(response), `the body carries code ${code} [R15]`).toMatchObject({ code });
    }
    const ok = await post(app, delivery({ timestamp: T0 - 300 }));
    expect(
      ok.statusCode,
      `a delivery exactly 300 s old is accepted: ${describeResponse(ok)} [R15]`,
    ).toBe(200);
    expect(calls.length, 'only the accepted delivery reaches the handler [R15]').toBe(1);
  });

  it("uses the plugin's toleranceMs and every one of its secrets [R15]", async () => {
    const other = `whsec_${Buffer.from('another key for the rotation').toString('base64')}`;
    const { app, calls } = await appWith({ toleranceMs: 2_000, secrets: [other, SECRET] });
    const old = await post(app, delivery({ id: 'msg_old', timestamp: T0 - 3 }));
    expect(old.statusCode, `3 s old with toleranceMs 2000: ${describeResponse(old)} [R15]`).toBe(
      401,
    );
    expect(jsonOf(old), 'the body carries TIMESTAMP_TOO_OLD [R15]').toMatchObject({
      code: 'TIMESTAMP_TOO_OLD',
    });
    for (const secret of [SECRET, other]) {
      const response = await post(
        app,
        delivery({ id: `msg_${secret.slice(6, 12)}`, secret, timestamp: T0 - 2 }),
      );
      expect(
        response.statusCode,
        `2 s old, signed with one of the secrets: ${describeResponse(response)} [R15]`,
      ).toBe(200);
    }
    expect(calls.length, 'the two accepted deliveries reach the handler [R15]').toBe(2);
  });

  it('answers 400 to a verified body that is not JSON, without calling the handler [R16]', async () => {
    const { app, calls } = await appWith();
    for (const [payload, contentType] of [
      ['not json', 'text/plain'],
      ['{"unterminated": ', 'application/json'],
      ['', 'application/json'],
      ['', null],
    ] as const) {
      const d = delivery({ id: `msg_${payload.length}_${String(contentType)}`, payload });
      const response = await post(app, d, { contentType });
      expect(
        response.statusCode,
        `verified body ${show(payload)} (${String(contentType)}): ${describeResponse(response)} [R16]`,
      ).toBe(400);
    }
    expect(calls.length, 'the handler is never called for a body that is not JSON [R16]').toBe(0);
  });

  it('leaves the JSON parsing of the app’s other routes as it was [R17]', async () => {
    const app = makeApp();
    app.post('/before', async (request) => ({ type: typeof request.body, body: request.body }));
    await app.register(webhookPlugin({ secrets: SECRET, handler: () => undefined }));
    app.post('/after', async (request) => ({ type: typeof request.body, body: request.body }));
    for (const url of ['/before', '/after']) {
      const response = await app.inject({ method: 'POST', url, payload: { a: 1 } });
      expect(
        jsonOf(response),
        `POST ${url} (a route outside the plugin), application/json: request.body must still be the parsed object; got ${describeResponse(response)} [R17]`,
      ).toEqual({ type: 'object', body: { a: 1 } });
    }
  });

  it('refuses a valid delivery in the plugin when timingSafeEqual says the bytes differ [R12]', async () => {
    const { app, calls } = await appWith();
    const response = await withTimingSafeEqualAnswering(false, () => post(app, delivery()));
    expect(
      response.statusCode,
      `timingSafeEqual answering false: ${describeResponse(response)} [R12]`,
    ).toBe(401);
    expect(calls.length, 'the handler is not called [R12]').toBe(0);
  });

  it.each(['application/json', 'text/plain', 'application/octet-stream', null])(
    "answers 413 to a body over the app's bodyLimit, content type %s [R24]",
    async (contentType) => {
      const { app, calls } = await appWith({}, { bodyLimit: 1024 });
      const fits = JSON.stringify({ pad: 'x'.repeat(1024 - 10) });
      expect(fits.length).toBe(1024);
      const over = JSON.stringify({ pad: 'x'.repeat(1024 - 9) });
      const atLimit = await post(app, delivery({ id: 'msg_fits', payload: fits }), { contentType });
      expect(
        atLimit.statusCode,
        `a body of exactly bodyLimit (1024 bytes): ${describeResponse(atLimit)} [R24]`,
      ).toBe(200);
      const tooBig = await post(app, delivery({ id: 'msg_over', payload: over }), { contentType });
      expect(
        tooBig.statusCode,
        `a body of 1025 bytes with bodyLimit 1024: ${describeResponse(tooBig)} [R24]`,
      ).toBe(413);
      expect(
        calls.map((call) => call.meta.id),
        'only the body that fits reaches the handler [R24]',
      ).toEqual(['msg_fits']);
    },
  );

  it('sets no body limit of its own: 2 MiB pass when the app allows 4 MiB [R24]', async () => {
    const { app, calls } = await appWith({}, { bodyLimit: 4 * 1024 * 1024 });
    const payload = JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) });
    const response = await post(app, delivery({ payload }));
    expect(
      response.statusCode,
      `a 2 MiB delivery, bodyLimit 4 MiB: ${describeResponse(response)} [R24]`,
    ).toBe(200);
    expect(calls.length, 'the handler is called [R24]').toBe(1);
  }, 30_000);
});
