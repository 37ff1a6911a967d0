import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '@kata/graceful-shutdown';
import { startNode, type Child } from '../support/child-process.ts';
import { within } from '../support/deadline.ts';
import { kataModulePath, REPO_ROOT } from '../support/target.ts';
import { get } from './harness.ts';

const children: Child[] = [];
const folders: string[] = [];
const agents: http.Agent[] = [];

afterEach(async () => {
  for (const agent of agents.splice(0)) agent.destroy();
  await Promise.all(children.splice(0).map((child) => child.kill()));
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/**
 * Runs the given katas/graceful-shutdown/server.ts against the implementation under test (the
 * learner's, the reference or a mutant): a temporary copy beside an index.ts that re-exports it.
 */
async function startScript(
  script: string,
  env: Record<string, string> = {},
): Promise<{ child: Child; port: number }> {
  // In process first, so an unimplemented createApp fails here with its own error.
  const probe = createApp({ signals: [], exit: () => undefined, log: () => undefined });
  await within(probe.app.close(), 2_000, 'app.close() on an app that never listened');

  const tmpRoot = path.join(REPO_ROOT, '.kata', 'tmp');
  mkdirSync(tmpRoot, { recursive: true });
  const folder = mkdtempSync(path.join(tmpRoot, 'graceful-shutdown-'));
  folders.push(folder);
  copyFileSync(
    path.join(REPO_ROOT, 'katas', 'graceful-shutdown', 'server.ts'),
    path.join(folder, 'server.ts'),
  );
  writeFileSync(path.join(folder, 'idle-exit.ts'), IDLE_EXIT_SCRIPT);
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
  const [, port] = await child.line(/^listening (\d+)$/, 8_000);
  return { child, port: Number(port) };
}

/** Runs the given server.ts (the one the learner runs) against the implementation under test. */
const startServer = (env: Record<string, string>) => startScript('server.ts', env);

/**
 * A process whose `exit` does nothing: once shutdown has finished, only what the implementation
 * left behind (a timer, a handle) can keep it alive.
 */
const IDLE_EXIT_SCRIPT = `import { createApp } from './index.ts';
const { app, shutdown } = createApp({ timeoutMs: 4000, signals: [], exit: () => {}, log: () => {} });
await app.listen({ host: '127.0.0.1', port: 0 });
console.log('listening 0');
const code = await shutdown('test');
console.log('shut down ' + code);
`;

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
  it('answers all 50 requests in flight with 200 on SIGTERM and exits with code 0', async () => {
    const { child, port } = await startServer({
      SHUTDOWN_TIMEOUT_MS: '4000',
      DRAIN_DELAY_MS: '200',
    });
    expect((await get(port, '/readyz')).status, 'the server is ready before the signal').toBe(200);
    const agent = new http.Agent({ keepAlive: true });
    agents.push(agent);
    const started = Array.from({ length: 50 }, () => startRequest(port, '/work?ms=300', agent));
    await connected(
      started.map((s) => s.request),
      3_000,
    );
    child.process.kill('SIGTERM');
    const statuses = await within(
      Promise.all(started.map((s) => s.status)),
      4_000,
      'all 50 requests to be answered within 4000 ms of SIGTERM',
    );
    expect(
      statuses.filter((status) => status !== 200),
      'every one of the 50 GET /work?ms=300 in flight at SIGTERM must get 200 (listed: the ones that did not)',
    ).toEqual([]);
    const how = await child.exited(3_000);
    expect(
      how,
      `after SIGTERM with nothing failing the process exits by itself with code 0; stderr:\n${child.stderr()}`,
    ).toEqual({ code: 0, signal: null });
  }, 15_000);

  it('exits with code 1 close to SHUTDOWN_TIMEOUT_MS = 400 when a request hangs past it', async () => {
    const { child, port } = await startServer({
      SHUTDOWN_TIMEOUT_MS: '400',
      DRAIN_DELAY_MS: '200',
    });
    const agent = new http.Agent({ keepAlive: true });
    agents.push(agent);
    const hung = startRequest(port, '/work?ms=10000', agent);
    await connected([hung.request], 3_000);
    const begun = performance.now();
    child.process.kill('SIGTERM');
    const how = await child.exited(4_000);
    const took = performance.now() - begun;
    expect(
      how,
      `a request still running at SHUTDOWN_TIMEOUT_MS = 400 means exit code 1 (not killed by the signal); stderr:\n${child.stderr()}`,
    ).toEqual({ code: 1, signal: null });
    expect(
      took,
      'the process must not exit before SHUTDOWN_TIMEOUT_MS = 400',
    ).toBeGreaterThanOrEqual(380);
    expect(
      took,
      'the process must exit soon after SHUTDOWN_TIMEOUT_MS = 400, not wait for GET /work?ms=10000',
    ).toBeLessThan(1_900);
    void hung.status;
  }, 15_000);

  it('ends by itself once shutdown has finished when exit does nothing (timeoutMs = 4000 holds nothing open)', async () => {
    const { child } = await startScript('idle-exit.ts');
    const [, code] = await child.line(/^shut down (\d+)$/, 4_000);
    expect(code, 'nothing in flight: shutdown() resolves to 0').toBe('0');
    const finished = performance.now();
    const lingered = await child.exited(3_500).then(
      () => performance.now() - finished,
      () => Infinity,
    );
    expect(
      lingered,
      'with an exit that does nothing, the process must end on its own right after shutdown: the timeoutMs = 4000 timer must be cleared or unref()ed, never keep it alive (Infinity: still running after 3500 ms)',
    ).toBeLessThan(1_500);
  }, 15_000);
});
