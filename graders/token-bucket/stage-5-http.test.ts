/**
 * Grader for token-bucket, stage 5: rateLimitHook in a real Fastify app, with requests injected
 * through Fastify's whole request pipeline (`app.inject`: hooks, reply, serialization, headers)
 * without opening a socket.
 *
 * Only `Date` and `performance` are faked (what the limiter reads to know the time), and moved with
 * `vi.advanceTimersByTime`: time stands still between requests unless a test moves it, which keeps
 * every header value exact, while Fastify's own scheduling runs on the real timers.
 */
import type { FastifyRequest } from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { rateLimitHook, type RateLimitHookOptions } from '@kata/token-bucket';
import { useFastifyApps } from '../support/http.ts';
import { expectThrows } from './fixtures.ts';

const buildApp = useFastifyApps();

interface Reply {
  status: number;
  headers: Record<string, unknown>;
  body: unknown;
}

/** An app with the hook and one route, GET /, that counts how often its handler runs. */
async function appWith(options: RateLimitHookOptions) {
  vi.useFakeTimers({ toFake: ['Date', 'performance'] });
  const app = buildApp();
  let handled = 0;
  app.addHook('onRequest', rateLimitHook(options));
  app.get('/', async () => {
    handled += 1;
    return { ok: true };
  });
  await app.ready();
  return {
    get: async (
      headers: Record<string, string> = {},
      remoteAddress = '127.0.0.1',
    ): Promise<Reply> => {
      const response = await app.inject({ method: 'GET', url: '/', headers, remoteAddress });
      let body: unknown = response.body;
      try {
        body = response.json();
      } catch {
        // not JSON: kept as text, for the failure message
      }
      return { status: response.statusCode, headers: response.headers, body };
    },
    handled: () => handled,
  };
}

function expectRateLimitHeaders(
  response: Reply,
  expected: { limit: string; remaining: string; reset: string },
  what: string,
): void {
  const actual = {
    limit: response.headers['ratelimit-limit'],
    remaining: response.headers['ratelimit-remaining'],
    reset: response.headers['ratelimit-reset'],
  };
  expect(
    actual,
    `RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset headers of ${what} (status ` +
      `${response.status}); every response carries all three, Reset in whole seconds rounded up [R29]`,
  ).toEqual(expected);
}

