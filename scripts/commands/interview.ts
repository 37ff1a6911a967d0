/**
 * `kata interview [slug] [--minutes N]`: a timed mock coding round. Picks the first unsolved kata
 * (or the one named), prints its statement, starts the countdown and lets the learner grade, ask for
 * hints and check the time until they submit or time is up; then prints the result and appends it
 * to `.kata/interviews.json` (`interview --history`). It grades the learner's file as it is and
 * never changes it.
 */
import path from 'node:path';
import readline from 'node:readline';
import { Command, InvalidArgumentError } from 'commander';
import * as v from 'valibot';
import pc from '../lib/colour.ts';
import {
  currentResult,
  gradeNow,
  renderMarkdownFile,
  slugArgument,
  stagesLine,
} from '../lib/cli.ts';
import { availableKatas, requireKata, UsageError, type KataInfo } from '../lib/katas.ts';
import { KATAS_DIR, STATE_DIR, kataFile, shown } from '../lib/paths.ts';
import {
  KataStatusSchema,
  readResults,
  stagesPassed,
  Timestamp,
  type KataResult,
} from '../lib/results.ts';
import { readState, writeJsonAtomic } from '../lib/state.ts';
import { renderScoreboard, statusText } from '../lib/scoreboard.ts';
import { stopAllGraders } from '../lib/start-vitest.mjs';
import { nextHint } from './hint.ts';
import { nextKata } from './list.ts';

export const INTERVIEWS_FILE = path.join(STATE_DIR, 'interviews.json');

const count = v.pipe(v.number(), v.integer(), v.minValue(0));

const InterviewRoundSchema = v.object({
  date: Timestamp,
  slug: v.string(),
  minutes: v.pipe(v.number(), v.minValue(0)),
  timeUsedMs: v.pipe(v.number(), v.minValue(0)),
  endedBy: v.picklist(['submitted', 'time up']),
  status: KataStatusSchema,
  stagesPassed: count,
  stages: count,
  passed: count,
  total: count,
  hintsUsed: count,
  gradings: count,
});
export type InterviewRound = v.InferOutput<typeof InterviewRoundSchema>;

const InterviewsFileSchema = v.object({
  version: v.literal(1),
  rounds: v.array(InterviewRoundSchema),
});

interface InterviewOptions {
  minutes: number;
  history?: boolean;
}

export function interviewCommand(): Command {
  return new Command('interview')
    .description('a timed mock coding round on the next unsolved kata (or the one named)')
    .addArgument(slugArgument('slug', false))
    .option('--minutes <n>', 'length of the round in minutes', parseMinutes, 45)
    .option('--history', 'list your past rounds')
    .action(async (slug: string | undefined, options: InterviewOptions) => {
      if (options.history) {
        console.log(historyTable(readHistory()));
        return;
      }
      const kata = slug ? requireKata(slug) : pickKata();
      await runRound(kata, options.minutes);
    });
}

function parseMinutes(value: string): number {
  const minutes = Number(value);
  if (value.trim() === '' || !Number.isFinite(minutes) || minutes <= 0) {
    throw new InvalidArgumentError('give a positive number of minutes, e.g. 45 or 0.5.');
  }
  return minutes;
}

function pickKata(): KataInfo {
  const katas = availableKatas();
  const next = nextKata(katas, readResults());
  if (!next) {
    throw new UsageError(
      `every kata is solved: name one to practise again; choose one of: ${katas.map((kata) => kata.slug).join(', ')}`,
    );
  }
  return next;
}

/** Minutes left at which the round warns. */
const WARNINGS = [5, 1];
/** The longest a final grading may take once the round is over. */
const FINAL_GRADING_MS = 15_000;

