/**
 * `npm run bench [-- <slug>...]`: each kata's reference against the libraries a team would use
 * instead, on the same generated inputs, in one run. Every subject runs in its own process
 * (`node --expose-gc --import tsx scripts/bench/<slug>.ts --subject <name>`, one line of JSON
 * out); the table shows medians and each one's ratio to the reference. There is no pass/fail
 * bound: machines are noisy, the numbers are for reading.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import pc from '../lib/colour.ts';
import { CATALOG } from '../lib/katas.ts';
import { DEFAULT_SETTINGS, median, type Settings, type SubjectResult, type Suite } from './lib.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** Every kata with a harness here (`<slug>.ts`), in recommended order. */
const SLUGS = CATALOG.map((kata) => kata.slug).filter((slug) =>
  existsSync(path.join(HERE, `${slug}.ts`)),
);
/** A subject process that takes longer than this is killed and reported as failed. */
const SUBJECT_TIMEOUT_MS = 180_000;

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) {
    throw new InvalidArgumentError('expected a whole number >= 1');
  }
  return number;
}

async function loadSuite(slug: string): Promise<Suite> {
  const module = (await import(path.join(HERE, `${slug}.ts`))) as { suite: Suite };
  return module.suite;
}

function runSubject(slug: string, subject: string, settings: Settings): Promise<SubjectResult> {
  const args = [
    '--expose-gc',
    '--import',
    'tsx',
    path.join(HERE, `${slug}.ts`),
    '--subject',
    subject,
    '--samples',
    String(settings.samples),
    '--sample-ms',
    String(settings.sampleMs),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (data: Buffer) => (output += data.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), SUBJECT_TIMEOUT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = output.trim().split('\n').pop() ?? '';
      if (code !== 0 || line === '') {
        reject(new Error(`${slug} / ${subject}: exited with ${signal ?? code}`));
        return;
      }
      resolve(JSON.parse(line) as SubjectResult);
    });
  });
}

function format(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return '-';
  return value.toLocaleString('en', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** Subject ÷ reference, for any metric; the heading says which way is better. */
function ratio(value: number, reference: number | undefined): string {
  if (reference === undefined || !Number.isFinite(value) || !Number.isFinite(reference)) return '';
  if (reference === 0) return value === 0 ? '1.00×' : '';
  return `${(value / reference).toFixed(2)}×`;
}

function table(suite: Suite, results: SubjectResult[]): string {
  const heading = ['subject'];
  for (const metric of suite.metrics) {
    heading.push(`${metric.label} ${metric.better === 'higher' ? '↑' : '↓'}`, '÷ ref');
  }
  heading.push('notes');
  const reference = results[0];
  const rows = results.map((result) => {
    const row = [result.subject];
    for (const metric of suite.metrics) {
      const samples = result.metrics[metric.key];
      const value = samples === undefined ? NaN : median(samples);
      const base = reference?.metrics[metric.key];
      row.push(
        format(value, metric.digits),
        result === reference ? '' : ratio(value, base === undefined ? undefined : median(base)),
      );
    }
    row.push(
      Object.entries(result.facts ?? {})
        .map(([name, value]) => `${name} ${value}`)
        .join(', '),
    );
    return row;
  });
  const widths = heading.map((cell, column) =>
    Math.max(cell.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) =>
        column === 0 || column === cells.length - 1
          ? cell.padEnd(widths[column]!)
          : cell.padStart(widths[column]!),
      )
      .join('  ')
      .trimEnd();
  return [pc.bold(line(heading)), ...rows.map(line)].join('\n');
}

/** Subjects named "reference…" are ours; every other subject is a peer. */
const isReference = (result: SubjectResult): boolean => result.subject.startsWith('reference');

/**
 * One line per reference subject: its median ÷ the median of the peers' medians, for every
 * metric at least one peer measured (the bar the references are held to).
 */
function peerLines(suite: Suite, results: SubjectResult[]): string[] {
  const peers = results.filter((result) => !isReference(result));
  const valueOf = (result: SubjectResult, key: string): number => {
    const samples = result.metrics[key];
    return samples === undefined ? NaN : median(samples);
  };
  return results.filter(isReference).map((reference) => {
    const parts = suite.metrics.flatMap((metric) => {
      const values = peers.map((peer) => valueOf(peer, metric.key)).filter(Number.isFinite);
      const ours = valueOf(reference, metric.key);
      if (values.length === 0 || !Number.isFinite(ours)) return [];
      const arrow = metric.better === 'higher' ? '↑' : '↓';
      return [`${metric.label} ${arrow} ${ratio(ours, median(values))}`];
    });
    return pc.dim(`${reference.subject} ÷ peers' median: ${parts.join(', ')}`);
  });
}

const program = new Command('bench')
  .description('benchmark each kata reference against the production libraries (medians, ratios)')
  .argument('[slugs...]', `katas to benchmark (default all): ${SLUGS.join(', ')}`)
  .option(
    '--samples <n>',
    'samples per subject and metric; the median is shown',
    positiveInteger,
    DEFAULT_SETTINGS.samples,
  )
  .option(
    '--sample-ms <ms>',
    'wall time of one throughput sample',
    positiveInteger,
    DEFAULT_SETTINGS.sampleMs,
  )
  .action(async (slugs: string[], options: { samples: number; sampleMs: number }) => {
    for (const slug of slugs) {
      if (!SLUGS.includes(slug)) {
        program.error(`unknown kata "${slug}"; choose one of: ${SLUGS.join(', ')}`);
      }
    }
    const settings: Settings = { samples: options.samples, sampleMs: options.sampleMs };
    const started = performance.now();
    let failed = false;
    console.log(
      pc.dim(
        `median of ${settings.samples} samples per subject, one process per subject; ÷ ref = subject ÷ reference (↑ higher is better, ↓ lower is better)`,
      ),
    );
    for (const slug of slugs.length > 0 ? slugs : SLUGS) {
      const suite = await loadSuite(slug);
      console.log(`\n${pc.bold(pc.cyan(slug))}: ${suite.title}`);
      try {
        await suite.prepare?.(settings);
        const results: SubjectResult[] = [];
        for (const subject of Object.keys(suite.subjects)) {
          results.push(await runSubject(slug, subject, settings));
        }
        console.log(table(suite, results));
        for (const line of peerLines(suite, results)) console.log(line);
        suite.check?.(results);
      } catch (error) {
        failed = true;
        console.log(pc.red(`${slug}: ${error instanceof Error ? error.message : String(error)}`));
      }
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      pc.dim(
        `\n${seconds.toFixed(0)} s in all, node ${process.version}, ${process.platform} ${process.arch}`,
      ),
    );
    if (failed) process.exitCode = 1;
  });

await program.parseAsync();