describe('stage 5: rate-limit HTTP requests in Fastify', () => {
  it('lets requests within the limit through with RateLimit-Limit, -Remaining and -Reset headers [R29]', async () => {
    const app = await appWith({ capacity: 2, refillPerSecond: 0.8 });
    const first = await app.get();
    expect(first.status, 'status of request 1 of 2 allowed (capacity 2) [R28]').toBe(200);
    expect(
      first.body,
      'body of request 1: the route handler answers an allowed request [R31]',
    ).toEqual({ ok: true });
    expectRateLimitHeaders(
      first,
      { limit: '2', remaining: '1', reset: '2' },
      'request 1 (capacity 2 at 0.8/s: 1.25 s until full, rounded up to 2)',
    );
    const second = await app.get();
    expect(second.status, 'status of request 2 of 2 allowed (capacity 2) [R28]').toBe(200);
    expectRateLimitHeaders(
      second,
      { limit: '2', remaining: '0', reset: '3' },
      'request 2 (capacity 2 at 0.8/s: 2.5 s until full, rounded up to 3)',
    );
  });

  it('answers 429 with Retry-After and a JSON body once the bucket is empty [R30, R29]', async () => {
    const app = await appWith({ capacity: 2, refillPerSecond: 0.8 });
    await app.get();
    await app.get();
    const refused = await app.get();
    expect(
      refused.status,
      'status of request 3 with capacity 2 and no time passed: one limiter for the app, so the ' +
        'third request is refused [R28, R30]',
    ).toBe(429);
    expect(
      refused.headers['retry-after'],
      'Retry-After of request 3 (1 token at 0.8/s: 1.25 s, rounded up to 2) [R30]',
    ).toBe('2');
    expectRateLimitHeaders(refused, { limit: '2', remaining: '0', reset: '3' }, 'the 429 response');
    expect(
      String(refused.headers['content-type']),
      'Content-Type of the 429 response: the body is JSON [R30]',
    ).toMatch(/^application\/json/);
    expect(
      refused.body,
      'body of the 429 response: { statusCode: 429, error: "Too Many Requests", message } [R30]',
    ).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
    expect(
      typeof (refused.body as { message?: unknown }).message,
      'type of the message field in the 429 body [R30]',
    ).toBe('string');
  });

  it('does not run the route handler for a refused request [R31]', async () => {
    const app = await appWith({ capacity: 2, refillPerSecond: 0.8 });
    await app.get();
    await app.get();
    const refused = await app.get();
    expect(refused.status, 'status of request 3 with capacity 2 [R30]').toBe(429);
    expect(
      app.handled(),
      'route handler runs for 3 requests with capacity 2: the refused one must not run it (the ' +
        'work the limit exists to prevent) [R31]',
    ).toBe(2);
  });

  it('rounds Retry-After and RateLimit-Reset up to whole seconds and allows requests again once refilled [R29, R30]', async () => {
    const app = await appWith({ capacity: 1, refillPerSecond: 0.4 });
    const first = await app.get();
    expectRateLimitHeaders(
      first,
      { limit: '1', remaining: '0', reset: '3' },
      'request 1 (2.5 s to full)',
    );
    vi.advanceTimersByTime(2_000);
    const early = await app.get();
    expect(early.status, 'status 2 s later, with 0.8 of 1 token [R30]').toBe(429);
    expect(
      early.headers['retry-after'],
      'Retry-After with 0.8 tokens at 0.4/s: 0.5 s rounded up is 1, and never 0 [R30]',
    ).toBe('1');
    expectRateLimitHeaders(
      early,
      { limit: '1', remaining: '0', reset: '1' },
      'the 429 at 0.8 tokens (0.5 s to full)',
    );
    vi.advanceTimersByTime(501);
    const later = await app.get();
    expect(later.status, 'status 2.501 s after the first request, with 1.0004 tokens [R28]').toBe(
      200,
    );
    expectRateLimitHeaders(
      later,
      { limit: '1', remaining: '0', reset: '3' },
      'request 3 (2.499 s to full)',
    );
    expect(app.handled(), 'route handler runs for the 2 allowed requests only [R31]').toBe(2);
  });

  it('counts each key from keyGenerator separately [R28]', async () => {
    const keyGenerator = (req: FastifyRequest): string => String(req.headers['x-api-key']);
    const app = await appWith({ capacity: 1, refillPerSecond: 0.4, keyGenerator });
    expect(
      (await app.get({ 'x-api-key': 'alpha' })).status,
      "status of key 'alpha', request 1 (capacity 1) [R28]",
    ).toBe(200);
    expect(
      (await app.get({ 'x-api-key': 'alpha' })).status,
      "status of key 'alpha', request 2 (capacity 1) [R28]",
    ).toBe(429);
    expect(
      (await app.get({ 'x-api-key': 'beta' })).status,
      "status of key 'beta', request 1: keyGenerator gives it its own bucket, whatever 'alpha' " +
        'used [R28]',
    ).toBe(200);
  });

  it('keys requests by client IP (request.ip) when no keyGenerator is given [R28]', async () => {
    const app = await appWith({ capacity: 1, refillPerSecond: 0.4 });
    expect((await app.get({}, '10.0.0.1')).status, 'client 10.0.0.1, request 1 [R28]').toBe(200);
    expect(
      (await app.get({}, '10.0.0.1')).status,
      'client 10.0.0.1, request 2 (capacity 1) [R28]',
    ).toBe(429);
    expect(
      (await app.get({}, '10.0.0.2')).status,
      'client 10.0.0.2: keyed by request.ip by default, so it has its own bucket, whatever ' +
        '10.0.0.1 used [R28]',
    ).toBe(200);
  });

  it('rejects a keyGenerator that is not a function with a TypeError naming keyGenerator [R27]', () => {
    const options = {
      capacity: 1,
      refillPerSecond: 1,
      keyGenerator: 'ip',
    } as unknown as RateLimitHookOptions;
    expectThrows(
      () => rateLimitHook(options),
      "rateLimitHook({ capacity: 1, refillPerSecond: 1, keyGenerator: 'ip' }), when called",
      { classes: [TypeError], names: 'keyGenerator', rule: 'R27' },
    );
  });

  it('rejects out-of-range limits with a RangeError when the hook is created, not on the first request [R27]', () => {
    const cases: [string, string, RateLimitHookOptions][] = [
      ['capacity', '{ capacity: 0, refillPerSecond: 1 }', { capacity: 0, refillPerSecond: 1 }],
      [
        'refillPerSecond',
        '{ capacity: 1, refillPerSecond: -1 }',
        { capacity: 1, refillPerSecond: -1 },
      ],
      [
        'maxKeys',
        '{ capacity: 1, refillPerSecond: 1, maxKeys: 0 }',
        { capacity: 1, refillPerSecond: 1, maxKeys: 0 },
      ],
    ];
    for (const [name, shown, options] of cases) {
      expectThrows(() => rateLimitHook(options), `rateLimitHook(${shown}), when called`, {
        classes: [RangeError],
        names: name,
        rule: 'R27',
      });
    }
  });
});
