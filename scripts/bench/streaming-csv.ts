/**
 * streaming-csv against csv-parse and papaparse: MB/s and peak RSS, streaming a generated ~50 MB
 * file of quoted fields, doubled quotes and embedded newlines. Every parser must count the same
 * records as the generator wrote.
 */
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { REPO_ROOT } from '../lib/paths.ts';
import {
  peakRssMb,
  repeat,
  runIfMain,
  seededRandom,
  type Settings,
  type SubjectOutcome,
  type SubjectResult,
  type Suite,
} from './lib.ts';

const TARGET_BYTES = 50 * 1024 * 1024;
const SEED = 1;
/** Bump when the generator changes, so a stale file is not reused. */
const VERSION = 2;
const DIR = path.join(REPO_ROOT, '.kata', 'bench');
const FILE = path.join(DIR, `quoted-50mb-v${VERSION}.csv`);
const META = `${FILE}.json`;
const CHUNK_BYTES = 64 * 1024;

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'naïve', 'café', 'x', 'order', 'total', '€uro'];

/** Writes the file once (deterministic: seeded), then reuses it. Returns the record count. */
function generate(): { records: number; bytes: number } {
  if (existsSync(FILE) && existsSync(META)) {
    return JSON.parse(readFileSync(META, 'utf8')) as { records: number; bytes: number };
  }
  mkdirSync(DIR, { recursive: true });
  const random = seededRandom(SEED);
  const pick = (): string => WORDS[Math.floor(random() * WORDS.length)]!;
  const parts: string[] = ['id,name,comment,amount,tags\n'];
  let bytes = Buffer.byteLength(parts[0]!);
  let records = 0;
  while (bytes < TARGET_BYTES) {
    const id = records + 1;
    const name = `${pick()} ${pick()}`;
    // Quoted fields: some with a doubled quote, some with an embedded line break, some with both.
    const roll = random();
    let comment = `${pick()}, ${pick()} ${pick()}`;
    if (roll < 0.3) comment = `said ""${pick()}"" twice`;
    else if (roll < 0.5) comment = `line one ${pick()}\nline two ${pick()}`;
    else if (roll < 0.6) comment = `""${pick()}"" and ""${pick()}""\r\n${pick()}`;
    const amount = (random() * 10_000).toFixed(2);
    const tags = random() < 0.5 ? `"${pick()};${pick()}"` : pick();
    const line = `${id},${name},"${comment}",${amount},${tags}\n`;
    parts.push(line);
    bytes += Buffer.byteLength(line);
    records += 1;
  }
  // Written to a temporary name first, so an interrupted run leaves no half file to reuse.
  writeFileSync(`${FILE}.tmp`, parts.join(''));
  renameSync(`${FILE}.tmp`, FILE);
  writeFileSync(META, JSON.stringify({ records, bytes }));
  return { records, bytes };
}

function input(): Readable {
  return createReadStream(FILE, { highWaterMark: CHUNK_BYTES });
}

/** Streams the file through `parse` (resolves to the records counted), samples times. */
async function measure(parse: () => Promise<number>, settings: Settings): Promise<SubjectOutcome> {
  const { bytes } = generate();
  const rssBefore = peakRssMb();
  const runs = await repeat(
    async () => {
      const started = performance.now();
      const records = await parse();
      return { records, seconds: (performance.now() - started) / 1000 };
    },
    settings,
    false,
  ); // 50 MB per run: the first run's JIT warm-up is lost in it
  const counts = new Set(runs.map((run) => run.records));
  if (counts.size !== 1)
    throw new Error(`record counts differ between runs: ${[...counts].join(', ')}`);
  return {
    metrics: {
      mbPerSecond: runs.map((run) => bytes / (1024 * 1024) / run.seconds),
      peakRssMb: [peakRssMb()],
    },
    facts: { records: runs[0]!.records, 'RSS before parsing MB': Math.round(rssBefore) },
  };
}

/** Objects in, counted: the way every parser here hands out records as a stream. */
async function count(records: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _record of records) n += 1;
  return n;
}

export const suite: Suite = {
  slug: 'streaming-csv',
  title:
    'a generated ~50 MB file (quoted fields, doubled quotes, embedded newlines), streamed in 64 KiB chunks',
  metrics: [
    { key: 'mbPerSecond', label: 'MB/s', better: 'higher', digits: 1 },
    { key: 'peakRssMb', label: 'peak RSS MB', better: 'lower' },
  ],
  prepare: async () => {
    generate();
  },
  subjects: {
    reference: async (settings) => {
      const { createCsvParser } = await import('../../solutions/streaming-csv/index.ts');
      // The header is a record here (no columns option), as it is for the others.
      return measure(() => count(input().pipe(createCsvParser())), settings);
    },
    'csv-parse': async (settings) => {
      const { parse } = await import('csv-parse');
      return measure(() => count(input().pipe(parse())), settings);
    },
    papaparse: async (settings) => {
      const { default: Papa } = await import('papaparse');
      // Its documented streaming form for Node: a readable stream in, rows out a chunk at a time.
      // (Its duplex form, Papa.NODE_STREAM_INPUT, pushes row by row: slower still.)
      return measure(
        () =>
          new Promise<number>((resolve, reject) => {
            let records = 0;
            Papa.parse(input() as unknown as Papa.LocalFile, {
              delimiter: ',',
              chunk: (results: Papa.ParseResult<unknown>) => {
                records += results.data.length;
              },
              complete: () => resolve(records),
              error: (error: Error) => reject(error),
            });
          }),
        settings,
      );
    },
  },
  check: (results: SubjectResult[]) => {
    const { records } = generate();
    const expected = records + 1; // the header line is a record too
    const wrong = results.filter((result) => result.facts?.records !== expected);
    if (wrong.length > 0) {
      throw new Error(
        `parsers disagree on the record count (the generator wrote ${expected} with the header): ${wrong
          .map((result) => `${result.subject} counted ${String(result.facts?.records)}`)
          .join('; ')}`,
      );
    }
  },
};

runIfMain(import.meta.url, suite);
