/**
 * `npm run verify [-- <slug>...]`: the repository's own check, what CI runs. For every kata: the
 * reference passes every grader test (and so does every alternative reference beside it), the stub
 * fails them all with NotImplementedError, every mutant fails at least one, and the kata's files
 * are complete. Then types, lint and format.
 * Prints a table per kata and exits non-zero naming every shortfall.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import pc from './lib/colour.ts';
import { availableKatas, requireKata, UsageError, type KataInfo } from './lib/katas.ts';
import { listMutants, materializeMutant, type Mutant } from './lib/mutants.ts';
import { listAlternatives, materializeAlternative, type Alternative } from './lib/alternatives.ts';
import {
  GRADERS_DIR,
  KATAS_DIR,
  REPO_ROOT,
  SOLUTIONS_DIR,
  STATE_DIR,
  kataFile,
  shown,
  solutionFile,
} from './lib/paths.ts';
import { firstFailure, type KataResult } from './lib/results.ts';
import { gradeTargets, type Target } from './lib/verify/run.ts';
import { readHints } from './lib/hints.ts';
import { checkLedger, readReadme, type Ledger } from './lib/ledger.ts';

/** KATA_STANDARD.md: at least eight realistic wrong implementations per kata. */
const MIN_MUTANTS = 8;
/** A run is stopped, and what was running reported hung, after this long with nothing happening. */
const REFERENCE_HANG_MS = 60_000;
const MUTANT_HANG_MS = 20_000;
const VERIFY_DIR = path.join(STATE_DIR, 'verify');

interface KataReport {
  kata: KataInfo;
  /** Checks that passed, counted for the closing "N passed, N failed" line. */
  passed: number;
  reference?: KataResult;
  /** Other complete implementations in `solutions/<slug>/`: each must pass like the reference. */
  alternatives: Array<{ alternative: Alternative; result?: KataResult }>;
  stub?: KataResult;
  mutants: Array<{ mutant: Mutant; result?: KataResult; error?: string }>;
  /** The rules ledger, once the reference and the mutants are graded. */
  ledger?: Ledger;
  shortfalls: string[];
}

const program = new Command('npm run verify --')
  .description(
    'Check the repository: references pass, stubs and mutants fail, files complete, types, lint, format',
  )
  .argument('[slugs...]', 'katas to check (default: all)')
  .option('--no-static', 'skip tsc, ESLint and Prettier')
  .action(async (slugs: string[], options: { static: boolean }) => {
    const started = performance.now();
    const katas = slugs.length > 0 ? slugs.map(requireKata) : availableKatas();
    const reports = katas.map((kata): KataReport => {
      const fileShortfalls = checkFiles(kata.slug);
      return {
        kata,
        passed: fileShortfalls.length === 0 ? 1 : 0,
        alternatives: [],
        mutants: [],
        shortfalls: fileShortfalls,
      };
    });
    const shortfalls: string[] = [];
    shortfalls.push(...checkCatalog());

    await gradeEverything(reports);

    for (const report of reports) judge(report);
    printTable(reports);
    for (const report of reports)
      shortfalls.push(...report.shortfalls.map((text) => `${report.kata.slug}: ${text}`));
    if (unattributedErrors.length > 0)
      shortfalls.push(
        `an error escaped the references' tests, and no test could be named for it:\n${unattributedErrors.join('\n')}`,
      );

    let passed = reports.reduce((sum, report) => sum + report.passed, 0);
    const steps = [
      ...(slugs.length === 0 ? runRepositoryTests() : []),
      ...(options.static ? runStaticChecks() : []),
    ];
    for (const step of steps) {
      if (step === undefined) passed += 1;
      else shortfalls.push(step);
    }

    const seconds = ((performance.now() - started) / 1000).toFixed(0);
    if (shortfalls.length > 0) {
      console.log(
        pc.red(
          pc.bold(
            `\nverify failed (${seconds} s): ${shortfalls.length} shortfall${shortfalls.length === 1 ? '' : 's'}`,
          ),
        ),
      );
      for (const text of shortfalls) console.log(`${pc.red('✘')} ${text.replace(/\n/g, '\n    ')}`);
      process.exitCode = 1;
    } else {
      console.log(pc.green(pc.bold(`\nverify passed (${seconds} s)`)));
    }
    // The plain closing line CI reads: every check counted once.
    console.log(`verify: ${passed} passed, ${shortfalls.length} failed`);
  });

