/**
 * The catalog: every kata in recommended order, with what the learner's tools show about it.
 * Adding a kata means adding its folders and one entry here. An entry whose grader folder does not
 * exist yet is left out of every tool (`availableKatas`), so a kata can be listed before it lands.
 */
import { existsSync } from 'node:fs';
import { GRADERS_DIR } from './paths.ts';
import path from 'node:path';

const graderDir = (slug: string): string => path.join(GRADERS_DIR, slug);

export interface KataInfo {
  slug: string;
  title: string;
  difficulty: 'warm-up' | 'medium' | 'hard';
}

export const CATALOG: readonly KataInfo[] = [
  { slug: 'lru-ttl-cache', title: 'LRU cache with time-to-live', difficulty: 'warm-up' },
  { slug: 'promise-pool', title: 'Concurrency-limited promise pool', difficulty: 'warm-up' },
  { slug: 'retry-backoff', title: 'Retry with exponential backoff', difficulty: 'medium' },
  { slug: 'token-bucket', title: 'Token-bucket rate limiter', difficulty: 'medium' },
  { slug: 'sliding-window', title: 'Sliding-window rate limiters', difficulty: 'medium' },
  { slug: 'circuit-breaker', title: 'Circuit breaker', difficulty: 'medium' },
  { slug: 'pub-sub', title: 'In-memory publish/subscribe', difficulty: 'medium' },
  {
    slug: 'message-queue',
    title: 'In-memory message queue with acknowledgements',
    difficulty: 'hard',
  },
  { slug: 'webhook-receiver', title: 'Signed webhook receiver', difficulty: 'medium' },
  { slug: 'streaming-csv', title: 'Streaming CSV parser', difficulty: 'hard' },
  { slug: 'chunked-upload', title: 'Resumable chunked upload', difficulty: 'hard' },
  { slug: 'graceful-shutdown', title: 'Graceful shutdown of a Fastify server', difficulty: 'hard' },
];

/**
 * Katas present in this checkout, in recommended order: in the catalog, with a grader. The
 * learner's file may be missing (deleted by mistake): the kata is still there, grading says the
 * file is missing, and `reset` brings the stub back.
 */
export function availableKatas(): KataInfo[] {
  return CATALOG.filter((kata) => existsSync(graderDir(kata.slug)));
}

/** The kata named `slug`, or an error that lists the valid slugs. */
export function requireKata(slug: string): KataInfo {
  const katas = availableKatas();
  const kata = katas.find((candidate) => candidate.slug === slug);
  if (!kata) {
    throw new UsageError(
      `unknown kata "${slug}"; choose one of: ${katas.map((k) => k.slug).join(', ')}`,
    );
  }
  return kata;
}

/** A mistake in how a command was called: reported in one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
