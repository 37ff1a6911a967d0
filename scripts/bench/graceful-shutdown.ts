/**
 * graceful-shutdown under load: autocannon keeps requests in flight against the reference server
 * (a real process on 127.0.0.1) when it receives SIGTERM. Counted: requests completed, requests
 * that failed in flight (reset or hung up: the dropped requests graceful shutdown exists to
 * prevent), connections refused once the listener closed (expected), and the time to exit.
 * Beside it, the same route on a bare Fastify server with no shutdown handling.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once, type EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import {
  median,
  repeat,
  runIfMain,
  type Settings,
  type SubjectOutcome,
  type Suite,
} from './lib.ts';

const CONNECTIONS = 20;
const WORK_MS = 50;
/** Load before the signal; the run ends once the server has exited (or after the cap). */
const LOAD_BEFORE_SIGNAL_MS = 700;
const RUN_CAP_S = 10;
const SERVERS = ['reference', 'bare'] as const;
type Server = (typeof SERVERS)[number];

/** The server side, run as `--serve <reference|bare>`: listens on a free port and says which. */
async function serve(kind: Server): Promise<void> {
  let app;
  if (kind === 'reference') {
    const { createApp } = await import('../../solutions/graceful-shutdown/index.ts');
    app = createApp({ log: () => {} }).app;
  } else {
    const { default: Fastify } = await import('fastify');
    app = Fastify();
    app.get('/work', async (request) => {
      const ms = Number((request.query as { ms?: string }).ms);
      await new Promise((resolve) => setTimeout(resolve, ms));
      return { ok: true, ms };
    });
  }
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  console.log(`listening ${typeof address === 'object' && address !== null ? address.port : 0}`);
}

function startServer(kind: Server): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', kind],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the ${kind} server did not start within 30 s`));
    }, 30_000);
    child.stdout?.on('data', (data: Buffer) => {
      output += data.toString();
      const match = /listening (\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]) });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the ${kind} server exited with ${code} before listening`));
    });
  });
}

interface Run {
  completed: number;
  dropped: number;
  refused: number;
  exitMs: number;
  exitCode: number | null;
}

async function loadAndSignal(kind: Server): Promise<Run> {
  const { default: autocannon } = await import('autocannon');
  const { child, port } = await startServer(kind);
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  try {
    let completed = 0;
    let dropped = 0;
    let refused = 0;
    let finish = (): void => {};
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${port}/work?ms=${WORK_MS}`,
        connections: CONNECTIONS,
        duration: RUN_CAP_S,
        // Each connection has one request outstanding at a time: follow it to its end. A request
        // followed by the next one with neither a response nor an error between was dropped on a
        // connection the server closed (autocannon silently reconnects then). autocannon does not
        // honour `Connection: close`: a request it sends after one is not counted at all, since a
        // real client would have opened a new connection for it.
        setupClient: (autocannonClient) => {
          // Its typings list three of the events the client emits; these four are all there.
          const client = autocannonClient as unknown as EventEmitter;
          let pending = false;
          let pendingAfterClose = false;
          let closeAnnounced = false;
          const settle = (): boolean => {
            const counts = pending && !pendingAfterClose;
            pending = false;
            return counts;
          };
          client.on('headers', (headers: { shouldKeepAlive?: boolean }) => {
            closeAnnounced = headers.shouldKeepAlive === false;
          });
          client.on('request', () => {
            if (settle()) dropped += 1;
            pending = true;
            pendingAfterClose = closeAnnounced;
            closeAnnounced = false;
          });
          client.on('response', (statusCode: number) => {
            pending = false;
            if (statusCode === 200) completed += 1;
            else dropped += 1;
          });
          client.on('connError', (error: NodeJS.ErrnoException) => {
            if (!settle()) return;
            if (error.code === 'ECONNREFUSED') refused += 1;
            else dropped += 1; // reset or hung up in flight
          });
        },
      },
      () => finish(),
    );

    await new Promise((resolve) => setTimeout(resolve, LOAD_BEFORE_SIGNAL_MS));
    const signalledAt = performance.now();
    child.kill('SIGTERM');
    const [code] = await exited;
    const exitMs = performance.now() - signalledAt;
    // A moment for the clients to see their connections end, then stop the load.
    await new Promise((resolve) => setTimeout(resolve, 100));
    instance.stop();
    await finished;
    return { completed, dropped, refused, exitMs, exitCode: code };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

async function measure(kind: Server, settings: Settings): Promise<SubjectOutcome> {
  const runs = await repeat(() => loadAndSignal(kind), settings, false);
  return {
    metrics: {
      completed: runs.map((run) => run.completed),
      dropped: runs.map((run) => run.dropped),
      exitMs: runs.map((run) => run.exitMs),
    },
    facts: {
      'exit codes': [...new Set(runs.map((run) => String(run.exitCode)))].join(' '),
      // New connections refused once the listener closed: expected, and as many as autocannon
      // manages to attempt in the 100 ms before it stops.
      'refused after close': median(runs.map((run) => run.refused)),
    },
  };
}

export const suite: Suite = {
  slug: 'graceful-shutdown',
  title: `autocannon, ${CONNECTIONS} connections on GET /work?ms=${WORK_MS}, SIGTERM after ${LOAD_BEFORE_SIGNAL_MS} ms`,
  metrics: [
    { key: 'completed', label: 'completed', better: 'higher' },
    { key: 'dropped', label: 'failed in flight', better: 'lower' },
    { key: 'exitMs', label: 'ms to exit', better: 'lower' },
  ],
  subjects: {
    reference: (settings) => measure('reference', settings),
    'fastify, no shutdown handling': (settings) => measure('bare', settings),
  },
};

const serveIndex = process.argv.indexOf('--serve');
if (serveIndex !== -1) {
  const kind = process.argv[serveIndex + 1] as Server;
  if (!SERVERS.includes(kind)) throw new Error(`--serve takes one of ${SERVERS.join(', ')}`);
  await serve(kind);
} else {
  runIfMain(import.meta.url, suite);
}
