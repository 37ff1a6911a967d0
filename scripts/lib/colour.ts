/**
 * Whether the learner's tools colour their output, decided once per stream by the usual rule
 * (no-color.org, and what picocolors, chalk and Node's util.styleText agree on), with one change:
 * a CI variable alone never turns colour on, so `CI=1 npm test > file` writes plain text.
 *
 * 1. `NO_COLOR` set to anything but the empty string: no colour, whatever else is set.
 * 2. `FORCE_COLOR`: colour, unless it is `0` or `false`.
 * 3. `GITHUB_ACTIONS=true`: colour, because the Actions log renders it.
 * 4. Otherwise colour only when the stream is a terminal (and TERM is not `dumb`).
 */
import { createColors } from 'picocolors';

type Stream = { isTTY?: boolean };

export function colourWanted(stream: Stream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  if (env.GITHUB_ACTIONS === 'true') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

/** Colours for standard output. */
const pc = createColors(colourWanted(process.stdout));
export default pc;

/** Colours for standard error, which may be a terminal while standard output is redirected. */
export const pcErr = createColors(colourWanted(process.stderr));
