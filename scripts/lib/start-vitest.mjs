/**
 * Starts the Vitest process that grades one kata. Plain JavaScript, so that `npm test -- <slug>`
 * can start it before TypeScript support has even loaded (scripts/test.mjs); every other grading
 * run (scripts/lib/run-grader.ts) starts through it too, so there is one way to start a grader.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { whenParentGone } from './parent.mjs';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const VITEST = path.join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const REPORTER = path.join(REPO_ROOT, 'scripts', 'lib', 'reporter.ts');
const CONFIG = path.join(REPO_ROOT, 'scripts', 'lib', 'grading.config.ts');

/**
 * Katas whose test files mostly wait (on real processes, sockets and timers) rather than compute,
 * and cannot disturb each other (each file its own ports and processes): their files run in
 * parallel, two at a time. graceful-shutdown spends most of its grading in one file of real
 * processes; the others now run beside it.
 * @type {Record<string, number>}
 */
const WORKERS = { 'graceful-shutdown': 2 };

/**
 * @typedef {object} VitestRunOptions
 * @property {string} slug the kata whose graders run (`graders/<slug>/`)
 * @property {string} target `katas`, `solutions`, or a folder holding `<slug>/index.ts` (KATA_TARGET)
 * @property {boolean} [bail] stop at the first failing test
 * @property {string} [junitFile] also write Vitest's JUnit XML report here
 * @property {boolean} [listOnly] run no test, only list them (scripts/lib/test-list.ts)
 */

/**
 * @typedef {object} StartedVitest
 * @property {string} key which run this is (see {@link runKey})
 * @property {import('node:child_process').ChildProcess} child the Vitest process, leader of its own process group
 * @property {string} scratch a temporary folder of this run's, for the caller to remove
 * @property {string} reportFile where the grading events are written, one JSON object per line
 * @property {number} startedAt `performance.now()` when it was started
 * @property {Promise<number | null>} exited resolves to the exit code once the process has ended
 * @property {() => string} stderr what Vitest wrote to stderr (the first 100 kB)
 * @property {() => void} kill kills the whole process group, test workers included
 */

/** @param {VitestRunOptions} options */
export const runKey = (options) =>
  JSON.stringify([
    options.slug,
    options.target,
    Boolean(options.bail),
    options.junitFile ?? null,
    Boolean(options.listOnly),
  ]);

/**
 * Spawns Vitest on `graders/<slug>/` with the grading reporter, in a process group of its own so
 * that a time-out can kill it whole. Listens for its output and exit from the first moment.
 * @param {VitestRunOptions} options
 * @returns {StartedVitest}
 */
export function startVitest(options) {
  const scratch = mkdtempSync(path.join(os.tmpdir(), `kata-${options.slug}-`));
  const reportFile = path.join(scratch, 'events.jsonl');
  // One worker runs the kata's test files one after another: grading several katas at once already
  // fills the cores, and one worker starts faster than one per file. Graders never share state
  // between files, so they need no fresh module registry each (--no-isolate).
  const args = [
    VITEST,
    'run',
    `graders/${options.slug}/`,
    `--config=${CONFIG}`,
    `--reporter=${REPORTER}`,
    `--maxWorkers=${WORKERS[options.slug] ?? 1}`,
    '--no-isolate',
  ];
  if (options.bail) args.push('--bail=1');
  // A name no test has: every file is collected and reported, and no test runs.
  if (options.listOnly) args.push('--testNamePattern=^(?!)', '--passWithNoTests');
  if (options.junitFile) args.push('--reporter=junit', `--outputFile.junit=${options.junitFile}`);
  // Plain text from Vitest: messages are stored in results and recoloured when shown.
  const env = {
    ...process.env,
    KATA_TARGET: options.target,
    KATA_REPORT_FILE: reportFile,
    KATA_PARENT_FD: '3',
    NO_COLOR: '1',
  };
  const startedAt = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env,
    detached: true,
    // fd 3 is the grader's lifeline (scripts/lib/watchdog.ts): when this process ends, however it
    // ends, even by SIGKILL, the Vitest process sees it close and takes its process group down.
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });

  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (/** @type {string} */ chunk) => {
    if (stderr.length < 100_000) stderr += chunk;
  });
  const kill = () => killGroup(child.pid);
  live.add(kill);
  guardWhileLive();
  /** @type {Promise<number | null>} */
  const exited = new Promise((resolve, reject) => {
    child.on('error', (error) => {
      live.delete(kill);
      reject(error);
    });
    child.on('close', (code) => {
      live.delete(kill);
      releaseWhenIdle();
      resolve(code);
    });
  });
  return {
    key: runKey(options),
    child,
    scratch,
    reportFile,
    startedAt,
    exited,
    stderr: () => stderr,
    kill,
  };
}

/** @param {number | undefined} pid */
function killGroup(pid) {
  try {
    if (pid !== undefined) process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/**
 * Every grader still running, by its kill function. While there is one, this process makes sure it
 * never outlives us: on exit (including an uncaught exception), on SIGINT, SIGTERM and SIGHUP
 * (Ctrl-C, `kill`, a closed terminal: Vitest sits in its own process group, so none of these reach
 * it directly), and when our own parent dies (npm killed: we are re-parented, and stop).
 * @type {Set<() => void>}
 */
const live = new Set();
const SIGNALS = /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP']);
/** @type {(() => void) | undefined} */
let stopWatchingParent;

const killAll = () => {
  for (const kill of live) kill();
  live.clear();
};

/** @param {NodeJS.Signals} signal */
function onSignal(signal) {
  killAll();
  release();
  // Die of the same signal, as a process without this handler would: the shell and npm see it.
  process.kill(process.pid, signal);
}

function guardWhileLive() {
  if (stopWatchingParent) return;
  process.on('exit', killAll);
  for (const signal of SIGNALS) process.on(signal, onSignal);
  stopWatchingParent = whenParentGone(() => {
    killAll();
    process.exit(129); // as if the terminal had hung up
  });
}

function release() {
  if (!stopWatchingParent) return;
  stopWatchingParent();
  stopWatchingParent = undefined;
  process.removeListener('exit', killAll);
  for (const signal of SIGNALS) process.removeListener(signal, onSignal);
}

function releaseWhenIdle() {
  if (live.size === 0) release();
}

/** Stops every grader this process started: for callers that end a run early (an interview's Ctrl-C). */
export function stopAllGraders() {
  killAll();
  release();
}

/** @type {StartedVitest | undefined} */
let early;

/**
 * Starts grading `options` now, to be claimed later by {@link claimEarlyStart}.
 * @param {VitestRunOptions} options
 */
export function startEarly(options) {
  early = startVitest(options);
}

/**
 * The run {@link startEarly} began, if it is the one `options` asks for; each is claimed once.
 * @param {VitestRunOptions} options
 * @returns {StartedVitest | undefined}
 */
export function claimEarlyStart(options) {
  if (early === undefined || early.key !== runKey(options)) return undefined;
  const claimed = early;
  early = undefined;
  return claimed;
}