/**
 * Grades every target of every kata: first the references, their alternatives and the stubs as
 * committed, in one Vitest run; then every mutant, in another (a mutant that leaks a timer or a
 * rejection can only spoil other mutants' verdicts, never a reference's). Generated files go to
 * `.kata/verify/`, removed afterwards.
 */
async function gradeEverything(reports: KataReport[]): Promise<void> {
  rmSync(VERIFY_DIR, { recursive: true, force: true });
  const targetsDir = path.join(VERIFY_DIR, 'targets');
  const clean: Target[] = [];
  const mutantTargets: Target[] = [];
  const onResult = new Map<string, (result: KataResult) => void>();
  for (const report of reports) {
    const { slug } = report.kata;
    clean.push({ id: `${slug}~reference`, slug, root: SOLUTIONS_DIR, bail: false });
    onResult.set(`${slug}~reference`, (result) => (report.reference = result));
    for (const alternative of listAlternatives(slug)) {
      const entry: KataReport['alternatives'][number] = { alternative };
      report.alternatives.push(entry);
      const id = `${slug}~alternative~${alternative.name}`;
      clean.push({
        id,
        slug,
        root: materializeAlternative(alternative, path.join(targetsDir, id)),
        bail: false,
      });
      onResult.set(id, (result) => (entry.result = result));
    }
    clean.push({
      id: `${slug}~stub`,
      slug,
      root: materializeCommittedStub(slug, path.join(targetsDir, 'stubs')),
      bail: false,
    });
    onResult.set(`${slug}~stub`, (result) => (report.stub = result));
    let mutants: Mutant[] = [];
    try {
      mutants = listMutants(slug);
    } catch (error) {
      report.shortfalls.push(messageOf(error));
    }
    for (const mutant of mutants) {
      const entry: KataReport['mutants'][number] = { mutant };
      report.mutants.push(entry);
      const id = `${slug}~mutant~${mutant.name}`;
      try {
        mutantTargets.push({
          id,
          slug,
          root: materializeMutant(mutant, path.join(targetsDir, id)),
          bail: true,
        });
        onResult.set(id, (result) => (entry.result = result));
      } catch (error) {
        entry.error = messageOf(error);
      }
    }
  }

  const total = clean.length + mutantTargets.length;
  const progress = (offset: number) => (finished: number) => {
    if (process.stdout.isTTY)
      process.stdout.write(`\r${pc.dim(`graded ${offset + finished}/${total}`)}`);
  };
  const workers = Math.max(1, os.availableParallelism());
  const runs = [
    { name: 'references and stubs', targets: clean, hangMs: REFERENCE_HANG_MS, offset: 0 },
    { name: 'mutants', targets: mutantTargets, hangMs: MUTANT_HANG_MS, offset: clean.length },
  ];
  try {
    for (const run of runs) {
      if (run.targets.length === 0) continue;
      const outcome = await gradeTargets(run.targets, {
        dir: path.join(VERIFY_DIR, run.name.replace(/\W+/g, '-')),
        hangMs: run.hangMs,
        workers,
        onProgress: progress(run.offset),
      });
      for (const [id, result] of outcome.results) onResult.get(id)?.(result);
      if (run.targets === clean && outcome.unattributed.length > 0) {
        unattributedErrors.push(
          ...outcome.unattributed.map((error) => `${error.name}: ${error.message}`),
        );
      }
    }
  } finally {
    if (process.stdout.isTTY) process.stdout.write('\r\x1b[K');
    rmSync(VERIFY_DIR, { recursive: true, force: true });
  }
}

/** Errors that escaped the references' tests without Vitest saying which test they came from. */
const unattributedErrors: string[] = [];

