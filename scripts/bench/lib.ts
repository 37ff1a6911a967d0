/**
 * Shared by every benchmark harness (`scripts/bench/<slug>.ts`) and the runner (`index.ts`):
 * how a suite is declared, the timing loop, medians, memory per entry, a seeded PRNG, and the
 * child-process protocol (`--subject <name>` in, one line of JSON out).
 */
import { pathToFileURL } from 'node:url';

/** How a number is read: which way is better decides nothing but the wording of the ratio. */
export interface Metric {
  /** Key in a subject's result. */
  key: string;
  /** Column heading, with its unit: "ops/s", "bytes/entry", "MB/s", "peak RSS MB"... */
  label: string;
  better: 'higher' | 'lower';
  /** Digits after the point when printed. @default 0 */
  digits?: number;
}

/** What one subject measured: for each metric, every sample (the runner takes the median). */
export type Measurements = Record<string, number[]>;

/** Extra facts a subject reports beside its metrics (record counts, notes); shown, not compared. */
export type Facts = Record<string, string | number>;

export interface SubjectResult {
  subject: string;
  metrics: Measurements;
  facts?: Facts;
}

/** What a subject's function returns; the child adds the subject's name. */
export type SubjectOutcome = Omit<SubjectResult, 'subject'>;

export interface Suite {
  slug: string;
  /** One line: what is measured, on which input. */
  title: string;
  metrics: Metric[];
  /** Subject names, the reference first; each is run in its own process. */
  subjects: Record<string, (settings: Settings) => Promise<SubjectOutcome>>;
  /** Runs once in the runner before any subject (generates shared inputs). */
  prepare?: (settings: Settings) => Promise<void>;
  /** Checked by the runner across subjects' facts; throws to fail the bench loudly. */
  check?: (results: SubjectResult[]) => void;
}

export interface Settings {
  /** Samples per metric; the median of them is reported. */
  samples: number;
  /** Wall time of one throughput sample, in ms. */
  sampleMs: number;
}

export const DEFAULT_SETTINGS: Settings = { samples: 5, sampleMs: 250 };

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * Operations per second, one number per sample. `batch(n)` performs n operations; the loop grows
 * n until one batch takes about a tenth of a sample, so the clock is read rarely, then each sample
 * runs whole batches until `sampleMs` have passed. One untimed sample first warms the JIT.
 */
export async function throughput(
  batch: (n: number) => void | Promise<void>,
  settings: Settings,
): Promise<number[]> {
  let n = 1;
  for (;;) {
    const started = performance.now();
    await batch(n);
    const elapsed = performance.now() - started;
    if (elapsed >= settings.sampleMs / 10 || n >= 2 ** 30) break;
    n *= 2;
  }
  const rates: number[] = [];
  for (let sample = -1; sample < settings.samples; sample += 1) {
    let ops = 0;
    const started = performance.now();
    let elapsed = 0;
    while (elapsed < settings.sampleMs) {
      await batch(n);
      ops += n;
      elapsed = performance.now() - started;
    }
    if (sample >= 0) rates.push((ops / elapsed) * 1000);
  }
  return rates;
}

/**
 * Runs `once` `settings.samples` times, after one untimed warm-up run unless `warmUp` is false
 * (a run long enough to warm itself up); returns what each run returned.
 */
export async function repeat<T>(
  once: () => Promise<T>,
  settings: Settings,
  warmUp = true,
): Promise<T[]> {
  if (warmUp) await once();
  const results: T[] = [];
  for (let sample = 0; sample < settings.samples; sample += 1) results.push(await once());
  return results;
}

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('memory is measured with node --expose-gc');
  gc();
  gc();
}

/**
 * Bytes of heap per entry, one number per sample: heapUsed after a full GC, before and after
 * `fill(n)` builds a structure of n entries (kept alive until measured), divided by n.
 */
export function heapPerEntry(fill: (n: number) => unknown, n: number, samples: number): number[] {
  const perEntry: number[] = [];
  // One call per sample: a structure from the last sample must not linger in this frame.
  for (let sample = 0; sample < samples; sample += 1) perEntry.push(heapGrowth(fill, n) / n);
  return perEntry;
}

function heapGrowth(fill: (n: number) => unknown, n: number): number {
  collectGarbage();
  const before = process.memoryUsage().heapUsed;
  const kept = fill(n);
  collectGarbage();
  const after = process.memoryUsage().heapUsed;
  // Read after measuring, so the structure cannot be collected before it is measured.
  if (kept === undefined) throw new Error('fill() must return what it built');
  return after - before;
}

/** Deterministic uniform numbers in [0, 1) (mulberry32): the same inputs for every subject. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Peak resident set size of this process so far, in MB. */
export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? undefined : process.argv[index + 1];
}

/**
 * The child side of the protocol: when this file is the entry point, run the subject named by
 * `--subject` and print its result as one line of JSON on stdout.
 */
export function runIfMain(moduleUrl: string, suite: Suite): void {
  const entry = process.argv[1];
  if (entry === undefined || pathToFileURL(entry).href !== moduleUrl) return;
  const name = argument('subject');
  const subject = name === undefined ? undefined : suite.subjects[name];
  if (name === undefined || subject === undefined) {
    process.stderr.write(
      `usage: --subject <${Object.keys(suite.subjects).join('|')}> [--samples N] [--sample-ms N]\n`,
    );
    process.exit(2);
  }
  const settings: Settings = {
    samples: Number(argument('samples') ?? DEFAULT_SETTINGS.samples),
    sampleMs: Number(argument('sample-ms') ?? DEFAULT_SETTINGS.sampleMs),
  };
  subject(settings).then(
    (result) => {
      // Exit once written: a library's timers (expiry sweeps, sockets) must not hold the child.
      process.stdout.write(`${JSON.stringify({ subject: name, ...result })}\n`, () =>
        process.exit(0),
      );
    },
    (error: unknown) => {
      process.stderr.write(
        `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
