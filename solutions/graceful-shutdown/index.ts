// Reference: graceful shutdown of a Fastify server (readiness, drain delay, close, cleanups, timeout).
import Fastify, { type FastifyInstance } from 'fastify';

export interface ShutdownOptions {
  /** Past this many ms after shutdown begins (drain delay included), exit with code 1. @default 10_000 */
  timeoutMs?: number;
  /** How long `/readyz` fails before the listener closes, in ms. @default 0 */
  drainDelayMs?: number;
  /** Signals that start the shutdown. @default ['SIGTERM', 'SIGINT'] */
  signals?: NodeJS.Signals[];
  /** Run in order, each awaited, once the server has closed. @default [] */
  cleanup?: Array<() => unknown>;
  /** Called exactly once with the exit code. @default process.exit */
  exit?: (code: number) => void;
  /** Where the start, the failures and a timeout are reported, one line per call. @default a line on stderr */
  log?: (message: string) => void;
}

export interface ShutdownApp {
  app: FastifyInstance;
  shutdown(reason?: string): Promise<number>;
}

/** Largest delay `setTimeout` honours; longer ones fire after 1 ms. */
const MAX_DELAY_MS = 2 ** 31 - 1;
const MAX_WORK_MS = 60_000;

export function createApp(options: ShutdownOptions = {}): ShutdownApp {
  const timeoutMs = checkDuration('timeoutMs', options.timeoutMs, 10_000);
  const drainDelayMs = checkDuration('drainDelayMs', options.drainDelayMs, 0);
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const cleanup = options.cleanup ?? [];
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const log = options.log ?? ((message: string) => void process.stderr.write(`${message}\n`));

  const app = Fastify();
  let draining = false;
  let finished: Promise<number> | undefined;

  // A keep-alive connection whose request is in flight when the server closes would otherwise stay
  // open for the whole keep-alive timeout once its response is sent: server.close() only reaps
  // connections idle at that moment. Telling the client to close makes each one end with its response.
  app.addHook('onSend', async (_request, reply) => {
    if (draining) reply.header('connection', 'close');
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    if (draining) return reply.code(503).send({ status: 'shutting-down' });
    return { status: 'ready' };
  });

  app.get('/work', async (request, reply) => {
    const ms = parseWorkMs((request.query as Record<string, unknown>).ms);
    if (ms === undefined) {
      return reply.code(400).send({ error: `ms must be a whole number from 0 to ${MAX_WORK_MS}` });
    }
    await delay(ms);
    return { ok: true, ms };
  });

  const onSignal = (signal: NodeJS.Signals): void => {
    void shutdown(signal);
  };
  for (const signal of signals) process.on(signal, onSignal);

  function shutdown(reason = 'shutdown() called'): Promise<number> {
    // Every later signal or call shares the first run: nothing is closed, cleaned or exited twice.
    finished ??= run(reason);
    return finished;
  }

  async function run(reason: string): Promise<number> {
    draining = true; // /readyz fails from this moment
    log(`shutting down: ${reason}`);

    // One timer, started now so that the drain delay counts. It is not unref()ed: while a cleanup
    // hangs on a promise that holds no handle, it is what keeps the process alive until exit(1).
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<number>((resolve) => {
      timer = setTimeout(() => {
        log(`shutdown did not finish within ${timeoutMs} ms; exiting anyway`);
        resolve(1);
      }, timeoutMs);
    });

    const drainAndClean = async (): Promise<number> => {
      // Load balancers need time to notice the failing readiness and stop routing to us.
      await delay(drainDelayMs);
      // Closing the server (listener, requests in flight, the app's onClose hooks) comes first, then
      // the cleanups, each on its own: one that fails is logged and the next still runs.
      let code = 0;
      for (const step of [() => app.close(), ...cleanup]) {
        try {
          await step();
        } catch (error) {
          log(`shutdown step failed: ${String(error)}`);
          code = 1;
        }
      }
      return code;
    };

    // If the deadline wins, the sequence is left to finish on its own (with the real process.exit
    // there is no process left for it); only this one place ever calls exit.
    const code = await Promise.race([drainAndClean(), deadline]);
    clearTimeout(timer);
    for (const signal of signals) process.off(signal, onSignal);
    exit(code);
    return code;
  }

  return { app, shutdown };
}

function checkDuration(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') {
    throw new TypeError(`${name} must be a number of milliseconds, got ${typeof value}`);
  }
  if (!(value >= 0 && value <= MAX_DELAY_MS)) {
    throw new RangeError(`${name} must be from 0 to ${MAX_DELAY_MS} ms, got ${value}`);
  }
  return value;
}

/** The `ms` query parameter as a whole number 0..60000 written in decimal digits, else undefined. */
function parseWorkMs(raw: unknown): number | undefined {
  // Number() alone would accept '' (as 0): insist on digits. A repeated ?ms=1&ms=2 arrives as an
  // array, whose string form '1,2' fails the pattern too.
  if (!/^\d+$/.test(String(raw))) return undefined;
  const ms = Number(raw);
  return ms <= MAX_WORK_MS ? ms : undefined;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
