/**
 * Grader for token-bucket, stage 5: rateLimitHook in a real Fastify app, over HTTP with supertest.
 *
 * Fastify and supertest run on real sockets, whose I/O needs the real setTimeout/setImmediate, so
 * this stage fakes only `Date` and `performance` (what the bucket reads to know the time) and
 * moves them with `vi.advanceTimersByTime`: time stands still between requests unless a test
 * moves it, which keeps every header value exact.
 */
import type { FastifyRequest } from 'fastify';
import request from 'supertest';
import { describe, expect, it, vi } from 'vitest';
import { rateLimitHook, type RateLimitHookOptions } from '@kata/token-bucket';
import { useFastifyApps } from '../support/http.ts';

const buildApp = useFastifyApps();

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
    get: (headers: Record<string, string> = {}) => request(app.server).get('/').set(headers),
    handled: () => handled,
  };
}

function expectRateLimitHeaders(
  response: request.Response,
  expected: { limit: string; remaining: string; reset: string },
  what: string,
): void {
  const actual = {
    limit: response.headers['ratelimit-limit'] as unknown,
    remaining: response.headers['ratelimit-remaining'] as unknown,
    reset: response.headers['ratelimit-reset'] as unknown,
  };
  expect(actual, `RateLimit-Limit, -Remaining and -Reset headers of ${what}`).toEqual(expected);
}

describe('stage 5: rate-limit HTTP requests in Fastify', () => {
  it('lets requests within the limit through with RateLimit-Limit, -Remaining and -Reset headers', async () => {
    const app = await appWith({ capacity: 2, refillPerSecond: 0.8 });
    const first = await app.get();
    expect(first.status, 'status of request 1 of 2 allowed').toBe(200);
    expect(first.body, 'the route handler must answer an allowed request').toEqual({ ok: true });
    expectRateLimitHeaders(
      first,
      { limit: '2', remaining: '1', reset: '2' },
      'request 1 (capacity 2 at 0.8/s: 1.25 s until full, rounded up to 2)',
    );
    const second = await app.get();
    expect(second.status, 'status of request 2 of 2 allowed').toBe(200);
    expectRateLimitHeaders(
      second,
      { limit: '2', remaining: '0', reset: '3' },
      'request 2 (capacity 2 at 0.8/s: 2.5 s until full, rounded up to 3)',
    );
  });

  it('answers 429 with Retry-After and a JSON body, without running the handler, once the bucket is empty', async () => {
    const app = await appWith({ capacity: 2, refillPerSecond: 0.8 });
    await app.get();
    await app.get();
    const refused = await app.get();
    expect(refused.status, 'status of request 3 with capacity 2 and no time passed').toBe(429);
    expect(
      app.handled(),
      'handler runs for 3 requests, capacity 2: a refused one must not run it',
    ).toBe(2);
    expect(
      refused.headers['retry-after'],
      'Retry-After of request 3 (1 token at 0.8/s: 1.25 s, rounded up to 2)',
    ).toBe('2');
    expectRateLimitHeaders(refused, { limit: '2', remaining: '0', reset: '3' }, 'the 429 response');
    expect(refused.headers['content-type'], 'content type of the 429 body').toMatch(
      /^application\/json/,
    );
    expect(refused.body, '429 body').toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
    expect(typeof (refused.body as { message?: unknown }).message, '429 body message').toBe(
      'string',
    );
  });

  it('rounds Retry-After and RateLimit-Reset up to whole seconds and allows requests again once refilled', async () => {
    const app = await appWith({ capacity: 1, refillPerSecond: 0.4 });
    const first = await app.get();
    expectRateLimitHeaders(
      first,
      { limit: '1', remaining: '0', reset: '3' },
      'request 1 (2.5 s to full)',
    );
    vi.advanceTimersByTime(2_000);
    const early = await app.get();
    expect(early.status, 'status 2 s later, with 0.8 of 1 token').toBe(429);
    expect(
      early.headers['retry-after'],
      'Retry-After with 0.8 tokens at 0.4/s: 0.5 s rounded up is 1, and never 0',
    ).toBe('1');
    expectRateLimitHeaders(
      early,
      { limit: '1', remaining: '0', reset: '1' },
      'the 429 at 0.8 tokens (0.5 s to full)',
    );
    vi.advanceTimersByTime(501);
    const later = await app.get();
    expect(later.status, 'status 2.501 s after the first request, with 1.0004 tokens').toBe(200);
    expectRateLimitHeaders(
      later,
      { limit: '1', remaining: '0', reset: '3' },
      'request 3 (2.499 s to full)',
    );
    expect(app.handled(), 'handler runs for the 2 allowed requests only').toBe(2);
  });

  it('counts each key from keyGenerator separately', async () => {
    const keyGenerator = (req: FastifyRequest): string => String(req.headers['x-api-key']);
    const app = await appWith({ capacity: 1, refillPerSecond: 0.4, keyGenerator });
    expect((await app.get({ 'x-api-key': 'alpha' })).status, "key 'alpha', request 1").toBe(200);
    expect((await app.get({ 'x-api-key': 'alpha' })).status, "key 'alpha', request 2").toBe(429);
    expect(
      (await app.get({ 'x-api-key': 'beta' })).status,
      "key 'beta' has its own bucket, whatever 'alpha' used",
    ).toBe(200);
  });

  it('keys requests by client IP (request.ip) when no keyGenerator is given', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    const app = buildApp();
    app.addHook('onRequest', rateLimitHook({ capacity: 1, refillPerSecond: 0.4 }));
    app.get('/', async () => ({ ok: true }));
    await app.ready();
    const from = (remoteAddress: string) => app.inject({ method: 'GET', url: '/', remoteAddress });
    expect((await from('10.0.0.1')).statusCode, 'client 10.0.0.1, request 1').toBe(200);
    expect((await from('10.0.0.1')).statusCode, 'client 10.0.0.1, request 2 (capacity 1)').toBe(
      429,
    );
    expect(
      (await from('10.0.0.2')).statusCode,
      'client 10.0.0.2 has its own bucket by default, whatever 10.0.0.1 used',
    ).toBe(200);
  });

  it('rejects a keyGenerator that is not a function with a TypeError naming keyGenerator', () => {
    const options = {
      capacity: 1,
      refillPerSecond: 1,
      keyGenerator: 'ip',
    } as unknown as RateLimitHookOptions;
    expect(() => rateLimitHook(options), "rateLimitHook({ keyGenerator: 'ip' })").toThrow(
      TypeError,
    );
    expect(
      () => rateLimitHook(options),
      "rateLimitHook({ keyGenerator: 'ip' }): the message names the option",
    ).toThrow(/keyGenerator/);
  });

  it('rejects out-of-range limits with a RangeError when the hook is created', () => {
    for (const [name, options] of [
      ['capacity', { capacity: 0, refillPerSecond: 1 }],
      ['refillPerSecond', { capacity: 1, refillPerSecond: -1 }],
      ['maxKeys', { capacity: 1, refillPerSecond: 1, maxKeys: 0 }],
    ] as const) {
      expect(() => rateLimitHook(options), JSON.stringify(options)).toThrow(RangeError);
      expect(() => rateLimitHook(options), JSON.stringify(options)).toThrow(new RegExp(name));
    }
  });
});
