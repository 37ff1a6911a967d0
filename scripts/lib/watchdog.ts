/**
 * The grader's side of its lifeline. The process that starts a grading Vitest (start-vitest.mjs,
 * commands/watch.ts) hands it one end of a socket pair as the file descriptor in KATA_PARENT_FD and
 * keeps the other. When that process ends, however it ends (Ctrl-C, SIGKILL, a crash, a closed
 * terminal), its end closes and this one sees it: Vitest then kills its own process group, the test
 * workers included, even a worker stuck in `while (true) {}` that could never notice by itself.
 * Loaded by the grading reporters, which run in Vitest's main process.
 */
import { Socket } from 'node:net';

let channel: Socket | undefined;
let opened = false;

/** The lifeline to the process that started this Vitest, if there is one; opened once. */
export function parentChannel(): Socket | undefined {
  if (opened) return channel;
  opened = true;
  const fd = Number(process.env.KATA_PARENT_FD);
  if (!Number.isInteger(fd) || fd < 3) return undefined;
  try {
    channel = new Socket({ fd, readable: true, writable: true });
  } catch {
    return undefined; // not a socket we can use: grading goes on without a lifeline
  }
  channel.on('error', () => {});
  channel.on('close', () => {
    try {
      process.kill(-process.pid, 'SIGKILL'); // our process group: Vitest and its workers
    } catch {
      process.exit(1);
    }
  });
  channel.resume();
  channel.unref(); // the lifeline never keeps Vitest alive by itself
  return channel;
}
