import { describe, expect, it, vi } from 'vitest';
import { createApp } from '@kata/graceful-shutdown';
import { within } from '../support/deadline.ts';
import { connect, get, keepAliveAgent, start, TEST_SIGNAL, useHarness } from './harness.ts';

useHarness();

/** Tries a new connection every 10 ms until one is refused; resolves with how long that took, in ms. */
async function untilRefused(port: number, ms: number): Promise<number | undefined> {
  const begun = performance.now();
  while (performance.now() - begun < ms) {
    if ((await connect(port, 500)) !== 'accepted') return performance.now() - begun;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return undefined;
}

describe('stage 2: shutdown drains the server', () => {
  it('resolves shutdown() to 0 and calls exit(0) once when nothing is in flight', async () => {
    const s = await start({ timeoutMs: 3_000 });
    const done = s.shutdown();
    await s.exited(2_000, 'exit to be called within 2000 ms of shutdown() on an idle server');
    expect(
      await within(done, 500, 'shutdown() to resolve once exit was called'),
      'shutdown() resolves to the exit code it passed to exit',
    ).toBe(0);
    expect(s.exits, 'exit is called exactly once, with 0 when all went well').toEqual([0]);
  });

  it('calls process.exit with the code when no exit is given', async () => {
    const exits: unknown[] = [];
    vi.spyOn(process, 'exit').mockImplementation(((code?: number) => {
      exits.push(code);
    }) as never);
    const made = createApp({
      signals: [TEST_SIGNAL],
      log: () => {},
      timeoutMs: 3_000,
    });
    await within(made.app.ready(), 3_000, 'app.ready() to finish');
    await within(made.shutdown(), 2_000, 'shutdown() to resolve on an idle server');
    expect(
      exits,
      'exit defaults to process.exit: it is called once, with 0 when all went well',
    ).toEqual([0]);
  });

  it('writes its log to stderr when no log is given', async () => {
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => {
      written.push(String(chunk));
      return true;
    });
    // console.error and console.warn write to stderr too, but the test runner intercepts them.
    for (const method of ['error', 'warn'] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        written.push(args.map(String).join(' '));
      });
    }
    const made = createApp({
      signals: [TEST_SIGNAL],
      exit: () => {},
      timeoutMs: 3_000,
      cleanup: [
        () => {
          throw new Error('db pool refused to close');
        },
      ],
    });
    await within(made.app.ready(), 3_000, 'app.ready() to finish');
    await within(made.shutdown(), 2_000, 'shutdown() to resolve on an idle server');
    vi.restoreAllMocks();
    expect(
      written.some((text) => text.includes('db pool refused to close')),
      `log defaults to writing to stderr: the failing cleanup's message must reach stderr; stderr got ${JSON.stringify(written)}`,
    ).toBe(true);
  });

  it('answers /readyz with 503 {"status":"shutting-down"} on new connections during drainDelayMs = 300', async () => {
    const s = await start({ drainDelayMs: 300, timeoutMs: 3_000 });
    const done = s.shutdown();
    const ready = await get(s.port, '/readyz');
    expect(
      { status: ready.status, body: ready.body },
      'from the moment shutdown() is called /readyz must fail, so load balancers stop sending traffic; the listener stays open during drainDelayMs = 300',
    ).toEqual({ status: 503, body: { status: 'shutting-down' } });
    const health = await get(s.port, '/healthz');
    expect(
      { status: health.status, body: health.body },
      'during the drain delay the process is alive: /healthz still answers 200 {"status":"ok"}',
    ).toEqual({ status: 200, body: { status: 'ok' } });
    await s.exited(2_000, 'exit to be called within 2000 ms after a 300 ms drain delay');
    expect(
      await within(done, 500, 'shutdown() to resolve once exit was called'),
      'shutdown() resolves to the exit code it used',
    ).toBe(0);
  });

  it('keeps accepting connections for drainDelayMs = 250, then refuses them', async () => {
    const s = await start({ drainDelayMs: 250, timeoutMs: 3_000 });
    const begun = performance.now();
    void s.shutdown();
    expect(await connect(s.port), 'the listener stays open during drainDelayMs = 250').toBe(
      'accepted',
    );
    const refusedAfter = await untilRefused(s.port, 1_500);
    expect(
      refusedAfter,
      'after drainDelayMs = 250 the listener must close: new connections refused',
    ).toBeDefined();
    expect(
      performance.now() - begun,
      'the listener must not close before drainDelayMs = 250 has passed',
    ).toBeGreaterThanOrEqual(230);
    await s.exited(2_000, 'exit to be called within 2000 ms once the listener closed');
    expect(s.exits, 'exit is called exactly once, with 0').toEqual([0]);
  });

  it('refuses new connections while a request is still in flight, and that request finishes with 200', async () => {
    const s = await start({ drainDelayMs: 0, timeoutMs: 3_000 });
    const inFlight = get(s.port, '/work?ms=400');
    await s.arrivals(1);
    void s.shutdown();
    const refusedAfter = await untilRefused(s.port, 300);
    expect(
      refusedAfter,
      'with drainDelayMs = 0 the listener closes at once: a new connection must be refused while GET /work?ms=400 is still running',
    ).toBeDefined();
    const answer = await inFlight;
    expect(
      { status: answer.status, body: answer.body },
      'a request in flight when the listener closes finishes normally',
    ).toEqual({ status: 200, body: { ok: true, ms: 400 } });
    await s.exited(2_000, 'exit to be called within 2000 ms of the last request finishing');
    expect(s.exits, 'exit(0) once the in-flight request finished').toEqual([0]);
  });

  it('lets 20 requests in flight (GET /work?ms=200) finish with 200 before exit(0)', async () => {
    const s = await start({ drainDelayMs: 0, timeoutMs: 3_000 });
    const agent = keepAliveAgent();
    const requests = Array.from({ length: 20 }, (_, i) =>
      get(s.port, '/work?ms=200', { agent: i % 2 === 0 ? agent : undefined }),
    );
    await s.arrivals(20);
    const done = s.shutdown();
    const answers = await Promise.allSettled(requests);
    const statuses = answers.map((a) =>
      a.status === 'fulfilled' ? a.value.status : String(a.reason),
    );
    expect(statuses, 'every request in flight when shutdown() begins must get its 200').toEqual(
      Array.from({ length: 20 }, () => 200),
    );
    await s.exited(2_000, 'exit to be called within 2000 ms of the last request finishing');
    expect(s.exits, 'exit(0) once all requests finished').toEqual([0]);
    expect(
      await within(done, 500, 'shutdown() to resolve once exit was called'),
      'shutdown() resolves to 0',
    ).toBe(0);
  });

  it('closes idle keep-alive connections at once instead of after their keep-alive timeout', async () => {
    const s = await start({ drainDelayMs: 0, timeoutMs: 4_000 });
    const agent = keepAliveAgent();
    const first = await get(s.port, '/healthz', { agent });
    expect(first.status).toBe(200);
    const begun = performance.now();
    void s.shutdown();
    await s.exited(
      1_500,
      'exit within 1500 ms of shutdown(): an idle keep-alive connection must be closed, not left to its keep-alive timeout',
    );
    expect(s.exits, 'exit(0): closing idle connections is part of a clean shutdown').toEqual([0]);
    expect(performance.now() - begun).toBeLessThan(1_500);
  });

  it('closes a keep-alive connection as soon as its in-flight request is answered', async () => {
    const s = await start({ drainDelayMs: 0, timeoutMs: 4_000 });
    const agent = keepAliveAgent();
    const warm = await get(s.port, '/healthz', { agent });
    expect(warm.status).toBe(200);
    const inFlight = get(s.port, '/work?ms=200', { agent });
    await s.arrivals(2);
    void s.shutdown();
    const answer = await inFlight;
    expect(
      answer.status,
      'the in-flight GET /work?ms=200 on a keep-alive connection finishes with 200',
    ).toBe(200);
    const answeredAt = performance.now();
    await s.exited(
      1_500,
      'exit within 1500 ms of the last response: a keep-alive connection that becomes idle during shutdown must be closed too (e.g. answer with "Connection: close"), not kept for its keep-alive timeout',
    );
    expect(s.exits, 'exit(0) once the connection closed').toEqual([0]);
    expect(performance.now() - answeredAt).toBeLessThan(1_500);
  });
});
