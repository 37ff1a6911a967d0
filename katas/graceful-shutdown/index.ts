// Kata: graceful shutdown of a Fastify server. Implement createApp; see README.md. Grade: npm test -- graceful-shutdown
import type { FastifyInstance } from 'fastify';
import { NotImplementedError } from '../not-implemented.ts';

/** How {@link createApp}'s server shuts down. Every duration is in milliseconds. */
export interface ShutdownOptions {
  /**
   * The most time shutdown may take, in ms, counted from the moment it begins (drain delay
   * included). When it passes, `exit(1)` is called at once, whatever still hangs. 0 means "give up
   * at once" (exit(1) as soon as the timer fires), not "no limit".
   * @default 10_000
   * @throws {TypeError} when not a number
   * @throws {RangeError} when below 0, above 2³¹−1 (2_147_483_647) or NaN
   */
  timeoutMs?: number;
  /**
   * How long `/readyz` answers 503 before the listener closes, in ms, so that load balancers stop
   * routing new traffic here first. 0 closes the listener straight away.
   * @default 0
   * @throws {TypeError} when not a number
   * @throws {RangeError} when below 0, above 2³¹−1 (2_147_483_647) or NaN
   */
  drainDelayMs?: number;
  /**
   * Signals that start the shutdown. Their handlers are installed by `createApp` and removed once
   * shutdown has finished. An empty array installs none (only `shutdown()` starts it).
   * @default ['SIGTERM', 'SIGINT']
   */
  signals?: NodeJS.Signals[];
  /**
   * Closes databases, queue consumers...: run one after the other, each awaited, once the server
   * has closed. One that throws or rejects is logged (with its error's message) and the rest still
   * run; the exit code is then 1.
   * @default []
   */
  cleanup?: Array<() => unknown>;
  /** Called exactly once, with 0 when all went well, else 1. @default process.exit */
  exit?: (code: number) => void;
  /**
   * Where the shutdown reports, one line per call: its start (naming the signal or the reason), each
   * failing cleanup (with the error's message) and a timeout (with timeoutMs). @default a line on stderr
   */
  log?: (message: string) => void;
}

/** What {@link createApp} returns. */
export interface ShutdownApp {
  /** The server, routes registered, not listening yet: call `app.listen(...)` yourself. */
  app: FastifyInstance;
  /**
   * Starts the shutdown (as a signal in `signals` would) and resolves to the exit code passed to
   * `exit`: 0, or 1 if a cleanup failed or `timeoutMs` passed first. Every later call, and every
   * signal, gets the same promise object and runs nothing twice.
   * @param reason why the shutdown began, for the log (a signal passes its name)
   */
  shutdown(reason?: string): Promise<number>;
}

/**
 * Builds a Fastify app with three routes and installs the shutdown signal handlers:
 * - `GET /healthz` → 200 `{ "status": "ok" }` while the process lives (liveness);
 * - `GET /readyz` → 200 `{ "status": "ready" }`, then 503 `{ "status": "shutting-down" }` from the
 *   moment shutdown begins (readiness);
 * - `GET /work?ms=N` → waits N ms, then 200 `{ "ok": true, "ms": N }` for N a whole number from 0 to
 *   60000; 400, with a body naming `ms`, when it is missing, empty, negative, fractional, not a
 *   number or larger (other spellings such as '1e3' or '0x10' may be either).
 *
 * Shutdown: `/readyz` fails at once; after `drainDelayMs` the listener closes (new connections are
 * refused, requests in flight finish, idle keep-alive connections close without waiting for their
 * keep-alive timeout, and so do those busy then, once their response is sent); then each `cleanup`
 * runs in order; then `exit(code)`. If `timeoutMs` passes first, `exit(1)` at once.
 * @throws {TypeError} when `timeoutMs` or `drainDelayMs` is not a number (the message names it)
 * @throws {RangeError} when `timeoutMs` or `drainDelayMs` is outside 0..2³¹−1 (the message names it)
 */
export function createApp(options: ShutdownOptions = {}): ShutdownApp {
  // TODO: validate the options, register the routes, install the signal handlers, return { app, shutdown }.
  void options;
  throw new NotImplementedError('createApp');
}
