/**
 * `npm test` starts here. Grading one kata (`npm test -- token-bucket`) is the learner's loop, so
 * its Vitest process is started at once, and TypeScript support and the grading script load while
 * it runs. Everything else, and every other way of calling `npm test`, is scripts/grade.ts.
 */
import { existsSync } from 'node:fs';
import { startEarly } from './lib/start-vitest.mjs';

const args = process.argv.slice(2);
const [slug] = args;
const inRepo = (/** @type {string} */ file) => existsSync(new URL(`../${file}`, import.meta.url));
if (
  args.length === 1 &&
  slug &&
  /^[a-z0-9-]+$/.test(slug) &&
  inRepo(`katas/${slug}/index.ts`) &&
  inRepo(`graders/${slug}`)
) {
  startEarly({ slug, target: 'katas' });
}

const { register } = await import('tsx/esm/api');
register();
await import('./grade.ts');
