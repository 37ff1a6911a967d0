/**
 * Shared by this kata's grader files. Each test body wrapped in `harnessed()` gets its own harness,
 * so tests can run concurrently (each server on its own free port on 127.0.0.1), and everything a
 * test started is torn down after it, however it ended (servers, sockets, agents).
 *
 * Process-level state (signal handlers, `process.exit`, stderr, the fake clock) is only touched by
 * tests that run alone: the signal tests, and the few sequential tests at the top of a file.
 * `guardSignalHandlers()` removes whatever handlers the code under test left on `process`.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, vi } from 'vitest';
import { createApp, type ShutdownOptions } from '@kata/graceful-shutdown';
import { DeadlineError, within } from '../support/deadline.ts';
import { realNowMs } from '../support/limits.ts';

/**
 * The time limit of the in-process tests that run concurrently: generous, since on a loaded
 * machine several servers share one event loop; their own waits are bounded far below it.
 */
export const IN_PROCESS_TIMEOUT = { timeout: 15_000 };

/** The real setImmediate, taken before any test fakes the clock: lets real socket I/O run. */
const realSetImmediate = globalThis.setImmediate;
export const realTurn = (): Promise<void> => new Promise((resolve) => realSetImmediate(resolve));

/**
 * Back to real timers. countTimers() spies on the (fake) globals: restore the spies first, or
 * restoring them later would put the fake setTimeout back in place of the real one.
 */
export function restoreRealClock(): void {
  vi.restoreAllMocks();
  vi.useRealTimers();
}

/** Installs the fake clock (Date, performance and every timer): for tests that run alone. */
export { useFakeClock } from '../support/clock.ts';

/** Advances the fake clock by `ms`, in steps of at most `stepMs`, letting real I/O run between steps. */
export async function advance(ms: number, stepMs = 250): Promise<void> {
  for (let at = 0; at < ms; at += stepMs) {
    await vi.advanceTimersByTimeAsync(Math.min(stepMs, ms - at));
    for (let turn = 0; turn < 3; turn += 1) await realTurn();
  }
  if (ms === 0) {
    await vi.advanceTimersByTimeAsync(0);
    await realTurn();
  }
}

/**
 * With the fake clock standing still, lets real I/O and the timers due now run until `done()`, or
 * until `ioMs` of real time have passed; resolves to whether `done()` became true.
 */
export async function settle(done: () => boolean, ioMs = 5_000): Promise<boolean> {
  const until = realNowMs() + ioMs;
  while (!done() && realNowMs() < until) {
    await vi.advanceTimersByTimeAsync(0);
    await realTurn();
  }
  return done();
}

/** Tracks whether `promise` has settled, for {@link settle}. */
export function tracked<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  return { promise, settled: () => done };
}

/**
 * Moves the fake clock forward by `untilMs` in `stepMs` steps, letting real I/O (sockets) run
 * between steps, and stops early once `done()`. Then, if not done, keeps letting real I/O run (the
 * clock still) for up to `ioMs` of real time.
 */
export async function advanceWithIo(
  done: () => boolean,
  untilMs: number,
  stepMs = 250,
  ioMs = 2_000,
): Promise<void> {
  for (let at = 0; at < untilMs && !done(); at += stepMs) {
    await vi.advanceTimersByTimeAsync(Math.min(stepMs, untilMs - at));
    for (let turn = 0; turn < 3; turn += 1) await realTurn();
  }
  const ioUntil = realNowMs() + ioMs;
  while (!done() && realNowMs() < ioUntil) await realTurn();
}

/** An unusual signal for in-process signal tests: nothing else in the test runner listens to it. */
export const TEST_SIGNAL: NodeJS.Signals = 'SIGUSR2';
const WATCHED_SIGNALS: NodeJS.Signals[] = [TEST_SIGNAL, 'SIGTERM', 'SIGINT'];

export type Made = ReturnType<typeof createApp>;

export interface Started {
  app: Made['app'];
  shutdown: Made['shutdown'];
  port: number;
  /** Every code passed to the injected `exit`, in order. */
  exits: number[];
  /** `performance.now()` when `exit` was first called. */
  exitAt(): number | undefined;
  /**
   * Resolves with the first exit code; after `ms` without one, rejects saying what was awaited and
   * what still holds the shutdown up (listener open, keep-alive connections left open...).
   */
  exited(ms: number, what: string): Promise<number>;
  logs: string[];
  /** shutdown(), bounded: rejects if its promise has not settled within `ms`. */
  finish(ms: number, what?: string): Promise<number>;
  /** Resolves once `n` requests in total have reached the app's handlers. */
  arrivals(n: number, ms?: number): Promise<void>;
}

