/**
 * Alternative references: besides `solutions/<slug>/index.ts`, a kata may ship other complete
 * implementations of its contract (`solutions/lru-ttl-cache/slots.ts`, say: the same cache with
 * the memory layout a production library uses). Each must pass the whole grader, which verify
 * checks by copying it to where `KATA_TARGET` can point at it, as mutants are.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { SOLUTIONS_DIR, STATE_DIR } from './paths.ts';

export interface Alternative {
  slug: string;
  /** The file's name without `.ts`. */
  name: string;
  file: string;
}

/** Every `.ts` file of `solutions/<slug>/` other than `index.ts`, by name. */
export function listAlternatives(slug: string): Alternative[] {
  const dir = path.join(SOLUTIONS_DIR, slug);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith('.ts') && file !== 'index.ts')
    .sort()
    .map((file) => ({ slug, name: file.slice(0, -'.ts'.length), file: path.join(dir, file) }));
}

/** Copies the alternative to a target root holding `<slug>/index.ts`, and returns that root. */
export function materializeAlternative(
  { slug, name, file }: Alternative,
  root = path.join(STATE_DIR, 'alternatives', slug, name),
): string {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(path.join(root, slug), { recursive: true });
  copyFileSync(file, path.join(root, slug, 'index.ts'));
  return root;
}
