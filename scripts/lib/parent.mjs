/**
 * Noticing that whoever started us is gone. `npm test` runs our script as `sh -c "node …"` under
 * npm; when npm is killed outright (SIGKILL, the out-of-memory killer), nothing is passed on and the
 * shell and our process live on, orphaned. So we watch our parent and, when it is npm's script
 * shell, the process above it too, and call back once either is gone. Plain JavaScript, for
 * scripts/lib/start-vitest.mjs.
 */
import { readFileSync } from 'node:fs';

/** Our parent, and above it, when the parent is only the shell npm runs scripts with. */
function watchedAncestors() {
  const parent = process.ppid;
  const ancestors = [parent];
  try {
    const comm = readFileSync(`/proc/${parent}/comm`, 'utf8').trim();
    if (['sh', 'dash', 'bash'].includes(comm)) {
      const stat = readFileSync(`/proc/${parent}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces, inside parentheses): state, ppid, …
      const grandparent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (Number.isInteger(grandparent) && grandparent > 1) ancestors.push(grandparent);
    }
  } catch {
    // No /proc (not Linux): the parent alone is watched.
  }
  return ancestors;
}

/** @param {number} pid */
function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return /** @type {NodeJS.ErrnoException} */ (error).code === 'EPERM';
  }
}

/**
 * Calls `gone` (once) when our parent, or npm above its script shell, has ended. Polls twice a
 * second on a timer that never keeps the process alive; returns a function that stops watching.
 * @param {() => void} gone
 * @returns {() => void}
 */
export function whenParentGone(gone) {
  const parent = process.ppid;
  const ancestors = watchedAncestors();
  const timer = setInterval(() => {
    if (process.ppid !== parent || !ancestors.every(isAlive)) {
      clearInterval(timer);
      gone();
    }
  }, 500);
  timer.unref();
  return () => clearInterval(timer);
}
