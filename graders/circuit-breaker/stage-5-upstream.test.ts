/**
 * Grader for circuit-breaker, stage 5: the breaker in front of a real upstream Fastify server on
 * 127.0.0.1 that fails, recovers or hangs. A front Fastify app (`app.inject`, no socket) answers
 * through `protect`, its handler calling the upstream over real HTTP; the upstream counts the
 * requests it receives, which is what a circuit breaker is for.
 *
 * Only `Date` and `performance` are faked (the breaker's clock), moved with
 * `vi.advanceTimersByTime`: sockets and Fastify run on the real timers. The timeout test runs on
 * real time with a short `callTimeoutMs`. Every wait is bounded.
 */
import http from 'node:http';
import type { FastifyReply } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CircuitBreaker,
  TimeoutError,
  protect,
  type CircuitBreakerOptions,
} from '@kata/circuit-breaker';
import { within } from '../support/deadline.ts';
import { listenOnLoopback, useFastifyApps } from '../support/http.ts';
import { promiseState } from '../support/promises.ts';
import { show } from './fixtures.ts';

const buildApp = useFastifyApps();

/** Real-time bound of one request or wait: generous, for a loaded machine. */
const BOUND_MS = 4_000;

const agents: http.Agent[] = [];
afterEach(() => {
  for (const agent of agents.splice(0)) agent.destroy();
});

/** GET `url` over a fresh connection; `signal` aborts the request. */
function get(url: string, signal?: AbortSignal): Promise<{ status: number; body: string }> {
  const agent = new http.Agent({ keepAlive: false });
  agents.push(agent);
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent, signal }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}

type Mode = 'fail' | 'ok' | 'slow';

/** The dependency: answers 500 or 200 as `mode` says, or holds requests until released. */
async function startUpstream() {
  const app = buildApp();
  const state = { mode: 'fail' as Mode, hits: 0, closed: 0 };
  const held: Array<() => void> = [];
  const arrived: Array<() => void> = [];
  app.get('/data', async (request, reply) => {
    state.hits += 1;
    for (const wake of arrived.splice(0)) wake();
    if (state.mode === 'slow') await new Promise<void>((resolve) => held.push(resolve));
    if (state.mode === 'fail') return reply.code(500).send({ error: 'database down' });
    return { ok: true };
  });
  app.get('/hang', (request, reply) => {
    state.hits += 1;
    request.raw.on('close', () => {
      state.closed += 1;
      void reply; // never answered: the client gives up
    });
  });
  const base = await listenOnLoopback(app);
  return {
    base,
    state,
    releaseAll: () => {
      for (const release of held.splice(0)) release();
    },
    /** Resolves once `count` requests have arrived in all. */
    hits: async (count: number): Promise<void> => {
      while (state.hits < count) {
        await within(
          new Promise<void>((resolve) => arrived.push(resolve)),
          BOUND_MS,
          `${count} requests at the upstream, got ${state.hits}`,
        );
      }
    },
  };
}

/** The service under test: GET /orders goes to the upstream through protect(breaker, ...). */
async function startFront(options: CircuitBreakerOptions) {
  const upstream = await startUpstream();
  vi.useFakeTimers({ toFake: ['Date', 'performance'] });
  const breaker = new CircuitBreaker(options);
  const app = buildApp();
  app.get(
    '/orders',
    protect(breaker, async (_request, reply: FastifyReply) => {
      const answer = await get(`${upstream.base}/data`);
      if (answer.status >= 500) return reply.code(502).send({ error: 'upstream failed' });
      return JSON.parse(answer.body) as unknown;
    }),
  );
  await app.ready();
  const request = async (): Promise<{ status: number; retryAfter: unknown }> => {
    const response = await within(
      app.inject({ method: 'GET', url: '/orders' }),
      BOUND_MS,
      'an answer from GET /orders',
    );
    return { status: response.statusCode, retryAfter: response.headers['retry-after'] };
  };
  return { upstream, breaker, request };
}

