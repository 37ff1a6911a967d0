import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { createApp } from '@kata/graceful-shutdown';
import { startNode, type Child } from '../support/child-process.ts';
import { within } from '../support/deadline.ts';
import { kataModulePath, REPO_ROOT } from '../support/target.ts';
import { get } from './fixtures.ts';

/** Starts scripts as real processes; each test's children are killed and their files removed after it. */
interface Processes {
  /**
   * Runs `script` (katas/graceful-shutdown/server.ts, or one of the scripts below) against the
   * implementation under test (the learner's, the reference or a mutant): a temporary copy beside
   * an index.ts that re-exports it. Resolves once it prints `listening <port>`.
   */
  start(script: string, env?: Record<string, string>): Promise<{ child: Child; port: number }>;
  /** A keep-alive agent, destroyed after the test. */
  agent(): http.Agent;
}

/** A test body with its own {@link Processes}: children killed and files removed after it. */
function withProcesses(body: (processes: Processes) => Promise<void>): () => Promise<void> {
  return async () => {
    const children: Child[] = [];
    const folders: string[] = [];
    const agents: http.Agent[] = [];
    try {
      await body({
        async start(script, env = {}) {
          const tmpRoot = path.join(REPO_ROOT, '.kata', 'tmp');
          mkdirSync(tmpRoot, { recursive: true });
          const folder = mkdtempSync(path.join(tmpRoot, 'graceful-shutdown-'));
          folders.push(folder);
          copyFileSync(
            path.join(REPO_ROOT, 'katas', 'graceful-shutdown', 'server.ts'),
            path.join(folder, 'server.ts'),
          );
          for (const [name, text] of Object.entries(SCRIPTS)) {
            writeFileSync(path.join(folder, name), text);
          }
          writeFileSync(
            path.join(folder, 'index.ts'),
            `export * from ${JSON.stringify(kataModulePath('graceful-shutdown'))};\n`,
          );
          const { NODE_OPTIONS: _ignored, ...inherited } = process.env;
          const child = startNode(['--import', 'tsx', path.join(folder, script)], {
            cwd: REPO_ROOT,
            env: { ...inherited, PORT: '0', ...env },
          });
          children.push(child);
          const [, port] = await child.line(/^listening (\d+)$/, 20_000);
          return { child, port: Number(port) };
        },
        agent() {
          const agent = new http.Agent({ keepAlive: true });
          agents.push(agent);
          return agent;
        },
      });
    } finally {
      for (const agent of agents) agent.destroy();
      await Promise.all(children.map((child) => child.kill()));
      for (const folder of folders) rmSync(folder, { recursive: true, force: true });
    }
  };
}

/** Scripts run beside server.ts, each a process that shuts itself down once listening. */
const SCRIPTS: Record<string, string> = {
  // exit does nothing: once shutdown has finished, only what the implementation left behind (a
  // timer, a handle) can keep the process alive.
  'idle-exit.ts': `import { createApp } from './index.ts';
const { app, shutdown } = createApp({ timeoutMs: 20000, signals: [], exit: () => {}, log: () => {} });
await app.listen({ host: '127.0.0.1', port: 0 });
console.log('listening 0');
const code = await shutdown('test');
console.log('shut down ' + code);
`,
  // The default signals and exit, and a cleanup that never settles and holds nothing open: once
  // SIGTERM arrives, only the deadline can end this shutdown, with exit code 1.
  'hung-cleanup.ts': `import { createApp } from './index.ts';
const { app } = createApp({ timeoutMs: 300, log: () => {}, cleanup: [() => new Promise(() => {})] });
await app.listen({ host: '127.0.0.1', port: 0 });
console.log('listening 0');
`,
};

/** Resolves once every request's socket has connected to the server. */
function connected(requests: http.ClientRequest[], ms: number): Promise<void> {
  return within(
    Promise.all(
      requests.map(
        (request) =>
          new Promise<void>((resolve) =>
            request.once('socket', (socket) => {
              if (!socket.connecting) resolve();
              else socket.once('connect', () => resolve());
            }),
          ),
      ),
    ).then(() => undefined),
    ms,
    `all ${requests.length} requests to connect within ${ms} ms`,
  );
}

