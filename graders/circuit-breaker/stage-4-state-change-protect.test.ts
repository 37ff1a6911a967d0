/**
 * Grader for circuit-breaker, stage 4: onStateChange, and protect() around a route of a real
 * Fastify app, with requests injected through Fastify's whole pipeline (`app.inject`).
 *
 * The onStateChange tests fake the whole clock. The Fastify tests fake only `Date` and
 * `performance` (what the breaker reads to know the time), moved with `vi.advanceTimersByTime`:
 * Fastify's own scheduling needs the real `setImmediate`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { CircuitBreaker, protect, type CircuitBreakerOptions } from '@kata/circuit-breaker';
import { advance, useFakeClock } from '../support/clock.ts';
import { useFastifyApps } from '../support/http.ts';
import {
  controlled,
  expectState,
  expectStats,
  openIt,
  recordingBreaker,
  runPattern,
} from './fixtures.ts';

const buildApp = useFastifyApps();

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: unknown;
}

/** An app with GET /work/:id = protect(breaker, handler); counts how often the handler runs. */
async function protectedApp(
  options: CircuitBreakerOptions,
  handler: (request: FastifyRequest, reply: FastifyReply) => unknown = async () => ({ ok: true }),
) {
  vi.useFakeTimers({ toFake: ['Date', 'performance'] });
  const breaker = new CircuitBreaker(options);
  const app = buildApp();
  let handled = 0;
  app.get(
    '/work/:id',
    protect(breaker, async (request: FastifyRequest, reply: FastifyReply) => {
      handled += 1;
      return handler(request, reply);
    }),
  );
  await app.ready();
  return {
    breaker,
    get: async (url = '/work/1'): Promise<Answer> => {
      const response = await app.inject({ method: 'GET', url });
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

const boom = (statusCode?: number): Error =>
  Object.assign(
    new Error(`failed with ${statusCode ?? 'no status'}`),
    statusCode === undefined ? {} : { statusCode },
  );

describe('stage 4: onStateChange and protect for a Fastify route', () => {
  it('reports every change once, in order, through a whole cycle [R17]', async () => {
    useFakeClock();
    const { breaker, changes } = recordingBreaker({ minimumCalls: 2, openMs: 1_000 });
    await runPattern(breaker, 'SS');
    expect(changes, 'state changes after 2 successes: none [R17]').toEqual([]);
    await runPattern(breaker, 'FF');
    expect(changes, 'state changes after S, S, F, F (minimumCalls 2)').toEqual(['closed->open']);
    await runPattern(breaker, 'FF');
    expect(changes, 'state changes after 2 refused calls: refusing is no change [R17]').toEqual([
      'closed->open',
    ]);
    await advance(1_000);
    void breaker.state;
    void breaker.state;
    void breaker.stats;
    expect(
      changes,
      'state changes after state was read 3 times, openMs after opening: half-open reported once [R17]',
    ).toEqual(['closed->open', 'open->half-open']);
    await runPattern(breaker, 'F');
    await advance(1_000);
    await runPattern(breaker, 'S');
    expect(changes, 'state changes through a failed trial, then a successful one [R17]').toEqual([
      'closed->open',
      'open->half-open',
      'half-open->open',
      'open->half-open',
      'half-open->closed',
    ]);
  });

  it('calls onStateChange after the state has changed [R17]', async () => {
    useFakeClock();
    const seen: string[] = [];
    const breaker: CircuitBreaker = new CircuitBreaker({
      minimumCalls: 1,
      openMs: 1_000,
      onStateChange: (from, to) => seen.push(`${from}->${to}: state ${breaker.state}`),
    });
    await runPattern(breaker, 'F');
    await advance(1_000);
    await runPattern(breaker, 'S');
    expect(seen, 'state read inside each onStateChange call [R17]').toEqual([
      'closed->open: state open',
      'open->half-open: state half-open',
      'half-open->closed: state closed',
    ]);
  });

  it('reports half-open when call is the first to notice it [R17]', async () => {
    useFakeClock();
    const { breaker, changes } = recordingBreaker({ minimumCalls: 1, openMs: 1_000 });
    await openIt(breaker, 1);
    await advance(5_000);
    expect(changes, 'state changes 5 s after opening, before anyone looked').toEqual(
      expect.arrayContaining(['closed->open']),
    );
    const trial = controlled();
    void breaker.call(trial.fn);
    expect(
      changes,
      'state changes once call() noticed half-open and started a trial [R17]',
    ).toEqual(['closed->open', 'open->half-open']);
    trial.resolve('ok');
  });

  it('answers 503 with Retry-After and a JSON body while open, without running the handler [R18]', async () => {
    const app = await protectedApp({ minimumCalls: 2, openMs: 5_000 }, async () => {
      throw boom();
    });
    await app.get();
    await app.get();
    expectState(
      app.breaker,
      'open',
      'after 2 requests whose handler threw (minimumCalls 2)',
      '[R20]',
    );
    const refused = await app.get();
    expect(app.handled(), 'handler runs after 3 requests, the third refused [R18]').toBe(2);
    expect(refused.status, 'status of a request while the circuit is open [R18]').toBe(503);
    expect(
      refused.headers['retry-after'],
      'Retry-After right after opening (openMs 5,000: 5 s) [R18]',
    ).toBe('5');
    expect(
      String(refused.headers['content-type']),
      'Content-Type of the 503: the body is JSON [R18]',
    ).toMatch(/^application\/json/);
    expect(refused.body, 'body of the 503 [R18]').toMatchObject({
      statusCode: 503,
      error: 'Service Unavailable',
    });
    const message = (refused.body as { message?: unknown }).message;
    expect(
      typeof message === 'string' && message.length > 0,
      `message in the 503 body: a string that says why, got ${JSON.stringify(message)} [R18]`,
    ).toBe(true);
  });

  it('rounds Retry-After up to whole seconds, and never below 1 [R18]', async () => {
    const app = await protectedApp(
      { minimumCalls: 1, openMs: 5_000, halfOpenCalls: 1 },
      async () => {
        throw boom();
      },
    );
    await app.get();
    vi.advanceTimersByTime(3_500);
    expect(
      (await app.get()).headers['retry-after'],
      'Retry-After 3,500 ms after opening (1,500 ms left: 2 s) [R18]',
    ).toBe('2');
    vi.advanceTimersByTime(1_499);
    expect((await app.get()).headers['retry-after'], 'Retry-After with 1 ms left: 1 s [R18]').toBe(
      '1',
    );
    const short = await protectedApp({ minimumCalls: 1, openMs: 200 }, async () => {
      throw boom();
    });
    await short.get();
    expect(
      (await short.get()).headers['retry-after'],
      'Retry-After with openMs 200: 1 s [R18]',
    ).toBe('1');
  });

  it('answers 503 with Retry-After 1 while half-open and every trial is taken [R18, R10]', async () => {
    let release: () => void = () => undefined;
    let calls = 0;
    const app = await protectedApp({ minimumCalls: 1, openMs: 1_000 }, async () => {
      calls += 1;
      if (calls === 1) throw boom();
      await new Promise<void>((resolve) => (release = resolve));
      return { ok: true };
    });
    await app.get();
    vi.advanceTimersByTime(1_000);
    const trial = app.get();
    await vi.waitFor(() => expect(calls, 'the trial request reached the handler').toBe(2), {
      timeout: 2_000,
    });
    const refused = await app.get();
    expect(refused.status, 'status of a request while the one trial runs [R18, R10]').toBe(503);
    expect(
      refused.headers['retry-after'],
      'Retry-After while half-open with no trial left (retryAfterMs 0) [R18]',
    ).toBe('1');
    release();
    expect((await trial).status, 'status of the trial request [R19]').toBe(200);
    expectState(app.breaker, 'closed', 'after the trial request succeeded', '[R12, R20]');
  });

  it("sends the handler's answer as it made it: returned value, or status, headers and body sent [R19]", async () => {
    const app = await protectedApp({ minimumCalls: 100 }, async (request, reply) => {
      const { id } = request.params as { id: string };
      if (id === 'created') return reply.code(201).header('x-order', 'o-1').send({ created: true });
      if (id === 'teapot') throw boom(418);
      if (id === 'plain') throw boom();
      return { id };
    });
    const plain = await app.get('/work/42');
    expect(
      { status: plain.status, body: plain.body },
      'GET /work/42 returning { id } [R19]',
    ).toEqual({
      status: 200,
      body: { id: '42' },
    });
    const created = await app.get('/work/created');
    expect(
      { status: created.status, header: created.headers['x-order'], body: created.body },
      "GET /work/created: the handler's reply.code(201).header(...).send(...) [R19]",
    ).toEqual({ status: 201, header: 'o-1', body: { created: true } });
    const teapot = await app.get('/work/teapot');
    expect(
      teapot.status,
      "a thrown error with statusCode 418 goes to Fastify's error handler [R19]",
    ).toBe(418);
    const failed = await app.get('/work/plain');
    expect(
      failed.status,
      "a thrown error without statusCode goes to Fastify's error handler: 500 [R19]",
    ).toBe(500);
    expect(app.handled(), 'handler runs for 4 requests [R19]').toBe(4);
  });

  it('counts thrown errors by statusCode: 400 to 499 succeed, anything else fails [R20]', async () => {
    // '404' is a string: not a number from 400 to 499, so a failure.
    const statuses: unknown[] = [400, 404, 499, undefined, 399, 500, 503, '404'];
    let next = 0;
    const app = await protectedApp({ minimumCalls: 100 }, async () => {
      throw Object.assign(new Error('failed'), { statusCode: statuses[next++] });
    });
    const seen: number[] = [];
    for (let i = 0; i < statuses.length; i += 1) seen.push((await app.get()).status);
    expect(
      seen.slice(0, 3),
      'statuses of errors thrown with statusCode 400, 404, 499 [R19]',
    ).toEqual([400, 404, 499]);
    expectStats(
      app.breaker,
      { calls: 8, failures: 5 },
      "after handlers threw errors with statusCode 400, 404, 499 (successes), none, 399, 500, 503, '404' (failures)",
      '[R20]',
    );
  });

  it('counts an answer sent with status 500 or more as a failure, anything below as a success [R20]', async () => {
    const codes = [200, 404, 499, 500, 502, 503];
    let next = 0;
    const app = await protectedApp({ minimumCalls: 100 }, async (_request, reply) => {
      const code = codes[next++]!;
      if (code === 502) {
        reply.code(502);
        return { upstream: 'failed' };
      }
      return reply.code(code).send({ code });
    });
    const answers: Answer[] = [];
    for (let i = 0; i < codes.length; i += 1) answers.push(await app.get());
    expect(
      answers.map((answer) => answer.status),
      'statuses sent by the handler go out as sent [R19]',
    ).toEqual(codes);
    expect(
      answers[4]!.body,
      'body of the answer returned after reply.code(502): the one the handler returned [R19]',
    ).toEqual({ upstream: 'failed' });
    expect(answers[3]!.body, 'body of the answer sent with 500 [R19]').toEqual({ code: 500 });
    expectStats(
      app.breaker,
      { calls: 6, failures: 3 },
      'after answers sent with 200, 404, 499 (successes), 500, 502 (returned after reply.code), 503 (failures)',
      '[R20]',
    );
  });

  it('opens on answers sent with 5xx, then refuses with 503 [R20, R18]', async () => {
    const app = await protectedApp({ minimumCalls: 3, openMs: 10_000 }, async (_request, reply) =>
      reply.code(500).send({ error: 'database down' }),
    );
    for (let i = 0; i < 3; i += 1) await app.get();
    expectState(app.breaker, 'open', 'after 3 answers sent with 500 (minimumCalls 3)', '[R20]');
    const refused = await app.get();
    expect(
      { status: refused.status, retryAfter: refused.headers['retry-after'] },
      'the next request [R18]',
    ).toEqual({
      status: 503,
      retryAfter: '10',
    });
    expect(app.handled(), 'handler runs: 3, none once open [R18]').toBe(3);
  });
});
