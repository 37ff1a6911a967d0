/**
 * Fastify apps under test, as Fastify's testing guide builds them: a fresh app per test, closed
 * after it whatever the outcome, and real sockets on the loopback interface only when a test
 * needs them (supertest's `request(app.server)` after `await app.ready()` needs none).
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { afterEach } from 'vitest';

/**
 * Call once per test file (or describe block): returns a factory of Fastify apps, each closed
 * after the test that built it. Logging is off unless `options.logger` says otherwise.
 */
export function useFastifyApps(): (options?: FastifyServerOptions) => FastifyInstance {
  const apps: FastifyInstance[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });
  return (options = {}) => {
    const app = Fastify({ logger: false, ...options });
    apps.push(app);
    return app;
  };
}

/** Listens on 127.0.0.1 at a free port and returns the base URL, e.g. `http://127.0.0.1:41234`. */
export async function listenOnLoopback(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') {
    throw new Error(`expected a TCP address, got ${String(address)}`);
  }
  return `http://127.0.0.1:${address.port}`;
}
