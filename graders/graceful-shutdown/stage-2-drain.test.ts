import { describe, expect, vi, test } from 'vitest';
import { within } from '../support/deadline.ts';
import {
  advance,
  closedWithin,
  get,
  connect,
  guardSignalHandlers,
  IN_PROCESS_TIMEOUT,
  restoreRealClock,
  settle,
  harnessed,
  tracked,
  useFakeClock,
} from './fixtures.ts';

guardSignalHandlers('all');

describe('stage 2: shutdown drains the server', IN_PROCESS_TIMEOUT, () => {
  // These two replace process.exit and stderr, so they run alone, before the concurrent tests.
  describe('defaults (run one at a time)', () => {
    test(
      'calls process.exit with the code when no exit is given [R9]',
      harnessed(async (harness) => {
        const exits: unknown[] = [];
        vi.spyOn(process, 'exit').mockImplementation(((code?: number) => {
          exits.push(code);
        }) as never);
        const made = harness.make({ signals: [], log: () => {}, timeoutMs: 3_000 });
        await within(made.app.ready(), 3_000, 'app.ready() to finish');
        await within(made.shutdown(), 2_000, 'shutdown() to resolve on an idle server');
        expect(
          exits,
          'exit defaults to process.exit: called once, with 0 when all went well [R9]',
        ).toEqual([0]);
      }),
    );

    test(
      'writes its log to stderr when no log is given [R10]',
      harnessed(async (harness) => {
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
        const made = harness.make({
          signals: [],
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
          `log defaults to writing to stderr: the failing cleanup's message must reach stderr; stderr got ${JSON.stringify(written)} [R10]`,
        ).toBe(true);
      }),
    );
  });

  // The drain delay, on a fake clock: what happens "during" it does not depend on how fast a
  // loaded machine answers. The clock is the whole process's, so these run alone.
  describe('the drain delay, on a fake clock (run one at a time)', () => {
    const DRAIN_MS = 500;

    test(
      'answers /readyz with 503 {"status":"shutting-down"} right after shutdown() is called [R15]',
      harnessed(async (harness) => {
        const s = await harness.start({ drainDelayMs: DRAIN_MS, timeoutMs: 3_000 });
        try {
          useFakeClock();
          void s.shutdown();
          const ready = await get(s.port, '/readyz', { ms: 600_000 });
          expect(
            { status: ready.status, body: ready.body },
            `from the moment shutdown() is called /readyz must fail, so load balancers stop sending traffic (during drainDelayMs = ${DRAIN_MS}, the listener still open) [R15]`,
          ).toEqual({ status: 503, body: { status: 'shutting-down' } });
          await advance(DRAIN_MS);
          expect(
            await settle(() => s.exits.length > 0),
            `exit(0) once drainDelayMs = ${DRAIN_MS} has passed and the server closed (fake clock) [R23]`,
          ).toBe(true);
          expect(s.exits, 'exit(0) once').toEqual([0]);
        } finally {
          restoreRealClock();
        }
      }),
    );

    test(
      'answers /healthz with 200 {"status":"ok"} during the drain delay [R1]',
      harnessed(async (harness) => {
        const s = await harness.start({ drainDelayMs: DRAIN_MS, timeoutMs: 3_000 });
        try {
          useFakeClock();
          void s.shutdown();
          const health = await get(s.port, '/healthz', { ms: 600_000 });
          expect(
            { status: health.status, body: health.body },
            'during the shutdown the process is alive: /healthz (liveness) still answers 200 {"status":"ok"}; failing it gets the pod killed mid-drain [R1]',
          ).toEqual({ status: 200, body: { status: 'ok' } });
          await advance(DRAIN_MS);
          await settle(() => s.exits.length > 0);
        } finally {
          restoreRealClock();
        }
      }),
    );

    test(
      `keeps accepting and answering new connections for drainDelayMs = ${DRAIN_MS}, then refuses them [R16]`,
      harnessed(async (harness) => {
        const s = await harness.start({ drainDelayMs: DRAIN_MS, timeoutMs: 3_000 });
        try {
          useFakeClock();
          void s.shutdown();
          const health = await get(s.port, '/healthz', { ms: 600_000 });
          expect(
            health.status,
            `during drainDelayMs = ${DRAIN_MS} a new connection is accepted and its request (GET /healthz) answered normally [R16]`,
          ).toBe(200);
          await advance(DRAIN_MS - 1);
          await settle(() => false, 20);
          expect(
            await connect(s.port),
            `the listener must stay open for the whole drainDelayMs = ${DRAIN_MS}: at ${DRAIN_MS - 1} ms (fake clock) a new connection is still accepted [R16]`,
          ).toBe('accepted');
          await advance(1);
          await settle(() => !s.app.server.listening);
          expect(
            await connect(s.port),
            `once drainDelayMs = ${DRAIN_MS} has passed (fake clock) the listener must close: new connections refused [R16]`,
          ).not.toBe('accepted');
          expect(await settle(() => s.exits.length > 0), 'exit once the server has closed').toBe(
            true,
          );
          expect(s.exits, 'exit(0) once').toEqual([0]);
        } finally {
          restoreRealClock();
        }
      }),
    );

    test(
      'closes the listener at once with the default drainDelayMs while a request is in flight, which then finishes with 200 [R6, R16, R17]',
      harnessed(async (harness) => {
        const s = await harness.start({ timeoutMs: 3_000 });
        try {
          useFakeClock();
          const inFlight = tracked(get(s.port, '/work?ms=600', { ms: 600_000 }));
          await s.arrivals(1);
          void s.shutdown();
          await advance(0);
          await settle(() => !s.app.server.listening);
          expect(
            await connect(s.port),
            'drainDelayMs defaults to 0: the listener closes at once, so a new connection must be refused while GET /work?ms=600 is still running (fake clock at 0 ms) [R6, R16]',
          ).not.toBe('accepted');
          expect(inFlight.settled(), 'GET /work?ms=600 must still be running at 0 ms').toBe(false);
          await advance(600);
          await settle(inFlight.settled);
          const answer = await inFlight.promise;
          expect(
            { status: answer.status, body: answer.body },
            'a request in flight when the listener closes finishes normally [R17]',
          ).toEqual({ status: 200, body: { ok: true, ms: 600 } });
          expect(
            await settle(() => s.exits.length > 0),
            'exit once the request in flight has finished',
          ).toBe(true);
          expect(s.exits, 'exit(0) once the in-flight request finished [R23]').toEqual([0]);
        } finally {
          restoreRealClock();
        }
      }),
    );

    test(
      'answers a request on an open keep-alive connection during the drain delay, then closes that connection [R16, R18]',
      harnessed(async (harness) => {
        const s = await harness.start({ drainDelayMs: DRAIN_MS, timeoutMs: 4_000 });
        const agent = harness.keepAliveAgent();
        const warm = await get(s.port, '/healthz', { agent });
        expect(warm.status, 'GET /healthz answers 200 before shutdown').toBe(200);
        try {
          useFakeClock();
          void s.shutdown();
          const during = await get(s.port, '/healthz', { agent, ms: 600_000 });
          expect(
            { status: during.status, reused: during.reused },
            `during drainDelayMs = ${DRAIN_MS} a request on the open keep-alive connection is answered normally (GET /healthz: 200, on that connection) [R16]`,
          ).toEqual({ status: 200, reused: true });
          await advance(DRAIN_MS);
          expect(
            await settle(() => during.socket.destroyed),
            `the keep-alive connection that carried a request during the drain delay was still open 5000 ms (real time) after the listener closed (listener ${s.app.server.listening ? 'still open' : 'closed'}): it must close with its response, or at the latest when the listener closes, not after its keep-alive timeout [R18]`,
          ).toBe(true);
          expect(await settle(() => s.exits.length > 0), 'exit once the connection closed').toBe(
            true,
          );
          expect(s.exits, 'exit(0)').toEqual([0]);
        } finally {
          restoreRealClock();
        }
      }),
    );
  });

  describe.concurrent('shutting down a real server', IN_PROCESS_TIMEOUT, () => {
    describe('exit', () => {
      test(
        'resolves shutdown() to 0 and calls exit(0) once when nothing is in flight [R23, R27]',
        harnessed(async (harness) => {
          const s = await harness.start({ timeoutMs: 3_000 });
          const done = s.shutdown();
          await s.exited(5_000, 'exit to be called within 5000 ms of shutdown() on an idle server');
          expect(
            await within(done, 500, 'shutdown() to resolve once exit was called'),
            'shutdown() resolves to the exit code it passed to exit [R23]',
          ).toBe(0);
          expect(
            s.exits,
            'exit is called exactly once, with 0 when all went well [R23, R27]',
          ).toEqual([0]);
        }),
      );

      test(
        'logs a line naming the reason given to shutdown(reason) [R14]',
        harnessed(async (harness) => {
          const s = await harness.start({ timeoutMs: 3_000 });
          await within(s.shutdown('deploy 42'), 2_000, 'shutdown("deploy 42") to resolve');
          expect(
            s.logs.some((line) => line.includes('deploy 42')),
            `when shutdown('deploy 42') begins, log gets a line naming the reason "deploy 42"; log got ${JSON.stringify(s.logs)} [R14]`,
          ).toBe(true);
        }),
      );

      test(
        'runs the cleanups and calls exit(0) when shutdown() comes before app.listen() [R32]',
        harnessed(async (harness) => {
          let cleaned = 0;
          const s = await harness.start(
            { timeoutMs: 3_000, cleanup: [() => (cleaned += 1)] },
            { listen: false },
          );
          const code = await s.finish(
            2_000,
            'shutdown() to resolve within 2000 ms on an app that never listened',
          );
          expect(
            { code, exits: s.exits, cleaned },
            'with no listener to close, shutdown() still runs the cleanups and calls exit(0) [R32]',
          ).toEqual({ code: 0, exits: [0], cleaned: 1 });
        }),
      );
    });

    describe('requests in flight', () => {
      test(
        'lets 20 requests in flight (GET /work?ms=200, half on keep-alive connections) finish with 200 before exit(0) [R17, R23]',
        harnessed(async (harness) => {
          const s = await harness.start({ drainDelayMs: 0, timeoutMs: 3_000 });
          const agent = harness.keepAliveAgent();
          const requests = Array.from({ length: 20 }, (_, i) =>
            get(s.port, '/work?ms=200', { agent: i % 2 === 0 ? agent : undefined }),
          );
          await s.arrivals(20);
          const done = s.shutdown();
          const answers = await Promise.allSettled(requests);
          const statuses = answers.map((a) =>
            a.status === 'fulfilled' ? a.value.status : String(a.reason),
          );
          expect(
            statuses,
            'every request in flight when shutdown() begins must get its 200 [R17]',
          ).toEqual(Array.from({ length: 20 }, () => 200));
          await s.exited(5_000, 'exit to be called within 5000 ms of the last request finishing');
          expect(s.exits, 'exit(0) once all requests finished [R23]').toEqual([0]);
          expect(
            await within(done, 500, 'shutdown() to resolve once exit was called'),
            'shutdown() resolves to 0 [R23]',
          ).toBe(0);
        }),
      );
    });

    describe('keep-alive connections', () => {
      test(
        'closes an idle keep-alive connection as soon as the listener closes [R18]',
        harnessed(async (harness) => {
          const s = await harness.start({ drainDelayMs: 0, timeoutMs: 4_000 });
          const agent = harness.keepAliveAgent();
          const first = await get(s.port, '/healthz', { agent });
          expect(first.status, 'GET /healthz answers 200 before shutdown').toBe(200);
          void s.shutdown();
          const closedAfter = await closedWithin(first.socket, 5_000);
          expect(
            closedAfter,
            `an idle keep-alive connection (it carried GET /healthz before shutdown) was still open 5000 ms after shutdown() (listener ${s.app.server.listening ? 'still open' : 'closed'}): idle keep-alive connections must close as soon as the listener closes, not after their keep-alive timeout [R18]`,
          ).toBeDefined();
          await s.exited(
            5_000,
            'exit within 5000 ms of shutdown() on a server with no request left',
          );
          expect(s.exits, 'exit(0): closing idle connections is part of a clean shutdown').toEqual([
            0,
          ]);
        }),
      );

      test(
        'closes a keep-alive connection whose request was in flight at close as soon as its response is sent [R17, R18]',
        harnessed(async (harness) => {
          const s = await harness.start({ drainDelayMs: 0, timeoutMs: 4_000 });
          const agent = harness.keepAliveAgent();
          const warm = await get(s.port, '/healthz', { agent });
          expect(warm.status, 'GET /healthz answers 200 before shutdown').toBe(200);
          const inFlight = get(s.port, '/work?ms=150', { agent });
          await s.arrivals(2);
          void s.shutdown();
          const answer = await inFlight;
          expect(
            answer.status,
            'the in-flight GET /work?ms=150 on a keep-alive connection finishes with 200 [R17]',
          ).toBe(200);
          const closedAfter = await closedWithin(answer.socket, 5_000);
          expect(
            closedAfter,
            'the keep-alive connection whose GET /work?ms=150 was in flight when the listener closed was still open 5000 ms after its response was sent: server.close() only reaps connections idle at that moment; make responses sent during shutdown close their connection (e.g. "Connection: close") [R18]',
          ).toBeDefined();
          await s.exited(5_000, 'exit within 5000 ms of the last response');
          expect(s.exits, 'exit(0) once the connection closed').toEqual([0]);
        }),
      );

      test(
        'keeps connections alive between requests until shutdown begins [R19]',
        harnessed(async (harness) => {
          const s = await harness.start({ timeoutMs: 3_000 });
          const agent = harness.keepAliveAgent();
          const first = await get(s.port, '/healthz', { agent });
          const second = await get(s.port, '/readyz', { agent });
          expect(
            { first: first.status, second: second.status, reused: second.reused },
            `before shutdown a keep-alive connection stays open: the second request must go out on the first one's connection (the first answer said "Connection: ${String(first.headers.connection)}") [R19]`,
          ).toEqual({ first: 200, second: 200, reused: true });
        }),
      );
    });
  });
});