export interface Harness {
  /**
   * createApp with `signals: []` and a recording `log` (both overridable) and a recording `exit`
   * (which also calls `options.exit`), listening on 127.0.0.1 at a free port unless `listen` is false.
   */
  start(options?: ShutdownOptions, settings?: { listen?: boolean }): Promise<Started>;
  /** createApp as is (nothing injected), closed after the test. */
  make(options?: ShutdownOptions): Made;
  /** A keep-alive agent, destroyed after the test. */
  keepAliveAgent(): http.Agent;
}

function createHarness(): { harness: Harness; dispose(): Promise<void> } {
  const started: Started[] = [];
  const made: Made[] = [];
  const agents: http.Agent[] = [];

  /** Open client sockets of this test's keep-alive agents that sit idle in the pool (response received). */
  const idleClientSockets = (): number =>
    agents.reduce(
      (sum, agent) =>
        sum + Object.values(agent.freeSockets).reduce((n, list) => n + (list?.length ?? 0), 0),
      0,
    );

  /** Why a shutdown has not called exit yet, as far as the server shows it. */
  async function whatHolds(app: Made['app']): Promise<string> {
    const server = app.server;
    if (server.listening) {
      return 'the listener is still open (new connections are accepted): once the drain delay has passed it must close [R16]';
    }
    const open = await new Promise<number>((resolve) =>
      server.getConnections((error, count) => resolve(error ? 0 : count)),
    );
    if (open > 0) {
      const idle = idleClientSockets();
      return (
        `the listener has closed, but ${open} connection(s) to it are still open` +
        (idle > 0
          ? ` (${idle} of them idle keep-alive connections whose responses were already sent)`
          : '') +
        ': idle keep-alive connections must close as soon as the listener closes, and a connection busy at that moment as soon as its response is sent (e.g. "Connection: close" on responses sent during shutdown), not after their keep-alive timeout [R18]'
      );
    }
    return 'the listener has closed and no connection is open: the cleanups should have run and exit should have been called [R20, R23]';
  }

  const harness: Harness = {
    async start(options = {}, settings = {}) {
      const exits: number[] = [];
      const logs: string[] = [];
      let exitAt: number | undefined;
      let onExit: ((code: number) => void) | undefined;
      const firstExit = new Promise<number>((resolve) => (onExit = resolve));
      const app = createApp({
        signals: [],
        log: (message) => logs.push(String(message)),
        ...options,
        exit: (code) => {
          exits.push(code);
          exitAt ??= performance.now();
          onExit?.(code);
          options.exit?.(code);
        },
      });
      let arrived = 0;
      const waiters = new Set<() => void>();
      app.app.addHook('onRequest', async () => {
        arrived += 1;
        for (const waiter of waiters) waiter();
      });
      const s: Started = {
        ...app,
        port: 0,
        exits,
        logs,
        exitAt: () => exitAt,
        async exited(ms, what) {
          try {
            return await within(firstExit, ms, what);
          } catch (error) {
            if (!(error instanceof DeadlineError)) throw error;
            throw new DeadlineError(`${error.message}; ${await whatHolds(app.app)}`);
          }
        },
        finish: (ms, what) =>
          within(app.shutdown(), ms, what ?? `shutdown() to resolve within ${ms} ms`),
        arrivals: (n, ms = 2_000) =>
          within(
            new Promise<void>((resolve) => {
              const check = (): void => {
                if (arrived >= n) {
                  waiters.delete(check);
                  resolve();
                }
              };
              waiters.add(check);
              check();
            }),
            ms,
            `${n} request(s) to reach the server within ${ms} ms (only ${arrived} did)`,
          ),
      };
      started.push(s);
      if (settings.listen !== false) {
        await within(
          app.app.listen({ host: '127.0.0.1', port: 0 }),
          3_000,
          'app.listen() to finish',
        );
        s.port = (app.app.server.address() as AddressInfo).port;
      }
      return s;
    },
    make(options = {}) {
      const app = createApp(options);
      made.push(app);
      return app;
    },
    keepAliveAgent() {
      const agent = new http.Agent({ keepAlive: true });
      agents.push(agent);
      return agent;
    },
  };

  async function dispose(): Promise<void> {
    for (const agent of agents.splice(0)) agent.destroy();
    for (const s of started.splice(0)) {
      s.app.server.closeAllConnections();
      try {
        // Ends a shutdown the test left half-done (its exit is the recording one).
        void s.shutdown().catch(() => undefined);
      } catch {
        // a shutdown that throws has already failed its test
      }
      await within(s.app.close(), 2_000, 'app.close() to finish after the test').catch(
        () => undefined,
      );
    }
    for (const m of made.splice(0)) {
      await within(m.app.close(), 2_000, 'app.close() to finish after the test').catch(
        () => undefined,
      );
    }
  }

  return { harness, dispose };
}