/**
 * The stub as committed (`git show HEAD:katas/<slug>/index.ts`, and the NotImplementedError it
 * imports), so that a learner's own code in `katas/` never makes verify fail; the working copy
 * where there is no git history. Returns the target root holding `<slug>/index.ts`.
 */
function materializeCommittedStub(slug: string, root: string): string {
  for (const file of [`katas/${slug}/index.ts`, 'katas/not-implemented.ts']) {
    const destination = path.join(root, path.relative('katas', file));
    mkdirSync(path.dirname(destination), { recursive: true });
    writeFileSync(destination, committed(file) ?? readFileSync(path.join(REPO_ROOT, file), 'utf8'));
  }
  return root;
}

/** A file's text at git HEAD, or undefined outside git or for an untracked file. */
function committed(file: string): string | undefined {
  try {
    return execFileSync('git', ['show', `HEAD:${file}`], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return undefined;
  }
}

/** Turns each kata's grading results into shortfalls, counting the checks that passed. */
function judge(report: KataReport): void {
  const checks = [
    judgeReference(report),
    ...report.alternatives.map(judgeAlternative),
    judgeStub(report),
    report.mutants.length < MIN_MUTANTS
      ? [`${report.mutants.length} mutants; a kata needs at least ${MIN_MUTANTS}`]
      : [],
    ...report.mutants.map(judgeMutant),
    judgeHints(report),
    judgeLedger(report),
  ];
  for (const found of checks) {
    if (found.length === 0) report.passed += 1;
    else report.shortfalls.push(...found);
  }
}

function judgeReference({ reference }: KataReport): string[] {
  const shortfalls: string[] = [];
  if (reference && reference.status !== 'solved') {
    const first = firstFailure(reference);
    shortfalls.push(
      `the reference does not pass its grader (${reference.status}, ${reference.passed}/${reference.total})` +
        (reference.problem ? `\n${reference.problem}` : '') +
        (first
          ? `\nfirst failure: stage ${first.stage.number} › ${first.test.name}: ${first.test.failure?.message ?? ''}`
          : ''),
    );
  }
  if (reference && reference.total === 0) shortfalls.push('the grader has no tests');
  if (reference) {
    const loose = reference.stages.filter((stage) => stage.number === 0);
    if (loose.length > 0)
      shortfalls.push(
        `tests outside a "stage N: ..." describe block: ${loose.map((s) => s.title).join(', ')}`,
      );
  }
  return shortfalls;
}

function judgeAlternative({ alternative, result }: KataReport['alternatives'][number]): string[] {
  if (!result || result.status === 'solved') return [];
  const first = firstFailure(result);
  return [
    `the alternative reference ${shown(alternative.file)} does not pass the grader (${result.status}, ${result.passed}/${result.total})` +
      (result.problem ? `\n${result.problem}` : '') +
      (first
        ? `\nfirst failure: stage ${first.stage.number} › ${first.test.name}: ${first.test.failure?.message ?? ''}`
        : ''),
  ];
}

function judgeStub({ kata, stub }: KataReport): string[] {
  const shortfalls: string[] = [];
  if (stub && stub.status !== 'not-started') {
    const passing = stub.stages.flatMap((stage) =>
      stage.tests.filter((test) => test.status === 'passed').map((test) => test.name),
    );
    const other = stub.stages.flatMap((stage) =>
      stage.tests
        .filter((test) => test.status === 'failed' && !test.failure?.notImplemented)
        .map((test) => test.name),
    );
    shortfalls.push(
      `the stub ${shown(kataFile(kata.slug))} is not rejected as "not started" (${stub.status})` +
        (passing.length > 0 ? `\npasses: ${passing.slice(0, 5).join('; ')}` : '') +
        (other.length > 0
          ? `\nfails without NotImplementedError: ${other.slice(0, 5).join('; ')}`
          : '') +
        (stub.problem ? `\n${stub.problem}` : ''),
    );
  }
  return shortfalls;
}

function judgeMutant({ mutant, result, error }: KataReport['mutants'][number]): string[] {
  const shortfalls: string[] = [];
  if (error) shortfalls.push(`mutant ${mutant.name}: ${error}`);
  else if (result?.status === 'solved')
    shortfalls.push(`mutant ${mutant.name} passes every test; no test catches: ${mutant.mistake}`);
  else if (result?.status === 'load-error')
    shortfalls.push(
      `mutant ${mutant.name} does not load, so it proves nothing:\n${result.problem ?? ''}`,
    );
  return shortfalls;
}

function judgeHints({ kata, reference }: KataReport): string[] {
  const shortfalls: string[] = [];
  if (reference?.status === 'solved') {
    const graderStages = reference.stages.map((stage) => `${stage.number}: ${stage.title}`);
    try {
      const hints = readHints(kata.slug);
      const hintStages = hints.map((stage) => `${stage.number}: ${stage.title}`);
      if (hintStages.join('\n') !== graderStages.join('\n')) {
        shortfalls.push(
          `HINTS.md stages differ from the grader's:\n  hints:  ${hintStages.join(' | ')}\n  grader: ${graderStages.join(' | ')}`,
        );
      }
      for (const stage of hints) {
        if (stage.hints.length !== 3)
          shortfalls.push(
            `HINTS.md stage ${stage.number} has ${stage.hints.length} hints; it needs 3`,
          );
      }
    } catch (error) {
      shortfalls.push(messageOf(error));
    }
  }
  return shortfalls;
}

/** Every rule of the README named by a test and broken by a rejected mutant (ledger.ts). */
function judgeLedger(report: KataReport): string[] {
  const { kata, reference, mutants } = report;
  if (!reference || reference.total === 0) return [];
  let readme: string;
  try {
    readme = readReadme(kata.slug);
  } catch {
    return []; // checkFiles has already named the missing README
  }
  report.ledger = checkLedger({
    readme,
    tests: reference.stages.flatMap((stage) =>
      stage.tests.map((test) => `stage ${stage.number}: ${stage.title} › ${test.name}`),
    ),
    mutants: mutants.map(({ mutant, result }) => ({
      name: mutant.name,
      rules: mutant.rules,
      rejected: isRejected(result),
    })),
  });
  return report.ledger.shortfalls.map((text) => `rules: ${text}`);
}

/** A mutant some test failed (or that hung): it loaded, and the grader did not pass it. */
const isRejected = (result: KataResult | undefined): boolean =>
  result !== undefined && result.status !== 'solved' && result.status !== 'load-error';

function printTable(reports: KataReport[]): void {
  const width = Math.max(4, ...reports.map((report) => report.kata.slug.length));
  const passing = (entries: KataReport['alternatives']): number =>
    entries.filter((entry) => entry.result?.status === 'solved').length;
  // "86/86", or "86/86 +1/1 alt" when the kata ships alternative references beside index.ts.
  const referenceText = ({ reference, alternatives }: KataReport): string =>
    (reference ? `${reference.passed}/${reference.total}` : '-') +
    (alternatives.length > 0 ? ` +${passing(alternatives)}/${alternatives.length} alt` : '');
  const refWidth = Math.max(10, ...reports.map((report) => referenceText(report).length)) + 1;
  console.log(
    pc.bold(
      `${'kata'.padEnd(width)}  ${'reference'.padEnd(refWidth)}${'stub'.padEnd(11)}${'mutants rejected'.padEnd(18)}${'rules graded'.padEnd(14)}time`,
    ),
  );
  for (const report of reports) {
    const { kata, reference, alternatives, stub, mutants, shortfalls } = report;
    const ok = (good: boolean, text: string): string => (good ? pc.green(text) : pc.red(text));
    const referencesPass =
      reference?.status === 'solved' && passing(alternatives) === alternatives.length;
    const stubText = stub ? (stub.status === 'not-started' ? 'rejected' : stub.status) : '-';
    const rejected = mutants.filter((entry) => isRejected(entry.result)).length;
    const mutantText = `${rejected}/${mutants.length}`;
    const { ledger } = report;
    const rulesText = ledger ? `${ledger.graded.length}/${ledger.rules.length}` : '-';
    const seconds = reference ? `${(reference.durationMs / 1000).toFixed(1)} s` : '';
    console.log(
      `${(shortfalls.length === 0 ? pc.green : pc.red)(kata.slug.padEnd(width))}  ` +
        `${ok(referencesPass, referenceText(report).padEnd(refWidth))}` +
        `${ok(stub?.status === 'not-started', stubText.padEnd(11))}` +
        `${ok(rejected === mutants.length && mutants.length >= MIN_MUTANTS, mutantText.padEnd(18))}` +
        `${ok(ledger !== undefined && ledger.shortfalls.length === 0, rulesText.padEnd(14))}${pc.dim(seconds)}`,
    );
  }
}

/** The files a finished kata has (KATA_STANDARD.md), and a reference mutants can be made from. */
function checkFiles(slug: string): string[] {
  const missing = [
    path.join(KATAS_DIR, slug, 'README.md'),
    path.join(KATAS_DIR, slug, 'HINTS.md'),
    kataFile(slug),
    solutionFile(slug),
    path.join(SOLUTIONS_DIR, slug, 'NOTES.md'),
  ].filter((file) => !existsSync(file));
  const shortfalls = missing.map((file) => `missing ${shown(file)}`);
  const graderDir = path.join(GRADERS_DIR, slug);
  if (!existsSync(graderDir) || !readdirSync(graderDir).some((file) => file.endsWith('.test.ts'))) {
    shortfalls.push(`no grader: add graders/${slug}/<name>.test.ts`);
  }
  const references = [solutionFile(slug), ...listAlternatives(slug).map((a) => a.file)];
  for (const file of references.filter((f) => existsSync(f))) {
    const relative = /^\s*(?:import|export)\b[^'"]*from\s+['"](\.[^'"]*)['"]/m.exec(
      readFileSync(file, 'utf8'),
    );
    if (relative)
      shortfalls.push(
        `${shown(file)} imports "${relative[1]}": a reference must be self-contained, since it is graded (and mutated) from another folder`,
      );
  }
  return shortfalls;
}