function startRequest(
  port: number,
  path: string,
  agent: http.Agent,
): {
  request: http.ClientRequest;
  status: Promise<number | string>;
} {
  let request!: http.ClientRequest;
  const status = new Promise<number | string>((resolve) => {
    request = http.get({ host: '127.0.0.1', port, path, agent }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
      response.on('error', (error) => resolve(error.message));
    });
    request.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
  return { request, status };
}

describe('stage 5: a real server process drains on SIGTERM', () => {
  // In process first, so an unimplemented createApp fails here with its own error rather than as
  // a child that never prints "listening".
  test('creates the app in process before starting real ones [R6]', async () => {
    const probe = createApp({ signals: [], exit: () => undefined, log: () => undefined });
    await within(probe.app.close(), 2_000, 'app.close() on an app that never listened');
  });

  // Each child is a process of its own on a port of its own: they run side by side.
  describe.concurrent('real processes', () => {
    test(
      'answers all 50 requests in flight with 200 on SIGTERM and exits with code 0 [R9, R17, R23]',
      withProcesses(async (processes) => {
        const { child, port } = await processes.start('server.ts', {
          SHUTDOWN_TIMEOUT_MS: '5000',
          DRAIN_DELAY_MS: '300',
        });
        expect(
          (await get(port, '/readyz')).status,
          'the server is ready before the signal [R2]',
        ).toBe(200);
        const agent = processes.agent();
        // Each request outlasts the drain delay: it is still in flight when the listener closes.
        const started = Array.from({ length: 50 }, () => startRequest(port, '/work?ms=700', agent));
        await connected(
          started.map((s) => s.request),
          3_000,
        );
        // Once the server has answered a later request, it has read the 50 before it: none is a
        // connection still idle (request unread) that closing the listener may rightly drop.
        expect((await get(port, '/healthz')).status, 'GET /healthz before the signal [R1]').toBe(
          200,
        );
        child.process.kill('SIGTERM');
        const statuses = await within(
          Promise.all(started.map((s) => s.status)),
          5_000,
          'all 50 requests to be answered within 5000 ms of SIGTERM [R17]',
        );
        expect(
          statuses.filter((status) => status !== 200),
          'every one of the 50 GET /work?ms=700 in flight at SIGTERM must get 200 (listed: the ones that did not) [R17]',
        ).toEqual([]);
        const how = await child.exited(8_000);
        expect(
          how,
          `after SIGTERM with nothing failing the process exits by itself (process.exit) with code 0; stderr:\n${child.stderr()} [R9, R23]`,
        ).toEqual({ code: 0, signal: null });
      }),
      30_000,
    );

    test(
      'exits with code 1 at timeoutMs = 300 after SIGTERM when a cleanup never settles and holds nothing open [R9, R11, R24]',
      withProcesses(async (processes) => {
        const { child } = await processes.start('hung-cleanup.ts');
        const begun = performance.now();
        child.process.kill('SIGTERM');
        const how = await child.exited(8_000);
        const took = performance.now() - begun;
        expect(
          how,
          `on SIGTERM, a cleanup that never settles must end in exit(1) (process.exit) at timeoutMs = 300; a process that ends with code 0 ran dry instead: nothing kept it alive until the deadline (an unref()ed timeout timer cannot); stderr:\n${child.stderr()} [R9, R11, R24]`,
        ).toEqual({ code: 1, signal: null });
        expect(
          took,
          `exit(1) comes at the deadline, timeoutMs = 300 after SIGTERM, not before (exited after ${took.toFixed(0)} ms) [R24]`,
        ).toBeGreaterThanOrEqual(280);
        expect(
          took,
          `exit(1) comes soon after timeoutMs = 300 (exited after ${took.toFixed(0)} ms) [R24]`,
        ).toBeLessThan(6_000);
      }),
      30_000,
    );

    test(
      'ends by itself once shutdown has finished when exit does nothing (timeoutMs = 20000 holds nothing open) [R31]',
      withProcesses(async (processes) => {
        const { child } = await processes.start('idle-exit.ts');
        const [, code] = await child.line(/^shut down (\d+)$/, 10_000);
        expect(code, 'nothing in flight: shutdown() resolves to 0 [R23]').toBe('0');
        const finished = performance.now();
        const lingered = await child.exited(10_000).then(
          () => performance.now() - finished,
          () => Infinity,
        );
        expect(
          lingered,
          `with an exit that does nothing, the process must end on its own right after shutdown: the timeoutMs = 20000 timer must be cleared once shutdown has finished, never keep the process alive (lingered ${lingered} ms; Infinity: still running after 10000 ms) [R31]`,
        ).toBeLessThan(8_000);
      }),
      30_000,
    );
  });
});
