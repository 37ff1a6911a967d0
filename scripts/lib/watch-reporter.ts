/**
 * The Vitest reporter behind `kata watch <slug>`. It runs inside Vitest's watch mode, collects the
 * same grading events as scripts/lib/reporter.ts, but in memory, for each run; turns them into a
 * KataResult (resultFromEvents), records results and progress, and redraws the kata's scoreboard
 * row and first failure. Configured through KATA_WATCH_SLUG, KATA_TIMEOUT_MS and KATA_PARENT_FD,
 * set by scripts/commands/watch.ts.
 */
import path from 'node:path';
import pc, { pcErr } from './colour.ts';
import type { SerializedError } from 'vitest';
import type { TestModule, TestRunEndReason } from 'vitest/node';
import { kataFile, shown } from './paths.ts';
import { recordGrading } from './progress.ts';
import { GradingReporter, type GradingEvent } from './reporter.ts';
import { parentChannel } from './watchdog.ts';
import type { KataResult } from './results.ts';
import { resultFromEvents, timeoutFromEnv } from './run-grader.ts';
import { renderScoreboard } from './scoreboard.ts';

const root = process.cwd();

/**
 * The line to `kata watch` (scripts/lib/watchdog.ts): it hears when a run starts and ends, so it can
 * say when a run outlasts the time limit and restart a grader stuck in a loop. If `kata watch` goes
 * away, however it ends, this Vitest goes too, test workers included.
 */
const channel = parentChannel();

function signal(what: 'start' | 'end'): void {
  channel?.write(`${what}\n`);
}

export default class WatchReporter extends GradingReporter {
  private readonly slug = process.env.KATA_WATCH_SLUG ?? '';
  private readonly timeoutMs = timeoutFromEnv();
  private events: GradingEvent[] = [];
  private started = performance.now();
  private runs = 0;

  /** Each run's events stay in memory, to be turned into a result when the run ends. */
  protected override emit(event: GradingEvent): void {
    this.events.push(event);
  }

  override onTestRunStart(): void {
    this.events = [];
    this.started = performance.now();
    signal('start');
  }

  onWatcherRerun(_files: string[], trigger?: string): void {
    const what = trigger ? shown(path.resolve(root, trigger)) : 'a change';
    console.log(pc.dim(`\n${what} changed: grading…`));
  }

  override onTestRunEnd(
    _modules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<SerializedError>,
    reason: TestRunEndReason,
  ): void {
    signal('end');
    super.onTestRunEnd(_modules, unhandledErrors, reason);
    const result = resultFromEvents(this.slug, this.events, {
      timedOut: false,
      timeoutMs: this.timeoutMs,
      stderr: '',
      exitCode: reason === 'passed' ? 0 : 1,
      durationMs: performance.now() - this.started,
    });
    this.runs += 1;
    try {
      recordGrading([result]);
    } catch (error) {
      console.error(pcErr.dim(`note: could not record this run: ${String(error)}`));
    }
    this.draw(result);
  }

  private draw(result: KataResult): void {
    if (process.stdout.isTTY) console.clear();
    else console.log(pc.dim('─'.repeat(60)));
    const time = new Date().toLocaleTimeString();
    console.log(
      pc.dim(
        `watch ${this.slug}: run ${this.runs} at ${time}, ${(result.durationMs / 1000).toFixed(1)} s`,
      ),
    );
    console.log(renderScoreboard([result], { detailed: false }));
    if (result.status === 'solved') {
      console.log(
        `\n${pc.green(pc.bold('Solved!'))} Compare with the reference: ${pc.cyan(`npm run solution -- ${this.slug}`)}`,
      );
    }
    console.log(pc.dim(`\nwaiting for changes to ${shown(kataFile(this.slug))} (Ctrl-C to stop)`));
  }
}
