/**
 * Shared by this kata's grader files: start the app under test on a real socket with an injected
 * `exit` and `log`, talk to it over plain node:http, and leave nothing behind after each test
 * (servers, sockets, signal handlers).
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach } from 'vitest';
import { createApp, type ShutdownOptions } from '@kata/graceful-shutdown';
import { within } from '../support/deadline.ts';

/** An unusual signal for in-process tests: nothing else in the test runner listens to it. */
export const TEST_SIGNAL: NodeJS.Signals = 'SIGUSR2';
const WATCHED_SIGNALS: NodeJS.Signals[] = [TEST_SIGNAL, 'SIGTERM', 'SIGINT'];

export interface Started {
  app: ReturnType<typeof createApp>['app'];
  shutdown: ReturnType<typeof createApp>['shutdown'];
  port: number;
  /** Every code passed to the injected `exit`, in order. */
  exits: number[];
  /** `performance.now()` when `exit` was first called. */
  exitAt(): number | undefined;
  /** Resolves with the first exit code, or rejects after `ms` saying what was awaited. */
  exited(ms: number, what: string): Promise<number>;
  logs: string[];
  /** shutdown(), bounded: rejects if its promise has not settled within `ms`. */
  finish(ms: number, what?: string): Promise<number>;
  /** Resolves once `n` requests in total have reached the app's handlers. */
  arrivals(n: number, ms?: number): Promise<void>;
}

const started: Started[] = [];
const agents: http.Agent[] = [];
type SignalListener = (signal: NodeJS.Signals) => void;
let signalBaseline = new Map<NodeJS.Signals, SignalListener[]>();

/** Call once per grader file: snapshots signal handlers and cleans up after every test. */
export function useHarness(): void {
  beforeEach(() => {
    signalBaseline = new Map(
      WATCHED_SIGNALS.map((s) => [s, process.listeners(s) as SignalListener[]]),
    );
  });
  afterEach(async () => {
    for (const agent of agents.splice(0)) agent.destroy();
    for (const s of started.splice(0)) {
      s.app.server.closeAllConnections();
      try {
        void s.shutdown().catch(() => undefined);
      } catch {
        // a shutdown that throws has already failed its test
      }
      await within(s.app.close(), 2_000, 'app.close() to finish after the test').catch(
        () => undefined,
      );
    }
    // Whatever handlers the code under test left on process, remove them: a leftover SIGTERM
    // handler would change how the test runner itself stops.
    for (const [signal, before] of signalBaseline) {
      for (const listener of process.listeners(signal) as SignalListener[]) {
        if (!before.includes(listener)) process.removeListener(signal, listener);
      }
    }
  });
}

/** Listeners on `signal` that the code under test added (vs the start of this test). */
export function addedListeners(signal: NodeJS.Signals): number {
  return process.listenerCount(signal) - (signalBaseline.get(signal)?.length ?? 0);
}

/**
 * createApp with `signals: [TEST_SIGNAL]` and a recording `log` (both overridable) and a recording
 * `exit` (which also calls `options.exit`), listening on 127.0.0.1 at a free port.
 */
export async function start(options: ShutdownOptions = {}): Promise<Started> {
  const exits: number[] = [];
  const logs: string[] = [];
  let exitAt: number | undefined;
  let onExit: ((code: number) => void) | undefined;
  const firstExit = new Promise<number>((resolve) => (onExit = resolve));
  const made = createApp({
    signals: [TEST_SIGNAL],
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
  made.app.addHook('onRequest', async () => {
    arrived += 1;
    for (const waiter of waiters) waiter();
  });
  const s: Started = {
    ...made,
    port: 0,
    exits,
    logs,
    exitAt: () => exitAt,
    exited: (ms, what) => within(firstExit, ms, what),
    finish: (ms, what) =>
      within(made.shutdown(), ms, what ?? `shutdown() to resolve within ${ms} ms`),
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
  await within(made.app.listen({ host: '127.0.0.1', port: 0 }), 3_000, 'app.listen() to finish');
  s.port = (made.app.server.address() as AddressInfo).port;
  return s;
}

/** A keep-alive agent, destroyed after the test. */
export function keepAliveAgent(): http.Agent {
  const agent = new http.Agent({ keepAlive: true });
  agents.push(agent);
  return agent;
}

export interface Answer {
  status: number;
  body: unknown;
  headers: http.IncomingHttpHeaders;
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
          resolve({ status: response.statusCode ?? 0, body, headers: response.headers });
        });
        response.on('error', reject);
      },
    );
    const timer = setTimeout(() => {
      request.destroy();
      reject(new Error(`no answer to GET ${path} within ${ms} ms`));
    }, ms);
    request.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
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
