// Alternative reference: the same contract written the way a Fastify codebase often is. GET /work is
// validated by a JSON schema on the querystring (Fastify's ajv coerces and answers 400 itself,
// naming `ms`), the state lives in a class, the delays come from node:timers/promises (the
// deadline cancelled with an AbortController), and keep-alive connections are reaped with
// server.closeIdleConnections() after each response during shutdown instead of `Connection: close`.
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance } from 'fastify';

export interface ShutdownOptions {
  timeoutMs?: number;
  drainDelayMs?: number;
  signals?: NodeJS.Signals[];
  cleanup?: Array<() => unknown>;
  exit?: (code: number) => void;
  log?: (message: string) => void;
}

export interface ShutdownApp {
  app: FastifyInstance;
  shutdown(reason?: string): Promise<number>;
}

const MAX_DELAY_MS = 2 ** 31 - 1;

/** The querystring of GET /work: Fastify coerces `ms` to an integer and answers 400 otherwise. */
const workSchema = {
  querystring: {
    type: 'object',
    required: ['ms'],
    properties: { ms: { type: 'integer', minimum: 0, maximum: 60_000 } },
  },
} as const;

function duration(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number of ms`);
  if (!(value >= 0 && value <= MAX_DELAY_MS)) {
    throw new RangeError(`${name} must be within 0..${MAX_DELAY_MS} ms, got ${value}`);
  }
  return value;
}

class GracefulServer {
  readonly app: FastifyInstance = Fastify();
  private draining = false;
  private running: Promise<number> | undefined;
  private readonly timeoutMs: number;
  private readonly drainDelayMs: number;
  private readonly signals: NodeJS.Signals[];
  private readonly cleanups: Array<() => unknown>;
  private readonly exit: (code: number) => void;
  private readonly log: (message: string) => void;
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    void this.shutdown(signal);
  };

  constructor(options: ShutdownOptions) {
    this.timeoutMs = duration('timeoutMs', options.timeoutMs, 10_000);
    this.drainDelayMs = duration('drainDelayMs', options.drainDelayMs, 0);
    this.signals = options.signals ?? ['SIGTERM', 'SIGINT'];
    this.cleanups = options.cleanup ?? [];
    this.exit = options.exit ?? ((code) => process.exit(code));
    this.log = options.log ?? ((message) => void process.stderr.write(`${message}\n`));
    this.routes();
    for (const signal of this.signals) process.on(signal, this.onSignal);
  }

  private routes(): void {
    // During shutdown, a connection that has just sent its response is idle: reap it on the next
    // turn (closeIdleConnections() also reaps those idle when the listener closes).
    this.app.addHook('onResponse', async () => {
      if (this.draining) setImmediate(() => this.app.server.closeIdleConnections());
    });
    this.app.get('/healthz', async () => ({ status: 'ok' }));
    this.app.get('/readyz', async (_request, reply) =>
      this.draining ? reply.code(503).send({ status: 'shutting-down' }) : { status: 'ready' },
    );
    this.app.get<{ Querystring: { ms: number } }>(
      '/work',
      { schema: workSchema },
      async (request) => {
        await sleep(request.query.ms);
        return { ok: true, ms: request.query.ms };
      },
    );
  }

  shutdown(reason = 'shutdown()'): Promise<number> {
    this.running ??= this.run(reason);
    return this.running;
  }

  private async run(reason: string): Promise<number> {
    this.draining = true;
    this.log(`graceful shutdown begins (${reason})`);
    const cancel = new AbortController();
    const deadline = sleep(this.timeoutMs, 1, { signal: cancel.signal }).then(
      (code) => {
        this.log(`gave up after ${this.timeoutMs} ms`);
        return code;
      },
      () => 1, // cancelled: the sequence won the race, this value is never used
    );
    const code = await Promise.race([this.drainAndClean(), deadline]);
    cancel.abort();
    for (const signal of this.signals) process.off(signal, this.onSignal);
    this.exit(code);
    return code;
  }

  private async drainAndClean(): Promise<number> {
    await sleep(this.drainDelayMs);
    let code = 0;
    // app.close() runs the app's onClose hooks too, and rejects if one fails.
    for (const cleanup of [() => this.app.close(), ...this.cleanups]) {
      try {
        await cleanup();
      } catch (error) {
        code = 1;
        this.log(`cleanup failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return code;
  }
}

export function createApp(options: ShutdownOptions = {}): ShutdownApp {
  const server = new GracefulServer(options);
  return { app: server.app, shutdown: (reason) => server.shutdown(reason) };
}