/**
 * A test body with a fresh {@link Harness}, torn down after it however it ended:
 * `test('…', harnessed(async (harness) => { … }))`. (A wrapper rather than a Vitest fixture:
 * graders/support/setup.ts registers hooks whose argument is not destructured, which Vitest
 * refuses beside `test.extend` fixtures.)
 */
export function harnessed(body: (harness: Harness) => Promise<void> | void): () => Promise<void> {
  return async () => {
    const made = createHarness();
    try {
      await body(made.harness);
    } finally {
      await made.dispose();
    }
  };
}

type SignalListener = (signal: NodeJS.Signals) => void;
const snapshot = (): Map<NodeJS.Signals, SignalListener[]> =>
  new Map(WATCHED_SIGNALS.map((s) => [s, process.listeners(s) as SignalListener[]]));
let baseline = snapshot();

function removeAddedHandlers(): void {
  for (const [signal, before] of baseline) {
    for (const listener of process.listeners(signal) as SignalListener[]) {
      if (!before.includes(listener)) process.removeListener(signal, listener);
    }
  }
}

/**
 * Removes the signal handlers the code under test left on `process` (a leftover SIGTERM handler
 * would change how the test runner itself stops): after each test where tests run one at a time
 * (`'each'`), or after the whole file where they run concurrently (`'all'`).
 */
export function guardSignalHandlers(scope: 'each' | 'all'): void {
  const [before, after] = scope === 'each' ? [beforeEach, afterEach] : [beforeAll, afterAll];
  before(() => {
    baseline = snapshot();
  });
  after(removeAddedHandlers);
}

/** Listeners on `signal` that the code under test added since the last baseline (see {@link guardSignalHandlers}). */
export function addedListeners(signal: NodeJS.Signals): number {
  return process.listenerCount(signal) - (baseline.get(signal)?.length ?? 0);
}

export interface Answer {
  status: number;
  body: unknown;
  headers: http.IncomingHttpHeaders;
  /** The client socket the request went out on. */
  socket: net.Socket;
  /** Whether the agent reused a kept-alive socket for it. */
  reused: boolean;
}

/**
 * GET `path` on 127.0.0.1:`port`. Without an agent, each request opens its own connection.
 * Rejects with the socket error (e.g. code ECONNREFUSED) or after `ms`.
 */
export function get(
  port: number,
  path: string,
  options: { agent?: http.Agent; ms?: number } = {},
): Promise<Answer> {
  const ms = options.ms ?? 3_000;
  return new Promise<Answer>((resolve, reject) => {
    let socket: net.Socket | undefined;
    const request = http.get(
      { host: '127.0.0.1', port, path, agent: options.agent ?? false },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          clearTimeout(timer);
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: keep the text, the assertion will show it
          }
          resolve({
            status: response.statusCode ?? 0,
            body,
            headers: response.headers,
            socket: socket ?? response.socket,
            reused: request.reusedSocket,
          });
        });
        response.on('error', reject);
      },
    );
    const timer = setTimeout(() => {
      request.destroy();
      reject(new Error(`no answer to GET ${path} within ${ms} ms`));
    }, ms);
    request.once('socket', (s: net.Socket) => (socket = s));
    request.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Resolves with how long `socket` took to close (ms), or `undefined` if still open after `ms`. */
export function closedWithin(socket: net.Socket, ms: number): Promise<number | undefined> {
  const begun = performance.now();
  if (socket.destroyed) return Promise.resolve(0);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.off('close', onClose);
      resolve(undefined);
    }, ms);
    const onClose = (): void => {
      clearTimeout(timer);
      resolve(performance.now() - begun);
    };
    socket.once('close', onClose);
  });
}

/** `'accepted'` if a new TCP connection to 127.0.0.1:`port` is accepted, else the error code that refused it. */
export function connect(port: number, ms = 1_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('timed out');
    }, ms);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve('accepted');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code ?? error.message);
    });
  });
}

/** A promise that never settles and holds nothing open. */
export const never = (): Promise<never> => new Promise<never>(() => undefined);
