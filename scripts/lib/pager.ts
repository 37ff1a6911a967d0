/**
 * Long output (a kata's README, a reference with its notes and diff: 200 to 600 lines) goes
 * through the learner's pager when standard output is a terminal, as git does: `$PAGER`, else
 * `less`. Piped or redirected output, or text that fits on the screen, is printed as it is.
 */
import { spawn } from 'node:child_process';

/** Prints `text`, through the pager when it is longer than the terminal. */
export async function page(text: string): Promise<void> {
  const rows = process.stdout.rows || 24;
  const pager = process.env.PAGER ?? 'less';
  const lines = text.split('\n').length;
  if (!process.stdout.isTTY || lines < rows || pager.trim() === '' || pager.trim() === 'cat') {
    console.log(text);
    return;
  }
  // less: -R shows our colours, -F quits at once when the text fits after all, -X leaves the text
  // on the screen after quitting. Only when the learner has not chosen their own LESS options.
  const env = { ...process.env, LESS: process.env.LESS ?? 'FRX', LV: process.env.LV ?? '-c' };
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(pager, { shell: true, stdio: ['pipe', 'inherit', 'inherit'], env });
    child.on('error', () => resolve(127));
    child.on('close', resolve);
    child.stdin.on('error', () => {}); // the learner quit before reading it all: fine
    child.stdin.end(`${text}\n`);
    // While the pager runs, Ctrl-C is the pager's (less stays open); we wait for it to exit.
    process.on('SIGINT', ignore);
  });
  process.removeListener('SIGINT', ignore);
  // No such pager (the shell's "not found"): print it here instead.
  if (code === 127) console.log(text);
}

const ignore = (): void => {};