/** Every kata folder is in the catalog, so no kata goes ungraded by accident. */
function checkCatalog(): string[] {
  const listed = new Set(availableKatas().map((kata) => kata.slug));
  return readdirSync(KATAS_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !listed.has(entry.name))
    .map(
      (entry) =>
        `katas/${entry.name} is not in the catalog (scripts/lib/katas.ts), or has no solutions/${entry.name}/index.ts`,
    );
}

/** The repository's own tests (the learner's tools), when there are any. */
function runRepositoryTests(): Array<string | undefined> {
  const dir = path.join(REPO_ROOT, 'scripts', 'tests');
  if (!existsSync(dir)) return [];
  return [
    runStep('tool tests', [
      process.execPath,
      path.join(REPO_ROOT, 'node_modules/vitest/vitest.mjs'),
      'run',
      'scripts/tests/',
      // They spend their time waiting on the commands they start, in throw-away copies of the
      // repository that share nothing: three files at once.
      '--maxWorkers=3',
    ]),
  ];
}

function runStaticChecks(): Array<string | undefined> {
  const bin = (name: string): string => path.join(REPO_ROOT, 'node_modules', '.bin', name);
  return [
    runStep('types (tsc --noEmit)', [bin('tsc'), '--noEmit']),
    runStep('lint (eslint .)', [bin('eslint'), '.']),
    runStep('format (prettier --check .)', [bin('prettier'), '--check', '--log-level=warn', '.']),
  ];
}

/** Runs one check; undefined when it passed, else the shortfall naming it. */
function runStep(name: string, [command, ...args]: string[]): string | undefined {
  const started = performance.now();
  const run = spawnSync(command!, args, {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (run.status === 0) {
    console.log(`${pc.green('✔')} ${name} ${pc.dim(`${seconds} s`)}`);
    return undefined;
  }
  console.log(`${pc.red('✘')} ${name} ${pc.dim(`${seconds} s`)}`);
  const output = `${run.stdout}${run.stderr}`.trim().split('\n').slice(-40).join('\n');
  return `${name} failed:\n${output || run.error?.message || `exit code ${run.status}`}`;
}

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

program.parseAsync().catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(pc.red(`npm run verify: ${error.message}`));
    process.exit(2);
  }
  throw error;
});