describe('stage 5: in front of a real failing upstream, and the limits', () => {
  it('stops calling a failing upstream while open, then recovers through a half-open trial [R5, R8, R9, R12, R18]', async () => {
    const { upstream, breaker, request } = await startFront({
      minimumCalls: 4,
      failureRateThreshold: 0.5,
      openMs: 5_000,
    });
    for (let i = 0; i < 4; i += 1) {
      expect(
        (await request()).status,
        `request ${i + 1} while the upstream fails: its 502 goes out [R19]`,
      ).toBe(502);
    }
    expect(breaker.state, 'state after 4 failed requests (minimumCalls 4) [R5, R20]').toBe('open');
    const refused = [];
    for (let i = 0; i < 10; i += 1) refused.push(await request());
    expect(
      refused,
      '10 requests while open: 503 with Retry-After 5 (openMs 5,000) [R8, R18]',
    ).toEqual(Array.from({ length: 10 }, () => ({ status: 503, retryAfter: '5' })));
    expect(
      upstream.state.hits,
      'requests the failing upstream received: 4, none while the circuit is open [R8]',
    ).toBe(4);
    vi.advanceTimersByTime(5_000);
    upstream.state.mode = 'ok';
    expect(
      (await request()).status,
      'the trial request once openMs passed and the upstream recovered [R9, R12]',
    ).toBe(200);
    expect(breaker.state, 'state after the trial succeeded (halfOpenCalls 1) [R12]').toBe('closed');
    for (let i = 0; i < 5; i += 1)
      expect((await request()).status, 'requests once closed again [R12]').toBe(200);
    expect(
      upstream.state.hits,
      'requests the upstream received: 4 failed, 1 trial, 5 after closing [R12]',
    ).toBe(10);
  });

  it('sends one trial per open period to an upstream that keeps failing [R11, R10, R18]', async () => {
    const { upstream, breaker, request } = await startFront({ minimumCalls: 2, openMs: 2_000 });
    await request();
    await request();
    expect(breaker.state, 'state after 2 failed requests (minimumCalls 2)').toBe('open');
    for (let period = 1; period <= 3; period += 1) {
      vi.advanceTimersByTime(2_000);
      expect(
        (await request()).status,
        `period ${period}: the trial request gets the upstream's failure [R10]`,
      ).toBe(502);
      expect(
        await request(),
        `period ${period}: the next request, after the trial failed [R11, R18]`,
      ).toEqual({
        status: 503,
        retryAfter: '2',
      });
      expect(
        upstream.state.hits,
        `requests the upstream received after ${period} open periods [R11]`,
      ).toBe(2 + period);
    }
  });

  it('lets only halfOpenCalls trials reach a slow upstream at once [R10, R12, R18]', async () => {
    const { upstream, breaker, request } = await startFront({
      minimumCalls: 2,
      openMs: 1_000,
      halfOpenCalls: 2,
    });
    await request();
    await request();
    vi.advanceTimersByTime(1_000);
    upstream.state.mode = 'slow';
    const answers = Array.from({ length: 6 }, () => request());
    await upstream.hits(4);
    // The 4 refusals answer at once; a breaker that lets more trials through holds them at the upstream.
    const settledCount = async (): Promise<number> =>
      (await Promise.all(answers.map((answer) => promiseState(answer)))).filter(
        (settled) => settled.state !== 'pending',
      ).length;
    await vi
      .waitFor(
        async () => {
          if (upstream.state.hits <= 4) expect(await settledCount()).toBe(4);
        },
        { timeout: BOUND_MS, interval: 10 },
      )
      .catch(() => undefined);
    expect(
      upstream.state.hits,
      'requests at the upstream: 2 failures, then 2 trials of 6 concurrent requests (halfOpenCalls 2) [R10]',
    ).toBe(4);
    upstream.state.mode = 'ok';
    upstream.releaseAll();
    const results = await Promise.all(answers);
    expect(
      results.map((result) => result.status).sort(),
      '6 concurrent requests while half-open with halfOpenCalls 2: 2 trials answered 200, 4 refused with 503 [R10, R18]',
    ).toEqual([200, 200, 503, 503, 503, 503]);
    expect(breaker.state, 'state after both trials succeeded [R12]').toBe('closed');
  });

  it('aborts a real request to a hung upstream when callTimeoutMs passes [R15, R16]', async () => {
    vi.useRealTimers();
    const upstream = await startUpstream();
    const breaker = new CircuitBreaker({ callTimeoutMs: 150, minimumCalls: 100 });
    let signal: AbortSignal | undefined;
    const call = breaker.call((given) => {
      signal = given;
      return get(`${upstream.base}/hang`, given);
    });
    const settled = await within(
      call.then(
        () => 'fulfilled',
        (error: unknown) => error,
      ),
      BOUND_MS,
      'the call to a hung upstream to reject once callTimeoutMs (150) passed [R15]',
    );
    expect(
      settled instanceof TimeoutError,
      `a call to a hung upstream must reject with a TimeoutError, got ${show(settled)} [R15]`,
    ).toBe(true);
    await vi.waitFor(
      () =>
        expect(
          upstream.state.closed,
          'the hung request closed at the upstream: the signal aborted it [R15]',
        ).toBe(1),
      {
        timeout: BOUND_MS,
        interval: 10,
      },
    );
    expect(signal?.aborted, "fn's signal after the timeout [R15]").toBe(true);
    expect(breaker.stats, 'stats after the timed-out call [R15]').toEqual({
      calls: 1,
      failures: 1,
    });
  });
});