const clock = (ms: number): string => {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  return `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
};

const HELP = [
  `  ${pc.cyan('grade')} (or Enter)  grade your file now`,
  `  ${pc.cyan('hint')}              the next hint for the stage you are on (counted in the result)`,
  `  ${pc.cyan('time')}              time left`,
  `  ${pc.cyan('submit')}            end the round now and see the result`,
  `  ${pc.cyan('help')}              this list`,
].join('\n');

async function runRound(kata: KataInfo, minutes: number): Promise<void> {
  const { slug } = kata;
  const lengthMs = minutes * 60_000;
  console.log(await renderMarkdownFile(path.join(KATAS_DIR, slug, 'README.md')));
  console.log(
    `\n${pc.bold(`Mock interview: ${kata.title}`)} ${pc.dim(`(${kata.difficulty})`)}, ${clock(lengthMs)} on the clock.`,
  );
  console.log(
    `Write your code in ${pc.cyan(shown(kataFile(slug)))} in your editor; the round grades it as it is and never changes it.`,
  );
  console.log(`Commands:\n${HELP}`);

  const started = Date.now();
  const deadline = started + lengthMs;
  let ending: InterviewRound['endedBy'] | undefined;
  let endedAt = deadline;
  let hintsUsed = 0;
  let gradings = 0;
  let last: KataResult | undefined;

  const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  const rl = readline.createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: interactive,
  });
  let abandoned = false;
  // Ctrl-C at a terminal reaches readline, not the process: stop any grading too.
  rl.on('SIGINT', () => {
    abandoned = true;
    stopAllGraders();
    rl.close();
  });
  const end = (how: InterviewRound['endedBy']): void => {
    if (ending) return;
    ending = how;
    endedAt = Math.min(Date.now(), deadline);
  };
  const prompt = (preserveCursor = false): void => {
    rl.setPrompt(`${pc.bold(clock(deadline - Date.now()))} left ${pc.dim('›')} `);
    rl.prompt(preserveCursor);
  };
  /** Prints a line above the prompt, and puts the prompt (with what was typed) back. */
  let busy = false;
  const say = (text: string): void => {
    if (interactive && !busy) {
      readline.clearLine(process.stdout, 0);
      readline.cursorTo(process.stdout, 0);
      console.log(text);
      prompt(true);
    } else {
      console.log(text);
    }
  };
  const timers: NodeJS.Timeout[] = [];
  // Unref'd: the round's end never keeps the process alive on its own.
  const later = (ms: number, action: () => void): void => {
    timers.push(setTimeout(action, ms).unref());
  };
  later(lengthMs, () => {
    if (ending) return;
    end('time up');
    if (interactive && !busy) readline.clearLine(process.stdout, 0);
    console.log(pc.yellow(`\nTime is up.`));
    rl.close();
  });
  for (const minutesLeft of WARNINGS) {
    const at = lengthMs - minutesLeft * 60_000;
    if (at <= 0) continue; // a round shorter than the warning: no warning
    later(at, () => {
      if (!ending) {
        say(pc.yellow(`${minutesLeft === 1 ? '1 minute' : `${minutesLeft} minutes`} left.`));
      }
    });
  }
  // At a terminal, the clock in the prompt moves, once a second, while the learner types.
  if (interactive) {
    const tick = setInterval(() => {
      if (!busy && !ending) prompt(true);
    }, 1000);
    tick.unref();
    timers.push(tick);
  }

  /** Grading during the round never outlasts the round. */
  const gradeInRound = async (): Promise<KataResult> => {
    busy = true;
    try {
      return await gradeNow(slug, false, { maxDurationMs: Math.max(1000, deadline - Date.now()) });
    } finally {
      busy = false;
    }
  };
  prompt();
  for await (const line of rl) {
    if (ending || abandoned) break;
    const command = line.trim().toLowerCase();
    if (command === '' || command === 'grade') {
      last = await gradeInRound();
      gradings += 1;
      if (abandoned) break;
      console.log(renderScoreboard([last], { detailed: false }));
    } else if (command === 'hint') {
      last = await currentResult(slug);
      const outcome = await nextHint(slug, last);
      if (outcome.helped) hintsUsed += 1;
      console.log(outcome.text);
    } else if (command === 'time') {
      console.log(`${clock(deadline - Date.now())} left of ${clock(lengthMs)}.`);
    } else if (command === 'submit') {
      end('submitted');
      break;
    } else if (command === 'help' || command === '?') {
      console.log(HELP);
    } else {
      console.log(pc.yellow(`unknown command "${command}": grade, hint, time, submit or help`));
    }
    if (ending) break;
    prompt();
  }
  for (const timer of timers) clearTimeout(timer);
  rl.close();
  if (abandoned && !ending) {
    console.log(pc.dim('\nRound abandoned: not recorded.'));
    process.exitCode = 130;
    return;
  }
  // Input closed (Ctrl-D, or the end of piped commands): the round is submitted as it stands.
  end('submitted');

  // The final grading is capped too: at the time left, or a short limit once time is up, so code
  // that loops cannot overrun the round by the whole grading time limit.
  const capMs = Math.max(deadline - Date.now(), FINAL_GRADING_MS);
  const cap = ending === 'time up' ? ` (at most ${Math.ceil(capMs / 1000)} s)` : '';
  console.log(pc.dim(`\nFinal grading${cap}…`));
  const final = await gradeNow(slug, true, { maxDurationMs: capMs });
  gradings += 1;
  const round: InterviewRound = {
    date: new Date(started).toISOString(),
    slug,
    minutes,
    timeUsedMs: endedAt - started,
    endedBy: ending ?? 'submitted',
    status: final.status,
    stagesPassed: stagesPassed(final),
    stages: final.stages.length,
    passed: final.passed,
    total: final.total,
    hintsUsed,
    gradings,
  };
  appendHistory(round);
  console.log(renderScoreboard([final], { detailed: false }));
  console.log(
    [
      '',
      pc.bold(`Round over (${round.endedBy}): ${slug}`),
      `  result       ${statusText(final.status)}`,
      `  stages       ${stagesLine(final)}`,
      `  time used    ${clock(round.timeUsedMs)} of ${clock(lengthMs)}`,
      `  hints used   ${hintsUsed}`,
      `  gradings     ${gradings}`,
      '',
      pc.dim(`Recorded in ${shown(INTERVIEWS_FILE)}: npm run kata -- interview --history`),
    ].join('\n'),
  );
}

/** Past rounds; a history file that cannot be used is backed up and a new history starts. */
export function readHistory(): InterviewRound[] {
  const data = readState(INTERVIEWS_FILE, InterviewsFileSchema, {
    instead: 'a new history starts',
  });
  return data?.rounds ?? [];
}

function appendHistory(round: InterviewRound): void {
  writeJsonAtomic(INTERVIEWS_FILE, { version: 1, rounds: [...readHistory(), round] });
}

function historyTable(rounds: InterviewRound[]): string {
  if (rounds.length === 0) {
    return `No interview rounds yet: ${pc.cyan('npm run kata -- interview')} starts one.`;
  }
  const width = Math.max(4, ...rounds.map((round) => round.slug.length));
  const lines = [
    pc.bold(
      `${'date'.padEnd(18)}${'kata'.padEnd(width + 2)}${'stages'.padEnd(8)}${'time used'.padEnd(15)}${'hints'.padEnd(7)}result`,
    ),
  ];
  for (const round of rounds) {
    const date = new Date(round.date);
    const pad = (n: number): string => String(n).padStart(2, '0');
    const when = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
    lines.push(
      `${when.padEnd(18)}${round.slug.padEnd(width + 2)}${`${round.stagesPassed}/${round.stages}`.padEnd(8)}` +
        `${`${clock(round.timeUsedMs)}/${clock(round.minutes * 60_000)}`.padEnd(15)}${String(round.hintsUsed).padEnd(7)}` +
        `${statusText(round.status)}${pc.dim(` (${round.endedBy})`)}`,
    );
  }
  return lines.join('\n');
}
